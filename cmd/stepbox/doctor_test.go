package main

import (
	"encoding/json"
	"os"
	"os/exec"
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

// doctor says what containers start from and which minimal init stays
// beside the payload: with the binaries make builds, stepbox-init and the
// C init (or, on a kernel without the read-only view, a copy and the Go
// init); with stepbox alone, stepbox itself, a warning.
func TestDoctorInit(t *testing.T) {
	testutil.RequiresRoot(t)
	initOf := func(bin string) map[string]any {
		t.Helper()
		out, _ := exec.Command(bin, "--root", t.TempDir(), "doctor", "--json").Output()
		var doc struct {
			Findings []map[string]any `json:"findings"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, out)
		}
		for _, f := range doc.Findings {
			if f["id"] == "runtime.init" {
				return f
			}
		}
		t.Fatalf("no runtime.init finding:\n%s", out)
		return nil
	}
	f := initOf(stepboxBin)
	if v := f["value"]; f["status"] != "pass" || (v != "stepbox-init, C minimal init" && v != "stepbox-init copied, Go minimal init") {
		t.Errorf("with make's binaries: %v", f)
	}
	alone := filepath.Join(t.TempDir(), "stepbox")
	b, err := os.ReadFile(stepboxBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if f := initOf(alone); f["status"] != "warn" || f["value"] != "stepbox itself" {
		t.Errorf("stepbox alone: %v", f)
	}
}
