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
//
// Handles are plain descriptors (O_PATH unless said otherwise), closed by
// their user: Setup runs on every container start, and wrapping each in an
// *os.File costs system calls for nothing.
type root struct {
	fd   int
	dir  *os.File // the same descriptor, for pathrs-lite's API
	path string   // the root's real path in this mount namespace, for messages and checks
}

// openRoot opens the directory at p (a trusted host path) as a root.
func openRoot(p string) (*root, error) {
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs %s: %w", p, err)
	}
	// The real path (symlinks of the host path resolved) is what the
	// /proc/self/fd links of the handles below start with.
	real, err := readlinkFd(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open rootfs %s: %w", p, err)
	}
	return &root{fd: fd, dir: os.NewFile(uintptr(fd), real), path: real}, nil
}

func (r *root) close() { r.dir.Close() }

// display returns how a container path looks from where we stand now, for
// error messages: the host path before pivot_root, the container path after.
func (r *root) display(p string) string {
	return path.Join(r.path, path.Clean("/"+p))
}

// fdPath names the object fd refers to for system calls that take only
// paths, like mount(2): the kernel follows the magic link to exactly that
// object, whatever happens to the path strings meanwhile.
func fdPath(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}

func readlinkFd(fd int) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlink(fdPath(fd), buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// inRootHow is the lookup every container path gets: symlinks are followed
// as if the root were "/" and ".." stops there (RESOLVE_IN_ROOT), and /proc
// magic links, which could jump anywhere, are refused
// (RESOLVE_NO_MAGICLINKS).
var inRootHow = unix.OpenHow{
	Flags:   unix.O_PATH | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
}

// open resolves p inside the root and returns an O_PATH descriptor on it.
// It asks the kernel directly with openat2(2), the primitive pathrs-lite
// itself uses, skipping the procfs checks pathrs-lite adds to every lookup
// to name the result (ten times the system calls; we readlink once where we
// need the name). openat2 answers EAGAIN when a rename raced the lookup; after
// a few tries, and on kernels without openat2 (before 5.6), pathrs-lite does
// the lookup its own careful way.
func (r *root) open(p string) (int, error) {
	for try := 0; try < 4; try++ {
		fd, err := unix.Openat2(r.fd, p, &inRootHow)
		if err == nil {
			return fd, nil
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			if err == unix.ENOSYS {
				break
			}
			return -1, &os.PathError{Op: "openat2", Path: p, Err: err}
		}
	}
	f, err := pathrs.OpenatInRoot(r.dir, p)
	if err != nil {
		return -1, unwrapSecurejoin(err)
	}
	return takeFd(f)
}

// mkdirAll resolves p inside the root, creating missing directories with mode
// 0755 (Setup runs with umask 0), and returns a descriptor on the directory.
// pathrs-lite refuses to create through a dangling symlink (ENOTDIR) rather
// than follow it.
func (r *root) mkdirAll(p string) (int, error) {
	f, err := pathrs.MkdirAllHandle(r.dir, p, 0o755)
	if err != nil {
		return -1, unwrapSecurejoin(err)
	}
	return takeFd(f)
}

// takeFd moves the descriptor out of an *os.File.
func takeFd(f *os.File) (int, error) {
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	return fd, nil
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

// openDir returns a descriptor on the directory p, made if missing.
func (r *root) openDir(p string) (int, error) {
	for hops := 0; ; hops++ {
		fd, err := r.open(p)
		if !errors.Is(err, unix.ENOENT) {
			return fd, err
		}
		// Most missing targets lack only their last component (/dev/pts
		// in a fresh /dev): make that one relative to its parent.
		// mkdirat(2) does not follow a link in the way, and
		// O_NOFOLLOW|O_DIRECTORY refuses anything but the directory.
		if parent, err := r.open(path.Dir(p)); err == nil {
			base := path.Base(p)
			err := unix.Mkdirat(parent, base, 0o755)
			if err == nil || err == unix.EEXIST {
				fd, err = unix.Openat(parent, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			}
			if err == nil {
				unix.Close(parent)
				return fd, nil
			}
			next, dangling := r.danglingLink(parent, p)
			unix.Close(parent)
			if dangling {
				if hops >= maxHops {
					return -1, &os.PathError{Op: "mkdir", Path: p, Err: unix.ELOOP}
				}
				p = next
				continue
			}
		}
		// Deeper paths go to pathrs-lite, which refuses to make anything
		// through a dangling link on the way (ENOTDIR).
		return r.mkdirAll(p)
	}
}

// maxHops bounds the dangling links followed to make a target, as the
// kernel bounds symlinks in one lookup (path_resolution(7)).
const maxHops = 40

// danglingLink reports whether the last component of p, in the directory
// parent, is a symlink, and where it points as a path inside the root: the
// kernel resolves a relative target from the link's own directory. A target
// made there is where the container will find it through the link (an
// image's /etc/resolv.conf -> ../run/resolv.conf), and resolving it again
// inside the root keeps it inside whatever the link says.
func (r *root) danglingLink(parent int, p string) (string, bool) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(parent, path.Base(p), buf)
	if err != nil {
		return "", false
	}
	target := string(buf[:n])
	if path.IsAbs(target) {
		return path.Clean(target), true
	}
	dir, ok := r.where(parent)
	if !ok {
		return "", false
	}
	return path.Join(dir, target), true
}

// openFile returns a descriptor on the file p, made empty (mode 0644) if
// missing, with its missing parent directories.
func (r *root) openFile(p string) (int, error) {
	for hops := 0; ; hops++ {
		fd, err := r.open(p)
		if !errors.Is(err, unix.ENOENT) {
			return fd, err
		}
		parent, err := r.mkdirAll(path.Dir(p))
		if err != nil {
			return -1, err
		}
		// O_EXCL|O_NOFOLLOW: a link in the way fails with EEXIST instead
		// of being followed outside our lookup.
		fd, err = unix.Openat(parent, path.Base(p), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
		if err == unix.EEXIST {
			if next, dangling := r.danglingLink(parent, p); dangling && hops < maxHops {
				unix.Close(parent)
				p = next
				continue
			}
		}
		unix.Close(parent)
		if err != nil {
			return -1, &os.PathError{Op: "create", Path: r.display(p), Err: err}
		}
		return fd, nil
	}
}

// openNoFollow returns a descriptor on p whose last component is not
// followed if it is a symlink: the caller sees the link itself and can refuse
// it.
func (r *root) openNoFollow(p string) (int, error) {
	parent, err := r.open(path.Dir(p))
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	fd, err := unix.Openat(parent, path.Base(p), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: r.display(p), Err: err}
	}
	return fd, nil
}

// where returns the path fd refers to now, relative to the root ("/proc"),
// and whether that is inside the root at all.
func (r *root) where(fd int) (string, bool) {
	if r.path == "/" {
		// Once the root is entered there is no outside left to check
		// against: d_path(9) of anything not below "/" is not
		// recognisable as such. Nothing can be moved out either: the old
		// root is gone, and rename(2) across mounts fails (EXDEV).
		return "", true
	}
	link, err := readlinkFd(fd)
	if err != nil {
		return "", false
	}
	if link == r.path {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(link, r.path); ok && strings.HasPrefix(rest, "/") {
		return rest, true
	}
	return link, false
}

// mountOn mounts onto the object fd refers to, through its magic link, then
// checks that it is still inside the root: if the target was moved out
// between the lookup and the mount, the mount is undone and refused.
func (r *root) mountOn(fd int, dest, source, fstype string, flags uintptr, data string) error {
	return r.mountAs(mountName(source, fstype, flags), fd, dest, source, fstype, flags, data)
}

// mountAs is mountOn with the name errors give the mount.
func (r *root) mountAs(name string, fd int, dest, source, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, fdPath(fd), fstype, flags, data); err != nil {
		return fmt.Errorf("%s on %s: %w", name, r.display(dest), err)
	}
	return r.landed(fd, name, dest)
}

// newMountAPI says whether to use open_tree(2), mount_setattr(2) and
// move_mount(2) (Linux 5.12) for binds with attributes; it turns false, and
// tests turn it false, to take the mount(2)-only way.
var newMountAPI = true

// bindAttrs are the per-mount attributes a bind gets: set and clear on the
// bind's own top mount, recursiveSet and recursiveClear on every mount of
// it (mount_setattr(2) AT_RECURSIVE).
type bindAttrs struct {
	set, clear, recursiveSet, recursiveClear uint64
}

func (a bindAttrs) none() bool { return a == bindAttrs{} }

// bindOn binds source (a host path, or the object srcFd refers to when
// srcFd >= 0) onto the object fd refers to, with attributes. With the new
// mount API the bind is made detached, gets its attributes, and only then is
// attached (so a read-only bind is never writable, not even for a moment);
// with mount(2) alone, a bind ignores every flag but MS_REC, and the
// attributes are a second step on the new mount, found again by dest.
func (r *root) bindOn(fd int, dest string, srcFd int, source string, recursive bool, a bindAttrs) error {
	name := "bind " + source
	if newMountAPI && !a.none() {
		err := r.bindDetached(fd, srcFd, source, recursive, a)
		if err != unix.ENOSYS {
			if err != nil {
				return fmt.Errorf("%s on %s: %w", name, r.display(dest), err)
			}
			return r.landed(fd, name, dest)
		}
		newMountAPI = false
	}
	src := source
	if srcFd >= 0 {
		src = fdPath(srcFd)
	}
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	if err := r.mountAs(name, fd, dest, src, "", flags, ""); err != nil {
		return err
	}
	if a.none() {
		return nil
	}
	top, err := r.mountRoot(dest, fd)
	if err != nil {
		return err
	}
	defer unix.Close(top)
	if a.set != 0 || a.clear != 0 {
		if err := setAttr(top, a.set, a.clear, false); err != nil {
			return fmt.Errorf("set mount attributes of %s: %w", r.display(dest), err)
		}
	}
	if a.recursiveSet != 0 || a.recursiveClear != 0 {
		if err := setAttr(top, a.recursiveSet, a.recursiveClear, true); err != nil {
			return fmt.Errorf("set recursive mount attributes of %s: %w", r.display(dest), err)
		}
	}
	return nil
}

// bindDetached is bindOn with the new mount API; ENOSYS means the kernel
// lacks it.
func (r *root) bindDetached(fd, srcFd int, source string, recursive bool, a bindAttrs) error {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	dirfd := unix.AT_FDCWD
	if srcFd >= 0 {
		dirfd, source, flags = srcFd, "", flags|unix.AT_EMPTY_PATH
	}
	tree, err := unix.OpenTree(dirfd, source, flags)
	if err != nil {
		if err == unix.ENOSYS {
			return err
		}
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	return attachTree(tree, fd, a)
}

// attachTree gives tree, a detached mount tree, its attributes, so that a
// read-only bind is never writable, then attaches it onto the object fd
// refers to (move_mount(2)). ENOSYS from the first mount_setattr(2) comes
// back bare: the kernel lacks the new mount API.
func attachTree(tree, fd int, a bindAttrs) error {
	if a.set != 0 || a.clear != 0 {
		err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: a.set, Attr_clr: a.clear})
		if err != nil {
			if err == unix.ENOSYS {
				return err
			}
			return fmt.Errorf("mount_setattr: %w", err)
		}
	}
	if a.recursiveSet != 0 || a.recursiveClear != 0 {
		err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: a.recursiveSet, Attr_clr: a.recursiveClear})
		if err != nil {
			return fmt.Errorf("mount_setattr: %w", err)
		}
	}
	if err := unix.MoveMount(tree, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// landed checks that what was just mounted onto fd is still inside the
// root, and takes it away if a rename moved the target out meanwhile. Once
// the root is entered there is no outside to check against (see where).
func (r *root) landed(fd int, name, dest string) error {
	if r.path == "/" {
		return nil
	}
	if at, ok := r.where(fd); !ok {
		// umount2 of the magic link reaches the mount just made on it.
		_ = unix.Unmount(fdPath(fd), unix.MNT_DETACH)
		return fmt.Errorf("%s on %s: the target moved out of the root (to %s) during the mount", name, r.display(dest), at)
	}
	return nil
}

// attachOn attaches tree, a detached mount tree the runtime made of a
// bind's source on the host (Options.SourceTrees), onto the object fd
// refers to, with attributes (attachTree). The tree must be attached as it
// is: open_tree(2) refuses to copy a detached tree made in another mount
// namespace (EINVAL).
func (r *root) attachOn(fd int, dest string, tree int, source string, a bindAttrs) error {
	name := "bind " + source
	if err := attachTree(tree, fd, a); err != nil {
		return fmt.Errorf("%s on %s: %w", name, r.display(dest), err)
	}
	return r.landed(fd, name, dest)
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
// the new descriptor is the root of a mount other than the one under covered
// (the descriptor the mount was made on) and at the same place: the proof
// that the mount landed where intended, and the handle later changes to the
// new mount (read-only, propagation) need, since a descriptor on the covered
// directory reaches only what is below the mount.
func (r *root) mountRoot(dest string, covered int) (int, error) {
	fd, err := r.open(dest)
	if err != nil {
		return -1, fmt.Errorf("reopen %s after mounting: %w", r.display(dest), err)
	}
	var st, under unix.Statx_t
	err = unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &st)
	if err == nil {
		err = unix.Statx(covered, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &under)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("statx %s: %w", r.display(dest), err)
	}
	got, want := "", ""
	if r.path != "/" {
		got, _ = r.where(fd)
		want, _ = r.where(covered)
	}
	if st.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 || st.Mnt_id == under.Mnt_id || got != want {
		unix.Close(fd)
		return -1, fmt.Errorf("mount on %s did not land there (found %s)", r.display(dest), got)
	}
	return fd, nil
}

// setAttr changes attributes of the mount whose root fd is, with
// mount_setattr(2): only the bits asked for change, so flags the kernel locks
// in a user namespace (nosuid, nodev, … inherited from the host) need not be
// known and repeated, as a MS_REMOUNT would need them.
func setAttr(fd int, set, clear uint64, recursive bool) error {
	if newMountAPI {
		flags := unix.AT_EMPTY_PATH
		if recursive {
			flags |= unix.AT_RECURSIVE
		}
		err := unix.MountSetattr(fd, "", uint(flags), &unix.MountAttr{Attr_set: set, Attr_clr: clear})
		if err != unix.ENOSYS {
			return err
		}
		newMountAPI = false
	}
	if recursive {
		return fmt.Errorf("recursive mount attributes need mount_setattr(2) (Linux 5.12): %w", unix.ENOSYS)
	}
	return remountAttr(fd, set, clear)
}

// remountAttr is setAttr for kernels before 5.12: a bind remount that keeps
// the flags the mount has now (statfs(2)), changed as asked.
func remountAttr(fd int, set, clear uint64) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
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
	return unix.Mount("", fdPath(fd), "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
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
