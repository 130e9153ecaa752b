package image

import (
	"archive/tar"
	"bufio"
	"bytes"

	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// The OCI image spec's names for deleted files in a layer ("Whiteouts",
// layer.md): .wh.NAME hides NAME of the layers below; .wh..wh..opq in a
// directory hides everything below in that directory. Other .wh..wh. names
// are AUFS bookkeeping and carry nothing.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	opaqueMarker   = ".wh..wh..opq"
)

// overlayfs's own forms of the same thing (Documentation/filesystems/
// overlayfs.rst, "whiteouts and opaque directories"): a character device
// 0/0 and the trusted.overlay.opaque=y extended attribute.
const (
	overlayOpaqueXattr     = "trusted.overlay.opaque"
	userOverlayOpaqueXattr = "user.overlay.opaque"
	overlayXattrPrefix     = "trusted.overlay."
	userOverlayPrefix      = "user.overlay."
)

// ExtractOptions change how a layer is unpacked.
type ExtractOptions struct {
	// UIDOffset and GIDOffset are added to every owner, for a container
	// whose user namespace maps its root to UIDOffset on the host.
	UIDOffset, GIDOffset uint32
	// Lowers are the unpacked layers below this one, top first. A
	// directory that the tar creates only implicitly (a file inside it
	// comes without the directory's own entry) takes its mode, owner and
	// time from the first lower that has it: overlayfs shows the topmost
	// directory's attributes, so an invented 0755 would hide /tmp's 1777.
	Lowers []string
}

// ExtractResult is what Extract learnt from the layer.
type ExtractResult struct {
	// DiffID is the SHA-256 of the uncompressed tar (OCI config.md,
	// "rootfs.diff_ids").
	DiffID digest.Digest
	// Size is the bytes of regular file content unpacked.
	Size int64
	// Entries counts the tar's entries.
	Entries int
}

// Compression of a blob, recognised by its first bytes.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

// detect returns the compression of the stream behind br.
func detect(br *bufio.Reader) (Compression, error) {
	b, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	switch {
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return Gzip, nil
	case len(b) >= 4 && bytes.Equal(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd, nil
	case len(b) >= 3 && string(b[:3]) == "BZh":
		return 0, errors.New("bzip2 compression is not supported: use gzip, zstd or a plain tar")
	case len(b) >= 4 && bytes.Equal(b, []byte{0xfd, '7', 'z', 'X'}):
		return 0, errors.New("xz compression is not supported: use gzip, zstd or a plain tar")
	}
	return Uncompressed, nil
}

// decompress returns the uncompressed stream of r (plain, gzip or zstd)
// and a function that releases the decoder.
func decompress(r io.Reader) (io.Reader, Compression, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	c, err := detect(br)
	if err != nil {
		return nil, 0, nil, err
	}
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, c, func() { zr.Close() }, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, c, zr.Close, nil
	}
	return br, c, func() {}, nil
}

// Extract unpacks the layer tar read from r (plain, gzip or zstd) into dir,
// which must exist and be empty, in the form overlayfs stacks as a lower
// directory: OCI whiteouts become character devices 0/0 and opaque
// directories get trusted.overlay.opaque=y. Hard links, devices, fifos,
// symlinks, extended attributes, owners, modes and times are kept.
//
// It fails closed. An entry whose name is absolute or climbs out with "..",
// a write through a symlink, a hard link whose target is outside the layer
// or not in it, and a symlink whose relative target climbs out of the layer
// are refused with an error naming the entry (CVE-2018-15664 and
// CVE-2019-14271 were copies that followed a link out of the container).
// Every file is made through an os.Root on dir and *at system calls on
// directories opened through it, never by a path string, so nothing is
// written outside dir even if a check here were wrong. On error, dir holds
// a partial layer: the caller removes it.
func Extract(r io.Reader, dir string, o ExtractOptions) (ExtractResult, error) {
	h := sha256.New()
	raw, _, done, err := decompress(r)
	if err != nil {
		return ExtractResult{}, err
	}
	defer done()
	// The diff ID covers the whole uncompressed stream, the tar's end
	// blocks and padding included.
	body := io.TeeReader(raw, h)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return ExtractResult{}, err
	}
	defer root.Close()
	x := &extractor{root: root, o: o, dirsOK: map[string]bool{".": true}}
	for _, l := range o.Lowers {
		if lr, err := os.OpenRoot(l); err == nil {
			defer lr.Close()
			x.lowers = append(x.lowers, lr)
		}
	}
	tr := tar.NewReader(body)
	var res ExtractResult
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("read tar: %w", err)
		}
		res.Entries++
		if err := x.entry(hdr, tr); err != nil {
			return res, fmt.Errorf("entry %s: %w", quoteName(hdr.Name), err)
		}
	}
	if err := x.finish(); err != nil {
		return res, err
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return res, fmt.Errorf("read tar: %w", err)
	}
	res.DiffID = digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	res.Size = x.size
	return res, nil
}

