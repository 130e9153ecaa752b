// Package imagefs gives containers their root filesystems from images: each
// container gets its own writable layer, an overlayfs upper directory over
// the image's unpacked layers, prepared in the image store (package image)
// before the runtime (package sandbox) creates the container, and released
// when it is removed. It also reads what a container changed: diff, commit
// of its upper directory into a new image, and export of its files.
//
// The runtime does not import this package (its init would pay for the
// store's dependencies at every start): a program that runs containers of
// images imports it, which registers Release with the runtime.
//
// Where the overlay is mounted: by the container's init, in the
// container's own new mount namespace, before pivot_root (rootfs.Overlay).
// Nothing is mounted on the host, so no crash of stepbox can leave an
// overlay mount behind: it goes with the namespace, with the container's
// last process. The upper and work directories live in the store
// (containers/<id>/), so a stopped container keeps what it wrote for start,
// diff, commit and export.
package imagefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/rootfs"
)

func init() { sandbox.RegisterImageRelease(Release) }

// noOverlayEnv turns overlayfs off, for the tests of the copy fallback on
// a kernel that has it.
const noOverlayEnv = "_STEPBOX_TEST_NO_OVERLAY"

// Prepared is a container's root filesystem, planned (Plan) and then
// made ready in the store (Make).
type Prepared struct {
	// Rootfs goes into sandbox.Options.Image.
	Rootfs *sandbox.ImageRootfs
	// Image is the image it is made of.
	Image *image.Image
	// Warning, when not empty, is the one line to show the user: the root
	// is a private copy of the image, not an overlay.
	Warning string

	s     *image.Store
	id    string
	m     image.IDMap
	lower []string
}

// Prepare makes container id's root filesystem from the image ref (a tag,
// an ID or an ID prefix) in s: Plan, then Make. On error nothing is left;
// after a failed sandbox.Create, the caller calls
// sandbox.ReleaseImageRootfs.
func Prepare(s *image.Store, ref, id string, spec *specs.Spec) (*Prepared, error) {
	p, err := Plan(s, ref, id, spec)
	if err != nil {
		return nil, err
	}
	return p, p.Make()
}

// Plan works out container id's root filesystem from the image ref and
// sets spec.Root.Path, without changing the store but for unpacking a
// layer that is missing: the layers to stack (in a user namespace, copies
// with owners shifted into the container's range, mounted with
// userxattr), and where its upper and work directories and its mount point
// will be. Where this kernel cannot mount the overlay (no overlayfs, or
// none in a user namespace before Linux 5.11) the root is to be a private
// copy of the image's files instead, with a warning. Make then does the
// work; it may run while the container is created, as long as it has
// returned before the init is let go (sandbox.Options.AfterClone).
func Plan(s *image.Store, ref, id string, spec *specs.Spec) (*Prepared, error) {
	userns := sandbox.HasNamespace(spec, specs.UserNamespace)
	m, err := IDMapOf(spec)
	if err != nil {
		return nil, err
	}
	plan, err := s.MountPlan(ref, m)
	if err != nil {
		return nil, err
	}
	img := plan.Image
	r := &sandbox.ImageRootfs{Store: s.Dir(), Image: string(img.ID), Name: ref, UID: m.UID, GID: m.GID}
	p := &Prepared{Rootfs: r, Image: img, s: s, id: id, m: m, lower: plan.Lower}
	dir := s.ContainerDir(id)
	why := overlayRefused(userns)
	if why == "" {
		// The store's layout (store.go): containers/<id>/{upper,work}.
		upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
		o := &rootfs.Overlay{Lower: plan.Lower, Upper: upper, Work: work, UserXattr: userns}
		if _, err := image.OverlayData(o.Lower, upper, work, o.UserXattr); err != nil {
			return nil, err
		}
		if n := len(o.Data()); n >= os.Getpagesize() {
			return nil, hint.With(fmt.Errorf("overlay mount data is %d bytes for %d layers, more than the kernel takes", n, len(o.Lower)),
				"the store's path is long or the image has very many layers: use a shorter --root")
		}
		r.Overlay = o
		spec.Root.Path = filepath.Join(dir, "merged")
		return p, nil
	}
	r.Copy = filepath.Join(dir, "rootfs")
	spec.Root.Path = r.Copy
	p.Warning = "stepbox: warning: " + why + ": the container runs on a private copy of the image (slower to start, and diff and commit cannot read it)"
	return p, nil
}

