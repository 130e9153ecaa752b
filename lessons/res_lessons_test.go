package lessons

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
)

// resLessons are lessons 7 to 12.
var resLessons = []string{"user", "cgroupns", "time", "limits", "security", "full"}

// standIns keep what lessons 2 to 6 leave in the lab (a pid namespace, a
// mount namespace, pivot_root into the rootfs with the default mounts, ipc
// and net), for a checkout in which some of them are not written yet.
var standIns = []*Lesson{
	{ID: "pid", Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.PIDNamespace, true) })
	}},
	{ID: "mount", Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.MountNamespace, true) })
		l.Options(func(o *sandbox.Options) { o.HostRoot = true })
	}},
	{ID: "rootfs", Keep: func(l *Lab) {
		l.Options(func(o *sandbox.Options) { o.HostRoot = false })
	}},
	{ID: "ipc", Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.IPCNamespace, true) })
	}},
	{ID: "net", Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.NetworkNamespace, true) })
	}},
}

// Lessons 7 to 12 pass also on top of the whole namespace course, and their
// demos fail where they should: with stand-ins for the lessons before them
// that are not registered yet (when all are, TestLessonsPass and
// TestDemosFailWhereTheyShould cover it). The demos run here in the test's
// own namespaces, not in a throwaway one: every demo of these lessons is
// harmless to the host by design, and this test proves it too.
func TestResLessonsAfterTheNamespaceCourse(t *testing.T) {
	bin, rootfs := fixture(t)
	saved := catalogue
	defer func() { catalogue = saved }()
	var added []string
	for _, s := range standIns {
		if !slices.ContainsFunc(catalogue, func(l *Lesson) bool { return l.ID == s.ID }) {
			catalogue = append(slices.Clip(catalogue), s)
			added = append(added, s.ID)
		}
	}
	if len(added) == 0 {
		t.Skip("lessons 2 to 6 are all registered: TestLessonsPass runs this")
	}
	t.Logf("stand-ins for %s", strings.Join(added, ", "))
	only := os.Getenv("STEPBOX_LESSON")
	for i, l := range Catalogue() {
		if !slices.Contains(resLessons, l.ID) || (only != "" && only != l.ID) {
			continue
		}
		for _, without := range []string{"", l.Demo.Feature} {
			name := l.ID
			if without != "" {
				name += "/without-" + without
			}
			t.Run(name, func(t *testing.T) {
				var out bytes.Buffer
				r := &Runner{Lang: i18n.English, Out: &out, Auto: true, Number: i, Without: without,
					Lab: LabConfig{Paths: sandbox.DefaultPaths(t.TempDir()), Rootfs: rootfs, Self: bin}}
				res, err := r.Run(context.Background(), l)
				if err != nil {
					t.Fatalf("%v\n%s", err, out.String())
				}
				if !res.Passed {
					t.Errorf("lesson did not pass:\n%s", out.String())
				}
				for _, s := range res.Steps {
					if without != "" && s.OK == s.ShouldFail {
						t.Errorf("step %d %q: ok=%v, should fail=%v", s.Number, s.Title, s.OK, s.ShouldFail)
					}
				}
				if testing.Verbose() {
					t.Log(out.String())
				}
			})
		}
	}
}
