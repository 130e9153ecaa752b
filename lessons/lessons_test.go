package lessons

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/internal/testutil/imagecheck"
	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

var (
	fixtureDir string // removed after the tests
	stepboxBin string // the built command, also /bin/stepbox in the rootfs
	rootfsPath = map[builtinfs.Source]string{}
)

func TestMain(m *testing.M) {
	// The test binary is also the container's init (sandbox's package
	// initialisation runs it), and the runtime's probe of time namespaces
	// (sandbox.TimeNamespaceThreadsWork) re-executes it.
	if sandbox.IsProbe() {
		sandbox.RunProbe()
	}
	testutil.Main(m, func() {
		if fixtureDir != "" {
			os.RemoveAll(fixtureDir)
		}
	})
}

// kinds are the two kinds of built-in root filesystem: the course must
// pass on either, whatever the host has (issue 9).
var kinds = []builtinfs.Source{builtinfs.SourceBusybox, builtinfs.SourceHostTools}

// fixture builds the stepbox binary once per test binary, and a root
// filesystem of the given kind holding it: busybox's, or the host's own
// tools made with busybox hidden from the builder and with exactly the
// programs the course declares it needs (CourseNeeds), so that a lesson
// that runs anything it did not declare fails here.
func fixture(t *testing.T, kind builtinfs.Source) (bin, rootfs string) {
	t.Helper()
	testutil.RequiresRoot(t)
	if stepboxBin == "" {
		dir, err := os.MkdirTemp("", "stepbox-lessons-")
		if err != nil {
			t.Fatal(err)
		}
		fixtureDir = dir
		os.Chmod(dir, 0o755)
		if stepboxBin, err = testutil.BuildStepbox(dir); err != nil {
			t.Fatal(err)
		}
	}
	if p := rootfsPath[kind]; p != "" {
		return stepboxBin, p
	}
	rootfs = filepath.Join(fixtureDir, "rootfs-"+string(kind))
	switch kind {
	case builtinfs.SourceBusybox:
		testutil.BusyboxRootfs(t, rootfs, stepboxBin)
	case builtinfs.SourceHostTools:
		inside, _ := CourseNeeds()
		tools := slices.DeleteFunc(slices.Concat(inside, builtinfs.RequiredTools), func(s string) bool { return s == "stepbox" })
		m, err := builtinfs.Build(rootfs, stepboxBin, builtinfs.BuildOptions{
			Source: builtinfs.SourceHostTools, Busybox: []string{}, Tools: tools})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m.Files {
			if path.Base(f.Path) == "busybox" {
				t.Fatalf("the host-tools rootfs holds %s", f.Path)
			}
		}
	}
	rootfsPath[kind] = rootfs
	return stepboxBin, rootfs
}

// searchableDir is a temporary --root that a user namespace's root, an
// unprivileged uid on the host, can walk through to the image store's
// layers (t.TempDir's parent is 0700).
func searchableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "stepbox-lesson-root-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The lab gave back every container's layer and mark, and
		// removed what it committed.
		for _, l := range imagecheck.Leftovers(filepath.Join(dir, "lib", "images")) {
			t.Errorf("the lesson left in its image store: %s", l)
		}
		os.RemoveAll(dir)
	})
	return dir
}

// Every text a learner reads exists in English and in Korean.
func TestEveryTextInBothLanguages(t *testing.T) {
	for _, l := range Catalogue() {
		checkTexts(t, l.ID, reflect.ValueOf(*l))
	}
	for _, w := range []i18n.Text{wLesson, wStep, wPrompt, wDemo, wDemoNS, Stopped} {
		if m := w.Missing(); len(m) > 0 {
			t.Errorf("runner text %q lacks %v", w.En, m)
		}
	}
}