// Make marks the image in use by the container and makes its directories
// (image.Store.PrepareRootfsMapped), and the overlay's mount point or the
// private copy. On error nothing of it is left.
func (p *Prepared) Make() (err error) {
	r := p.Rootfs
	_, upper, work, err := p.s.PrepareRootfsMapped(r.Image, p.id, p.m)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = p.s.RemoveRootfs(p.id)
		}
	}()
	if o := r.Overlay; o != nil {
		if upper != o.Upper || work != o.Work {
			return fmt.Errorf("the store made %s and %s for container %s, not %s and %s", upper, work, p.id, o.Upper, o.Work)
		}
		merged := filepath.Join(p.s.ContainerDir(p.id), "merged")
		if err := os.Mkdir(merged, 0o755); err != nil {
			return fmt.Errorf("make %s: %w", merged, err)
		}
		return nil
	}
	// The copy: the image's files merged into one plain directory that
	// only this container uses, so the shared layers are never written.
	if err := CopyMerged(p.lower, r.Copy); err != nil {
		return fmt.Errorf("copy image %s for container %s: %w", image.ShortID(p.Image.ID), p.id, err)
	}
	return os.Chown(r.Copy, int(p.m.UID), int(p.m.GID))
}

// IDMapOf is the shift of a container's owners on the host: none without
// a user namespace; with one, the host ids of the container's root, which
// must be the start of one range mapping ids from 0 (the store shifts every
// owner by one offset).
func IDMapOf(spec *specs.Spec) (image.IDMap, error) {
	if !sandbox.HasNamespace(spec, specs.UserNamespace) {
		return image.IDMap{}, nil
	}
	first := func(ms []specs.LinuxIDMapping, what string) (uint32, error) {
		for _, x := range ms {
			if x.ContainerID == 0 && x.Size >= 1 {
				if len(ms) > 1 {
					break
				}
				return x.HostID, nil
			}
		}
		return 0, hint.With(fmt.Errorf("an image in a user namespace needs one %s range that maps from 0", what),
			"use --userns's default map, or one uid and one gid range starting at 0")
	}
	u, err := first(spec.Linux.UIDMappings, "uid")
	if err != nil {
		return image.IDMap{}, err
	}
	g, err := first(spec.Linux.GIDMappings, "gid")
	if err != nil {
		return image.IDMap{}, err
	}
	return image.IDMap{UID: u, GID: g}, nil
}

// overlayRefused says why this kernel cannot give the container an
// overlay, or "" when it can.
func overlayRefused(userns bool) string {
	if os.Getenv(noOverlayEnv) == "1" {
		return "overlayfs is turned off (" + noOverlayEnv + ")"
	}
	if !hasOverlayFS() {
		return "this kernel has no overlayfs"
	}
	// overlayfs can be mounted by a user namespace's root since Linux
	// 5.11 (FS_USERNS_MOUNT, with userxattr).
	if userns && !kernelAtLeast(5, 11) {
		return "this kernel (before Linux 5.11) does not let a user namespace mount overlayfs"
	}
	return ""
}

// hasOverlayFS asks the kernel for the filesystem type: fsopen(2) loads
// the module if it must, and answers ENODEV for an unknown type. Kernels
// before 5.2 have no fsopen; /proc/filesystems answers there.
var hasOverlayFS = sync.OnceValue(func() bool {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err == nil {
		unix.Close(fd)
		return true
	}
	if errors.Is(err, unix.ENODEV) {
		return false
	}
	b, _ := os.ReadFile("/proc/filesystems")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(strings.TrimPrefix(line, "nodev")) == "overlay" {
			return true
		}
	}
	return false
})

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(strings.TrimLeftFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return ma > major || ma == major && mi >= minor
}

// Release removes container id's upper and work directories (or its copy)
// and its mark on the image (image.Store.RemoveRootfs); the runtime calls
// it when the container is removed. A store that is gone has nothing left
// to release.
func Release(r *sandbox.ImageRootfs, id string) error {
	if r == nil {
		return nil
	}
	if _, err := os.Stat(r.Store); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s, err := image.Open(r.Store)
	if err != nil {
		return err
	}
	return s.RemoveRootfs(id)
}
