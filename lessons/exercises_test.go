package lessons

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// mistake is a typical wrong way to do an exercise: the commands, and the
// problem the check must name (Verdict.Key), whose first hint it shows.
type mistake struct {
	cmds string
	key  string
}

// mistakes holds one typical mistake per exercise: a step left out, a
// flag forgotten, a limit written to the wrong cgroup.
var mistakes = map[string]mistake{
	"process.1": {"unshare --uts sleep 1000 &", "own-namespace"},
	"process.2": {"unshare --uts sh -c 'hostname renamed; exec sleep 1000' &", "own-uts"},
	"uts.1":     {"hostname box", "host-renamed"},
	"uts.2": {"unshare --uts sh -c 'hostname alpha; exec sleep 1000' &\n" +
		"unshare --uts sh -c 'hostname alpha; exec sleep 1000' &", "two-namespaces"},
	"pid.1":    {"unshare --pid sleep 1000 &", "no-fork"},
	"pid.2":    {"unshare --pid --fork sleep 1000 &", "host-proc"},
	"mount.1":  {"unshare --mount --propagation shared sh -c 'mount -t tmpfs none /mnt; exec sleep 1000' &", "propagated"},
	"mount.2":  {"unshare --mount sleep 1000 &", "private"},
	"rootfs.1": {"chroot $ROOTFS sleep 1000 &", "chroot"},
	"rootfs.2": {"unshare --mount --pid --fork sh -c 'mount --bind $ROOTFS $ROOTFS; cd $ROOTFS; mkdir -p .old; " +
		"pivot_root . .old; umount -l /.old; exec sleep 1000' &", "no-proc"},
	"ipc.1": {"ipcmk --shmem 4096\nsleep 1000 &", "shares"},
	"ipc.2": {"ipcmk --shmem 4096\nunshare --ipc sleep 1000 &", "made-on-host"},
	"net.1": {"unshare --net sleep 1000 &", "lo-down"},
	"net.2": {"unshare --net sleep 1000 & A=$!\n" +
		"unshare --net sleep 1000 & B=$!\n" +
		"sleep 0.2; ip link add va netns $A type veth peer vb netns $B\n" +
		"nsenter --target $A --net sh -c 'ip addr add 10.0.0.1/24 dev va; ip link set va up'\n" +
		"nsenter --target $B --net ip addr add 10.0.0.2/24 dev vb", "down"},
	"user.1": {"unshare --user --map-root-user sleep 1000 &", "root-outside"},
	"user.2": {"unshare --user sleep 1000 & p=$!\nsleep 0.2; echo '0 100000 65536' > /proc/$p/uid_map", "no-gid-map"},
	"cgroupns.1": {"unshare --cgroup sleep 1000 & p=$!\n" +
		"mkdir $STEPBOX_CG_PIDS/box; sleep 0.2; echo $p > $STEPBOX_CG_PIDS/box/cgroup.procs", "made-before-move"},
	"cgroupns.2": {"mkdir -p $STEPBOX_CG_PIDS/box\n" +
		"sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; exec unshare --mount sh -c \"mount -t cgroup -o pids none /mnt 2>/dev/null || " +
		"mount -t cgroup2 none /mnt; exec sleep 1000\"' &", "whole-tree"},
	"time.1": {"unshare --time --fork --monotonic 8640000 sleep 1000 &", "wrong-clock"},
	"time.2": {"unshare --time --fork --monotonic 60 sleep 1000 &", "ahead"},
	"limits.1": {"mkdir $STEPBOX_CG_MEMORY/box\n" +
		"echo 16M > $STEPBOX_CG_MEMORY/box/memory.limit_in_bytes\n" +
		"dd if=/dev/zero of=/dev/null bs=32M count=1", "no-kill"},
	"limits.2": {"mkdir $STEPBOX_CG_PIDS/box\n" +
		"echo 5 > $STEPBOX_CG_PIDS/box/pids.max\n" +
		"sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 30 & done'", "no-refusal"},
	"security.1": {"setpriv --inh-caps=-sys_admin sleep 1000 &", "effective"},
	"security.2": {"stepbox run -d --name web --privileged -- sleep 1000", "privileged"},
	"full.1":     {"stepbox run -d --name box -- sleep 1000", "no-userns"},
	"full.2":     {"stepbox run -d --name db --memory 32m -- sleep 1000", "wrong-pids"},
	"images.1": {"stepbox run -d --name a -- sleep 1000\n" +
		"stepbox run -d --name b -- sleep 1000\n" +
		"stepbox run -- sh -c 'echo hi > /hello'", "not-in-a"},
	"ship.1": {"mkdir -p $STEPBOX_ROOT/greet\n" +
		"printf 'FROM stepbox-builtin\\nRUN echo hello\\n' > $STEPBOX_ROOT/greet/Dockerfile\n" +
		"stepbox build -t greet $STEPBOX_ROOT/greet", "run-not-cmd"},
	"ship.2": {"mkdir -p $STEPBOX_ROOT/registry\n" +
		"printf 'version: 0.1\\nstorage:\\n  filesystem:\\n    rootdirectory: %s\\nhttp:\\n  addr: 127.0.0.1:5000\\n' $STEPBOX_ROOT/registry/storage > $STEPBOX_ROOT/registry/config.yml\n" +
		"docker-registry serve $STEPBOX_ROOT/registry/config.yml > $STEPBOX_ROOT/registry/log 2>&1 &\n" +
		"sleep 1; stepbox run --rm -- true\n" +
		"stepbox push stepbox-builtin 127.0.0.1:5000/box:1", "not-pushed"},
	"images.2": {"stepbox run -d --name box -- sleep 1000\nstepbox commit box gone", "no-whiteout"},
}

