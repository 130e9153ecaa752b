package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// MountPlan is what the runtime needs to run a container of an image.
type MountPlan struct {
	Image *Image
	// Lower are the unpacked layers, top first, as overlayfs wants them in
	// lowerdir= (Documentation/filesystems/overlayfs.rst, "Multiple lower
	// layers"). An image without layers has one empty directory.
	Lower []string
	// Config is the image's run configuration: Env, Cmd, Entrypoint,
	// WorkingDir, User, ExposedPorts, Volumes, StopSignal, Labels.
	Config ocispec.ImageConfig
}

// MountPlan returns the lower directories and the run configuration of the
// image ref, unpacking any layer that is missing (for m, the owners shifted
// into a user namespace's range).
func (s *Store) MountPlan(ref string, m IDMap) (*MountPlan, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.mountPlan(ref, m)
}

func (s *Store) mountPlan(ref string, m IDMap) (*MountPlan, error) {
	img, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	dirs, err := s.ensureLayers(img, m)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		empty := filepath.Join(s.dir, "layers", "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return nil, err
		}
		dirs = []string{empty}
	}
	return &MountPlan{Image: img, Lower: reversed(dirs), Config: img.Config.Config}, nil
}

// validContainerID keeps a container ID to one path component.
func validContainerID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") || len(id) > 128 {
		return fmt.Errorf("invalid container ID %q", id)
	}
	return nil
}

// Use records that container id runs on the image ref, so that rmi refuses
// to remove it; it returns the image.
func (s *Store) Use(ref, id string) (*Image, error) {
	if err := validContainerID(id); err != nil {
		return nil, err
	}
	var img *Image
	err := s.update(func(idx *index) error {
		iid, err := resolve(idx, ref)
		if err != nil {
			return err
		}
		idx.Uses[id] = iid
		img, err = s.image(idx, iid)
		return err
	})
	return img, err
}

// Release forgets container id's use of its image. Releasing an unknown
// container is not an error.
func (s *Store) Release(id string) error {
	return s.update(func(idx *index) error {
		delete(idx.Uses, id)
		return nil
	})
}

// ContainerDir is where container id's upper and work directories are.
func (s *Store) ContainerDir(id string) string { return filepath.Join(s.dir, "containers", id) }

// PrepareRootfs marks the image ref in use by container id and makes the
// container's empty upper and work directories beside the image's lower
// ones: mounting overlayfs with them (lowerdir=lower[0]:lower[1]:…,
// upperdir=upper, workdir=work) is the container's root. RemoveRootfs
// undoes it.
func (s *Store) PrepareRootfs(ref, id string) (lower []string, upper, work string, err error) {
	return s.PrepareRootfsMapped(ref, id, IDMap{})
}

// PrepareRootfsMapped is PrepareRootfs for a container in a user namespace:
// the layers are unpacked with owners shifted by m, and the upper directory
// is owned by the namespace's root.
func (s *Store) PrepareRootfsMapped(ref, id string, m IDMap) (lower []string, upper, work string, err error) {
	if err := validContainerID(id); err != nil {
		return nil, "", "", err
	}
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, "", "", err
	}
	defer unlock()
	plan, err := s.mountPlan(ref, m)
	if err != nil {
		return nil, "", "", err
	}
	dir := s.ContainerDir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, fs.ErrExist) {
			err = hint.With(fmt.Errorf("container %s already has a root filesystem at %s", id, dir), "remove the container first")
		}
		return nil, "", "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	upper, work = filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, "", "", err
		}
		if err := os.Chown(d, int(m.UID), int(m.GID)); err != nil {
			return nil, "", "", err
		}
	}
	if _, err := s.Use(string(plan.Image.ID), id); err != nil {
		return nil, "", "", err
	}
	return plan.Lower, upper, work, nil
}

// RemoveRootfs removes container id's upper and work directories (the
// overlay must be unmounted) and releases its image.
func (s *Store) RemoveRootfs(id string) error {
	if err := validContainerID(id); err != nil {
		return err
	}
	if err := os.RemoveAll(s.ContainerDir(id)); err != nil {
		return fmt.Errorf("remove the root filesystem of %s: %w", id, err)
	}
	return s.Release(id)
}

// ChangeKind is docker diff's letter.
type ChangeKind byte

const (
	Added    ChangeKind = 'A'
	Changed  ChangeKind = 'C'
	Modified            = Changed
	Deleted  ChangeKind = 'D'
)

