package lessons

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// lockedOut is a buffer a lesson writes into while the test reads it.
type lockedOut struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *lockedOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *lockedOut) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

func classroomRunner(t *testing.T, out *lockedOut) *Runner {
	bin, rootfs := fixture(t, builtinfs.SourceBusybox)
	return &Runner{Lang: i18n.English, Out: out, Auto: true, Number: 1,
		Lab: LabConfig{Paths: sandbox.DefaultPaths(t.TempDir()), Rootfs: rootfs, Self: bin}}
}

// --step N shows that step alone (the ones before it applied silently),
// and each step shown is marked for a recording and told to the progress.
func TestOnlyOneStep(t *testing.T) {
	var out lockedOut
	r := classroomRunner(t, &out)
	r.Only = 3
	var marks []string
	var steps []int
	r.Mark = func(label string) { marks = append(marks, label) }
	r.OnStep = func(ls *Lesson, n, total int) { steps = append(steps, n) }
	res, err := r.Run(context.Background(), lessonUTS)
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Contains(text, "Step 1/3") || strings.Contains(text, "Step 2/3") || !strings.Contains(text, "Step 3/3") {
		t.Errorf("--step 3 showed:\n%s", text)
	}
	// Step 3 renames the container it did not show starting: the steps
	// before were applied.
	if len(res.Steps) != 1 || !res.Steps[0].OK || !res.Passed {
		t.Errorf("result %+v", res)
	}
	if len(marks) != 1 || !strings.Contains(marks[0], "Step 3/3") || len(steps) != 1 || steps[0] != 3 {
		t.Errorf("marks %q, steps %v", marks, steps)
	}
	if strings.Contains(text, lessonUTS.Intro.En[:40]) || strings.Contains(text, lessonUTS.Outro.En) {
		t.Errorf("one step shows no introduction or ending:\n%s", text)
	}
}

// --no-explain is the evidence alone: no introduction, explanation, system
// call or command by hand, but every probe, row and ✓.
func TestNoExplain(t *testing.T) {
	var out lockedOut
	r := classroomRunner(t, &out)
	r.NoExplain = true
	if _, err := r.Run(context.Background(), lessonUTS); err != nil {
		t.Fatal(err)
	}
	text := squash(out.String())
	for _, st := range lessonUTS.Steps {
		if strings.Contains(text, squash(st.Explain.En)) {
			t.Errorf("an explanation is shown: %q", st.Explain.En)
		}
		if !strings.Contains(text, "✓ "+squash(st.Expect.Text.En)) {
			t.Errorf("a verdict is missing: %q", st.Expect.Text.En)
		}
	}
	for _, gone := range []string{"system call", "by hand", squash(lessonUTS.Intro.En)} {
		if strings.Contains(text, gone) {
			t.Errorf("%q is shown:\n%s", gone, out.String())
		}
	}
	if !strings.Contains(text, "CONTAINER") {
		t.Errorf("no evidence:\n%s", out.String())
	}
}

// --pause-at makes an unattended lesson wait for a key after that step,
// and only there.
func TestPauseAt(t *testing.T) {
	var out lockedOut
	r := classroomRunner(t, &out)
	keys, typed, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	defer typed.Close()
	r.In, r.PauseAt = keys, []int{2}
	done := make(chan error, 1)
	go func() { _, err := r.Run(context.Background(), lessonUTS); done <- err }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "[Enter] next") {
		if time.Now().After(deadline) {
			t.Fatalf("no pause:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	text := out.String()
	if !strings.Contains(text, "Step 2/3") || strings.Contains(text, "Step 3/3") || strings.Count(text, "[Enter] next") != 1 {
		t.Fatalf("not paused after step 2 alone:\n%s", text)
	}
	typed.Write([]byte("\n"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the lesson did not go on")
	}
	if !strings.Contains(out.String(), "Step 3/3") {
		t.Errorf("no step 3 after the key:\n%s", out.String())
	}
}