func checkTexts(t *testing.T, where string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if txt, ok := v.Interface().(i18n.Text); ok {
			if !txt.IsZero() && len(txt.Missing()) > 0 {
				t.Errorf("%s: %q lacks %v", where, txt.En+txt.Ko, txt.Missing())
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				checkTexts(t, where+"."+v.Type().Field(i).Name, v.Field(i))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			checkTexts(t, where, v.Index(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			checkTexts(t, where, v.Elem())
		}
	}
}

func TestCatalogueShape(t *testing.T) {
	all := Catalogue()
	if len(all) != len(catalogue) || len(all) != len(courseOrder) {
		t.Fatalf("%d lessons registered, %d in courseOrder, %d of those found", len(catalogue), len(courseOrder), len(all))
	}
	for _, l := range all {
		if len(l.Steps) < 3 {
			t.Errorf("%s has %d steps, want at least 3", l.ID, len(l.Steps))
		}
		if l.Demo.Feature == "" || len(l.Demo.Fails) == 0 {
			t.Errorf("%s has no failure demo", l.ID)
		}
		for i, s := range append(append([]Step{}, l.Steps...), l.Demo.Extra...) {
			if len(s.Syscalls) == 0 || s.Expect.Check == nil || s.Title.IsZero() || s.Explain.IsZero() {
				t.Errorf("%s step %d lacks a system call, an expectation, a title or an explanation", l.ID, i+1)
			}
		}
	}
}

// Every lesson under --auto passes all its expectations, in both languages,
// on both kinds of root filesystem, and its output fits 80 columns without
// colour; on the busybox kind also in large print (60 columns) and on a
// projector (120).
func TestLessonsPass(t *testing.T) {
	for _, kind := range kinds {
		widths := []int{WidthNormal}
		if kind == builtinfs.SourceBusybox {
			widths = append(widths, WidthLarge, WidthWide)
		}
		for i, l := range Catalogue() {
			for _, lang := range i18n.Langs {
				for _, w := range widths {
					name := string(kind) + "/" + l.ID + "/" + string(lang)
					if w != WidthNormal {
						name += "/" + strconv.Itoa(w)
					}
					t.Run(name, func(t *testing.T) { lessonPasses(t, kind, i, l, lang, w) })
				}
			}
		}
	}
}

func lessonPasses(t *testing.T, kind builtinfs.Source, i int, l *Lesson, lang i18n.Lang, width int) {
	bin, rootfs := fixture(t, kind)
	{
		{
			{
				var out bytes.Buffer
				r := &Runner{Lang: lang, Out: &out, Auto: true, Number: i, Width: width,
					Lab: LabConfig{Paths: sandbox.DefaultPaths(searchableDir(t)), Rootfs: rootfs, Self: bin}}
				res, err := r.Run(context.Background(), l)
				if err != nil {
					t.Fatalf("%v\n%s", err, out.String())
				}
				if !res.Passed {
					t.Errorf("lesson did not pass:\n%s", out.String())
				}
				for _, line := range strings.Split(out.String(), "\n") {
					if w := ui.Width(strings.ReplaceAll(line, "\t", "        ")); w > width {
						t.Errorf("line wider than %d columns (%d): %q", width, w, line)
					}
				}
			}
		}
	}
}

// Every --without demo shows the ✗ it should, and only there, on both kinds
// of root filesystem; it runs through the command line, as the demo
// re-executes stepbox inside its throwaway namespace.
func TestDemosFailWhereTheyShould(t *testing.T) {
	host, _ := os.Hostname()
	for _, kind := range kinds {
		for _, l := range Catalogue() {
			t.Run(string(kind)+"/"+l.ID, func(t *testing.T) { demoFails(t, kind, l) })
		}
	}
	if now, _ := os.Hostname(); now != host {
		t.Fatalf("a demo renamed the real host: %q -> %q", host, now)
	}
}

func demoFails(t *testing.T, kind builtinfs.Source, l *Lesson) {
	bin, rootfs := fixture(t, kind)
	{
		{
			cmd := exec.Command(bin, "learn", l.ID, "--without", l.Demo.Feature, "--json", "--rootfs", rootfs, "--root", searchableDir(t))
			cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var tr struct {
				Lessons []Result `json:"lessons"`
			}
			if err := json.Unmarshal(out, &tr); err != nil || len(tr.Lessons) != 1 {
				t.Fatalf("transcript: %v\n%s", err, out)
			}
			res := tr.Lessons[0]
			if !res.Passed {
				t.Errorf("demo did not break what it should")
			}
			for _, s := range res.Steps {
				if s.OK == s.ShouldFail {
					t.Errorf("step %d %q: ok=%v, should fail=%v", s.Number, s.Title, s.OK, s.ShouldFail)
				}
			}
		}
	}
}

// A crash of the container's payload (the agent, killed here with SIGKILL in
// the middle of a step) ends the lesson with an error, and everything the
// lesson made is gone.
func TestPayloadCrashTearsDown(t *testing.T) {
	bin, rootfs := fixture(t, builtinfs.SourceBusybox)
	l := testutil.Snapshot()
	crash := &Lesson{ID: "crash", Title: i18n.T("crash", "충돌"), Steps: []Step{{
		Title:    i18n.T("the payload dies", "페이로드가 죽는다"),
		Explain:  i18n.T("kill -9", "kill -9"),
		Syscalls: []Syscall{{"kill", 2, "SIGKILL"}},
		Apply: func(lab *Lab) error {
			lab.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.UTSNamespace, true) })
			if err := lab.Ensure(); err != nil {
				return err
			}
			return syscall.Kill(lab.Pid(), syscall.SIGKILL)
		},
		Expect: Expect{Text: i18n.T("never reached", "닿지 않음"), Check: func(*Evidence) bool { return true }},
	}}}
	r := &Runner{Lang: i18n.English, Out: io.Discard, Auto: true,
		Lab: LabConfig{Paths: sandbox.DefaultPaths(t.TempDir()), Rootfs: rootfs, Self: bin}}
	if _, err := r.Run(context.Background(), crash); err == nil || !strings.Contains(err.Error(), "agent stopped") {
		t.Fatalf("err = %v, want the agent's death", err)
	}
	l.Check(t, 5*time.Second)
}

// The built-in root filesystem of the host-tools kind takes every program
// the course runs inside (the busybox kind has them as applets, which
// TestLessonsPass proves by running the course on it).
func TestCourseNeedsInTheBuiltinRootfs(t *testing.T) {
	inside, host := CourseNeeds()
	if !slices.Contains(inside, "sh") || !slices.Contains(host, "sh") {
		t.Errorf("the course runs sh on both sides: %v, %v", inside, host)
	}
	for _, tool := range inside {
		if tool != "stepbox" && !slices.Contains(builtinfs.DefaultTools, tool) {
			t.Errorf("the course runs %s inside, and a host-tools root filesystem does not take it (builtinfs.DefaultTools)", tool)
		}
	}
}