// quoteName shows an entry's name as it came, quoted only when it holds
// something a terminal should not print raw.
func quoteName(n string) string {
	q := strconv.Quote(n)
	if q[1:len(q)-1] == n && !strings.ContainsAny(n, " ") {
		return n
	}
	return q
}

type dirTimes struct {
	name         string
	atime, mtime time.Time
}

type extractor struct {
	root   *os.Root
	lowers []*os.Root
	o      ExtractOptions
	// dirsOK caches directories already checked to be real directories
	// made by this extraction (not symlinks), so a deep tree is not
	// re-checked component by component for every file.
	dirsOK map[string]bool
	dirs   []dirTimes
	size   int64
}

// Errors the checks return; the caller adds the entry's name.
var (
	errAbsolute = errors.New("absolute path refused: a layer's names are relative to its root")
	errEscape   = errors.New("path escapes the layer")
)

// cleanName turns a tar name into a clean path relative to the layer root,
// or refuses it.
func cleanName(n string) (string, error) {
	if n == "" || strings.IndexByte(n, 0) >= 0 {
		return "", errors.New("empty or invalid name")
	}
	if strings.HasPrefix(n, "/") {
		return "", errAbsolute
	}
	c := path.Clean(n)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", errEscape
	}
	return c, nil
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	name, err := cleanName(h.Name)
	if err != nil {
		return err
	}
	dir, base := path.Split(name)
	dir = path.Clean(dir)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(dir, base)
	}
	if name == "." {
		if h.Typeflag != tar.TypeDir {
			return errors.New("the layer's root must be a directory")
		}
		rf, err := openDir(x.root, ".")
		if err != nil {
			return err
		}
		defer rf.Close()
		return x.meta(rf, ".", ".", h, true)
	}
	if err := x.parents(dir); err != nil {
		return err
	}
	pd, err := openDir(x.root, dir)
	if err != nil {
		return err
	}
	defer pd.Close()
	pfd := int(pd.Fd())

	switch h.Typeflag {
	case tar.TypeDir:
		st, err := lstatAt(pfd, base)
		switch {
		case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
			// An existing directory stays: entries merge into it.
		case err == nil:
			if err := x.remove(pfd, name, base, st); err != nil {
				return err
			}
			fallthrough
		default:
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return fmt.Errorf("mkdir: %w", err)
			}
		}
		x.dirsOK[name] = true
		return x.meta(pd, dir, base, h, true)

	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		if err := x.replace(pfd, name, base); err != nil {
			return err
		}
		// O_EXCL and O_NOFOLLOW: the file is new, never an existing one
		// or a link's target.
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		f := os.NewFile(uintptr(fd), name)
		n, err := io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		x.size += n
		return x.meta(pd, dir, base, h, false)

	case tar.TypeSymlink:
		if err := symlinkInside(dir, h.Linkname); err != nil {
			return err
		}
		if err := x.replace(pfd, name, base); err != nil {
			return err
		}
		if err := unix.Symlinkat(h.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		return x.meta(pd, dir, base, h, false)

	case tar.TypeLink:
		return x.hardlink(pd, name, base, h.Linkname)

	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if err := x.replace(pfd, name, base); err != nil {
			return err
		}
		mode := uint32(unix.S_IFIFO)
		switch h.Typeflag {
		case tar.TypeChar:
			mode = unix.S_IFCHR
		case tar.TypeBlock:
			mode = unix.S_IFBLK
		}
		if h.Devmajor < 0 || h.Devminor < 0 || h.Devmajor > 0xfffff || h.Devminor > 0xfffff {
			return errors.New("device number out of range")
		}
		dev := unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))
		if err := unix.Mknodat(pfd, base, mode|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
		return x.meta(pd, dir, base, h, false)
	}
	return fmt.Errorf("unsupported entry type %q", string(h.Typeflag))
}

