package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// root is an open handle on the directory that is, or becomes, "/". Every
// container path is resolved relative to it, never as a string joined to the
// host path: a symlink inside the rootfs (even "etc -> /etc" or
// "data -> ../../../etc") is resolved as if the root were "/", so it can
// only lead to somewhere inside (openat2(2) RESOLVE_IN_ROOT).
type root struct {
	dir  *os.File // O_PATH|O_DIRECTORY handle on the root
	path string   // the root's real path in this mount namespace, for messages and checks
}

// openRoot opens the directory at p (a trusted host path) as a root.
func openRoot(p string) (*root, error) {
	dir, err := os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	// The real path (symlinks of the host path resolved) is what
	// /proc/self/fd readlinks of the handles below will start with.
	real, err := os.Readlink(fdPath(dir))
	if err != nil {
		dir.Close()
		return nil, fmt.Errorf("open rootfs %s: %w", p, err)
	}
	return &root{dir: dir, path: real}, nil
}

func (r *root) close() { r.dir.Close() }

// display returns how a container path looks from where we stand now, for
// error messages: the host path before pivot_root, the container path after.
func (r *root) display(p string) string {
	return path.Join(r.path, path.Clean("/"+p))
}

// fdPath names the object f refers to for system calls that take only paths,
// like mount(2): the kernel follows the magic link to exactly that object,
// whatever happens to the path strings meanwhile.
func fdPath(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// open resolves p inside the root and returns an O_PATH handle on it.
func (r *root) open(p string) (*os.File, error) {
	h, err := pathrs.OpenatInRoot(r.dir, p)
	return h, unwrapSecurejoin(err)
}

// mkdirAll resolves p inside the root, creating missing directories with mode
// 0755 (Setup runs with umask 0), and returns a handle on the directory.
// pathrs-lite refuses to create through a dangling symlink (ENOTDIR) rather
// than follow it.
func (r *root) mkdirAll(p string) (*os.File, error) {
	h, err := pathrs.MkdirAllHandle(r.dir, p, 0o755)
	return h, unwrapSecurejoin(err)
}

// unwrapSecurejoin drops pathrs-lite's outer "securejoin.OpenInRoot PATH:"
// layer, whose path is the container path our own messages already name.
func unwrapSecurejoin(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Op, "securejoin.") {
		return pe.Err
	}
	return err
}

// openDir returns a handle on the directory p, made if missing.
func (r *root) openDir(p string) (*os.File, error) {
	h, err := r.open(p)
	if errors.Is(err, os.ErrNotExist) {
		return r.mkdirAll(p)
	}
	return h, err
}

// openFile returns a handle on the file p, made empty (mode 0644) if missing,
// with its missing parent directories.
func (r *root) openFile(p string) (*os.File, error) {
	h, err := r.open(p)
	if !errors.Is(err, os.ErrNotExist) {
		return h, err
	}
	parent, err := r.mkdirAll(path.Dir(p))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	// O_EXCL|O_NOFOLLOW: a dangling symlink left in the way fails with EEXIST
	// instead of creating its target somewhere else.
	base := path.Base(p)
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return nil, fmt.Errorf("%s is a symlink to something missing: refused, making its target would follow it", r.display(p))
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: r.display(p), Err: err}
	}
	return os.NewFile(uintptr(fd), r.display(p)), nil
}

// openNoFollow returns a handle on p whose last component is not followed if
// it is a symlink: the caller sees the link itself and can refuse it.
func (r *root) openNoFollow(p string) (*os.File, error) {
	parent, err := r.open(path.Dir(p))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), path.Base(p), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: r.display(p), Err: err}
	}
	return os.NewFile(uintptr(fd), r.display(p)), nil
}

