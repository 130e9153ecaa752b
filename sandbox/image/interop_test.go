package image

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
)

// Independent witnesses from Debian's packages: skopeo (containers/image)
// and umoci (openSUSE's OCI image tool) read what stepbox writes, and write
// what stepbox reads.

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
	}
	return out.Bytes()
}

func saveTo(t *testing.T, s *Store, f Format, refs ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image-"+string(f)+".tar")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := s.Save(out, refs, SaveOptions{Format: f}); err != nil {
		t.Fatal(err)
	}
	return p
}

// mergedTree mounts image ref for a throwaway container and describes its
// files.
func mergedTree(t *testing.T, s *Store, ref, id string) map[string]string {
	t.Helper()
	lower, upper, work, err := s.PrepareRootfs(ref, id)
	if err != nil {
		t.Fatal(err)
	}
	m := mountOverlay(t, lower, upper, work)
	tr := tree(t, m)
	unmount(t, m)
	if err := s.RemoveRootfs(id); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestSkopeoReadsWhatStepboxSaves(t *testing.T) {
	testutil.RequiresRoot(t)
	skopeo := testutil.RequiresCommand(t, "skopeo")
	s := openStore(t)
	img := loadThree(t, s)
	for transport, f := range map[string]Format{"docker-archive": FormatDocker, "oci-archive": FormatOCI} {
		t.Run(transport, func(t *testing.T) {
			p := saveTo(t, s, f, "three:v1")
			var info struct {
				Layers []string
				Env    []string
				Os     string
			}
			if err := json.Unmarshal(run(t, skopeo, "inspect", transport+":"+p), &info); err != nil {
				t.Fatal(err)
			}
			if len(info.Layers) != 3 || !slices.Equal(info.Env, []string{"PATH=/bin"}) || info.Os != "linux" {
				t.Errorf("skopeo inspect %s: %+v", transport, info)
			}
			// skopeo's raw config is ours, byte for byte: same image ID.
			cfg := run(t, skopeo, "inspect", "--config", "--raw", transport+":"+p)
			if digestOf(cfg) != img.ID {
				t.Errorf("skopeo reads config %s, want %s", digestOf(cfg), img.ID)
			}
		})
	}
}

func TestUmociUnpacksWhatStepboxSaves(t *testing.T) {
	testutil.RequiresRoot(t)
	umoci := testutil.RequiresCommand(t, "umoci")
	s := openStore(t)
	loadThree(t, s)
	p := saveTo(t, s, FormatOCI, "three:v1")
	layout := filepath.Join(t.TempDir(), "layout")
	os.Mkdir(layout, 0o755)
	run(t, "tar", "-xf", p, "-C", layout)
	bundle := filepath.Join(t.TempDir(), "bundle")
	run(t, umoci, "unpack", "--image", layout+":v1", bundle)
	diffTrees(t, "umoci's unpack of stepbox's OCI archive", tree(t, filepath.Join(bundle, "rootfs")), threeLayersTree)
	diffTrees(t, "stepbox's own overlay", mergedTree(t, s, "three:v1", "witness"), threeLayersTree)
}

func TestStepboxLoadsWhatSkopeoWrites(t *testing.T) {
	testutil.RequiresRoot(t)
	skopeo := testutil.RequiresCommand(t, "skopeo")
	s := openStore(t)
	loadThree(t, s)
	ours := saveTo(t, s, FormatDocker, "three:v1")
	dir := t.TempDir()
	for dst, tag := range map[string]string{
		"oci-archive:" + filepath.Join(dir, "skopeo-oci.tar") + ":skopeo/three:oci":         "skopeo/three:oci",
		"docker-archive:" + filepath.Join(dir, "skopeo-docker.tar") + ":skopeo/three:dkr":   "skopeo/three:dkr",
		"oci:" + filepath.Join(dir, "skopeo-layout") + ":skopeo/three:dir":                  "skopeo/three:dir",
		"docker-archive:" + filepath.Join(dir, "skopeo-docker-gz.tar") + ":skopeo/three:gz": "skopeo/three:gz",
	} {
		args := []string{"copy", "--quiet"}
		if tag == "skopeo/three:gz" {
			// skopeo keeps blobs as they are unless told to compress.
			args = append(args, "--dest-compress")
		}
		run(t, skopeo, append(args, "docker-archive:"+ours, dst)...)
		_ = tag
	}
	s2 := openStore(t)
	for _, p := range []string{"skopeo-oci.tar", "skopeo-docker.tar", "skopeo-layout", "skopeo-docker-gz.tar"} {
		loaded, err := s2.LoadPath(filepath.Join(dir, p), LoadOptions{})
		if err != nil {
			t.Fatalf("load %s: %v", p, err)
		}
		if len(loaded) != 1 {
			t.Fatalf("load %s: %+v", p, loaded)
		}
		t.Logf("%s: loaded %s as %v", p, ShortID(loaded[0].ID), loaded[0].Tags)
		diffTrees(t, p+" loaded by stepbox", mergedTree(t, s2, string(loaded[0].ID), "c-"+p), threeLayersTree)
	}
}

// umoci builds an image from a directory of its own, layer by layer
// (a second repack records a deletion as a whiteout), and stepbox loads
// the layout, as a directory and as a tar, to the same files.
func TestStepboxLoadsWhatUmociBuilds(t *testing.T) {
	testutil.RequiresRoot(t)
	umoci := testutil.RequiresCommand(t, "umoci")
	dir := t.TempDir()
	layout, bundle := filepath.Join(dir, "layout"), filepath.Join(dir, "bundle")
	run(t, umoci, "init", "--layout", layout)
	run(t, umoci, "new", "--image", layout+":base")
	run(t, umoci, "unpack", "--image", layout+":base", bundle)
	rootfs := filepath.Join(bundle, "rootfs")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(rootfs, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(rootfs, "usr/bin/tool"), []byte("tool"), 0o4755))
	must(os.Chmod(filepath.Join(rootfs, "usr/bin/tool"), 0o4755))
	must(os.Link(filepath.Join(rootfs, "usr/bin/tool"), filepath.Join(rootfs, "usr/bin/tool2")))
	must(os.Symlink("/usr/bin/tool", filepath.Join(rootfs, "usr/bin/abs")))
	must(os.MkdirAll(filepath.Join(rootfs, "home/user"), 0o700))
	must(os.WriteFile(filepath.Join(rootfs, "home/user/gone"), []byte("soon deleted"), 0o600))
	must(os.Chown(filepath.Join(rootfs, "home/user"), 1000, 1000))
	run(t, umoci, "repack", "--refresh-bundle", "--image", layout+":base", bundle)
	must(os.Remove(filepath.Join(rootfs, "home/user/gone")))
	must(os.WriteFile(filepath.Join(rootfs, "home/user/new"), []byte("second layer"), 0o644))
	run(t, umoci, "repack", "--image", layout+":base", bundle)
	want := tree(t, rootfs)

	tarred := filepath.Join(dir, "layout.tar")
	run(t, "tar", "-C", layout, "-cf", tarred, ".")
	for _, p := range []string{layout, tarred} {
		s := openStore(t)
		loaded, err := s.LoadPath(p, LoadOptions{})
		if err != nil {
			t.Fatalf("load %s: %v", p, err)
		}
		if len(loaded) != 1 {
			t.Fatalf("load %s: %+v", p, loaded)
		}
		img, _ := s.Get(string(loaded[0].ID))
		if n := len(img.Manifest.Layers); n != 2 {
			t.Errorf("%d layers, want umoci's 2", n)
		}
		diffTrees(t, filepath.Base(p)+" loaded by stepbox", mergedTree(t, s, string(loaded[0].ID), "umoci"), want)
	}
}
