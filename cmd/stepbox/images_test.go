package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
)

// tarOf makes a tar of the given files ("name" → content; a name ending in
// "/" is a directory, "name -> target" a symlink).
func tarOf(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		name, body, _ := strings.Cut(f, "=")
		h := &tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(body))}
		switch {
		case strings.HasSuffix(name, "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case strings.Contains(name, " -> "):
			h.Name, h.Linkname, _ = strings.Cut(name, " -> ")
			h.Typeflag, h.Size = tar.TypeSymlink, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}

// The image commands from the outside: import, images, tag, history, save
// in both formats, rmi, load back, inspect, prune. Nothing is drawn on
// standard error when it is not a terminal.
func TestImageCommands(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	sb := func(stdin []byte, args ...string) result {
		t.Helper()
		var in *bytes.Reader
		if stdin != nil {
			in = bytes.NewReader(stdin)
			return stepboxWith(t, in, nil, append([]string{"--root", root}, args...)...)
		}
		return stepbox(t, nil, append([]string{"--root", root}, args...)...)
	}
	ok := func(r result) result {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if r.stderr != "" {
			t.Errorf("standard error on a pipe: %q", r.stderr)
		}
		return r
	}
	layer := tarOf(t, "bin/", "bin/hello=hi", "etc/", "etc/motd=welcome", "bin/alias -> hello")
	r := ok(sb(layer, "import", "-", "course/base:v1", "--change", `CMD ["/bin/hello"]`, "-m", "from a test"))
	id := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("import printed %q", r.stdout)
	}
	ok(sb(nil, "tag", "course/base:v1", "other"))
	r = ok(sb(nil, "images"))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "REPOSITORY    TAG      IMAGE ID       CREATED") ||
		!strings.Contains(r.stdout, "course/base   v1       "+id[7:19]) || !strings.Contains(r.stdout, "other         latest") {
		t.Errorf("images:\n%s", r.stdout)
	}
	if r := ok(sb(nil, "images", "-q")); strings.TrimSpace(r.stdout) != id[7:19] {
		t.Errorf("images -q: %q", r.stdout)
	}
	r = ok(sb(nil, "image", "ls", "--format", "json"))
	var row map[string]any
	if err := json.Unmarshal([]byte(strings.Split(r.stdout, "\n")[0]), &row); err != nil || row["ID"] != id[7:19] {
		t.Errorf("images --format json: %q, %v", r.stdout, err)
	}
	r = ok(sb(nil, "history", "other"))
	if !strings.Contains(r.stdout, "stepbox import -") || !strings.Contains(r.stdout, "from a test") {
		t.Errorf("history:\n%s", r.stdout)
	}

	dir := t.TempDir()
	docker, oci := filepath.Join(dir, "d.tar"), filepath.Join(dir, "o.tar")
	ok(sb(nil, "save", "-o", docker, "other"))
	ok(sb(nil, "image", "save", "--format", "oci", "-o", oci, "course/base:v1"))
	r = ok(sb(nil, "rmi", "other", "course/base:v1"))
	if want := "Untagged: other:latest\nUntagged: course/base:v1\nDeleted: " + id + "\n"; r.stdout != want {
		t.Errorf("rmi printed %q, want %q", r.stdout, want)
	}
	r = ok(sb(nil, "load", "-i", docker))
	if r.stdout != "Loaded image: other:latest\n" {
		t.Errorf("load printed %q", r.stdout)
	}
	b, _ := os.ReadFile(oci)
	r = ok(sb(b, "image", "load"))
	if r.stdout != "Loaded image: course/base:v1\n" {
		t.Errorf("load of the OCI archive printed %q", r.stdout)
	}
	r = ok(sb(nil, "image", "inspect", "course/base:v1"))
	var insp []inspectedImage
	if err := json.Unmarshal([]byte(r.stdout), &insp); err != nil || len(insp) != 1 || insp[0].ID != id || len(insp[0].Layers) != 1 {
		t.Fatalf("inspect: %v\n%s", err, r.stdout)
	}
	if b, err := os.ReadFile(filepath.Join(insp[0].Layers[0].Dir, "etc/motd")); err != nil || string(b) != "welcome" {
		t.Errorf("the layer's directory holds etc/motd = %q, %v", b, err)
	}
	r = ok(sb(nil, "image", "prune", "-a", "-f"))
	if !strings.Contains(r.stdout, "deleted: "+id) || !strings.Contains(r.stdout, "Total reclaimed space:") {
		t.Errorf("prune:\n%s", r.stdout)
	}
	if r := ok(sb(nil, "images", "-q")); r.stdout != "" {
		t.Errorf("images after prune: %q", r.stdout)
	}
}

// Bad input: one line and a hint, exit 1, nothing half-made in the store.
func TestImageCommandErrors(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	hostile := tarOf(t, "etc/", "a -> /etc", "a/passwd=pwned")
	for _, tc := range []struct {
		name  string
		stdin []byte
		args  []string
		code  int
		want  string
	}{
		{"unknown image", nil, []string{"rmi", "nope"}, 1, "no such image: nope (see 'stepbox images'"},
		{"inspect unknown", nil, []string{"image", "inspect", "nope"}, 1, "no such image: nope"},
		{"garbage", []byte("this is not an archive"), []string{"load"}, 1, "load from standard input: "},
		{"hostile import", hostile, []string{"import", "-", "evil"}, 1, "entry a/passwd: write through the symlink a refused"},
		{"bad name", tarOf(t, "f=x"), []string{"import", "-", "Bad Name"}, 2, "invalid reference"},
		{"bad format", nil, []string{"save", "--format", "zip", "-o", "/dev/null", "x"}, 2, "unknown --format"},
		{"bad change", tarOf(t, "f=x"), []string{"import", "-", "x", "--change", "RUN rm -rf /"}, 2, "unknown instruction RUN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r result
			args := append([]string{"--root", root}, tc.args...)
			if tc.stdin != nil {
				r = stepboxWith(t, bytes.NewReader(tc.stdin), nil, args...)
			} else {
				r = stepbox(t, nil, args...)
			}
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
	for _, d := range []string{"blobs/sha256", "layers", "tmp", "containers"} {
		ents, _ := os.ReadDir(filepath.Join(root, "lib/images", d))
		if len(ents) > 0 {
			t.Errorf("lib/images/%s holds %d entries after failed commands", d, len(ents))
		}
	}
}
