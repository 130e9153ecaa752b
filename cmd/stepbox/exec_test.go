package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/stepbox/stepbox/internal/procstat"
	"github.com/stepbox/stepbox/internal/testutil"
)

// nsLinks reads a process's eight namespace links ("mnt:[4026…]") from the
// host: namespace inode numbers are the same in every /proc, so the links a
// process reads of itself inside can be compared with them.
func nsLinks(t *testing.T, pid int) string {
	t.Helper()
	var out []string
	for _, ns := range []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"} {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return strings.Join(out, " ")
}

// `stepbox exec` lands in every namespace of the container's init (the
// time namespace too, which the init itself only made for its children),
// with the container's user as the default, docker's -u -w -e, and docker's
// exit codes; into a user-namespaced container it is root inside and the
// mapped uid outside.
func TestExec(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	id := detached(t, "--name", "ex", "--hostname", "box", "--", "sleep", "300")
	pid := inspectOne(t, id).State.Pid
	// The init's own links; its time namespace is the one its children
	// are born in (time_for_children).
	want := nsLinks(t, pid)
	if tfc, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/time_for_children", pid)); err == nil {
		own, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/time", pid))
		want = strings.Replace(want, own, tfc, 1)
	}
	r := run(t, "exec", "ex", "sh", "-c",
		"for n in cgroup ipc mnt net pid time user uts; do readlink /proc/self/ns/$n; done; hostname; id -u")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 10 {
		t.Fatalf("exec: %+v", r)
	}
	if got := strings.Join(lines[:8], " "); got != want {
		t.Errorf("exec'd process in\n  %s\nthe container's init in\n  %s", got, want)
	}
	if lines[8] != "box" || lines[9] != "0" {
		t.Errorf("hostname %q, uid %q", lines[8], lines[9])
	}
	r = run(t, "exec", "-u", "65534:65534", "-w", "/tmp", "-e", "GREETING=hi", "ex", "sh", "-c", "id -u; id -g; pwd; echo $GREETING")
	if r.code != 0 || strings.Fields(r.stdout)[0] != "65534" || !strings.Contains(r.stdout, "/tmp\nhi") {
		t.Errorf("-u -w -e: %+v", r)
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"true"}, 0},
		{[]string{"sh", "-c", "exit 7"}, 7},
		{[]string{"sh", "-c", "kill -9 $$"}, 137},
		{[]string{"/etc"}, 126},
		{[]string{"no-such-command"}, 127},
	} {
		r := run(t, append([]string{"exec", "ex"}, c.args...)...)
		if r.code != c.code {
			t.Errorf("exec %v: exit %d, want %d (%q)", c.args, r.code, c.code, r.stderr)
		}
		if c.code >= 126 && c.code < 128 {
			oneLine(t, fmt.Sprint(c.args), r)
		}
	}
	// -i passes stdin on; without it the command reads nothing.
	if r := stepboxWith(t, strings.NewReader("piped\n"), nil, "--root", testRoot, "exec", "-i", "ex", "cat"); r.stdout != "piped\n" {
		t.Errorf("exec -i: %+v", r)
	}
	if r := stepboxWith(t, strings.NewReader("piped\n"), nil, "--root", testRoot, "exec", "ex", "cat"); r.stdout != "" || r.code != 0 {
		t.Errorf("exec without -i: %+v", r)
	}
	// -d returns at once; the command runs on in the container.
	if r := run(t, "exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d; sleep 2"); r.code != 0 || r.stdout != "" {
		t.Errorf("exec -d: %+v", r)
	}
	eventually(t, "the detached command wrote its file", func() bool {
		return run(t, "exec", "ex", "cat", "/tmp/d").stdout == "detached\n"
	})

	detached(t, "--name", "exu", "--userns", "--", "sleep", "300")
	r = run(t, "exec", "exu", "sh", "-c", "id -u; cat /proc/self/uid_map")
	if f := strings.Fields(r.stdout); r.code != 0 || len(f) != 4 || f[0] != "0" || f[1] != "0" || f[2] == "0" {
		t.Errorf("user namespace, inside: %+v", r)
	}
	// On the host the same process is the mapped uid (top's USER).
	if r := run(t, "exec", "-d", "exu", "sleep", "30"); r.code != 0 {
		t.Fatalf("exec -d into the user-namespaced container: %+v", r)
	}
	var hostUser string
	eventually(t, "the exec'd sleep in top", func() bool {
		for _, line := range strings.Split(run(t, "top", "exu").stdout, "\n") {
			if f := strings.Fields(line); len(f) >= 6 && f[len(f)-2] == "sleep" && f[len(f)-1] == "30" {
				hostUser = f[3]
				return true
			}
		}
		return false
	})
	if hostUser == "root" || hostUser == "0" {
		t.Errorf("user namespace: the exec'd process is %s on the host", hostUser)
	}
	run(t, "rm", "-f", "ex", "exu")
	l.Check(t, 5*time.Second)
}

