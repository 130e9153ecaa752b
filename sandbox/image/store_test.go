package image

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/testutil"
)

func loadThree(t *testing.T, s *Store) *Image {
	t.Helper()
	arch := dockerArchive(t, []string{"three:v1", "docker.io/library/three:latest"}, threeLayers(t)...)
	loaded, err := s.Load(bytes.NewReader(gz(arch)), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || !slices.Equal(loaded[0].Tags, []string{"three:v1", "three:latest"}) {
		t.Fatalf("loaded %+v", loaded)
	}
	img, err := s.Get("three:v1")
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Three layers with whiteouts and an opaque directory, loaded from a
// gzipped docker-save archive, give the right tree when overlayfs stacks
// them for real.
func TestLoadThreeLayersMergedByOverlay(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	img := loadThree(t, s)
	if got := img.Config.Config; got.WorkingDir != "/srv" || got.User != "1000" || got.StopSignal != "SIGINT" ||
		!slices.Equal(got.Cmd, []string{"/bin/sh"}) || got.Labels["course"] != "stepbox" {
		t.Errorf("config %+v", got)
	}
	if _, ok := img.Config.Config.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("exposed ports %v", img.Config.Config.ExposedPorts)
	}
	lower, upper, work, err := s.PrepareRootfs("three:latest", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lower) != 3 || !strings.Contains(lower[0], "layers/") {
		t.Fatalf("lower %v", lower)
	}
	merged := mountOverlay(t, lower, upper, work)
	diffTrees(t, "merged view", tree(t, merged), threeLayersTree)
	// The image answers by tag, ID and prefix.
	for _, ref := range []string{"three", "three:v1", string(img.ID), ShortID(img.ID), img.ID.Encoded()[:5]} {
		if got, err := s.Get(ref); err != nil || got.ID != img.ID {
			t.Errorf("Get(%q) = %v, %v", ref, got, err)
		}
	}
}

func TestHostileLayerLoadsNothing(t *testing.T) {
	testutil.RequiresRoot(t)
	for name, tc := range hostileLayers(t) {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			// A good layer first, then the hostile one: the good one must
			// not stay behind either.
			arch := dockerArchive(t, []string{"evil:1"}, threeLayers(t)[0], tc.tar)
			_, err := s.Load(bytes.NewReader(arch), LoadOptions{})
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), "entry "+tc.entry+":") || hint.Of(err) == "" {
				t.Errorf("error %q (hint %q) does not name entry %s with a hint", err, hint.Of(err), tc.entry)
			}
			if imgs, _ := s.List(); len(imgs) != 0 {
				t.Errorf("images after a failed load: %v", imgs)
			}
			storeEmpty(t, s)
			if _, err := os.Lstat("/etc/stepbox-hostile-xxxx"); err == nil {
				t.Fatal("/etc/stepbox-hostile-xxxx exists on the host")
			}
		})
	}
}

func TestLoadRefusesDamagedArchives(t *testing.T) {
	testutil.RequiresRoot(t)
	good := threeLayers(t)
	arch := dockerArchive(t, []string{"x:1"}, good...)
	// The config names diff IDs: a layer whose content differs is refused.
	wrong := dockerArchive(t, []string{"x:1"}, mkTar(t, ent{name: "f", body: "UNIQUE-BODY-1234"}))
	wrong = bytes.Replace(wrong, []byte("UNIQUE-BODY-1234"), []byte("UNIQUE-BODY-9999"), 1)
	for name, b := range map[string][]byte{
		"not a tar":      []byte("hello, this is not a tar archive at all, not even close......."),
		"empty":          {},
		"truncated":      arch[:len(arch)/2],
		"wrong diff ID":  wrong,
		"bzip2":          []byte("BZh91AY&SY"),
		"no manifest":    mkTar(t, ent{name: "hello", body: "x"}),
		"bad manifest":   mkTar(t, ent{name: "manifest.json", body: "{"}),
		"missing config": mkTar(t, ent{name: "manifest.json", body: `[{"Config":"nope.json","Layers":[]}]`}),
	} {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			_, err := s.Load(bytes.NewReader(b), LoadOptions{})
			if err == nil {
				t.Fatal("loaded")
			}
			if strings.Contains(err.Error(), "\n") || hint.Of(err) == "" {
				t.Errorf("want one line with a hint: %q (hint %q)", err, hint.Of(err))
			}
			storeEmpty(t, s)
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	img := loadThree(t, s)
	for _, f := range []Format{FormatDocker, FormatOCI} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			var last Progress
			if err := s.Save(&buf, []string{"three:v1"}, SaveOptions{Format: f, Progress: func(p Progress) { last = p }}); err != nil {
				t.Fatal(err)
			}
			if last.Total == 0 || last.Bytes != last.Total {
				t.Errorf("last progress %+v", last)
			}
			s2 := openStore(t)
			loaded, err := s2.Load(bytes.NewReader(buf.Bytes()), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(loaded) != 1 || loaded[0].ID != img.ID || !slices.Equal(loaded[0].Tags, []string{"three:v1"}) {
				t.Fatalf("loaded %+v, want ID %s tagged three:v1", loaded, img.ID)
			}
			got, _ := s2.Get("three:v1")
			if !slices.Equal(got.Config.RootFS.DiffIDs, img.Config.RootFS.DiffIDs) {
				t.Errorf("diff IDs %v, want %v", got.Config.RootFS.DiffIDs, img.Config.RootFS.DiffIDs)
			}
		})
	}
}

