package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/lessons"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// screen drives a command on a pseudo-terminal and collects what it shows.
type screen struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File
	out  *syncBuffer
}

func startOnPTY(t *testing.T, args ...string) *screen {
	t.Helper()
	// The lesson's containers go even when the test fails half-way (the
	// lab keeps them under --root).
	removeContainersAtEnd(t, testRoot)
	cmd := exec.Command(stepboxBin, append([]string{"--root", testRoot}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en", "XDG_STATE_HOME="+t.TempDir())
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	s := &screen{t: t, cmd: cmd, ptmx: ptmx, out: &syncBuffer{}}
	go io.Copy(s.out, ptmx)
	t.Cleanup(func() { ptmx.Close(); cmd.Process.Kill(); cmd.Wait() })
	return s
}

func (s *screen) send(keys string) { s.ptmx.Write([]byte(keys)) }

// waitFor waits until what has appeared n times in total.
func (s *screen) waitFor(what string, n int) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(s.out.String(), what) < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("never saw %q %d times; screen:\n%s", what, n, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *screen) exitCode() int {
	s.t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("did not end; screen:\n%s", s.out.String())
	}
	return s.cmd.ProcessState.ExitCode()
}

const prompt = "[Enter] next"

// A teacher's keys: Enter for the next step, s for a shell inside the
// container as it stands (exit comes back), r to repeat, q to quit; and
// nothing the lesson made survives.
func TestLearnKeys(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	s := startOnPTY(t, "learn", "uts")
	s.waitFor(prompt, 1)
	s.send("\r")
	s.waitFor("Step 2/3", 1)
	s.waitFor(prompt, 2)
	s.send("s")
	s.waitFor("A shell inside the container", 1)
	s.waitFor("[stepbox]", 1)
	s.send("readlink /proc/self/ns/uts; echo shell-$((40+2))\r")
	s.waitFor("shell-42", 1)
	s.send("exit\r")
	s.waitFor("Back in the lesson", 1)
	s.waitFor(prompt, 3)
	s.send("r")
	s.waitFor("Step 2/3", 2)
	s.waitFor(prompt, 4)
	s.send("q")
	if code := s.exitCode(); code != 0 {
		t.Errorf("q: exit %d, want 0", code)
	}
	screen := s.out.String()
	if !strings.Contains(screen, "Stopped. Everything the lesson made is removed.") {
		t.Errorf("no goodbye on the screen:\n%s", screen)
	}
	for _, line := range strings.Split(screen, "\n") {
		if w := len([]rune(strings.TrimRight(line, "\r"))); w > 100 {
			t.Errorf("line of %d runes: %q", w, line)
		}
	}
	l.Check(t, 5*time.Second)
}

// Ctrl-C in the middle of an unattended lesson tears everything down.
func TestLearnInterrupted(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	s := startOnPTY(t, "learn", "uts", "--delay", "5s")
	s.waitFor("Step 1/3", 1)
	s.waitFor("✓", 1)
	s.send("\x03") // the terminal turns it into SIGINT for the foreground group
	if code := s.exitCode(); code != 130 {
		t.Errorf("Ctrl-C: exit %d, want 130; screen:\n%s", code, s.out.String())
	}
	if strings.Contains(s.out.String(), "Step 2/3") {
		t.Error("the lesson went on after Ctrl-C")
	}
	l.Check(t, 5*time.Second)
}

// A signal that is not a key (kill -INT, kill -TERM) ends a lesson paused
// at its prompt, on a terminal (raw mode, where ^C is a byte) and with its
// input on a pipe, and tears everything down.
func TestLearnSignalledAtThePrompt(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		s := startOnPTY(t, "learn", "uts")
		s.waitFor(prompt, 1)
		s.cmd.Process.Signal(sig)
		if code := s.exitCode(); code != 128+int(sig) && code != 130 {
			t.Errorf("%v at the prompt on a terminal: exit %d; screen:\n%s", sig, code, s.out.String())
		}
	}
	removeContainersAtEnd(t, testRoot)
	cmd := exec.Command(stepboxBin, "--root", testRoot, "learn", "uts")
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en", "XDG_STATE_HOME="+t.TempDir())
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), prompt); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("never paused; output:\n%s", out.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("SIGINT at the prompt with input on a pipe did not end the lesson; output:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("SIGINT at the prompt with input on a pipe: exit %d, want 130", code)
	}
	l.Check(t, 5*time.Second)
}

