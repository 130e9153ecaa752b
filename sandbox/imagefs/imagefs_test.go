package imagefs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
)

// Two containers of one image: each writes only its own upper directory;
// neither sees the other's files, the image's layer is not changed (its
// checksum, its files' inodes), and both read the image's files through
// the same inodes. Removing them removes their upper directories and
// their marks, and only then may the image go.
func TestTwoContainersOneImage(t *testing.T) {
	s, p := testStore(t)
	img, err := s.Get("test/base:1")
	if err != nil {
		t.Fatal(err)
	}
	lower := s.Layers(img)[0].Dir
	before := treeSum(t, lower)
	var ino unix.Stat_t
	if err := unix.Stat(filepath.Join(lower, "etc/motd"), &ino); err != nil {
		t.Fatal(err)
	}
	script := func(who string) string {
		return "echo " + who + " > /mine; echo " + who + " >> /etc/motd; stat -c %i /bin/busybox; cat /etc/motd; ls /"
	}
	a := run(t, s, p, "test/base:1", spec(script("A")))
	b := run(t, s, p, "test/base:1", spec(script("B")))
	for _, x := range []struct {
		box       *box
		me, other string
	}{{a, "A", "B"}, {b, "B", "A"}} {
		out := lines(x.box.out.String())
		if len(out) < 3 || out[0] != strconv.FormatUint(busyboxIno(t, lower), 10) {
			t.Errorf("container %s: busybox's inode %v, want the layer's %d (not copied)", x.me, out, busyboxIno(t, lower))
		}
		if len(out) < 3 || out[1] != "the image's motd" || out[2] != x.me {
			t.Errorf("container %s sees /etc/motd %q, want the image's line and its own", x.me, out)
		}
		upper := x.box.r.Overlay.Upper
		if got := names(t, upper); !slices.Contains(got, "mine") || !slices.Contains(got, "etc/motd") {
			t.Errorf("upper of %s holds %v, want its mine and etc/motd", x.me, got)
		}
		if c, _ := os.ReadFile(filepath.Join(upper, "mine")); string(c) != x.me+"\n" {
			t.Errorf("upper of %s: mine is %q", x.me, c)
		}
		if c, _ := os.ReadFile(filepath.Join(upper, "etc/motd")); strings.Contains(string(c), x.other) {
			t.Errorf("upper of %s holds the other's write: %q", x.me, c)
		}
	}
	if a.r.Overlay.Upper == b.r.Overlay.Upper || !slices.Equal(a.r.Overlay.Lower, b.r.Overlay.Lower) {
		t.Errorf("uppers %s and %s, lowers %v and %v: want two uppers over one lower", a.r.Overlay.Upper, b.r.Overlay.Upper, a.r.Overlay.Lower, b.r.Overlay.Lower)
	}
	if after := treeSum(t, lower); after != before {
		t.Error("the image's layer changed under its containers")
	}
	var ino2 unix.Stat_t
	unix.Stat(filepath.Join(lower, "etc/motd"), &ino2)
	if ino2.Ino != ino.Ino {
		t.Errorf("the layer's etc/motd is inode %d now, was %d", ino2.Ino, ino.Ino)
	}
	// In use: rmi refuses.
	if _, err := s.Remove("test/base:1", false); !errors.Is(err, image.ErrInUse) {
		t.Errorf("rmi of an image two containers use: %v, want ErrInUse", err)
	}
	if img, _ := s.Get("test/base:1"); len(img.UsedBy) != 2 {
		t.Errorf("image used by %v, want both containers", img.UsedBy)
	}
	for _, x := range []*box{a, b} {
		dir := filepath.Dir(x.r.Overlay.Upper)
		if err := x.c.Delete(false); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after the container was removed", dir)
		}
	}
	if img, _ := s.Get("test/base:1"); len(img.UsedBy) != 0 {
		t.Errorf("image still used by %v", img.UsedBy)
	}
	if _, err := s.Remove("test/base:1", false); err != nil {
		t.Errorf("rmi once the containers are gone: %v", err)
	}
}