// Every exercise has a test of its own: done the way a learner does it
// (the commands typed into the exercise's shell, on a terminal) it gets ✓;
// done the typical wrong way it gets ✗ with the first hint for that
// mistake; and nothing of either session is left on the host.
func TestExercises(t *testing.T) {
	for _, ex := range Exercises() {
		t.Run(ex.ID(), func(t *testing.T) { exerciseRightAndWrong(t, ex) })
	}
}

func exerciseRightAndWrong(t *testing.T, ex *Exercise) {
	bin, _ := fixture(t, builtinfs.SourceBusybox)
	m, ok := mistakes[ex.ID()]
	if !ok {
		t.Fatalf("exercise %s has no typical mistake in the test's table", ex.ID())
	}
	leaks := testutil.Snapshot()
	// Open to all, as /run/stepbox is: a container with a user namespace
	// of its own reaches its root filesystem through it.
	root := filepath.Join(fixtureDir, "ex-"+ex.ID())
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	state := t.TempDir()

	wrong := startExercise(t, bin, root, state, ex)
	wrong.typeLines(m.cmds)
	wrong.check("✗")
	r := checkFromOutside(t, bin, root, state, "en")
	if ko := checkFromOutside(t, bin, root, state, "ko"); ko.Key != r.Key || !hasHangul(ko.Wrong) || !hasHangul(ko.Hint) || !hasHangul(strings.Join(ko.Seen, " ")) {
		t.Errorf("the mistake's check in Korean: %+v", ko)
	}
	if r.OK || r.Key != m.key {
		t.Errorf("the mistake got ok=%v key=%q, want ✗ %q:\n%s", r.OK, r.Key, m.key, wrong.text())
	}
	if r.Hint == "" || !strings.Contains(squash(wrong.text()), squash(r.Hint)) {
		t.Errorf("the shell does not show the first hint %q:\n%s", r.Hint, wrong.text())
	}
	wrong.exit()

	right := startExercise(t, bin, root, state, ex)
	right.typeLines(ex.Answer)
	right.check("✓")
	if r := checkFromOutside(t, bin, root, state, "en"); !r.OK {
		t.Errorf("the answer got ✗ %q: %s\n%s", r.Key, r.Wrong, right.text())
	}
	if ko := checkFromOutside(t, bin, root, state, "ko"); !ko.OK || len(ko.Seen) == 0 || !hasHangul(strings.Join(ko.Seen, " ")) {
		t.Errorf("the answer's check in Korean: %+v", ko)
	}
	right.exit()
	leaks.Check(t, 10*time.Second)

	prog, err := Learner{Dir: filepath.Join(state, "stepbox")}.LoadProgress()
	if err != nil {
		t.Fatal(err)
	}
	if e := prog.Exercise(ex.ID()); e.Done == nil || e.Checks < 4 || e.Started == nil {
		t.Errorf("progress of %s: %+v", ex.ID(), e)
	}
}

// exShell is an exercise's shell on a pseudo-terminal.
type exShell struct {
	t    *testing.T
	ex   *Exercise
	cmd  *exec.Cmd
	ptmx *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	n    int
	// copied is closed when everything the terminal showed has been read.
	copied chan struct{}
}

func (s *exShell) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *exShell) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func exerciseEnv(state string) []string {
	return append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en", "TERM=xterm", "XDG_STATE_HOME="+state)
}

