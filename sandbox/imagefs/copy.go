package imagefs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// CopyMerged copies the view overlayfs would give of the layer directories
// lower (top first) into dst, which must not exist: a name comes from the
// topmost layer that has it, a whiteout (a character device 0/0) hides it
// below, and a directory marked opaque hides everything below it
// (overlayfs.rst, "whiteouts and opaque directories"). Owners, modes,
// times, extended attributes (but overlayfs's own), hard links, symlinks
// and device nodes are kept. It is the root filesystem of a container on a
// kernel that cannot mount the overlay, and the lessons' shared directory.
//
// The layers are the store's own unpacked directories: their names are
// read with ReadDir and their files opened without following a symlink, so
// nothing outside them is read, and nothing outside dst is written.
func CopyMerged(lower []string, dst string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return fmt.Errorf("copy into %s: %w", dst, err)
	}
	c := &copier{lower: lower, dst: dst, links: map[[2]uint64]string{}}
	if err := c.dir(".", lower); err != nil {
		return err
	}
	// Directory times last: writing into a directory changes its mtime.
	for i := len(c.dirs) - 1; i >= 0; i-- {
		d := c.dirs[i]
		ts := []unix.Timespec{d.st.Atim, d.st.Mtim}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dst, d.rel), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("times of %s: %w", filepath.Join(dst, d.rel), err)
		}
	}
	return nil
}

type copier struct {
	lower []string
	dst   string
	links map[[2]uint64]string // (dev, ino) of a copied file with links → its copy
	dirs  []copiedDir
}

type copiedDir struct {
	rel string
	st  unix.Stat_t
}

func lstat(p string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func isDir(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFDIR }

func opaque(p string) bool {
	buf := make([]byte, 4)
	for _, a := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Lgetxattr(p, a, buf); err == nil && string(buf[:n]) == "y" {
			return true
		}
	}
	return false
}

// dir copies directory rel as the layers stack it (layers, top first, are
// those that may still show something at rel), then its entries.
func (c *copier) dir(rel string, layers []string) error {
	// Which layers contribute to this directory: from the top, each one
	// that has it as a directory, until one marks it opaque or has
	// something else (or a whiteout) there.
	var under []string
	for _, l := range layers {
		st, err := lstat(filepath.Join(l, rel))
		if err != nil {
			continue
		}
		if !isDir(st) {
			break
		}
		under = append(under, l)
		if opaque(filepath.Join(l, rel)) {
			break
		}
	}
	if len(under) == 0 {
		return nil
	}
	top := filepath.Join(under[0], rel)
	st, err := lstat(top)
	if err != nil {
		return err
	}
	out := filepath.Join(c.dst, rel)
	if rel != "." {
		if err := os.Mkdir(out, 0o700); err != nil {
			return fmt.Errorf("mkdir %s: %w", out, err)
		}
	}
	if err := c.meta(top, out, st); err != nil {
		return err
	}
	c.dirs = append(c.dirs, copiedDir{rel: rel, st: *st})
	// Each name from the topmost layer that has it.
	from := map[string]int{}
	for i, l := range under {
		ents, err := os.ReadDir(filepath.Join(l, rel))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(l, rel), err)
		}
		for _, e := range ents {
			if _, ok := from[e.Name()]; !ok {
				from[e.Name()] = i
			}
		}
	}
	names := make([]string, 0, len(from))
	for n := range from {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		i := from[n]
		child := filepath.Join(rel, n)
		src := filepath.Join(under[i], child)
		st, err := lstat(src)
		if err != nil {
			return err
		}
		switch {
		case isWhiteout(st):
			// Deleted here: hidden in every layer below.
		case isDir(st):
			if err := c.dir(child, under[i:]); err != nil {
				return err
			}
		default:
			if err := c.file(src, filepath.Join(c.dst, child), st); err != nil {
				return err
			}
		}
	}
	return nil
}

// file copies one file that is not a directory.
func (c *copier) file(src, out string, st *unix.Stat_t) error {
	if st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := c.links[key]; ok {
			if err := os.Link(first, out); err != nil {
				return fmt.Errorf("link %s: %w", out, err)
			}
			return nil
		}
		c.links[key] = out
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, out); err != nil {
			return fmt.Errorf("symlink %s: %w", out, err)
		}
	case unix.S_IFREG:
		if err := copyContent(src, out); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if err := unix.Mknod(out, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", out, err)
		}
	case unix.S_IFSOCK:
		return nil // nothing to copy: a socket lives only while bound
	default:
		return fmt.Errorf("%s: unknown file type %o", src, st.Mode&unix.S_IFMT)
	}
	if err := c.meta(src, out, st); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, out, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("times of %s: %w", out, err)
	}
	return nil
}

func copyContent(src, out string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return f.Close()
}

// meta gives out src's owner, mode and extended attributes (overlayfs's
// own excepted). chown(2) first: it clears the set-id bits that chmod(2)
// then sets.
func (c *copier) meta(src, out string, st *unix.Stat_t) error {
	if err := unix.Lchown(out, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", out, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(out, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", out, err)
		}
	}
	return copyXattrs(src, out)
}

func copyXattrs(src, out string) error {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(src, buf)
	if errors.Is(err, unix.ERANGE) {
		if n, err = unix.Llistxattr(src, nil); err == nil {
			buf = make([]byte, n)
			n, err = unix.Llistxattr(src, buf)
		}
	}
	if errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list xattrs of %s: %w", src, err)
	}
	for _, k := range strings.Split(string(buf[:n]), "\x00") {
		if k == "" || strings.HasPrefix(k, "trusted.overlay.") || strings.HasPrefix(k, "user.overlay.") {
			continue
		}
		sz, err := unix.Lgetxattr(src, k, nil)
		if err != nil {
			continue
		}
		v := make([]byte, sz)
		if sz, err = unix.Lgetxattr(src, k, v); err != nil {
			continue
		}
		if err := unix.Lsetxattr(out, k, v[:sz], 0); err != nil {
			return fmt.Errorf("set xattr %s of %s: %w", k, out, err)
		}
	}
	return nil
}