// parents makes sure every component of dir is a directory of this layer,
// creating missing ones. A component that is a symlink is refused: writing
// through it would put the file wherever the link points, which is how
// "a -> /etc" then "a/passwd" escapes (CVE-2018-15664's pattern).
func (x *extractor) parents(dir string) error {
	if x.dirsOK[dir] {
		return nil
	}
	var p string
	for _, c := range strings.Split(dir, "/") {
		p = path.Join(p, c)
		if x.dirsOK[p] {
			continue
		}
		st, err := x.root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := x.implicitDir(p); err != nil {
				return err
			}
		case err != nil:
			return err
		case st.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("write through the symlink %s refused: %w", p, errEscape)
		case !st.IsDir():
			return fmt.Errorf("%s is not a directory", p)
		}
		x.dirsOK[p] = true
	}
	return nil
}

// implicitDir makes directory p that the tar never named, with the
// attributes of the same directory in the first lower layer that has it.
func (x *extractor) implicitDir(p string) error {
	if err := x.root.Mkdir(p, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", p, err)
	}
	for _, l := range x.lowers {
		st, err := l.Lstat(p)
		if err != nil || !st.IsDir() {
			continue
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			// Lowers hold owners already offset for this user namespace.
			_ = x.root.Lchown(p, int(sys.Uid), int(sys.Gid))
		}
		_ = x.root.Chmod(p, st.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		x.dirs = append(x.dirs, dirTimes{p, st.ModTime(), st.ModTime()})
		break
	}
	return nil
}

// symlinkInside refuses a relative symlink target that climbs above the
// layer's root from the link's directory. An absolute target is kept: it
// names a path in the container's root, and the extractor never follows it.
func symlinkInside(dir, target string) error {
	if target == "" || strings.IndexByte(target, 0) >= 0 {
		return errors.New("empty or invalid symlink target")
	}
	if strings.HasPrefix(target, "/") {
		return nil
	}
	if c := path.Join(dir, target); c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("symlink target %s climbs out of the layer: %w", quoteName(target), errEscape)
	}
	return nil
}

// hardlink makes name a hard link to target, which must already be a
// non-directory of this layer, reached without following a symlink.
func (x *extractor) hardlink(pd *os.File, name, base, linkname string) error {
	target, err := cleanName(linkname)
	if err != nil {
		return fmt.Errorf("hard link target %s: %w", quoteName(linkname), err)
	}
	if target == "." || target == name {
		return fmt.Errorf("hard link target %s: not a file", quoteName(linkname))
	}
	tdir, tbase := path.Split(target)
	tdir = path.Clean(tdir)
	if err := x.existingDirs(tdir); err != nil {
		return fmt.Errorf("hard link target %s: %w", quoteName(linkname), err)
	}
	td, err := openDir(x.root, tdir)
	if err != nil {
		return fmt.Errorf("hard link target %s: %w", quoteName(linkname), err)
	}
	defer td.Close()
	st, err := lstatAt(int(td.Fd()), tbase)
	if err != nil {
		return fmt.Errorf("hard link target %s is not in this layer: %w", quoteName(linkname), err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hard link target %s is a directory", quoteName(linkname))
	}
	if err := x.replace(int(pd.Fd()), name, base); err != nil {
		return err
	}
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
	if err := unix.Linkat(int(td.Fd()), tbase, int(pd.Fd()), base, 0); err != nil {
		return fmt.Errorf("link: %w", err)
	}
	return nil
}

// existingDirs checks that every component of dir exists in this layer as
// a real directory (not a symlink), without creating any.
func (x *extractor) existingDirs(dir string) error {
	var p string
	for _, c := range strings.Split(dir, "/") {
		p = path.Join(p, c)
		if x.dirsOK[p] {
			continue
		}
		st, err := x.root.Lstat(p)
		if err != nil {
			return fmt.Errorf("not in this layer: %w", err)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("goes through the symlink %s: %w", p, errEscape)
		}
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", p)
		}
	}
	return nil
}

