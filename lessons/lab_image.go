package lessons

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

// The lab's containers on an image: a lesson that asks for it (UseImage)
// gets every container of the lab, its own and the peer, on the image
// through an overlay of its own, exactly as `stepbox run IMAGE` makes
// them (imagefs.Prepare). A failure demo may have them share one plain
// copy of the image instead (ShareImage): what one writes, all see.

// labImage is the lab's image state.
type labImage struct {
	on     bool   // the lab's containers run on the image
	ref    string // the image (LabConfig.Image, or imported from Rootfs)
	shared string // ShareImage's directory, once made
	share  bool
}

// Store is the image store the lab's images are in, under its Paths.
func (l *Lab) Store() (*image.Store, error) {
	return image.Open(filepath.Join(l.paths.Lib, "images"))
}

// UseImage makes every container the lab starts from now on run on its
// image, each with its own writable layer; the container restarts.
func (l *Lab) UseImage() error {
	ref, err := l.Image()
	if err != nil {
		return err
	}
	l.img.on, l.img.ref = true, ref
	l.dirty = true
	return nil
}

// ShareImage makes the lab's containers, once on the image, share one
// plain copy of it (no overlay): the failure demo of the images lesson. In
// a demo's throwaway namespace the copy lives on a tmpfs there, so it
// vanishes with the namespace.
func (l *Lab) ShareImage() { l.img.share = true }

// Image returns the image the lab runs on with UseImage: the one its
// configuration names (the built-in image), or else its root filesystem
// imported as an image for the lesson, removed when the lab closes.
func (l *Lab) Image() (string, error) {
	if l.img.ref != "" {
		return l.img.ref, nil
	}
	if l.imageRef != nil {
		ref, err := l.imageRef()
		if err != nil {
			return "", err
		}
		l.img.ref = ref
		return ref, nil
	}
	s, err := l.Store()
	if err != nil {
		return "", err
	}
	img, err := s.ImportDir(l.rootfs, "stepbox-lesson/rootfs:"+strconv.Itoa(os.Getpid()),
		image.ImportOptions{CreatedBy: "stepbox learn: the lab's root filesystem", Exclude: []string{builtinfs.ManifestName}})
	if err != nil {
		return "", fmt.Errorf("import the lab's root filesystem %s as an image: %w", l.rootfs, err)
	}
	l.img.ref = string(img.ID)
	l.Defer(func() error {
		_, err := s.Remove(string(img.ID), true)
		return err
	})
	return l.img.ref, nil
}

// ImageRootfs is the lab's container's root filesystem on the image (nil
// when it runs on a plain directory); PeerImageRootfs the peer's.
func (l *Lab) ImageRootfs() *sandbox.ImageRootfs {
	if l.box == nil {
		return nil
	}
	return l.box.c.State().Image
}

func (l *Lab) PeerImageRootfs() *sandbox.ImageRootfs {
	if l.peer == nil {
		return nil
	}
	return l.peer.c.State().Image
}

// rootOn gives the container name its root filesystem on the image, when
// the lab runs on one: its own layer, or the shared copy.
func (l *Lab) rootOn(name string, spec *specs.Spec, opts *sandbox.Options) error {
	if !l.img.on || !sandbox.HasNamespace(spec, specs.MountNamespace) || opts.HostRoot {
		return nil
	}
	s, err := l.Store()
	if err != nil {
		return err
	}
	if l.img.share {
		dir, err := l.sharedCopy(s)
		if err != nil {
			return err
		}
		spec.Root.Path = dir
		return nil
	}
	p, err := imagefs.Prepare(s, l.img.ref, name, spec)
	if err != nil {
		return err
	}
	opts.Image = p.Rootfs
	return nil
}

// sharedCopy makes, once, the plain copy of the image every container of
// the lab shares.
func (l *Lab) sharedCopy(s *image.Store) (string, error) {
	if l.img.shared != "" {
		return l.img.shared, nil
	}
	// Owned by the containers' root, as their own layers would be.
	m, err := imagefs.IDMapOf(l.spec)
	if err != nil {
		return "", err
	}
	plan, err := s.MountPlan(l.img.ref, m)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "stepbox-shared-")
	if err != nil {
		return "", err
	}
	l.Defer(func() error { return os.RemoveAll(dir) })
	if InDemoNamespace() {
		// The demo's mount namespace is a throwaway: so is this tmpfs.
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID, "mode=0755"); err != nil {
			return "", fmt.Errorf("mount a tmpfs on %s: %w", dir, err)
		}
		l.Defer(func() error {
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount %s: %w", dir, err)
			}
			return nil
		})
	}
	root := filepath.Join(dir, "rootfs")
	if err := imagefs.CopyMerged(plan.Lower, root); err != nil {
		return "", err
	}
	// Its top, as a container's own layer's, belongs to the containers'
	// root.
	if err := os.Chown(root, int(m.UID), int(m.GID)); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	l.img.shared = root
	return root, nil
}

// SharedDir is ShareImage's directory, once made ("" before).
func (l *Lab) SharedDir() string { return l.img.shared }

// Set gives a probe's placeholder {key} its value.
func (l *Lab) Set(key, value string) {
	if l.vars == nil {
		l.vars = map[string]string{}
	}
	l.vars[key] = value
}

// Var is the value of placeholder {key} ("" when unset).
func (l *Lab) Var(key string) string { return l.vars[key] }
