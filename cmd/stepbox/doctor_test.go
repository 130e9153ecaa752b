package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/lessons"
)

// doctor lists what the course needs and which kind of root filesystem is
// in use; a program missing from the root filesystem is a warning that
// names it and the package that has it.
func TestDoctorListsTheCourseNeeds(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	if r := stepbox(t, nil, "--root", root, "rootfs", "--rebuild", "--source", "host-tools"); r.code != 0 {
		t.Fatalf("rootfs --rebuild: %d %s", r.code, r.stderr)
	}
	findings := func() map[string]map[string]any {
		r := stepbox(t, nil, "--root", root, "doctor", "--json")
		var doc struct {
			Findings []map[string]any `json:"findings"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, r.stdout)
		}
		out := map[string]map[string]any{}
		for _, f := range doc.Findings {
			out[f["id"].(string)] = f
		}
		return out
	}
	f := findings()
	inside, _ := lessons.CourseNeeds()
	if f["course.rootfs"]["value"] != "host-tools" || f["course.inside"]["status"] != "pass" || f["course.host"]["status"] != "pass" {
		t.Fatalf("course findings: %v %v %v", f["course.rootfs"], f["course.inside"], f["course.host"])
	}
	meaning := f["course.inside"]["meaning"].(map[string]any)["en"].(string)
	for _, tool := range inside {
		if !strings.Contains(meaning, " "+tool) {
			t.Errorf("doctor does not list %s: %q", tool, meaning)
		}
	}
	// Take awk away: the finding names it and Debian's package for it.
	rootfs := filepath.Join(root, "lib", "rootfs", "default")
	for _, d := range []string{"usr/bin", "bin"} {
		os.Remove(filepath.Join(rootfs, d, "awk"))
	}
	f = findings()
	got := f["course.inside"]
	if got["status"] != "warn" || got["value"] != "missing awk" ||
		!strings.Contains(got["meaning"].(map[string]any)["en"].(string), "mawk") {
		t.Errorf("without awk: %v", got)
	}
	// And the lesson that runs awk stops before its first step, in one line.
	r := stepbox(t, nil, "--root", root, "learn", "ipc", "--auto")
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "needs awk") ||
		strings.Contains(r.stdout, "Step 1") {
		t.Errorf("learn ipc without awk: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
}