// where returns the path h refers to now, relative to the root ("/proc"), and
// whether that is inside the root at all.
func (r *root) where(h *os.File) (string, bool) {
	link, err := os.Readlink(fdPath(h))
	if err != nil {
		return "", false
	}
	if r.path == "/" {
		return link, strings.HasPrefix(link, "/")
	}
	if link == r.path {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(link, r.path); ok && strings.HasPrefix(rest, "/") {
		return rest, true
	}
	return link, false
}

// mountOn mounts onto the object h refers to, through its magic link, then
// checks that it is still inside the root: if the target was moved out
// between the lookup and the mount, the mount is undone and refused.
func (r *root) mountOn(h *os.File, dest, source, fstype string, flags uintptr, data string) error {
	target := fdPath(h)
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("%s on %s: %w", mountName(source, fstype, flags), r.display(dest), err)
	}
	if at, ok := r.where(h); !ok {
		_ = unix.Unmount(target, unix.MNT_DETACH)
		return fmt.Errorf("%s on %s: the target moved out of the root (to %s) during the mount", mountName(source, fstype, flags), r.display(dest), at)
	}
	return nil
}

// mountName is how errors name what was being mounted: "mount TYPE", or
// "bind SOURCE" for a bind mount.
func mountName(source, fstype string, flags uintptr) string {
	if flags&unix.MS_BIND != 0 || fstype == "" {
		return "bind " + source
	}
	return "mount " + fstype
}

// mountRoot reopens dest after something was mounted on it, and checks that
// the handle is the root of a mount other than the one under covered (the
// handle the mount was made on) and at the same place: the proof that the
// mount landed where intended, and the handle that later changes to the new
// mount (read-only, propagation) need.
func (r *root) mountRoot(dest string, covered *os.File) (*os.File, error) {
	h, err := r.open(dest)
	if err != nil {
		return nil, fmt.Errorf("reopen %s after mounting: %w", r.display(dest), err)
	}
	var st, under unix.Statx_t
	err = unix.Statx(int(h.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &st)
	if err == nil {
		err = unix.Statx(int(covered.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &under)
	}
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("statx %s: %w", r.display(dest), err)
	}
	got, _ := r.where(h)
	want, _ := r.where(covered)
	if st.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 || st.Mnt_id == under.Mnt_id || got != want {
		h.Close()
		return nil, fmt.Errorf("mount on %s did not land there (found %s)", r.display(dest), got)
	}
	return h, nil
}

// setAttr changes attributes of the mount whose root h is, with
// mount_setattr(2): only the bits asked for change, so flags the kernel locks
// in a user namespace (nosuid, nodev, … inherited from the host) need not be
// known and repeated, as a MS_REMOUNT would need them.
func setAttr(h *os.File, set, clear uint64, recursive bool) error {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	err := unix.MountSetattr(int(h.Fd()), "", uint(flags), &unix.MountAttr{Attr_set: set, Attr_clr: clear})
	if errors.Is(err, unix.ENOSYS) && !recursive {
		return remountAttr(h, set, clear)
	}
	return err
}

// remountAttr is setAttr for kernels before 5.12: a bind remount that keeps
// the flags the mount has now (statfs(2)), changed as asked.
func remountAttr(h *os.File, set, clear uint64) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(h.Fd()), &sfs); err != nil {
		return err
	}
	var flags uintptr
	for _, f := range statfsFlags {
		if uint64(sfs.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	for _, f := range attrFlags {
		if set&f.attr != 0 {
			flags |= f.flag
		} else if clear&f.attr != 0 {
			flags &^= f.flag
		}
	}
	return unix.Mount("", fdPath(h), "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
}

// statfsFlags maps statfs(2) f_flags to the mount(2) flags of a remount.
var statfsFlags = []struct {
	st uint64
	ms uintptr
}{
	{unix.ST_RDONLY, unix.MS_RDONLY},
	{unix.ST_NOSUID, unix.MS_NOSUID},
	{unix.ST_NODEV, unix.MS_NODEV},
	{unix.ST_NOEXEC, unix.MS_NOEXEC},
	{unix.ST_NOATIME, unix.MS_NOATIME},
	{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
	{unix.ST_RELATIME, unix.MS_RELATIME},
}
