package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TarOptions change how a directory is written as a layer tar.
type TarOptions struct {
	// Overlay reads dir as an overlayfs upper directory: a character
	// device 0/0 becomes the OCI whiteout .wh.NAME, a directory with
	// trusted.overlay.opaque=y gets .wh..wh..opq (OCI layer.md,
	// "Whiteouts"). Without it they are written as they are.
	Overlay bool
	// UIDOffset and GIDOffset are taken off every owner: a container's
	// files owned by uid 100000 on the host are root's in the image.
	UIDOffset, GIDOffset uint32
	// Exclude names paths relative to the directory ("etc/secret") left
	// out of the tar with everything below them.
	Exclude []string
}

// WriteTar writes the tree under dir to w as a tar whose names are relative
// to dir ("etc/passwd"), sorted, in PAX form with extended attributes, hard
// links as links, times to the second. It never follows a symlink, and
// reads every file through an os.Root on dir.
func WriteTar(w io.Writer, dir string, o TarOptions) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tw := tar.NewWriter(w)
	t := &treeWriter{root: root, dir: dir, tw: tw, o: o, inodes: map[[2]uint64]string{}, skip: map[string]bool{}}
	for _, e := range o.Exclude {
		t.skip[path.Clean(strings.TrimPrefix(e, "/"))] = true
	}
	if err := t.walk("."); err != nil {
		return err
	}
	return tw.Close()
}

type treeWriter struct {
	root   *os.Root
	dir    string
	tw     *tar.Writer
	o      TarOptions
	inodes map[[2]uint64]string // (dev, ino) of a file with links → its first name
	skip   map[string]bool
}

func (t *treeWriter) walk(name string) error {
	d, err := openDir(t.root, name)
	if err != nil {
		return err
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		d.Close()
		return fmt.Errorf("read %s: %w", filepath.Join(t.dir, name), err)
	}
	dfd := int(d.Fd())
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	defer d.Close()
	for _, e := range ents {
		rel := path.Join(name, e.Name())
		if t.skip[rel] {
			continue
		}
		st, err := lstatAt(dfd, e.Name())
		if err != nil {
			return fmt.Errorf("stat %s: %w", filepath.Join(t.dir, rel), err)
		}
		if err := t.entry(dfd, rel, e.Name(), st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := t.walk(rel); err != nil {
				return err
			}
		}
	}
	return nil
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func (t *treeWriter) entry(dfd int, rel, base string, st *unix.Stat_t) error {
	mtime := time.Unix(st.Mtim.Sec, 0)
	if t.o.Overlay && isWhiteout(st) {
		dir := path.Dir(rel)
		return t.tw.WriteHeader(&tar.Header{Name: path.Join(dir, whiteoutPrefix+base), Typeflag: tar.TypeReg,
			Mode: 0o644, ModTime: mtime, Format: tar.FormatPAX})
	}
	uid, gid := st.Uid, st.Gid
	if uid >= t.o.UIDOffset {
		uid -= t.o.UIDOffset
	}
	if gid >= t.o.GIDOffset {
		gid -= t.o.GIDOffset
	}
	h := &tar.Header{
		Name: rel, Mode: int64(st.Mode & 0o7777), Uid: int(uid), Gid: int(gid),
		ModTime: mtime, Format: tar.FormatPAX,
	}
	xa, opaque, err := xattrsOf(dfd, base, t.o.Overlay)
	if err != nil {
		return fmt.Errorf("xattrs of %s: %w", filepath.Join(t.dir, rel), err)
	}
	for k, v := range xa {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+k] = v
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		h.Typeflag, h.Name = tar.TypeDir, rel+"/"
		if err := t.tw.WriteHeader(h); err != nil {
			return err
		}
		if opaque {
			return t.tw.WriteHeader(&tar.Header{Name: path.Join(rel, opaqueMarker), Typeflag: tar.TypeReg,
				Mode: 0o644, ModTime: mtime, Format: tar.FormatPAX})
		}
		return nil
	case unix.S_IFLNK:
		target, err := readlinkAt(dfd, base)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", filepath.Join(t.dir, rel), err)
		}
		h.Typeflag, h.Linkname = tar.TypeSymlink, target
		return t.tw.WriteHeader(h)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		h.Typeflag = tar.TypeFifo
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			h.Typeflag = tar.TypeChar
		case unix.S_IFBLK:
			h.Typeflag = tar.TypeBlock
		}
		h.Devmajor, h.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		return t.tw.WriteHeader(h)
	case unix.S_IFSOCK:
		return nil // a socket cannot be archived (tar(5)); docker skips them too
	case unix.S_IFREG:
	default:
		return fmt.Errorf("%s: unknown file type %o", filepath.Join(t.dir, rel), st.Mode&unix.S_IFMT)
	}
	if st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := t.inodes[key]; ok {
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			return t.tw.WriteHeader(h)
		}
		t.inodes[key] = rel
	}
	fd, err := unix.Openat(dfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", filepath.Join(t.dir, rel), err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	h.Typeflag, h.Size = tar.TypeReg, st.Size
	if err := t.tw.WriteHeader(h); err != nil {
		return err
	}
	n, err := io.Copy(t.tw, io.LimitReader(f, st.Size))
	if err == nil && n != st.Size {
		err = fmt.Errorf("%s changed size while being read", filepath.Join(t.dir, rel))
	}
	return err
}

func readlinkAt(dfd int, name string) (string, error) {
	for n := 256; ; n *= 2 {
		b := make([]byte, n)
		m, err := unix.Readlinkat(dfd, name, b)
		if err != nil {
			return "", err
		}
		if m < n {
			return string(b[:m]), nil
		}
	}
}

// xattrsOf lists the extended attributes of name in dfd, without
// following it. overlayfs's own attributes are not the file's: they are
// left out, and in an upper directory the opaque one is reported.
func xattrsOf(dfd int, name string, overlay bool) (map[string]string, bool, error) {
	p := fmt.Sprintf("/proc/self/fd/%d/%s", dfd, name)
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if errors.Is(err, unix.ERANGE) {
		if n, err = unix.Llistxattr(p, nil); err == nil {
			buf = make([]byte, n)
			n, err = unix.Llistxattr(p, buf)
		}
	}
	if errors.Is(err, unix.ENOTSUP) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var out map[string]string
	opaque := false
	for _, k := range strings.Split(string(buf[:n]), "\x00") {
		if k == "" {
			continue
		}
		v, err := getxattr(p, k)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return nil, false, err
		}
		if strings.HasPrefix(k, overlayXattrPrefix) || strings.HasPrefix(k, userOverlayPrefix) {
			if overlay && (k == overlayOpaqueXattr || k == userOverlayOpaqueXattr) && v == "y" {
				opaque = true
			}
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out, opaque, nil
}

func getxattr(p, k string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, k, buf)
		if errors.Is(err, unix.ERANGE) {
			m, err := unix.Lgetxattr(p, k, nil)
			if err != nil {
				return "", err
			}
			buf = make([]byte, m)
			continue
		}
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
}
