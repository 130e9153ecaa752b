package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// dockerArchive makes a docker-save archive of one image with these layer
// tars (each stored as given, gzip or plain) and tags.
func dockerArchive(t testing.TB, tags []string, layers ...[]byte) []byte {
	t.Helper()
	var diffs []string
	var names []string
	for i, l := range layers {
		d, err := diffIDOf(l)
		if err != nil {
			t.Fatal(err)
		}
		diffs = append(diffs, string(d))
		names = append(names, fmt.Sprintf("layer%d/layer.tar", i))
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2024-05-06T07:08:09Z",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffs},
		"config": map[string]any{"Env": []string{"PATH=/bin"}, "Cmd": []string{"/bin/sh"}, "WorkingDir": "/srv",
			"User": "1000", "ExposedPorts": map[string]any{"80/tcp": map[string]any{}}, "StopSignal": "SIGINT",
			"Labels": map[string]string{"course": "stepbox"}},
		"history": []map[string]any{{"created": "2024-05-06T07:08:09Z", "created_by": "test layer"}},
	})
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": tags, "Layers": names}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(n string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	add(cfgName, cfg)
	for i, l := range layers {
		add(names[i], l)
	}
	add("manifest.json", man)
	tw.Close()
	return buf.Bytes()
}

func diffIDOf(layer []byte) (digest.Digest, error) {
	r, _, done, err := decompress(bytes.NewReader(layer))
	if err != nil {
		return "", err
	}
	defer done()
	h := sha256.New()
	var b bytes.Buffer
	b.ReadFrom(r)
	h.Write(b.Bytes())
	return digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), nil
}

// threeLayers are layers that delete, hide and re-add across each other.
func threeLayers(t testing.TB) [][]byte {
	l1 := mkTar(t,
		ent{name: "etc/", typ: tar.TypeDir},
		ent{name: "etc/a", body: "a1"},
		ent{name: "etc/b", body: "b1"},
		ent{name: "var/", typ: tar.TypeDir},
		ent{name: "var/lib/", typ: tar.TypeDir},
		ent{name: "var/lib/x", body: "x1"},
		ent{name: "var/lib/y", body: "y1"},
		ent{name: "opq/", typ: tar.TypeDir},
		ent{name: "opq/old", body: "old"},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "keep", body: "k", uid: 1000, gid: 1000},
		ent{name: "bin/", typ: tar.TypeDir},
		ent{name: "bin/busybox", body: "bb", mode: 0o755},
		ent{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		ent{name: "bin/ls", typ: tar.TypeLink, link: "bin/busybox"},
	)
	l2 := mkTar(t,
		ent{name: "etc/", typ: tar.TypeDir},
		ent{name: "etc/.wh.a"},
		ent{name: "opq/", typ: tar.TypeDir},
		ent{name: "opq/.wh..wh..opq"},
		ent{name: "opq/new", body: "new"},
		ent{name: "etc/c", body: "c2"},
		ent{name: "tmp/t", body: "t2"}, // tmp only implicit: keeps 1777
	)
	l3 := mkTar(t,
		ent{name: "etc/b", body: "b3"},
		ent{name: "var/.wh.lib"},
		ent{name: "var/lib2/q", body: "q3"},
		ent{name: "etc/.wh.c"},
	)
	return [][]byte{gz(l1), l2, gz(l3)}
}

// threeLayersTree is what the three layers make, merged.
var threeLayersTree = map[string]string{
	"bin":         "dir 755 0:0",
	"bin/busybox": "file 755 0:0 bb",
	"bin/ls":      "file 755 0:0 bb",
	"bin/sh":      "link busybox",
	"etc":         "dir 755 0:0",
	"etc/b":       "file 644 0:0 b3",
	"keep":        "file 644 1000:1000 k",
	"opq":         "dir 755 0:0",
	"opq/new":     "file 644 0:0 new",
	"tmp":         "dir 1777 0:0",
	"tmp/t":       "file 644 0:0 t2",
	"var":         "dir 755 0:0",
	"var/lib2":    "dir 755 0:0",
	"var/lib2/q":  "file 644 0:0 q3",
}

// tree describes every entry under dir: type, mode, owner and content (or
// link target). Times are left out: tools differ in what they keep of a
// directory's.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		perm := fmt.Sprintf("%o %d:%d", st.Mode&0o7777, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			out[rel] = "dir " + perm
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			out[rel] = "link " + l
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			c := string(b)
			if len(b) > 64 {
				s := sha256.Sum256(b)
				c = "sha256:" + hex.EncodeToString(s[:])
			}
			out[rel] = "file " + perm + " " + c
		case unix.S_IFCHR:
			out[rel] = fmt.Sprintf("char %s %d,%d", perm, unix.Major(st.Rdev), unix.Minor(st.Rdev))
		default:
			out[rel] = fmt.Sprintf("other %o", st.Mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTrees(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	var bad []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			bad = append(bad, fmt.Sprintf("missing %s (%s)", k, w))
		} else if g != w {
			bad = append(bad, fmt.Sprintf("%s: got %q, want %q", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			bad = append(bad, fmt.Sprintf("extra %s (%s)", k, g))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%s differs:\n  %s", what, strings.Join(bad, "\n  "))
	}
}

// mountOverlay mounts an overlay at a new directory and unmounts it when t
// ends.
func mountOverlay(t testing.TB, lower []string, upper, work string) string {
	t.Helper()
	target := t.TempDir()
	data, err := OverlayData(lower, upper, work, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
		t.Fatalf("mount overlay (%s): %v", data, err)
	}
	t.Cleanup(func() {
		// EINVAL: the test unmounted it already.
		if err := unix.Unmount(target, 0); err != nil && err != unix.EINVAL {
			t.Errorf("unmount %s: %v", target, err)
			unix.Unmount(target, unix.MNT_DETACH)
		}
	})
	return target
}

// storeEmpty fails t unless the store holds no blob, layer, container
// directory or temporary file.
func storeEmpty(t testing.TB, s *Store) {
	t.Helper()
	for _, d := range []string{"blobs/sha256", "layers", "containers", "tmp"} {
		ents, err := os.ReadDir(filepath.Join(s.Dir(), d))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			if e.Name() != "empty" {
				names = append(names, e.Name())
			}
		}
		if len(names) > 0 {
			t.Errorf("%s/ still holds %v", d, names)
		}
	}
}

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
