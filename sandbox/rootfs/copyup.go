package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// mountTmpfsCopyUp mounts a tmpfs that starts with a copy of what the
// directory it covers holds (OCI "tmpcopyup"). The tmpfs is made detached
// with the new mount API (fsopen(2), fsmount(2)), filled while nothing can
// see it, and only then attached with move_mount(2): no temporary directory
// on the host is needed.
func (s *setup) mountTmpfsCopyUp(m *mountPlan) error {
	h, err := s.target(m, false)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	fail := func(err error) error {
		return fmt.Errorf("mount tmpfs (tmpcopyup) on %s: %w", s.r.display(m.dest), err)
	}
	mnt, err := detachedTmpfs(m.opts.Data, m.opts.Flags)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(mnt)
	if err := copyTree(fdPath(h), fdPath(mnt)); err != nil {
		return fail(err)
	}
	if m.opts.Flags&unix.MS_RDONLY != 0 {
		if err := setAttr(mnt, unix.MOUNT_ATTR_RDONLY, 0, false); err != nil {
			return fail(err)
		}
	}
	if err := unix.MoveMount(mnt, "", h, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fail(fmt.Errorf("move_mount: %w", err))
	}
	if at, ok := s.r.where(h); !ok {
		_ = unix.Unmount(fdPath(h), unix.MNT_DETACH)
		return fail(fmt.Errorf("the target moved out of the root (to %s)", at))
	}
	return s.after(m, h, m.recursiveAttrs())
}

// detachedTmpfs makes a tmpfs that is not attached anywhere yet, with the
// per-mount flags of flags except read-only (set once it is filled).
func detachedTmpfs(data string, flags uintptr) (int, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(fsfd)
	for _, opt := range strings.Split(data, ",") {
		if opt == "" {
			continue
		}
		k, v, hasValue := strings.Cut(opt, "=")
		if hasValue {
			err = unix.FsconfigSetString(fsfd, k, v)
		} else {
			err = unix.FsconfigSetFlag(fsfd, k)
		}
		if err != nil {
			return -1, fmt.Errorf("tmpfs option %s: %w", opt, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("create tmpfs: %w", err)
	}
	var attr int
	for _, f := range attrFlags {
		if f.flag != unix.MS_RDONLY && flags&f.flag != 0 {
			attr |= int(f.attr)
		}
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return -1, fmt.Errorf("fsmount tmpfs: %w", err)
	}
	return mfd, nil
}

// copyTree copies the directories, regular files and symlinks under from
// into to, keeping modes and owners. Both are opened as os.Root, so nothing
// is read or written through a symlink out of either tree. Device nodes,
// fifos and sockets are not copied.
func copyTree(from, to string) error {
	src, err := os.OpenRoot(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenRoot(to)
	if err != nil {
		return err
	}
	defer dst.Close()
	return fs.WalkDir(src.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := src.Lstat(p)
		if err != nil {
			return err
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		if p == "." {
			return chownChmod(dst, p, st, info.Mode())
		}
		switch {
		case info.IsDir():
			if err := dst.Mkdir(p, 0o700); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := copyFile(src, dst, p); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := src.Readlink(p)
			if err != nil {
				return err
			}
			if err := dst.Symlink(target, p); err != nil {
				return err
			}
			if st != nil {
				return dst.Lchown(p, int(st.Uid), int(st.Gid))
			}
			return nil
		default:
			return nil
		}
		return chownChmod(dst, p, st, info.Mode())
	})
}

func copyFile(src, dst *os.Root, p string) error {
	in, err := src.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := dst.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

func chownChmod(dst *os.Root, p string, st *syscall.Stat_t, mode fs.FileMode) error {
	if st != nil {
		if err := dst.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	// Chmod after chown: chown clears the set-id bits.
	return dst.Chmod(p, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}