func busyboxIno(t *testing.T, lower string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(lower, "bin/busybox"), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// A file deleted inside is a whiteout in the upper directory (a character
// device 0/0, overlayfs.rst), the layer keeps it, and diff says D; commit
// makes it an OCI whiteout (.wh.NAME) in the new layer, and a container of
// the new image does not see it. history shows the new layer with the
// commit's message on top.
func TestWhiteoutDiffCommitHistory(t *testing.T) {
	s, p := testStore(t)
	a := run(t, s, p, "test/base:1", spec("rm /etc/deleteme && rm -r /srv/data && mkdir /srv/data && echo new > /srv/data/fresh && echo hi > /hello"))
	up := a.r.Overlay.Upper
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(up, "etc/deleteme"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Fatalf("etc/deleteme in the upper: %v, mode %o rdev %d; want a whiteout", err, st.Mode, st.Rdev)
	}
	if _, err := os.Stat(filepath.Join(a.r.Overlay.Lower[0], "etc/deleteme")); err != nil {
		t.Errorf("the layer lost etc/deleteme: %v", err)
	}
	changes, err := Diff(a.c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	for _, want := range []string{"D /etc/deleteme", "A /hello", "C /srv/data", "A /srv/data/fresh", "D /srv/data/keep"} {
		if !slices.Contains(got, want) {
			t.Errorf("diff lacks %q: %v", want, got)
		}
	}
	for _, g := range got {
		if g == "A /proc" || g == "A /dev" || g == "A /sys" {
			t.Errorf("diff shows the runtime's mount point %q", g)
		}
	}
	img, err := Commit(a.c, "test/committed:1", CommitOptions{Message: "the lesson's change", Changes: []string{"ENV FROM=commit", `CMD ["cat", "/hello"]`}})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Manifest.Layers) != 2 || img.Config.Config.Cmd[0] != "cat" || !slices.Contains(img.Config.Config.Env, "FROM=commit") {
		t.Errorf("committed image: %d layers, config %+v", len(img.Manifest.Layers), img.Config.Config)
	}
	h := s.History(img)
	if len(h) < 2 || h[0].Comment != "the lesson's change" || !strings.Contains(h[0].CreatedBy, "rm /etc/deleteme") || h[0].Size == 0 {
		t.Errorf("history's newest step: %+v", h[0])
	}
	// The layer's tar: OCI whiteouts, and an opaque marker for the
	// directory made again.
	entries := layerNames(t, s, img, 1)
	for _, want := range []string{"etc/.wh.deleteme", "hello", "srv/data/.wh..wh..opq", "srv/data/fresh"} {
		if !slices.Contains(entries, want) {
			t.Errorf("the committed layer lacks %s: %v", want, entries)
		}
	}
	if slices.Contains(entries, "proc/") {
		t.Errorf("the committed layer holds the runtime's mount point proc/: %v", entries)
	}
	b := run(t, s, p, "test/committed:1", spec("ls /etc /srv/data; cat /hello"))
	out := b.out.String()
	if strings.Contains(out, "deleteme") || strings.Contains(out, "keep") || !strings.Contains(out, "fresh") || !strings.Contains(out, "hi") {
		t.Errorf("a container of the committed image sees:\n%s", out)
	}
	for _, x := range []*box{a, b} {
		if err := x.c.Delete(false); err != nil {
			t.Fatal(err)
		}
	}
	for _, ref := range []string{"test/committed:1", "test/base:1"} {
		if _, err := s.Remove(ref, false); err != nil {
			t.Fatal(err)
		}
	}
}

// layerNames lists the entries of layer i of img's tar.
func layerNames(t *testing.T, s *image.Store, img *image.Image, i int) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Save(&buf, []string{string(img.ID)}, image.SaveOptions{Format: image.FormatDocker}); err != nil {
		t.Fatal(err)
	}
	want := s.Layers(img)[i].Digest.Encoded()
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("layer %s not in the saved image: %v", want, err)
		}
		if !strings.Contains(h.Name, want) {
			continue
		}
		r, err := gzip.NewReader(tr)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		lt := tar.NewReader(r)
		for {
			lh, err := lt.Next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, lh.Name)
		}
	}
}