func TestLearnUnknownLesson(t *testing.T) {
	r := run(t, "learn", "no-such-lesson")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	oneLine(t, "unknown lesson", r)
	if !strings.Contains(r.stderr, "stepbox lessons") {
		t.Errorf("no hint: %q", r.stderr)
	}
	if r := run(t, "learn", "uts", "--without", "pid"); r.code != 2 {
		t.Errorf("--without a feature the lesson has no demo for: exit %d, want 2", r.code)
	}
}

// The whole tour, unattended, passes every check on both kinds of built-in
// root filesystem: busybox's, and the host's own tools on a host where the
// builder finds no busybox (issue 9). Its JSON transcript lists every lesson
// and every step, each with its system calls, evidence and result; nothing
// it made survives.
func TestTourTranscript(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, kind := range []builtinfs.Source{builtinfs.SourceBusybox, builtinfs.SourceHostTools} {
		t.Run(string(kind), func(t *testing.T) { tourTranscript(t, builtinRoot(t, kind)) })
	}
}

func tourTranscript(t *testing.T, root string) {
	l := testutil.Snapshot()
	cmd := exec.Command(stepboxBin, "--root", root, "tour", "--json")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	out, err := cmd.Output()
	// Exit 3 (a step failed) still writes the transcript, which names the
	// step: read on, and say which.
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == exitFindings) {
		t.Fatalf("tour: %v\n%s", err, out)
	}
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Lessons       []struct {
			Lesson string `json:"lesson"`
			Passed bool   `json:"passed"`
			Steps  []struct {
				Number     int               `json:"number"`
				Syscalls   []string          `json:"syscalls"`
				Rows       []json.RawMessage `json:"rows"`
				Probes     []json.RawMessage `json:"probes"`
				Namespaces map[string]bool   `json:"namespaces"`
				OK         bool              `json:"ok"`
			} `json:"steps"`
		} `json:"lessons"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || len(doc.Lessons) != len(lessons.Catalogue()) {
		t.Fatalf("schema %d, %d lessons", doc.SchemaVersion, len(doc.Lessons))
	}
	for i, les := range doc.Lessons {
		if les.Lesson != lessons.Catalogue()[i].ID || !les.Passed || len(les.Steps) != len(lessons.Catalogue()[i].Steps) {
			t.Errorf("lesson %d %s: passed %v, %d steps", i, les.Lesson, les.Passed, len(les.Steps))
		}
		for _, st := range les.Steps {
			// Evidence: rows (host beside container), probe outputs, or both.
			if !st.OK {
				t.Errorf("%s step %d failed: %s", les.Lesson, st.Number, st.Rows)
			}
			if len(st.Syscalls) == 0 || len(st.Rows)+len(st.Probes) == 0 || len(st.Namespaces) != 8 {
				t.Errorf("%s step %d: ok %v, %d syscalls, %d rows, %d probes, %d namespaces", les.Lesson, st.Number, st.OK, len(st.Syscalls), len(st.Rows), len(st.Probes), len(st.Namespaces))
			}
		}
	}
	// The last step ends with every namespace the container's own.
	last := doc.Lessons[len(doc.Lessons)-1].Steps
	for ns, own := range last[len(last)-1].Namespaces {
		if !own && !(ns == "time" && !timeWorks(t)) {
			t.Errorf("the full container shares %s with the host", ns)
		}
	}
	l.Check(t, 5*time.Second)
}

func timeWorks(t *testing.T) bool {
	works, err := sandbox.TimeNamespaceThreadsWork(sandbox.DefaultPaths(testRoot))
	return err == nil && works
}