// whiteout turns .wh.NAME into overlayfs's whiteout for NAME, and
// .wh..wh..opq into the opaque attribute of its directory.
func (x *extractor) whiteout(dir, base string) error {
	if err := x.parents(dir); err != nil {
		return err
	}
	if base == opaqueMarker {
		d, err := openDir(x.root, dir)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := unix.Fsetxattr(int(d.Fd()), overlayOpaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("mark %s opaque: %w", dir, err)
		}
		// A layer for a user namespace is stacked by an overlay that its
		// root mounts with userxattr: that overlay cannot read trusted.*
		// and looks for user.overlay.opaque instead (overlayfs.rst,
		// "Permission model" and "userxattr").
		if x.o.UIDOffset != 0 || x.o.GIDOffset != 0 {
			if err := unix.Fsetxattr(int(d.Fd()), userOverlayOpaqueXattr, []byte("y"), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
				return fmt.Errorf("mark %s opaque: %w", dir, err)
			}
		}
		return nil
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	hidden := base[len(whiteoutPrefix):]
	if hidden == "" || hidden == "." || hidden == ".." {
		return errors.New("whiteout names nothing")
	}
	pd, err := openDir(x.root, dir)
	if err != nil {
		return err
	}
	defer pd.Close()
	if err := x.replace(int(pd.Fd()), path.Join(dir, hidden), hidden); err != nil {
		return err
	}
	if err := unix.Mknodat(int(pd.Fd()), hidden, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("whiteout %s: %w", path.Join(dir, hidden), err)
	}
	return nil
}

// replace removes whatever this layer already has at name, as a later tar
// entry of the same name replaces an earlier one.
func (x *extractor) replace(pfd int, name, base string) error {
	st, err := lstatAt(pfd, base)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	return x.remove(pfd, name, base, st)
}

func (x *extractor) remove(pfd int, name, base string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Unlinkat(pfd, base, 0)
	}
	for k := range x.dirsOK {
		if k == name || strings.HasPrefix(k, name+"/") {
			delete(x.dirsOK, k)
		}
	}
	return x.root.RemoveAll(name)
}

// openDir opens a directory inside r: never a symlink's target, never a
// fifo or device that a hostile layer put where a directory was (opening a
// fifo would hang the extraction).
func openDir(r *os.Root, name string) (*os.File, error) {
	return r.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
}

func lstatAt(dfd int, name string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	return &st, nil
}

// meta applies the header's owner, mode, extended attributes and times to
// base in the directory pd, never following a symlink. A directory's times
// are set at the end, after its entries stop changing them.
func (x *extractor) meta(pd *os.File, dir, base string, h *tar.Header, isDir bool) error {
	pfd := int(pd.Fd())
	if h.Uid < 0 || h.Gid < 0 || uint64(h.Uid)+uint64(x.o.UIDOffset) > 0xfffffffe ||
		uint64(h.Gid)+uint64(x.o.GIDOffset) > 0xfffffffe {
		return errors.New("owner out of range")
	}
	uid, gid := int(uint32(h.Uid)+x.o.UIDOffset), int(uint32(h.Gid)+x.o.GIDOffset)
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	link := h.Typeflag == tar.TypeSymlink
	if !link {
		// After chown, which clears set-user-ID bits.
		if err := unix.Fchmodat(pfd, base, uint32(h.Mode)&0o7777, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := x.xattrs(pfd, base, h); err != nil {
		return err
	}
	at, mt := h.AccessTime, h.ModTime
	if at.IsZero() {
		at = mt
	}
	if isDir {
		x.dirs = append(x.dirs, dirTimes{path.Join(dir, base), at, mt})
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// xattrs sets the entry's extended attributes (PAX SCHILY.xattr.*).
// overlayfs's own trusted.overlay.* and user.overlay.* are dropped: a layer
// must not set a redirect or an origin that overlayfs would act on; an
// opaque directory is said with .wh..wh..opq.
func (x *extractor) xattrs(pfd int, base string, h *tar.Header) error {
	var keys []string
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	// Lsetxattr on the magic link of the directory plus the name: the
	// directory is the one opened through the root, the name is not
	// followed.
	p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base)
	for _, k := range keys {
		attr := strings.TrimPrefix(k, "SCHILY.xattr.")
		if strings.HasPrefix(attr, overlayXattrPrefix) || strings.HasPrefix(attr, userOverlayPrefix) {
			continue
		}
		if err := unix.Lsetxattr(p, attr, []byte(h.PAXRecords[k]), 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) && h.Typeflag == tar.TypeSymlink {
				// A filesystem without that namespace (security.selinux
				// here), or user.* on a symlink, which Linux forbids.
				continue
			}
			return fmt.Errorf("set xattr %s: %w", attr, err)
		}
	}
	return nil
}

// finish sets directories' times, deepest first.
func (x *extractor) finish() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		dir, base := path.Split(d.name)
		pd, err := openDir(x.root, path.Clean(dir))
		if err != nil {
			continue // replaced by a later entry
		}
		ts := []unix.Timespec{unix.NsecToTimespec(d.atime.UnixNano()), unix.NsecToTimespec(d.mtime.UnixNano())}
		if base == "" {
			base = "."
		}
		err = unix.UtimesNanoAt(int(pd.Fd()), base, ts, unix.AT_SYMLINK_NOFOLLOW)
		pd.Close()
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("set times of %s: %w", d.name, err)
		}
	}
	return nil
}
