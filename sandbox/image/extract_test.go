package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
)

// ent is one tar entry for a test layer.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	major, minor     int64
	xattrs           map[string]string
}

var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: testTime, Devmajor: e.major, Devminor: e.minor, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// sandboxDir makes parent/layer and a sentinel beside it, so a test can
// prove nothing was written outside the layer.
func sandboxDir(t testing.TB) (parent, layer string) {
	t.Helper()
	parent = t.TempDir()
	layer = filepath.Join(parent, "layer")
	if err := os.Mkdir(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "sentinel"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return parent, layer
}

func onlyLayer(t testing.TB, parent string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "layer,sentinel" {
		t.Fatalf("outside the layer: %v", names)
	}
	if b, _ := os.ReadFile(filepath.Join(parent, "sentinel")); string(b) != "x" {
		t.Fatalf("sentinel changed: %q", b)
	}
}

func lstat(t testing.TB, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func TestExtractKeepsEverything(t *testing.T) {
	testutil.RequiresRoot(t)
	layer := mkTar(t,
		ent{name: "./", typ: tar.TypeDir, mode: 0o755},
		ent{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n", uid: 0},
		ent{name: "home/user/notes", body: "hello", uid: 1000, gid: 1001, mode: 0o600},
		ent{name: "bin/su", body: "su", mode: 0o4755},
		ent{name: "bin/sh", typ: tar.TypeSymlink, link: "/bin/busybox"},
		ent{name: "bin/ln", typ: tar.TypeLink, link: "bin/su"},
		ent{name: "dev/null", typ: tar.TypeChar, major: 1, minor: 3, mode: 0o666},
		ent{name: "dev/loop0", typ: tar.TypeBlock, major: 7, minor: 0, mode: 0o660},
		ent{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
		ent{name: "bin/ping", body: "ping", mode: 0o755, xattrs: map[string]string{"user.test": "v1"}},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "etc/passwd", body: "replaced\n"}, // a later entry wins
	)
	parent, dir := sandboxDir(t)
	res, err := Extract(bytes.NewReader(gz(layer)), dir, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	onlyLayer(t, parent)
	if want := digestOf(layer); res.DiffID != want {
		t.Errorf("diff ID %s, want %s (of the uncompressed tar)", res.DiffID, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/passwd")); string(b) != "replaced\n" {
		t.Errorf("etc/passwd = %q", b)
	}
	st := lstat(t, filepath.Join(dir, "home/user/notes"))
	if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o600 {
		t.Errorf("notes: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if st.Mtim.Sec != testTime.Unix() {
		t.Errorf("notes mtime %d, want %d", st.Mtim.Sec, testTime.Unix())
	}
	if st := lstat(t, filepath.Join(dir, "bin/su")); st.Mode&0o7777 != 0o4755 {
		t.Errorf("su mode %o, want 4755", st.Mode&0o7777)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "bin/sh")); l != "/bin/busybox" {
		t.Errorf("bin/sh -> %q", l)
	}
	if a, b := lstat(t, filepath.Join(dir, "bin/su")), lstat(t, filepath.Join(dir, "bin/ln")); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("bin/ln is not a hard link of bin/su (inodes %d %d, links %d)", a.Ino, b.Ino, a.Nlink)
	}
	if st := lstat(t, filepath.Join(dir, "dev/null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) || st.Mode&0o777 != 0o666 {
		t.Errorf("dev/null mode %o rdev %x", st.Mode, st.Rdev)
	}
	if st := lstat(t, filepath.Join(dir, "dev/loop0")); st.Mode&unix.S_IFMT != unix.S_IFBLK || st.Rdev != unix.Mkdev(7, 0) {
		t.Errorf("dev/loop0 mode %o rdev %x", st.Mode, st.Rdev)
	}
	if st := lstat(t, filepath.Join(dir, "run/fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("run/fifo mode %o", st.Mode)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "bin/ping"), "user.test", buf); err != nil || string(buf[:n]) != "v1" {
		t.Errorf("xattr user.test = %q, %v", buf[:n], err)
	}
	if st := lstat(t, filepath.Join(dir, "tmp")); st.Mode&0o7777 != 0o1777 || st.Mtim.Sec != testTime.Unix() {
		t.Errorf("tmp mode %o mtime %d", st.Mode&0o7777, st.Mtim.Sec)
	}
	// Bytes written, the replaced first etc/passwd included.
	if res.Size != int64(len("root:x:0:0::/root:/bin/sh\n")+len("replaced\n")+len("hello")+len("su")+len("ping")) {
		t.Errorf("size %d", res.Size)
	}
}

func TestExtractWhiteouts(t *testing.T) {
	testutil.RequiresRoot(t)
	layer := mkTar(t,
		ent{name: "etc/", typ: tar.TypeDir},
		ent{name: "etc/.wh.motd"},
		ent{name: "var/cache/", typ: tar.TypeDir, mode: 0o700},
		ent{name: "var/cache/.wh..wh..opq"},
		ent{name: "var/cache/new", body: "n"},
		ent{name: ".wh..wh..plnk"}, // AUFS bookkeeping: ignored
	)
	_, dir := sandboxDir(t)
	if _, err := Extract(bytes.NewReader(layer), dir, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(dir, "etc/motd")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/motd is not a whiteout: mode %o rdev %d", st.Mode, st.Rdev)
	}
	buf := make([]byte, 4)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "var/cache"), overlayOpaqueXattr, buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("var/cache opaque = %q, %v", buf[:n], err)
	}
	for _, n := range []string{"etc/.wh.motd", "var/cache/.wh..wh..opq", ".wh..wh..plnk"} {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s was written as a file", n)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "var/cache/new")); string(b) != "n" {
		t.Errorf("var/cache/new = %q", b)
	}
}

// A directory that a later entry replaces with a fifo must not hang the
// extraction when it sets directory times at the end, and zstd layers
// unpack like the others.
func TestExtractFifoOverDirAndZstd(t *testing.T) {
	testutil.RequiresRoot(t)
	layer := mkTar(t, ent{name: "d/", typ: tar.TypeDir}, ent{name: "d/f", body: "x"}, ent{name: "d", typ: tar.TypeFifo})
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	zw.Write(layer)
	zw.Close()
	_, dir := sandboxDir(t)
	done := make(chan error, 1)
	go func() {
		_, err := Extract(bytes.NewReader(buf.Bytes()), dir, ExtractOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("extraction hangs on a fifo that replaced a directory")
	}
	if st := lstat(t, filepath.Join(dir, "d")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("d mode %o, want a fifo", st.Mode)
	}
}

// hostileLayers are tars that try to write outside the layer. Each names
// the entry the error must name.
func hostileLayers(t testing.TB) map[string]struct {
	tar   []byte
	entry string
} {
	host := "etc/stepbox-hostile-" + strings.Repeat("x", 4)
	return map[string]struct {
		tar   []byte
		entry string
	}{
		"dot-dot":           {mkTar(t, ent{name: "../../" + host, body: "pwned"}), "../../" + host},
		"absolute":          {mkTar(t, ent{name: "/" + host, body: "pwned"}), "/" + host},
		"through-symlink":   {mkTar(t, ent{name: "a", typ: tar.TypeSymlink, link: "/etc"}, ent{name: "a/passwd", body: "pwned"}), "a/passwd"},
		"through-relative":  {mkTar(t, ent{name: "a", typ: tar.TypeSymlink, link: "."}, ent{name: "a/x", body: "pwned"}), "a/x"},
		"hardlink-absolute": {mkTar(t, ent{name: "shadow", typ: tar.TypeLink, link: "/etc/shadow"}), "shadow"},
		"hardlink-dot-dot":  {mkTar(t, ent{name: "shadow", typ: tar.TypeLink, link: "../../../../etc/shadow"}), "shadow"},
		"hardlink-via-link": {mkTar(t, ent{name: "a", typ: tar.TypeSymlink, link: "/etc"}, ent{name: "shadow", typ: tar.TypeLink, link: "a/shadow"}), "shadow"},
		"symlink-escapes":   {mkTar(t, ent{name: "d/up", typ: tar.TypeSymlink, link: "../../.."}), "d/up"},
		"symlink-chain": {mkTar(t,
			ent{name: "b", typ: tar.TypeSymlink, link: "c/.."},
			ent{name: "c", typ: tar.TypeSymlink, link: "../etc"}), "c"},
		"whiteout-through-link": {mkTar(t, ent{name: "a", typ: tar.TypeSymlink, link: "/etc"}, ent{name: "a/.wh.passwd"}), "a/.wh.passwd"},
		"opaque-through-link":   {mkTar(t, ent{name: "a", typ: tar.TypeSymlink, link: "/etc"}, ent{name: "a/.wh..wh..opq"}), "a/.wh..wh..opq"},
		"dir-over-link-then-file": {mkTar(t,
			ent{name: "x/", typ: tar.TypeDir},
			ent{name: "x", typ: tar.TypeSymlink, link: "/tmp"},
			ent{name: "x/f", body: "pwned"}), "x/f"},
	}
}

func TestExtractRefusesHostileLayers(t *testing.T) {
	testutil.RequiresRoot(t)
	for name, tc := range hostileLayers(t) {
		t.Run(name, func(t *testing.T) {
			parent, dir := sandboxDir(t)
			_, err := Extract(bytes.NewReader(tc.tar), dir, ExtractOptions{})
			if err == nil {
				t.Fatal("extracted without error")
			}
			if !strings.Contains(err.Error(), "entry "+tc.entry+":") {
				t.Errorf("error %q does not name entry %s", err, tc.entry)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			onlyLayer(t, parent)
			if _, err := os.Lstat("/etc/stepbox-hostile-xxxx"); err == nil {
				t.Fatal("/etc/stepbox-hostile-xxxx exists on the host")
			}
		})
	}
}

func TestExtractUIDOffset(t *testing.T) {
	testutil.RequiresRoot(t)
	layer := mkTar(t, ent{name: "f", body: "x", uid: 0, gid: 0}, ent{name: "g", body: "y", uid: 1000, gid: 50},
		ent{name: "l", typ: tar.TypeSymlink, link: "f", uid: 7, gid: 7})
	_, dir := sandboxDir(t)
	if _, err := Extract(bytes.NewReader(layer), dir, ExtractOptions{UIDOffset: 100000, GIDOffset: 200000}); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string][2]uint32{"f": {100000, 200000}, "g": {101000, 200050}, "l": {100007, 200007}} {
		if st := lstat(t, filepath.Join(dir, n)); st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s owned by %d:%d, want %d:%d", n, st.Uid, st.Gid, want[0], want[1])
		}
	}
}

// A directory named only through its files takes the lower layer's mode,
// not an invented 0755 that would shadow it in the overlay.
func TestExtractImplicitDirFromLower(t *testing.T) {
	testutil.RequiresRoot(t)
	_, lower := sandboxDir(t)
	if _, err := Extract(bytes.NewReader(mkTar(t, ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777})), lower, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	_, dir := sandboxDir(t)
	if _, err := Extract(bytes.NewReader(mkTar(t, ent{name: "tmp/f", body: "x"})), dir, ExtractOptions{Lowers: []string{lower}}); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(dir, "tmp")); st.Mode&0o7777 != 0o1777 {
		t.Errorf("implicit tmp has mode %o, want the lower's 1777", st.Mode&0o7777)
	}
}

func TestWriteTarRoundTrip(t *testing.T) {
	testutil.RequiresRoot(t)
	layer := mkTar(t,
		ent{name: "bin/su", body: "su", mode: 0o4755, uid: 3, gid: 4},
		ent{name: "bin/ln", typ: tar.TypeLink, link: "bin/su"},
		ent{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		ent{name: "dev/null", typ: tar.TypeChar, major: 1, minor: 3, mode: 0o666},
		ent{name: "etc/.wh.gone"},
		ent{name: "opq/", typ: tar.TypeDir},
		ent{name: "opq/.wh..wh..opq"},
		ent{name: "opq/keep", body: "k", xattrs: map[string]string{"user.a": "b"}},
	)
	_, dir := sandboxDir(t)
	if _, err := Extract(bytes.NewReader(layer), dir, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteTar(&out, dir, TarOptions{Overlay: true}); err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		got[h.Name] = h
	}
	for name, check := range map[string]func(h *tar.Header) bool{
		// Names are sorted: bin/ln comes first and carries the content.
		"bin/ln":           func(h *tar.Header) bool { return h.Mode == 0o4755 && h.Uid == 3 && h.Gid == 4 && h.Size == 2 },
		"bin/su":           func(h *tar.Header) bool { return h.Typeflag == tar.TypeLink && h.Linkname == "bin/ln" },
		"bin/sh":           func(h *tar.Header) bool { return h.Typeflag == tar.TypeSymlink && h.Linkname == "busybox" },
		"dev/null":         func(h *tar.Header) bool { return h.Typeflag == tar.TypeChar && h.Devmajor == 1 && h.Devminor == 3 },
		"etc/.wh.gone":     func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg },
		"opq/":             func(h *tar.Header) bool { return h.Typeflag == tar.TypeDir },
		"opq/.wh..wh..opq": func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg },
		"opq/keep":         func(h *tar.Header) bool { return h.PAXRecords["SCHILY.xattr.user.a"] == "b" },
	} {
		h, ok := got[name]
		if !ok {
			t.Errorf("%s missing from the tar (have %v)", name, keys(got))
			continue
		}
		if !check(h) {
			t.Errorf("%s: wrong header %+v", name, *h)
		}
		if _, leaked := h.PAXRecords["SCHILY.xattr."+overlayOpaqueXattr]; leaked {
			t.Errorf("%s carries overlayfs's own xattr", name)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// FuzzExtract feeds arbitrary tars to the extractor: whatever it accepts
// or refuses, nothing may appear outside the layer directory.
func FuzzExtract(f *testing.F) {
	if os.Geteuid() != 0 {
		f.Skip("needs root (mknod, chown, trusted xattrs)")
	}
	for _, tc := range hostileLayers(f) {
		f.Add(tc.tar)
	}
	f.Add(mkTar(f, ent{name: "a/b/c", body: "x"}, ent{name: "a/.wh.b"}, ent{name: "a/b", typ: tar.TypeLink, link: "a/b/c"}))
	f.Add(mkTar(f, ent{name: "l", typ: tar.TypeSymlink, link: "x/../../y"}, ent{name: "x/", typ: tar.TypeDir}))
	f.Add(mkTar(f, ent{name: "d/", typ: tar.TypeDir}, ent{name: "d", typ: tar.TypeFifo}, ent{name: "d/x", body: "x"}))
	f.Add(gz(mkTar(f, ent{name: "a", typ: tar.TypeLink, link: "a"})))
	f.Fuzz(func(t *testing.T, b []byte) {
		parent, dir := sandboxDir(t)
		Extract(bytes.NewReader(b), dir, ExtractOptions{})
		onlyLayer(t, parent)
	})
}