// Change is one line of `diff`.
type Change struct {
	Kind ChangeKind `json:"kind"`
	Path string     `json:"path"` // absolute, in the container
}

func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// Changes lists what a container changed, from its overlayfs upper
// directory and the image's lower directories (top first), as docker diff
// does: A for a path the image does not have, C for one it has, D for one
// deleted (a whiteout, or a lower entry hidden by an opaque directory).
func Changes(upper string, lower []string) ([]Change, error) {
	ur, err := os.OpenRoot(upper)
	if err != nil {
		return nil, err
	}
	defer ur.Close()
	var roots []*os.Root
	for _, l := range lower {
		r, err := os.OpenRoot(l)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		roots = append(roots, r)
	}
	var out []Change
	err = fs.WalkDir(ur.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		st, err := lstatIn(ur, p)
		if err != nil {
			return err
		}
		abs := "/" + p
		if isWhiteout(st) {
			out = append(out, Change{Deleted, abs})
			return nil
		}
		kind := Added
		if inLowers(roots, p) {
			kind = Changed
		}
		out = append(out, Change{kind, abs})
		if d.IsDir() && kind == Changed && isOpaque(ur, p) {
			// Everything the lowers had here is gone unless the upper
			// has it again.
			seen := map[string]bool{}
			for _, r := range roots {
				// Only a directory is read: a fifo would hang the open.
				if st, err := lstatIn(r, p); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
					continue
				}
				ents, err := fs.ReadDir(r.FS(), p)
				if err != nil {
					continue
				}
				for _, e := range ents {
					q := path.Join(p, e.Name())
					if seen[q] {
						continue
					}
					seen[q] = true
					if _, err := ur.Lstat(q); err == nil {
						continue
					}
					if inLowers(roots, q) {
						out = append(out, Change{Deleted, "/" + q})
					}
				}
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

func lstatIn(r *os.Root, p string) (*unix.Stat_t, error) {
	fi, err := r.Lstat(p)
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("stat %s: no stat_t", p)
	}
	return &unix.Stat_t{Mode: st.Mode, Rdev: st.Rdev, Uid: st.Uid, Gid: st.Gid, Ino: st.Ino, Dev: st.Dev}, nil
}

func isOpaque(r *os.Root, p string) bool {
	f, err := openDir(r, p)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 4)
	for _, a := range []string{overlayOpaqueXattr, userOverlayOpaqueXattr} {
		if n, err := unix.Fgetxattr(int(f.Fd()), a, buf); err == nil && string(buf[:n]) == "y" {
			return true
		}
	}
	return false
}

// inLowers reports whether p is visible in the stack of lower layers (top
// first): found in a layer before any whiteout of it or of a directory
// above it, and not below an opaque directory.
func inLowers(lowers []*os.Root, p string) bool {
	parts := strings.Split(p, "/")
	for _, r := range lowers {
		opaque := false
		for i := 1; i < len(parts); i++ {
			q := strings.Join(parts[:i], "/")
			st, err := lstatIn(r, q)
			if err != nil {
				break
			}
			if isWhiteout(st) {
				return false
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR && isOpaque(r, q) {
				opaque = true
			}
		}
		if st, err := lstatIn(r, p); err == nil {
			return !isWhiteout(st)
		}
		if opaque {
			return false
		}
	}
	return false
}

// OverlayData is the data for mount(2) of overlayfs with these
// directories (lowerdir top first). userxattr is for an overlay mounted by
// a user namespace's root. The kernel takes at most one page of data: with
// very many layers the runtime must use fsconfig(2)'s "lowerdir+" one layer
// at a time (Linux 6.8) instead, so that is an error here. A path holding
// ',' or ':' (which the kernel would split at) is refused.
func OverlayData(lower []string, upper, work string, userxattr bool) (string, error) {
	for _, p := range append(append([]string(nil), lower...), upper, work) {
		if strings.ContainsAny(p, ",:\\") {
			return "", fmt.Errorf("overlay directory %q: ',' ':' and '\\' are not allowed in its path", p)
		}
	}
	data := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + upper + ",workdir=" + work
	if userxattr {
		data += ",userxattr"
	}
	if len(data) >= os.Getpagesize() {
		return "", hint.With(fmt.Errorf("overlay mount data is %d bytes for %d layers, more than the kernel takes (%d)", len(data), len(lower), os.Getpagesize()-1),
			"the store's path is long or the image has very many layers: use a shorter --root")
	}
	return data, nil
}