// export writes a flat tar that GNU tar reads, whose names are exactly what
// the container sees on its root filesystem (find -xdev inside, which
// stays off /proc, /dev and /sys), owners as inside.
func TestExportIsTheMergedView(t *testing.T) {
	s, p := testStore(t)
	a := run(t, s, p, "test/base:1", spec("rm /etc/deleteme; mkdir -p /work/deep; echo x > /work/deep/f; find / -xdev | sort"))
	inside := map[string]bool{}
	for _, l := range lines(a.out.String()) {
		if l != "/" {
			inside[strings.TrimPrefix(l, "/")] = true
		}
	}
	tmp := filepath.Join(t.TempDir(), "export.tar")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := Export(a.c.State(), f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command("tar", "-tf", tmp).Output()
	if err != nil {
		t.Fatalf("tar -t: %v", err)
	}
	exported := map[string]bool{}
	for _, l := range lines(string(out)) {
		exported[strings.TrimSuffix(l, "/")] = true
	}
	for n := range inside {
		if !exported[n] {
			t.Errorf("%s is inside but not in the export", n)
		}
	}
	for n := range exported {
		if !inside[n] && n != "." {
			t.Errorf("%s is in the export but not inside", n)
		}
	}
	if exported["etc/deleteme"] || !exported["work/deep/f"] {
		t.Errorf("export: etc/deleteme %v, work/deep/f %v", exported["etc/deleteme"], exported["work/deep/f"])
	}
}

// A user-namespaced container on an image: the layers are copies owned by
// its range, mounted with userxattr; root inside owns its files, which
// are the mapped uid on the host; diff, commit (owners shifted back) and
// export read it.
func TestUserNamespaceContainerOnImage(t *testing.T) {
	s, p := testStore(t)
	sp := spec("id -u; stat -c %u /etc/motd; echo x > /x; rm /etc/deleteme; rm -r /srv/data; mkdir /srv/data; stat -c %u /x")
	sandbox.SetNamespace(sp, specs.UserNamespace, true)
	a := run(t, s, p, "test/base:1", sp)
	if got := lines(a.out.String()); !slices.Equal(got, []string{"0", "0", "0"}) {
		t.Errorf("inside: %v, want uid 0 owning the image's files and its own", got)
	}
	o := a.r.Overlay
	if !o.UserXattr || !strings.Contains(o.Lower[0], "-100000-100000") {
		t.Errorf("overlay %+v: want userxattr over the layer's copy for uid 100000", o)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(o.Upper, "x"), &st); err != nil || st.Uid != 100000 {
		t.Errorf("upper's x: %v, owner %d; want 100000", err, st.Uid)
	}
	if err := unix.Lstat(filepath.Join(o.Upper, "etc/deleteme"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Errorf("upper's etc/deleteme: %v, mode %o; want a whiteout", err, st.Mode)
	}
	if v, err := unix.Lgetxattr(filepath.Join(o.Upper, "srv/data"), "user.overlay.opaque", make([]byte, 4)); err != nil || v != 1 {
		t.Errorf("upper's srv/data: user.overlay.opaque %d %v; want y", v, err)
	}
	changes, err := Diff(a.c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	for _, want := range []string{"A /x", "D /etc/deleteme", "D /srv/data/keep"} {
		if !slices.Contains(got, want) {
			t.Errorf("diff lacks %q: %v", want, got)
		}
	}
	var buf bytes.Buffer
	if err := Export(a.c.State(), &buf); err != nil {
		t.Fatal(err)
	}
	owners := map[string]int{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		owners[h.Name] = h.Uid
	}
	if u, ok := owners["x"]; !ok || u != 0 || owners["etc/motd"] != 0 {
		t.Errorf("export's owners: x %d (%v), etc/motd %d; want 0", u, ok, owners["etc/motd"])
	}
	if _, ok := owners["srv/data/keep"]; ok {
		t.Error("export shows srv/data/keep, hidden by the opaque directory")
	}
	img, err := Commit(a.c, "test/userns:1", CommitOptions{Pause: true})
	if err != nil {
		t.Fatal(err)
	}
	b := run(t, s, p, string(img.ID), spec("stat -c %u /x; ls /srv/data | wc -l"))
	if got := lines(b.out.String()); !slices.Equal(got, []string{"0", "0"}) {
		t.Errorf("a container of the commit: %v, want x owned by 0 and /srv/data empty", got)
	}
	for _, x := range []*box{a, b} {
		x.c.Delete(false)
	}
	s.Remove("test/userns:1", false)
}

// --read-only: the overlay is the root mount and it is read-only; nothing
// of the container's own can be written.
func TestReadOnlyOverlay(t *testing.T) {
	s, p := testStore(t)
	sp := spec("grep ' / / ' /proc/self/mountinfo; touch /x 2>&1; echo $?")
	sp.Root.Readonly = true
	a := run(t, s, p, "test/base:1", sp)
	out := lines(a.out.String())
	if len(out) < 2 || !strings.Contains(out[0], " - overlay ") || !strings.Contains(out[0], " / / ro,") {
		t.Errorf("root mount: %q, want a read-only overlay", out)
	}
	if out[len(out)-1] == "0" || !strings.Contains(a.out.String(), "Read-only file system") {
		t.Errorf("touch /x on a read-only root: %q", a.out.String())
	}
	if _, err := os.Stat(filepath.Join(a.r.Overlay.Upper, "x")); err == nil {
		t.Error("x was written into the upper")
	}
}

// Without overlayfs (turned off here) the container gets a private copy of
// the image, with one warning: it writes only its copy, and removing it
// removes the copy.
func TestCopyFallback(t *testing.T) {
	s, p := testStore(t)
	t.Setenv(noOverlayEnv, "1")
	img, _ := s.Get("test/base:1")
	lower := s.Layers(img)[0].Dir
	before := treeSum(t, lower)
	sp := spec("grep ' / / ' /proc/self/mountinfo; echo mine >> /etc/motd; rm /etc/deleteme; cat /etc/motd")
	id := sandbox.NewID()
	prep, err := Prepare(s, "test/base:1", id, sp)
	if err != nil {
		t.Fatal(err)
	}
	if prep.Rootfs.Overlay != nil || prep.Rootfs.Copy == "" || !strings.Contains(prep.Warning, "copy") {
		t.Fatalf("prepared %+v, warning %q: want a copy and a warning", prep.Rootfs, prep.Warning)
	}
	sandbox.ReleaseImageRootfs(prep.Rootfs, id)
	a := run(t, s, p, "test/base:1", spec("grep ' / / ' /proc/self/mountinfo; echo mine >> /etc/motd; rm /etc/deleteme; cat /etc/motd"))
	out := a.out.String()
	if strings.Contains(out, "overlay") || !strings.Contains(out, "the image's motd\nmine") {
		t.Errorf("inside the copy:\n%s", out)
	}
	if treeSum(t, lower) != before {
		t.Error("the image's layer changed")
	}
	if _, err := Diff(a.c); err == nil {
		t.Error("diff of a copied container: no error")
	}
	copyDir := a.r.Copy
	if err := a.c.Delete(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(copyDir); err == nil {
		t.Errorf("%s is still there", copyDir)
	}
}

// CopyMerged gives the tree overlayfs itself shows for three layers with
// whiteouts and an opaque directory: the kernel's own overlay is the
// witness.
func TestCopyMergedMatchesOverlayfs(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	l1, l2, l3 := filepath.Join(dir, "l1"), filepath.Join(dir, "l2"), filepath.Join(dir, "l3")
	for _, f := range []string{"l1/a/x", "l1/a/y", "l1/b/z", "l1/c", "l1/d/e/f", "l2/a/w", "l2/b/q", "l3/a/x2", "l3/top"} {
		testutil.WriteFile(t, filepath.Join(dir, f), f+"\n")
	}
	os.Symlink("a/x", filepath.Join(l1, "link"))
	os.Link(filepath.Join(l1, "a/y"), filepath.Join(l1, "hard"))
	// l2 deletes c and d/e, and makes b opaque (hiding l1's b/z).
	unix.Mknod(filepath.Join(l2, "c"), unix.S_IFCHR, 0)
	os.MkdirAll(filepath.Join(l2, "d"), 0o755)
	unix.Mknod(filepath.Join(l2, "d/e"), unix.S_IFCHR, 0)
	unix.Setxattr(filepath.Join(l2, "b"), "trusted.overlay.opaque", []byte("y"), 0)
	// l3 deletes a/y.
	unix.Mknod(filepath.Join(l3, "a/y"), unix.S_IFCHR, 0)
	lower := []string{l3, l2, l1}
	cp := filepath.Join(dir, "copy")
	if err := CopyMerged(lower, cp); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.FsconfigSetString(fd, "lowerdir", strings.Join(lower, ":")); err != nil {
		t.Fatal(err)
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		t.Fatal(err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mfd)
	kernel := names(t, "/proc/self/fd/"+strconv.Itoa(mfd)+"/.")
	ours := names(t, cp)
	if !slices.Equal(kernel, ours) {
		t.Errorf("overlayfs shows %v\nCopyMerged made %v", kernel, ours)
	}
	if c, _ := os.ReadFile(filepath.Join(cp, "hard")); string(c) != "l1/a/y\n" {
		t.Errorf("hard link kept: %q", c)
	}
	if l, _ := os.Readlink(filepath.Join(cp, "link")); l != "a/x" {
		t.Errorf("symlink: %q", l)
	}
}

// LayersFS reads a file from the topmost layer that shows it.
func TestLayersFS(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	l1, l2 := filepath.Join(dir, "l1"), filepath.Join(dir, "l2")
	testutil.WriteFile(t, filepath.Join(l1, "etc/passwd"), "old\n")
	testutil.WriteFile(t, filepath.Join(l1, "etc/group"), "g\n")
	testutil.WriteFile(t, filepath.Join(l1, "etc/gone"), "gone\n")
	testutil.WriteFile(t, filepath.Join(l2, "etc/passwd"), "new\n")
	unix.Mknod(filepath.Join(l2, "etc/gone"), unix.S_IFCHR, 0)
	fsys := LayersFS([]string{l2, l1})
	for name, want := range map[string]string{"etc/passwd": "new\n", "etc/group": "g\n", "etc/gone": "", "etc/none": ""} {
		f, err := fsys.Open(name)
		if want == "" {
			if err == nil {
				f.Close()
				t.Errorf("%s opens", name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != want {
			t.Errorf("%s: %q, want %q", name, b, want)
		}
	}
}

// An image of many layers: the export names them one at a time
// (lowerdir+), as fsconfig(2) takes at most 256 bytes at once, and sees
// every layer's file.
func TestExportManyLayers(t *testing.T) {
	s, p := testStore(t)
	ref := "test/base:1"
	const layers = 16
	for i := 1; i < layers; i++ {
		a := run(t, s, p, ref, spec("echo "+strconv.Itoa(i)+" > /layer-"+strconv.Itoa(i)))
		img, err := Commit(a.c, "test/many:"+strconv.Itoa(i), CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.c.Delete(false); err != nil {
			t.Fatal(err)
		}
		if i > 1 {
			if _, err := s.Remove(ref, false); err != nil {
				t.Fatal(err)
			}
		}
		ref = "test/many:" + strconv.Itoa(i)
		if len(img.Manifest.Layers) != i+1 {
			t.Fatalf("%d layers after %d commits", len(img.Manifest.Layers), i)
		}
	}
	a := run(t, s, p, ref, spec("ls / | grep -c layer-"))
	if got := strings.TrimSpace(a.out.String()); got != strconv.Itoa(layers-1) {
		t.Errorf("a container of %d layers sees %s of their files", layers, got)
	}
	var buf bytes.Buffer
	if err := Export(a.c.State(), &buf); err != nil {
		t.Fatal(err)
	}
	n := 0
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if strings.HasPrefix(h.Name, "layer-") {
			n++
		}
	}
	if n != layers-1 {
		t.Errorf("the export holds %d of the %d layers' files", n, layers-1)
	}
	a.c.Delete(false)
	s.Remove(ref, false)
}
