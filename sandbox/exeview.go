package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// readOnlyView opens the file at path, which must be the file src is open
// on, again through an overlay mount that is read-only and attached nowhere:
// runc 1.2's answer to CVE-2019-5736 (its exeseal package), which copies
// nothing. The overlay has no upper layer, so its superblock is read-only and
// no remount makes it writable: opening /proc/<init>/exe for writing fails
// with EROFS. The mount is made with fsmount(2) and never attached with
// move_mount(2), so it is in no mount namespace, nothing can leak onto the
// host, and it goes with the last descriptor or mapping of the file (the
// init's, once it exits).
//
// overlayfs maps the file beneath when the init maps its binary, but since
// Linux 6.6 the mapping's path is the overlay's (a backing file), so
// /proc/<init>/map_files, which root with CAP_SYS_ADMIN may open (proc(5)),
// is read-only too (TestInitBinaryNotWritable); "lowerdir+" needs 6.8.
//
// An overlay without an upper needs two lower layers (overlayfs.rst,
// "Multiple lower layers"): path's directory on top, and under it an empty,
// equally detached tmpfs. Where any step is refused (a kernel before 6.8
// has no "lowerdir+", or no overlayfs; a rootless caller), the caller copies
// into a sealed memfd instead.
func readOnlyView(src *os.File, path string) (*os.File, error) {
	view, err := dirView(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer unix.Close(view)
	return openInView(view, src, path)
}

// dirView mounts the read-only overlay of dir described at readOnlyView
// and returns its descriptor, through which any file of dir can be opened
// (openInView): one mount serves every binary that lies there.
func dirView(dir string) (int, error) {
	empty, err := detachedMount("tmpfs", [][2]string{{"size", "4k"}, {"mode", "0500"}})
	if err != nil {
		return -1, err
	}
	defer unix.Close(empty)
	// fsconfig(2) stacks "lowerdir+" layers in the order given, the first
	// on top.
	return detachedMount("overlay", [][2]string{
		{"lowerdir+", filepath.Clean(dir)},
		{"lowerdir+", "/proc/self/fd/" + strconv.Itoa(empty)},
	})
}

// openInView opens the file at path, which must be the file src is open
// on, in view, the view of path's directory.
func openInView(view int, src *os.File, path string) (*os.File, error) {
	name := filepath.Base(path)
	fd, err := unix.Openat(view, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in its read-only view: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), path)
	// The file checked (trustedInit) and the file seen must be one: a
	// rename in between would swap what runs. The overlay shows a lower
	// file's own inode number, size and times.
	var a, b unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &a); err != nil {
		f.Close()
		return nil, err
	}
	if err := unix.Fstat(fd, &b); err != nil {
		f.Close()
		return nil, err
	}
	if a.Ino != b.Ino || a.Size != b.Size || a.Mtim != b.Mtim || a.Ctim != b.Ctim || b.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, errors.New("not the file opened")
	}
	return f, nil
}

// detachedMount makes a read-only, nodev, nosuid mount of fstype with the
// given options, in order, and returns its descriptor (fsopen(2),
// fsconfig(2), fsmount(2)).
func detachedMount(fstype string, opts [][2]string) (int, error) {
	fs, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen %s: %w", fstype, err)
	}
	defer unix.Close(fs)
	for _, o := range opts {
		if err := unix.FsconfigSetString(fs, o[0], o[1]); err != nil {
			return -1, fmt.Errorf("fsconfig %s %s=%s: %w", fstype, o[0], o[1], err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, fmt.Errorf("fsconfig %s create: %w", fstype, err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return -1, fmt.Errorf("fsmount %s: %w", fstype, err)
	}
	return mnt, nil
}