func startExercise(t *testing.T, bin, root, state string, ex *Exercise) *exShell {
	t.Helper()
	cmd := exec.Command(bin, "--root", root, "exercise", "start", ex.ID())
	cmd.Env = exerciseEnv(state)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	s := &exShell{t: t, ex: ex, cmd: cmd, ptmx: ptmx, copied: make(chan struct{})}
	go func() { io.Copy(s, ptmx); close(s.copied) }()
	// A test that stops half-way ends the session as a learner would,
	// so that it removes what it made: exit, else a hang-up (SIGTERM,
	// which stepbox passes on to the session), else SIGKILL.
	t.Cleanup(func() {
		defer ptmx.Close()
		if cmd.ProcessState != nil {
			return
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		ptmx.Write([]byte("\x03exit\r"))
		for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Second):
				cmd.Process.Signal(sig)
			}
		}
		<-done
	})
	s.waitFor("["+ex.ID()+"]", 1)
	return s
}

// waitFor waits until what has been shown n times in all.
func (s *exShell) waitFor(what string, n int) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(s.text(), what) < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("never saw %q %d times; screen:\n%s", what, n, s.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// typeLines types each line of cmds as a learner would, and waits until
// the shell has run it: a line that prints a token of its own comes after
// each (typed in two halves, so the echo of the typing is not the token).
func (s *exShell) typeLines(cmds string) {
	s.t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(cmds), "\n") {
		s.n++
		token := fmt.Sprintf("done-%d-%s", s.n, "x")
		s.ptmx.Write([]byte(line + "\r"))
		s.ptmx.Write([]byte(fmt.Sprintf("echo done-%d-''x\r", s.n)))
		s.waitFor(token+"\r\n", 1)
	}
	// Background work the last line started settles, as it would while a
	// learner looks before checking.
	time.Sleep(300 * time.Millisecond)
}

// check types the check and waits for its verdict, which must be mark.
func (s *exShell) check(mark string) {
	s.t.Helper()
	from := len(s.text())
	s.ptmx.Write([]byte("stepbox exercise check\r"))
	s.n++
	s.ptmx.Write([]byte(fmt.Sprintf("echo done-%d-''x\r", s.n)))
	s.waitFor(fmt.Sprintf("done-%d-x\r\n", s.n), 1)
	if said := s.text()[from:]; !strings.Contains(said, mark+" ") {
		s.t.Fatalf("the check did not say %s; the whole screen:\n%s", mark, s.text())
	}
}

// exit leaves the shell, and the session ends with everything removed.
func (s *exShell) exit() {
	s.t.Helper()
	s.ptmx.Write([]byte("exit\r"))
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
				s.t.Errorf("the session: %v", err)
			}
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("the session did not end; screen:\n%s", s.text())
	}
	select {
	case <-s.copied:
	case <-time.After(5 * time.Second):
	}
	if !strings.Contains(s.text(), "Everything made in it is removed.") {
		s.t.Errorf("no goodbye; screen:\n%s", s.text())
	}
}

// checkFromOutside checks the open exercise from another terminal, as a
// grader would, in JSON.
func checkFromOutside(t *testing.T, bin, root, state, lang string) CheckReport {
	t.Helper()
	cmd := exec.Command(bin, "--root", root, "--lang", lang, "exercise", "check", "--json")
	cmd.Env = exerciseEnv(state)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 3) {
		t.Fatalf("check: %v\n%s%s", err, out, ee.Stderr)
	}
	var r CheckReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	return r
}

var spaces = regexp.MustCompile(`\s+`)

// squash reduces every run of white space to one space: a wrapped text
// and the same text unwrapped compare equal.
func squash(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }

// Every lesson up to 12 has at least two exercises (13 and 14 write theirs
// with the lesson, exercisesPending); every exercise has a title, a task,
// hints and an answer in both languages, at most three hints in all, and a
// check.
func TestExercisesShape(t *testing.T) {
	for n, l := range Catalogue() {
		if why, pending := exercisesPending[n]; pending && len(l.Exercises) < 2 {
			t.Logf("lesson %d %s: exercises pending (%s)", n, l.ID, why)
			continue
		}
		if len(l.Exercises) < 2 {
			t.Errorf("lesson %d %s has %d exercises, want at least 2", n, l.ID, len(l.Exercises))
		}
	}
	for _, ex := range Exercises() {
		if ex.Check == nil || strings.TrimSpace(ex.Answer) == "" {
			t.Errorf("%s lacks a check or an answer", ex.ID())
		}
		if n := len(ex.Ladder()); n < 2 || n > 3 {
			t.Errorf("%s has %d hints with the answer, want 2 or 3", ex.ID(), n)
		}
		for _, txt := range append([]i18n.Text{ex.Title, ex.Task}, ex.Ladder()...) {
			if len(txt.Missing()) > 0 {
				t.Errorf("%s: %q lacks %v", ex.ID(), txt.En+txt.Ko, txt.Missing())
			}
		}
	}
}