func TestRemoveInUseAndPrune(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	img := loadThree(t, s)
	if _, err := s.Use("three:v1", "web"); err != nil {
		t.Fatal(err)
	}
	// One of two tags goes: only untagged.
	r, err := s.Remove("three:v1", false)
	if err != nil || !slices.Equal(r.Untagged, []string{"three:v1"}) || len(r.Deleted) != 0 {
		t.Fatalf("rmi three:v1 = %+v, %v", r, err)
	}
	// The last tag of an image in use: refused.
	if _, err := s.Remove("three", false); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "web") {
		t.Fatalf("rmi of an image in use: %v", err)
	}
	// -f untags and keeps it for the container.
	r, err = s.Remove("three", true)
	if err != nil || len(r.Deleted) != 0 || !slices.Equal(r.Untagged, []string{"three:latest"}) {
		t.Fatalf("rmi -f = %+v, %v", r, err)
	}
	if got, err := s.Get(ShortID(img.ID)); err != nil || len(got.Tags) != 0 || !slices.Equal(got.UsedBy, []string{"web"}) {
		t.Fatalf("after rmi -f: %+v, %v", got, err)
	}
	// Prune keeps what is in use, then removes it once released.
	if r, err := s.Prune(true); err != nil || len(r.Deleted) != 0 {
		t.Fatalf("prune while in use: %+v, %v", r, err)
	}
	if err := s.Release("web"); err != nil {
		t.Fatal(err)
	}
	r, err = s.Prune(false)
	if err != nil || len(r.Deleted) != 1 || r.Reclaimed == 0 {
		t.Fatalf("prune: %+v, %v", r, err)
	}
	storeEmpty(t, s)
	if _, err := s.Get(string(img.ID)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after prune: %v", err)
	}
}

func TestTagAndRemoveByID(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	img := loadThree(t, s)
	if err := s.Tag("three:v1", "localhost:5000/course/three:2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("three:v1", "Bad Name"); err == nil || hint.Of(err) == "" {
		t.Errorf("bad tag: %v", err)
	}
	got, _ := s.Get(string(img.ID))
	if !slices.Equal(got.Tags, []string{"localhost:5000/course/three:2", "three:latest", "three:v1"}) {
		t.Errorf("tags %v", got.Tags)
	}
	if _, err := s.Remove(ShortID(img.ID), false); err == nil {
		t.Error("rmi by ID of an image with three tags succeeded without -f")
	}
	r, err := s.Remove(ShortID(img.ID), true)
	if err != nil || len(r.Untagged) != 3 || len(r.Deleted) != 1 {
		t.Fatalf("rmi -f ID = %+v, %v", r, err)
	}
	storeEmpty(t, s)
}

