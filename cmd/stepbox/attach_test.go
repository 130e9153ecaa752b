package main

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/stepbox/stepbox/internal/testutil"
)

// attachTerm is `stepbox attach ARGS…` on a terminal of rows×cols the test
// drives; done is closed when it exits.
type attachTerm struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File
	out  *syncBuffer
	done chan struct{}
}

func startAttachTerm(t *testing.T, rows, cols uint16, args ...string) *attachTerm {
	t.Helper()
	return startTerm(t, rows, cols, append([]string{"attach"}, args...)...)
}

// startTerm is `stepbox ARGS…` on a terminal the test drives.
func startTerm(t *testing.T, rows, cols uint16, args ...string) *attachTerm {
	t.Helper()
	cmd := exec.Command(stepboxBin, append([]string{"--root", testRoot}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "LANG=C")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	a := &attachTerm{t: t, cmd: cmd, ptmx: ptmx, out: &syncBuffer{}, done: make(chan struct{})}
	go func() { cmd.Wait(); close(a.done) }()
	go io.Copy(a.out, ptmx)
	t.Cleanup(func() {
		ptmx.Close()
		select {
		case <-a.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-a.done
		}
	})
	return a
}

func (a *attachTerm) expect(what string) {
	a.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(a.out.String(), what) {
		if time.Now().After(deadline) {
			a.t.Fatalf("never saw %q; screen:\n%s", what, a.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exited waits for attach to end and returns its exit code.
func (a *attachTerm) exited() int {
	a.t.Helper()
	select {
	case <-a.done:
		return a.cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		a.t.Fatalf("attach did not end; screen:\n%s", a.out.String())
	}
	return -1
}

// `attach` to a `run -dit` shell is a real terminal: what is typed is
// echoed and run, the size is attach's and follows it, ctrl-p ctrl-q
// leaves the shell running; a second attach at the same time sees the same
// screen, and one killed with SIGKILL leaves the container and its monitor
// as they were. The container's exit ends an attach with its code.
func TestAttachTerminal(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	id := detached(t, "-it", "--name", "att", "--", "sh")
	first := startAttachTerm(t, 40, 100, "att")
	watcher := startAttachTerm(t, 40, 100, "--no-stdin", "att")
	time.Sleep(200 * time.Millisecond) // both connected before the first output
	first.ptmx.Write([]byte("stty size; echo $((6*7))x\r"))
	first.expect("echo $((6*7))x") // echoed by the container's terminal
	first.expect("40 100")
	first.expect("42x")
	watcher.expect("42x")
	pty.Setsize(first.ptmx, &pty.Winsize{Rows: 30, Cols: 90})
	first.cmd.Process.Signal(syscall.SIGWINCH)
	time.Sleep(200 * time.Millisecond)
	first.ptmx.Write([]byte("stty size\r"))
	first.expect("30 90")
	// Detach: ctrl-p ctrl-q. The shell runs on.
	first.ptmx.Write([]byte{0x10, 0x11})
	if code := first.exited(); code != 0 {
		t.Errorf("detach: exit %d; screen:\n%s", code, first.out.String())
	}
	if st := inspectOne(t, id).State; st.Status != "running" {
		t.Fatalf("after the detach keys the container is %q", st.Status)
	}
	// A killed attach leaves it running too, and another can come.
	watcher.cmd.Process.Kill()
	<-watcher.done
	again := startAttachTerm(t, 24, 80, "--detach-keys", "ctrl-a,d", "att")
	time.Sleep(200 * time.Millisecond)
	again.ptmx.Write([]byte("echo still$((1+1))\r"))
	again.expect("still2")
	// ctrl-p alone is the shell's now, and ctrl-a d detaches.
	again.ptmx.Write([]byte{0x01, 'd'})
	if code := again.exited(); code != 0 {
		t.Errorf("--detach-keys ctrl-a,d: exit %d", code)
	}
	last := startAttachTerm(t, 24, 80, "att")
	time.Sleep(200 * time.Millisecond)
	last.ptmx.Write([]byte("exit 5\r"))
	if code := last.exited(); code != 5 {
		t.Errorf("the shell's exit 5 ended attach with %d; screen:\n%s", code, last.out.String())
	}
	if r := run(t, "rm", "att"); r.code != 0 {
		t.Fatalf("rm: %+v", r)
	}
	l.Check(t, 10*time.Second)
}

// Without a terminal, attach streams what the log gets from now on, each
// stream to its own, passes input on to a container started with -i, and
// ends with the container's code; signals reach the container (sig-proxy).
func TestAttachPipes(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	detached(t, "-i", "--name", "attp", "--", "sh", "-c",
		`echo before; while read l; do [ "$l" = end ] && exit 7; echo "got $l"; echo "err $l" >&2; done`)
	eventually(t, "the first output logged", func() bool { return strings.Contains(logsOf(t, "attp").stdout, "before") })
	cmd := exec.Command(stepboxBin, "--root", testRoot, "attach", "attp")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	io.WriteString(in, "one\n")
	eventually(t, "the answer to one", func() bool { return strings.Contains(stdout.String(), "got one") })
	eventually(t, "its stderr", func() bool { return strings.Contains(stderr.String(), "err one") })
	io.WriteString(in, "end\n")
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Errorf("attach ended with %d (%v), want the container's 7; stderr %s", code, err, stderr.String())
	}
	if strings.Contains(stdout.String(), "before") {
		t.Errorf("attach showed output from before it came:\n%s", stdout.String())
	}

	// sig-proxy: SIGTERM to attach reaches the container's shell.
	detached(t, "--name", "attsig", "--", "sh", "-c", "trap 'echo term; exit 9' TERM; while :; do sleep 0.1; done")
	sig := exec.Command(stepboxBin, "--root", testRoot, "attach", "attsig")
	var sout syncBuffer
	sig.Stdout = &sout
	if err := sig.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	sig.Process.Signal(syscall.SIGTERM)
	sig.Wait()
	if code := sig.ProcessState.ExitCode(); code != 9 || !strings.Contains(sout.String(), "term") {
		t.Errorf("SIGTERM through attach: exit %d, output %q", code, sout.String())
	}

	// An attach that stops reading (SIGSTOP) does not hold the monitor up:
	// the output is logged on, the attach is let go and says so.
	detached(t, "--name", "attflood", "--", "sh", "-c", "sleep 1; seq 1 300000; sleep 300")
	slow := exec.Command(stepboxBin, "--root", testRoot, "attach", "attflood")
	var slowErr syncBuffer
	slow.Stdout, slow.Stderr = io.Discard, &slowErr
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	slow.Process.Signal(syscall.SIGSTOP)
	eventually(t, "the whole output logged past a stopped attach", func() bool {
		return strings.Contains(logsOf(t, "--tail", "1", "attflood").stdout, "300000")
	})
	slow.Process.Signal(syscall.SIGCONT)
	slow.Wait()
	if code := slow.ProcessState.ExitCode(); code != 1 || !strings.Contains(slowErr.String(), "let this attach go") {
		t.Errorf("a stopped attach: exit %d, stderr %q", code, slowErr.String())
	}
	if st := inspectOne(t, "attflood").State; st.Status != "running" {
		t.Errorf("after a dropped attach the container is %q", st.Status)
	}

	// Bad input: one line, nothing changed.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"attach", "attp"}, 1, "cannot attach to container attp: it is stopped"},
		{[]string{"attach", "nosuch"}, 1, "no such container"},
		{[]string{"attach", "--detach-keys", "ctrl-1", "attp"}, 2, "invalid --detach-keys"},
	} {
		r := run(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
	run(t, "rm", "-f", "attp", "attsig", "attflood")
	l.Check(t, 10*time.Second)
}

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string]string{
		"ctrl-p,ctrl-q": "\x10\x11", "ctrl-a,d": "\x01d", "ctrl-@": "\x00", "ctrl-\\": "\x1c", "x": "x", "": "",
	} {
		got, err := parseDetachKeys(in)
		if err != nil || string(got) != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "ab", "ctrl-p,,ctrl-q"} {
		if _, err := parseDetachKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// start -a is attached before the container runs, as docker's: the first
// output is there (a shell's first line), -i passes input on (to a
// terminal, at this one's size, or to a stdin kept open for this run even
// when the container was run without -i), and the exit code is the
// container's. -i alone is a usage error.
func TestStartAttached(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	detached(t, "-it", "--name", "sat", "--", "sh", "-c", "echo first-$((2+3)); exec sh")
	if r := run(t, "kill", "sat"); r.code != 0 {
		t.Fatalf("kill: %+v", r)
	}
	run(t, "wait", "sat")
	term := startTerm(t, 33, 77, "start", "-ai", "sat")
	term.expect("first-5")
	term.ptmx.Write([]byte("stty size; echo $((6*7))x\r"))
	term.expect("33 77")
	term.expect("42x")
	term.ptmx.Write([]byte("exit 3\r"))
	if code := term.exited(); code != 3 {
		t.Errorf("start -ai: exit %d, want the shell's 3; screen:\n%s", code, term.out.String())
	}

	detached(t, "--name", "sap", "--", "sh", "-c", `read x; echo "got $x"; exit 4`)
	run(t, "wait", "sap") // no stdin: read finds its end at once
	r := stepboxWith(t, strings.NewReader("hello\n"), nil, "--root", testRoot, "start", "-a", "-i", "sap")
	if r.code != 4 || r.stdout != "got hello\n" {
		t.Errorf("start -ai with a pipe: %+v", r)
	}
	if r := run(t, "start", "-i", "sap"); r.code != 2 || !strings.Contains(r.stderr, "needs -a") {
		t.Errorf("start -i without -a: %+v", r)
	}
	run(t, "rm", "-f", "sat", "sap")
	l.Check(t, 10*time.Second)
}