// Bad input: an unknown or a stopped container is one line and exit 1, as
// docker's; nothing is started.
func TestExecBadInput(t *testing.T) {
	testutil.RequiresRoot(t)
	r := run(t, "exec", "no-such-container", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "no such container") {
		t.Errorf("unknown container: %+v", r)
	}
	oneLine(t, "unknown container", r)
	detached(t, "--name", "exs", "--", "sleep", "300")
	if r := run(t, "stop", "-t", "0", "exs"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	r = run(t, "exec", "exs", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("stopped container: %+v", r)
	}
	oneLine(t, "stopped container", r)
	if r := run(t, "exec", "exs"); r.code != exitUsage {
		t.Errorf("no command: %+v", r)
	}
}

// `exec -it` is a real terminal: its size is the caller's and follows it,
// and the shell's exit code comes back.
func TestExecTerminal(t *testing.T) {
	testutil.RequiresRoot(t)
	detached(t, "--name", "ext", "--", "sleep", "300")
	cmd := exec.Command(stepboxBin, "--root", testRoot, "exec", "-it", "ext", "sh")
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		ptmx.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	out := &syncBuffer{}
	go io.Copy(out, ptmx)
	expect := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("never saw %q; screen:\n%s", what, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ptmx.Write([]byte("stty size; tty; echo $((6*7))x\r"))
	expect("40 100")
	expect("/dev/pts/")
	expect("42x")
	pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 90})
	time.Sleep(100 * time.Millisecond)
	ptmx.Write([]byte("stty size\r"))
	expect("30 90")
	ptmx.Write([]byte("exit 3\r"))
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 3 {
			t.Errorf("exit %d, want 3; screen:\n%s", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("exec -it did not end; screen:\n%s", out.String())
	}
}

// A pids limit the container's own tasks nearly fill leaves the exec
// stage's runtime no threads: exec says so in one line, 125, instead of a
// Go runtime's dump of its stack. The container is filled to two tasks
// short of its limit: its minimal init (one task in C, several where the
// Go init reaps; measured first) and sleeps.
func TestExecPidsLimitFull(t *testing.T) {
	testutil.RequiresRoot(t)
	sleeps := func() []string {
		out, _ := exec.Command("pgrep", "-x", "-f", "sleep 300").Output()
		return strings.Fields(string(out))
	}
	probe := detached(t, "--pids-limit", "10", "--", "sleep", "300")
	eventually(t, "the probe's sleep", func() bool { return len(sleeps()) == 1 })
	initTasks := 0
	if pid, err := strconv.Atoi(sleeps()[0]); err == nil {
		if st, err := procstat.Read(pid); err == nil {
			tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(st.PPID) + "/task")
			initTasks = len(tasks)
		}
	}
	run(t, "rm", "-f", probe)
	if initTasks == 0 {
		t.Fatal("found no minimal init beside the probe's sleep")
	}
	n := 10 - 2 - initTasks - 1 // and one sleep in the shell's place
	script := fmt.Sprintf("i=0; while [ $i -lt %d ]; do sleep 300 & i=$((i+1)); done; exec sleep 300", n)
	detached(t, "--name", "expl", "--pids-limit", "10", "--", "sh", "-c", script)
	eventually(t, "the container two tasks short of its limit", func() bool { return len(sleeps()) == n+1 })
	r := run(t, "exec", "expl", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "pids limit (10)") {
		t.Errorf("exec under a full pids limit: %+v", r)
	}
	oneLine(t, "exec under a full pids limit", r)
}