func TestImportDirAndTar(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "bin"), 0o755)
	os.WriteFile(filepath.Join(src, "bin/tool"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("tool", filepath.Join(src, "bin/alias"))
	os.Chmod(src, 0o755)
	os.WriteFile(filepath.Join(src, ".stepbox-manifest.json"), []byte("{}"), 0o644)
	img, err := s.ImportDir(src, "builtin", ImportOptions{Exclude: []string{".stepbox-manifest.json"}})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(src, ".stepbox-manifest.json"))
	if !slices.Equal(img.Tags, []string{"builtin:latest"}) || len(img.Manifest.Layers) != 1 || img.Size != 10 {
		t.Fatalf("imported %+v", img)
	}
	plan, err := s.MountPlan("builtin", IDMap{})
	if err != nil {
		t.Fatal(err)
	}
	diffTrees(t, "imported layer", tree(t, plan.Lower[0]), tree(t, src))

	// docker import: a flat tar becomes one layer.
	var flat bytes.Buffer
	if err := WriteTar(&flat, src, TarOptions{}); err != nil {
		t.Fatal(err)
	}
	img2, err := s.ImportTar(&flat, "flat:1", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img2.Config.RootFS.DiffIDs[0] != img.Config.RootFS.DiffIDs[0] {
		t.Errorf("the same tree imported twice has diff IDs %s and %s", img2.Config.RootFS.DiffIDs[0], img.Config.RootFS.DiffIDs[0])
	}
	if h := img2.Config.History; len(h) != 1 || h[0].CreatedBy != "stepbox import" {
		t.Errorf("history %+v", h)
	}
}

// A user-namespaced container gets its own copy of the layers, owned by
// the namespace's range.
func TestMountPlanMapped(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	loadThree(t, s)
	lower, upper, _, err := s.PrepareRootfsMapped("three:v1", "userns", IDMap{UID: 100000, GID: 100000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.RemoveRootfs("userns")
	want := map[string]string{}
	for k, v := range threeLayersTree {
		want[k] = strings.NewReplacer(" 0:0", " 100000:100000", " 1000:1000", " 101000:101000").Replace(v)
	}
	st := lstat(t, upper)
	if st.Uid != 100000 {
		t.Errorf("upper owned by %d", st.Uid)
	}
	// Only the top layer's own entries are checked here.
	top := tree(t, lower[0])
	if top["etc/b"] != want["etc/b"] || top["var/lib2/q"] != want["var/lib2/q"] {
		t.Errorf("top layer not mapped: %v", top)
	}
}

// Two images in one archive, one named by tag and one by ID (untagged),
// sharing layers: both formats carry both, each layer once.
func TestSaveTwoImages(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	three := loadThree(t, s)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	other, err := s.ImportDir(src, "", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{FormatDocker, FormatOCI} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := s.Save(&buf, []string{"three:v1", ShortID(other.ID), "three:latest"}, SaveOptions{Format: f}); err != nil {
				t.Fatal(err)
			}
			s2 := openStore(t)
			loaded, err := s2.Load(bytes.NewReader(buf.Bytes()), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, l := range loaded {
				got[string(l.ID)] = append(got[string(l.ID)], l.Tags...)
			}
			if len(got) != 2 || len(got[string(other.ID)]) != 0 {
				t.Errorf("loaded %+v", loaded)
			}
			if tags := got[string(three.ID)]; !slices.Contains(tags, "three:v1") || !slices.Contains(tags, "three:latest") {
				t.Errorf("three loaded with tags %v", tags)
			}
		})
	}
}

func TestOverlayData(t *testing.T) {
	d, err := OverlayData([]string{"/l/b", "/l/a"}, "/u", "/w", true)
	if err != nil || d != "lowerdir=/l/b:/l/a,upperdir=/u,workdir=/w,userxattr" {
		t.Errorf("OverlayData = %q, %v", d, err)
	}
	if _, err := OverlayData([]string{"/l,upperdir=/etc"}, "/u", "/w", false); err == nil {
		t.Error("a comma in a path was accepted")
	}
	many := make([]string, 200)
	for i := range many {
		many[i] = "/var/lib/stepbox/images/layers/" + strings.Repeat("a", 64) + "/diff"
	}
	if _, err := OverlayData(many, "/u", "/w", false); err == nil || hint.Of(err) == "" {
		t.Errorf("200 layers: %v", err)
	}
}
