package image

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
)

// Two containers of one image each write only their own upper directory;
// what one changed is listed by Changes as docker diff lists it, and
// committed as a layer that a third container sees.
func TestContainersCommitDiff(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	loadThree(t, s)
	l1, u1, w1, err := s.PrepareRootfs("three:v1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	l2, u2, w2, err := s.PrepareRootfs("three:v1", "c2")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l1, l2) {
		t.Fatalf("two containers of one image have different lowers: %v, %v", l1, l2)
	}
	lowerBefore := tree(t, l1[0])
	m1 := mountOverlay(t, l1, u1, w1)
	m2 := mountOverlay(t, l2, u2, w2)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(m1, "etc/new"), []byte("n"), 0o644))
	must(os.WriteFile(filepath.Join(m1, "etc/b"), []byte("b-changed"), 0o644))
	must(os.Remove(filepath.Join(m1, "keep")))
	must(os.Remove(filepath.Join(m1, "bin/sh")))
	must(os.RemoveAll(filepath.Join(m1, "opq")))
	must(os.Mkdir(filepath.Join(m1, "opq"), 0o755))
	must(os.WriteFile(filepath.Join(m1, "opq/fresh"), []byte("f"), 0o644))

	diffTrees(t, "the other container", tree(t, m2), threeLayersTree)
	diffTrees(t, "the top lower layer", tree(t, l1[0]), lowerBefore)
	if st := lstat(t, filepath.Join(u1, "keep")); !isWhiteout(st) {
		t.Errorf("keep deleted inside is not a whiteout in the upper: mode %o", st.Mode)
	}

	unmount(t, m1)
	changes, err := Changes(u1, l1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	want := []string{"C /bin", "D /bin/sh", "C /etc", "C /etc/b", "A /etc/new", "D /keep", "C /opq", "A /opq/fresh", "D /opq/new"}
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n  got  %v\n  want %v", got, want)
	}

	img, err := s.Commit("three:v1", u1, "three:committed", CommitOptions{ImportOptions: ImportOptions{Comment: "a test"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(img.Manifest.Layers); n != 4 {
		t.Fatalf("committed image has %d layers", n)
	}
	if h := img.Config.History; len(h) != 2 || h[1].CreatedBy != "stepbox commit" || h[1].Comment != "a test" {
		t.Errorf("history %+v", h)
	}
	l3, u3, w3, err := s.PrepareRootfs("three:committed", "c3")
	if err != nil {
		t.Fatal(err)
	}
	m3 := mountOverlay(t, l3, u3, w3)
	want3 := map[string]string{}
	for k, v := range threeLayersTree {
		want3[k] = v
	}
	delete(want3, "keep")
	delete(want3, "bin/sh")
	delete(want3, "opq/new")
	want3["etc/new"] = "file 644 0:0 n"
	want3["etc/b"] = "file 644 0:0 b-changed"
	want3["opq/fresh"] = "file 644 0:0 f"
	diffTrees(t, "a container of the committed image", tree(t, m3), want3)

	unmount(t, m2)
	unmount(t, m3)
	for _, id := range []string{"c1", "c2", "c3"} {
		if err := s.RemoveRootfs(id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Prune(true); err != nil {
		t.Fatal(err)
	}
	storeEmpty(t, s)
}

// unmount unmounts now what mountOverlay mounted (its cleanup then finds it
// unmounted).
func unmount(t *testing.T, target string) {
	t.Helper()
	if err := unix.Unmount(target, 0); err != nil {
		t.Fatalf("unmount %s: %v", target, err)
	}
}

func TestPrepareRootfsTwiceRefused(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	loadThree(t, s)
	if _, _, _, err := s.PrepareRootfs("three:v1", "dup"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.PrepareRootfs("three:v1", "dup"); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("second PrepareRootfs: %v", err)
	}
	if _, _, _, err := s.PrepareRootfs("three:v1", "../escape"); err == nil {
		t.Error("a container ID with a slash was accepted")
	}
	if err := s.RemoveRootfs("dup"); err != nil {
		t.Fatal(err)
	}
	if img, _ := s.Get("three:v1"); len(img.UsedBy) != 0 {
		t.Errorf("still used by %v", img.UsedBy)
	}
}
