package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
)

// The life of detached containers, driven through the binary as a user
// types it, on the real kernel.

// detached runs `stepbox run -d ARGS` and returns the container's id; the
// container is removed when the test ends, whatever happened.
func detached(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, append([]string{"run", "-d"}, args...)...)
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("run -d %v: %+v", args, r)
	}
	t.Cleanup(func() { run(t, "rm", "-f", id) })
	return id
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// psRowOf is the container's row of `ps -a --format json` (zero: none).
func psRowOf(t *testing.T, ref string) psRow {
	t.Helper()
	r := run(t, "ps", "-a", "--format", "json")
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var row psRow
		if json.Unmarshal([]byte(line), &row) == nil && (row.Names == ref || strings.HasPrefix(ref, row.ID)) {
			return row
		}
	}
	return psRow{}
}

func inspectOne(t *testing.T, ref string) inspectedContainer {
	t.Helper()
	r := run(t, "container", "inspect", ref)
	var out []inspectedContainer
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 || r.code != 0 {
		t.Fatalf("container inspect %s: %v %+v", ref, err, r)
	}
	return out[0]
}

func logsOf(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, append([]string{"logs"}, args...)...)
}

// procStat reads a few fields of /proc/PID/stat: state, ppid, session, tty.
func procStat(pid int) (state string, ppid, sid, tty int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, 0, false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ppid, _ = strconv.Atoi(f[1])
	sid, _ = strconv.Atoi(f[3])
	tty, _ = strconv.Atoi(f[4])
	return f[0], ppid, sid, tty, true
}

func alive(pid int) bool {
	st, _, _, _, ok := procStat(pid)
	return ok && st != "Z" && st != "X"
}

func status(t *testing.T, pid int, key string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Detached: the id, ps, logs split by stream, --tail, --timestamps, top,
// container inspect; the monitor in a session of its own, without a
// terminal, surviving the terminal the command ran on.
func TestDetachAndLogs(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	// run -d on a terminal of its own, which then closes.
	cmd := exec.Command(stepboxBin, "--root", testRoot, "run", "-d", "--name", "talker", "--",
		"sh", "-c", "echo one; echo oops >&2; printf 'two\\nthree'; sleep 100")
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = out.ReadFrom(ptmx); close(done) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run -d: %v", err)
	}
	t.Cleanup(func() { run(t, "rm", "-f", "talker") })
	ptmx.Close() // the terminal goes away: a hangup for its session
	<-done
	id := strings.TrimSpace(out.String())
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("run -d printed %q", out.String())
	}
	time.Sleep(100 * time.Millisecond)
	row := psRowOf(t, "talker")
	if row.ID != id[:12] || row.State != "running" || !strings.HasPrefix(row.Status, "Up ") || row.Command != `"sh -c echo one; echo oops >&2; printf 'two\nthree'; sleep 100"` {
		t.Errorf("ps row %+v", row)
	}
	if r := run(t, "ps", "-q"); !strings.Contains(r.stdout, id[:12]+"\n") {
		t.Errorf("ps -q: %q", r.stdout)
	}
	if r := run(t, "ps"); !strings.Contains(r.stdout, "CONTAINER ID") || !strings.Contains(r.stdout, "talker") {
		t.Errorf("ps:\n%s", r.stdout)
	}
	eventually(t, "all output logged", func() bool { return strings.Contains(logsOf(t, "talker").stdout, "three") })
	if r := logsOf(t, id[:5]); r.stdout != "one\ntwo\nthree" || r.stderr != "oops\n" || r.code != 0 {
		t.Errorf("logs: %+v", r)
	}
	if r := logsOf(t, "--tail", "2", "talker"); r.stdout != "two\nthree" {
		t.Errorf("logs --tail 2: %q", r.stdout)
	}
	r := logsOf(t, "--timestamps", "talker")
	for _, line := range strings.Split(r.stdout, "\n") {
		ts, _, _ := strings.Cut(line, " ")
		if at, err := time.Parse(time.RFC3339Nano, ts); err != nil || time.Since(at) > time.Minute {
			t.Errorf("logs -t line %q: %v", line, err)
		}
	}

	in := inspectOne(t, "talker")
	if in.ID != id || in.Name != "talker" || !in.State.Running || in.State.Pid == 0 || in.State.ExitCode != nil ||
		in.MonitorPid == 0 || in.Config == nil || in.Config.Process.Args[0] != "sh" || len(in.CgroupPaths) == 0 ||
		in.LogPath != filepath.Join(testRoot, "run", id, "container.log") || in.State.StartedAt.IsZero() {
		t.Errorf("inspect %+v", in)
	}
	for typ, ino := range in.Namespaces {
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", in.State.Pid, typ), &st); err != nil || st.Ino != ino {
			t.Errorf("namespace %s: inspect says %d, /proc %d", typ, ino, st.Ino)
		}
	}
	if len(in.Namespaces) != 8 {
		t.Errorf("namespaces %v", in.Namespaces)
	}
	for _, dir := range in.CgroupPaths {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("cgroup %s: %v", dir, err)
		}
	}
	// The monitor: the init's parent, in a session of its own, without a
	// terminal; it survived the terminal's hangup and the command's exit.
	m := in.MonitorPid
	if _, ppid, _, _, _ := procStat(in.State.Pid); ppid != m {
		t.Errorf("the init's parent is %d, not the monitor %d", ppid, m)
	}
	if st, _, sid, tty, ok := procStat(m); !ok || st == "Z" || sid != m || tty != 0 {
		t.Errorf("monitor %d: state %s, session %d, tty %d", m, st, sid, tty)
	}
	if comm := status(t, m, "Name"); comm != "stepbox-monitor" {
		t.Errorf("monitor named %q", comm)
	}
	t.Logf("monitor RSS %s (anon %s, file %s), threads %s", status(t, m, "VmRSS"), status(t, m, "RssAnon"), status(t, m, "RssFile"), status(t, m, "Threads"))

	// top: the host's pids beside the container's.
	r = run(t, "top", "talker")
	var sawInit, sawSleep bool
	for _, line := range strings.Split(r.stdout, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		sawInit = sawInit || f[0] == strconv.Itoa(in.State.Pid) && f[2] == "1" && f[3] == "root"
		sawSleep = sawSleep || f[4] == "sleep" && f[2] != "-" && f[1] == strconv.Itoa(in.State.Pid)
	}
	if !sawInit || !sawSleep {
		t.Errorf("top:\n%s", r.stdout)
	}

	if r := run(t, "rm", "-f", "talker"); r.code != 0 || r.stdout != "talker\n" {
		t.Errorf("rm -f: %+v", r)
	}
	if alive(m) || alive(in.State.Pid) {
		t.Error("the monitor or the init outlived rm -f")
	}
	l.Check(t, 5*time.Second)
}

// logs -f follows until the container stops, by itself or by stop.
func TestLogsFollow(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	detached(t, "--name", "counter", "--", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.3; done")
	start := time.Now()
	if r := logsOf(t, "-f", "counter"); r.stdout != "1\n2\n3\n" || r.code != 0 {
		t.Errorf("logs -f: %+v", r)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Errorf("logs -f returned after %v", d)
	}
	detached(t, "--name", "forever", "--", "sh", "-c", "echo start; while :; do sleep 1; done")
	cmd := exec.Command(stepboxBin, "--root", testRoot, "logs", "-f", "forever")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if cmd.ProcessState != nil {
		t.Fatal("logs -f ended while the container runs")
	}
	run(t, "stop", "-t", "1", "forever")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || out.String() != "start\n" {
			t.Errorf("logs -f after stop: %v, %q", err, out.String())
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Error("logs -f did not end when the container stopped")
	}
	run(t, "rm", "counter", "forever")
	l.Check(t, 5*time.Second)
}

// stop: SIGTERM, and SIGKILL after -t for a payload that ignores it.
func TestStopGrace(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	detached(t, "--name", "stubborn", "--", "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done")
	detached(t, "--name", "polite", "--", "sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done")
	for _, n := range []string{"stubborn", "polite"} {
		eventually(t, n+" ready", func() bool { return logsOf(t, n).stdout == "ready\n" })
	}
	start := time.Now()
	if r := run(t, "stop", "-t", "1", "stubborn"); r.code != 0 || r.stdout != "stubborn\n" {
		t.Errorf("stop: %+v", r)
	}
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Errorf("stop -t 1 took %v", d)
	}
	if row := psRowOf(t, "stubborn"); !strings.HasPrefix(row.Status, "Exited (137) ") {
		t.Errorf("after stop: %+v", row)
	}
	start = time.Now()
	if r := run(t, "stop", "-t", "10", "polite"); r.code != 0 {
		t.Errorf("stop: %+v", r)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a payload that stops on SIGTERM took %v", d)
	}
	if row := psRowOf(t, "polite"); !strings.HasPrefix(row.Status, "Exited (0) ") {
		t.Errorf("after stop: %+v", row)
	}
	// Stopping a stopped container is no error (docker's).
	if r := run(t, "stop", "polite"); r.code != 0 || r.stdout != "polite\n" {
		t.Errorf("stop again: %+v", r)
	}
	// Nothing of theirs is left in the kernel once stopped, before rm.
	l.Check(t, 5*time.Second)
	run(t, "rm", "stubborn", "polite")
}

// kill -9 of the monitor: the container goes with it (it never runs
// unwatched), shows as exited with an unknown code, and rm removes what
// it left (its cgroups); for every user and init choice.
func TestMonitorKilled(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, args := range [][]string{nil, {"-u", "1000:1000"}, {"--init=false"}, {"--userns", "-u", "1000"}} {
		l := testutil.Snapshot()
		id := detached(t, append(args, "--", "sleep", "100")...)
		in := inspectOne(t, id)
		unix.Kill(in.MonitorPid, unix.SIGKILL)
		eventually(t, fmt.Sprintf("%v: the init dies with its monitor", args), func() bool { return !alive(in.State.Pid) })
		row := psRowOf(t, id)
		if row.State != "exited" || row.Status != "Exited (-1)" || row.ExitCode == nil || *row.ExitCode != -1 {
			t.Errorf("%v: ps %+v", args, row)
		}
		if r := run(t, "wait", id); r.stdout != "-1\n" {
			t.Errorf("%v: wait %+v", args, r)
		}
		if r := run(t, "rm", id); r.code != 0 {
			t.Errorf("%v: rm: %+v", args, r)
		}
		l.Check(t, 5*time.Second)
	}
}

// The monitor shrugs off SIGHUP and SIGINT (it has no terminal), even
// sent while it changes phase; a container it restarts does not inherit
// them ignored; SIGTERM (a shutdown) stops its container, which its restart
// policy then leaves stopped, and ends it.
func TestMonitorSignals(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	// Without the minimal init the payload is PID 1, which gets only the
	// signals it has a handler for (pid_namespaces(7)).
	for _, args := range [][]string{{"--", "sleep", "100"}, {"--init=false", "--", "sh", "-c", "trap 'exit 143' TERM; while :; do sleep 1; done"}} {
		name := "calm" + strconv.Itoa(len(args))
		known := monitorsUnder(testRoot)
		cmd := exec.Command(stepboxBin, append([]string{"--root", testRoot, "run", "-d", "--name", name, "--restart", "always"}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { run(t, "rm", "-f", name) })
		// From the moment the monitor exists, through its phases.
		m := 0
		eventually(t, "the monitor", func() bool {
			for pid := range monitorsUnder(testRoot) {
				if !known[pid] {
					m = pid
				}
			}
			return m > 0
		})
		for range 30 {
			unix.Kill(m, unix.SIGHUP)
			unix.Kill(m, unix.SIGINT)
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Wait()
		in := inspectOne(t, name)
		if !alive(m) || in.MonitorPid != m || !in.State.Running {
			t.Fatalf("%v: SIGHUP or SIGINT ended the monitor or its container: %+v", args[:len(args)-1], in.State)
		}
		unix.Kill(in.State.Pid, unix.SIGKILL)
		var again inspectedContainer
		eventually(t, "restarted", func() bool {
			again = inspectOne(t, name)
			return again.State.RestartCount == 1 && again.State.Running && alive(again.State.Pid)
		})
		payload := again.State.Pid
		if args[0] == "--" {
			payload = childNamed(payload, "sleep")
		}
		if ign, _ := strconv.ParseUint(status(t, payload, "SigIgn"), 16, 64); ign&(1<<(unix.SIGHUP-1)|1<<(unix.SIGINT-1)) != 0 {
			t.Errorf("%v: the restarted payload ignores SIGHUP or SIGINT: SigIgn %x", args, ign)
		}
		unix.Kill(m, unix.SIGTERM)
		if r := run(t, "wait", name); r.stdout != "143\n" {
			t.Errorf("%v: wait after SIGTERM to the monitor: %+v", args, r)
		}
		eventually(t, "the monitor ends", func() bool { return !alive(m) })
		if got := inspectOne(t, name); got.State.RestartCount != 1 || got.State.Running {
			t.Errorf("%v: restarted after its monitor was told to stop: %+v", args, got.State)
		}
		if r := run(t, "container", "ls", "-a"); !strings.Contains(r.stdout, "Exited (143)") {
			t.Errorf("container ls -a:\n%s", r.stdout)
		}
		run(t, "container", "rm", name)
	}
	l.Check(t, 5*time.Second)
}

// monitorsUnder finds the monitors of the containers under root by their
// command line, which every phase of a monitor has.
func monitorsUnder(root string) map[int]bool {
	out := map[int]bool{}
	prefix := "stepbox-monitor\x00monitor\x00" + filepath.Join(root, "run") + "/"
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.HasPrefix(string(b), prefix) {
			out[pid] = true
		}
	}
	return out
}

// kill -9 of the init: the monitor records 137 and cleans up.
func TestInitKilled(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	detached(t, "--name", "victim", "--", "sleep", "100")
	in := inspectOne(t, "victim")
	unix.Kill(in.State.Pid, unix.SIGKILL)
	if r := run(t, "wait", "victim"); r.stdout != "137\n" {
		t.Errorf("wait: %+v", r)
	}
	eventually(t, "the monitor ends", func() bool { return !alive(in.MonitorPid) })
	if row := psRowOf(t, "victim"); !strings.HasPrefix(row.Status, "Exited (137) ") {
		t.Errorf("ps %+v", row)
	}
	if got := inspectOne(t, "victim"); got.State.FinishedAt.Before(got.State.StartedAt) || len(got.CgroupPaths) != 0 {
		t.Errorf("inspect after the exit: %+v", got.State)
	}
	l.Check(t, 5*time.Second) // its cgroups went with the exit
	run(t, "rm", "victim")
}

// The restart policy: on-failure:2 restarts exactly twice; always restarts
// until stop; --rm removes the container as it exits.
func TestRestartPolicyAndRm(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	detached(t, "--name", "flaky", "--restart", "on-failure:2", "--", "sh", "-c", "echo run; exit 3")
	if r := run(t, "wait", "flaky"); r.stdout != "3\n" {
		t.Errorf("wait: %+v", r)
	}
	eventually(t, "the policy gives up", func() bool { return strings.HasPrefix(psRowOf(t, "flaky").Status, "Exited (3)") })
	if logs := logsOf(t, "flaky").stdout; logs != "run\nrun\nrun\n" {
		t.Errorf("three runs, two restarts: %q", logs)
	}
	if in := inspectOne(t, "flaky"); in.State.RestartCount != 2 || in.RestartPolicy.String() != "on-failure:2" {
		t.Errorf("restarts %d, policy %v", in.State.RestartCount, in.RestartPolicy)
	}
	detached(t, "--name", "phoenix", "--restart", "always", "--", "sh", "-c", "echo up; sleep 0.2")
	eventually(t, "restarted", func() bool { return inspectOne(t, "phoenix").State.RestartCount >= 2 })
	if r := run(t, "stop", "-t", "1", "phoenix"); r.code != 0 {
		t.Errorf("stop: %+v", r)
	}
	n := inspectOne(t, "phoenix").State.RestartCount
	time.Sleep(time.Second)
	if in := inspectOne(t, "phoenix"); in.State.RestartCount != n || in.State.Running || in.MonitorPid != 0 {
		t.Errorf("restarted after stop: %+v", in.State)
	}
	// --rm: gone once it exits, record, name and all.
	detached(t, "--name", "mayfly", "--rm", "--", "sh", "-c", "echo bye")
	eventually(t, "removed", func() bool { return psRowOf(t, "mayfly").ID == "" })
	detached(t, "--name", "mayfly", "--rm", "--", "sleep", "100") // the name is free
	if r := run(t, "stop", "-t", "1", "mayfly"); r.code != 0 {
		t.Errorf("stop: %+v", r)
	}
	eventually(t, "removed after stop", func() bool { return psRowOf(t, "mayfly").ID == "" })
	run(t, "rm", "flaky", "phoenix")
	l.Check(t, 5*time.Second)
}

// start after stop: the same filesystem, name, id and log; restart; start
// of a running container changes nothing.
func TestStartAfterStop(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	marker := "/tmp/lifecycle-test-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.Remove(filepath.Join(testRoot, "lib/rootfs/default", marker)) })
	id := detached(t, "--name", "again", "--", "sh", "-c",
		"if [ -e "+marker+" ]; then echo again; else echo first; touch "+marker+"; fi; sleep 100")
	eventually(t, "first run", func() bool { return logsOf(t, "again").stdout == "first\n" })
	first := inspectOne(t, "again")
	run(t, "stop", "-t", "1", "again")
	if r := run(t, "start", "again"); r.code != 0 || r.stdout != "again\n" {
		t.Fatalf("start: %+v", r)
	}
	eventually(t, "second run", func() bool { return logsOf(t, "again").stdout == "first\nagain\n" })
	second := inspectOne(t, "again")
	if second.ID != id || second.State.Pid == first.State.Pid || !second.State.Running || second.MonitorPid == first.MonitorPid {
		t.Errorf("after start: %+v", second)
	}
	// Started while running: nothing changes, exit 0 as docker.
	if r := run(t, "start", "again"); r.code != 0 || r.stdout != "again\n" || !strings.Contains(r.stderr, "already running") {
		t.Errorf("start of a running container: %+v", r)
	}
	if inspectOne(t, "again").State.Pid != second.State.Pid {
		t.Error("start of a running container changed it")
	}
	if r := run(t, "restart", "-t", "1", "again"); r.code != 0 || r.stdout != "again\n" {
		t.Errorf("restart: %+v", r)
	}
	third := inspectOne(t, "again")
	if !third.State.Running || third.State.Pid == second.State.Pid {
		t.Errorf("after restart: %+v", third.State)
	}
	// start -a: the output of this run, and its exit code.
	run(t, "rm", "-f", "again")
	detached(t, "--name", "job", "--", "sh", "-c", "echo working; exit 4")
	run(t, "wait", "job")
	if r := run(t, "start", "-a", "job"); r.code != 4 || r.stdout != "working\n" {
		t.Errorf("start -a: %+v", r)
	}
	run(t, "rm", "job")
	l.Check(t, 5*time.Second)
}

func TestWait(t *testing.T) {
	testutil.RequiresRoot(t)
	detached(t, "--name", "w7", "--", "sh", "-c", "sleep 0.5; exit 7")
	detached(t, "--name", "w0", "--", "true")
	start := time.Now()
	if r := run(t, "wait", "w7", "w0"); r.stdout != "7\n0\n" || r.code != 0 {
		t.Errorf("wait: %+v", r)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Error("wait did not wait")
	}
}

// A terminal (-dit): the monitor holds its master and logs what it shows;
// the shell, with input kept open, stays up.
func TestDetachedTerminal(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	detached(t, "-it", "--name", "tty", "--", "sh")
	eventually(t, "the prompt logged", func() bool { return strings.Contains(logsOf(t, "tty").stdout, "# ") })
	time.Sleep(200 * time.Millisecond)
	if row := psRowOf(t, "tty"); row.State != "running" {
		t.Errorf("the shell ended: %+v", row)
	}
	detached(t, "-i", "--name", "cat", "--", "cat")
	time.Sleep(200 * time.Millisecond)
	if row := psRowOf(t, "cat"); row.State != "running" {
		t.Errorf("-i: stdin was not kept open: %+v", row)
	}
	run(t, "rm", "-f", "tty", "cat")
	l.Check(t, 5*time.Second)
}

// 50 detached containers started at once, entered with exec at once, then
// removed at once: nothing is left.
func TestManyDetached(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	const n = 50
	ids := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := run(t, "run", "-d", "--name", fmt.Sprintf("many%02d", i), "--", "sleep", "100")
			mu.Lock()
			defer mu.Unlock()
			if r.code != 0 {
				failures = append(failures, fmt.Sprintf("%d: %+v", i, r))
			}
			ids[i] = strings.TrimSpace(r.stdout)
		}()
	}
	wg.Wait()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("many%02d", i)
	}
	t.Cleanup(func() { run(t, append([]string{"rm", "-f"}, names...)...) })
	if len(failures) > 0 {
		t.Fatalf("%d of %d failed to start: %s", len(failures), n, failures[0])
	}
	up := 0
	for _, line := range strings.Split(run(t, "ps", "--format", "json").stdout, "\n") {
		var row psRow
		if json.Unmarshal([]byte(line), &row) == nil && strings.HasPrefix(row.Names, "many") && row.State == "running" {
			up++
		}
	}
	if up != n {
		t.Errorf("%d of %d running", up, n)
	}
	// Entered at once, each by its name: the exec'd process is in it.
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := run(t, "exec", names[i], "hostname"); r.code != 0 || strings.TrimSpace(r.stdout) != sandboxShort(ids[i]) {
				t.Errorf("exec %s hostname: %+v", names[i], r)
			}
		}()
	}
	wg.Wait()
	// Removed at once: five rm -f commands side by side.
	for i := 0; i < n; i += 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := run(t, append([]string{"rm", "-f"}, names[i:i+10]...)...); r.code != 0 {
				t.Errorf("rm -f: %+v", r)
			}
		}()
	}
	wg.Wait()
	if r := run(t, "ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
		for _, id := range ids {
			if strings.Contains(r.stdout, sandboxShort(id)) {
				t.Errorf("left after rm -f: %s", id)
			}
		}
	}
	l.Check(t, 10*time.Second)
}

func sandboxShort(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Two commands at once on one container are taken one after the other
// (the container's lock): of four rm -f, one removes it and three find
// nothing; of three starts, one starts it, under one monitor.
func TestLockSerialises(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	detached(t, "--name", "contended", "--", "sleep", "100")
	results := make([]result, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = run(t, "rm", "-f", "contended") }()
	}
	wg.Wait()
	ok := 0
	for _, r := range results {
		switch {
		case r.code == 0 && r.stdout == "contended\n":
			ok++
		case r.code == 1 && strings.Contains(r.stderr, "no such container"):
		default:
			t.Errorf("concurrent rm -f: %+v", r)
		}
	}
	if ok != 1 {
		t.Errorf("%d of 4 rm -f removed it", ok)
	}
	detached(t, "--name", "once", "--", "sleep", "100")
	run(t, "stop", "-t", "0", "once")
	for i := range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = run(t, "start", "once") }()
	}
	wg.Wait()
	for _, r := range results[:3] {
		if r.code != 0 {
			t.Errorf("concurrent start: %+v", r)
		}
	}
	in := inspectOne(t, "once")
	// Counted by their command line, which every phase of a monitor has
	// (its comm is a descriptor's number for a moment at each execve).
	monitors := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(cmdline) == "stepbox-monitor\x00monitor\x00"+in.StateDir+"\x00" {
			monitors++
		}
	}
	if !in.State.Running || monitors != 1 {
		t.Errorf("after three starts: running %v, %d monitors", in.State.Running, monitors)
	}
	run(t, "rm", "-f", "once")
	l.Check(t, 5*time.Second)
}

func pidsNamed(comm string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(b)) == comm && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// Bad input: one line, docker's exit code, nothing changed.
func TestLifecycleBadInput(t *testing.T) {
	testutil.RequiresRoot(t)
	detached(t, "--name", "busy", "--", "sleep", "100")
	detached(t, "--name", "done", "--", "true")
	run(t, "wait", "done")
	busy := inspectOne(t, "busy")
	before := containersIn(t, testRoot)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"stop", "nosuch"}, 1, "no such container: nosuch"},
		{[]string{"kill", "nosuch"}, 1, "no such container"},
		{[]string{"logs", "nosuch"}, 1, "no such container"},
		{[]string{"start", "nosuch"}, 1, "no such container"},
		{[]string{"rm", "nosuch"}, 1, "no such container"},
		{[]string{"wait", "nosuch"}, 1, "no such container"},
		{[]string{"top", "nosuch"}, 1, "no such container"},
		{[]string{"container", "inspect", "nosuch"}, 1, "no such container"},
		{[]string{"rm", "busy"}, 1, "cannot remove running container busy (stop it first or use -f)"},
		{[]string{"kill", "done"}, 1, "cannot kill container done: it is not running"},
		{[]string{"top", "done"}, 1, "not running"},
		{[]string{"kill", "-s", "BOGUS", "busy"}, 2, "invalid signal"},
		{[]string{"logs", "--tail", "x", "busy"}, 2, "--tail"},
		{[]string{"run", "-d", "--name", "busy", "--", "true"}, 125, `container name "busy": name already in use`},
		{[]string{"run", "-d", "--restart", "always", "--rm", "--", "true"}, 125, "conflicting options"},
		{[]string{"run", "-d", "--restart", "sometimes", "--", "true"}, 125, "invalid restart policy"},
		{[]string{"run", "--restart", "always", "--", "true"}, 125, "--restart needs -d"},
		{[]string{"run", "-d", "--", "no-such-command"}, 127, "executable file not found"},
		{[]string{"run", "-d", "--", "/etc/passwd"}, 126, "permission denied"},
		{[]string{"run", "-d", "--rootfs", "/nonexistent", "--", "sh"}, 125, ""},
	} {
		r := run(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
		oneLine(t, strings.Join(tc.args, " "), r)
	}
	if after := containersIn(t, testRoot); after != before {
		t.Errorf("containers changed:\nbefore %s\nafter  %s", before, after)
	}
	if got := inspectOne(t, "busy"); got.State.Pid != busy.State.Pid || !got.State.Running {
		t.Errorf("busy changed: %+v", got.State)
	}
	if r := run(t, "rm", "busy"); !strings.Contains(r.stderr, "stepbox: cannot remove running container busy") {
		t.Errorf("docker's wording: %q", r.stderr)
	}
}

// Unprivileged, ps and top read what the kernel lets them; what changes a
// container says "needs root" in one line.
func TestLifecycleUnprivileged(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresCommand(t, "setpriv")
	detached(t, "--name", "watched", "--", "sleep", "100")
	as := func(args ...string) result {
		return stepbox(t, nobody, append([]string{"--root", testRoot}, args...)...)
	}
	if r := as("ps", "-a"); r.code != 0 || !strings.Contains(r.stdout, "watched") {
		t.Errorf("ps as nobody: %+v", r)
	}
	if r := as("top", "watched"); r.code != 0 || !strings.Contains(r.stdout, "sleep 100") {
		t.Errorf("top as nobody: %+v", r)
	}
	for _, args := range [][]string{{"stop", "watched"}, {"kill", "watched"}, {"rm", "-f", "watched"}, {"start", "watched"}, {"logs", "watched"}} {
		r := as(args...)
		if r.code != 1 || !strings.Contains(r.stderr, "needs root") {
			t.Errorf("%v as nobody: %+v", args, r)
		}
		oneLine(t, strings.Join(args, " "), r)
	}
	if row := psRowOf(t, "watched"); row.State != "running" {
		t.Errorf("changed by nobody: %+v", row)
	}
}

// A crash of any one process at any phase of a container's life leaves no
// kernel object behind: the command line, the monitor or the init is
// killed (SIGKILL) while the process named in stall is stopped at that
// phase; then the container is either gone, or shows what happened and
// rm -f removes everything it had.
func TestCrashAtEachPhase(t *testing.T) {
	testutil.RequiresRoot(t)
	type outcome int
	const (
		gone   outcome = iota // no container left, the CLI failed (125)
		exited                // the container exists, exited with status
		either                // a race decides between the two
	)
	for _, tc := range []struct {
		stall  string // where the process stops itself
		victim string // cli, monitor or init
		want   outcome
		status string // exited: ps's status
	}{
		// The monitor runs on while the command line waits: it may have
		// reported before it is killed.
		{"cli-spawned", "monitor", either, "Exited (-1)"},
		{"monitor-read", "monitor", gone, ""},
		{"monitor-read", "cli", gone, ""},
		{"monitor-created", "monitor", gone, ""},
		{"monitor-created", "init", gone, ""},
		{"monitor-created", "cli", gone, ""},
		{"monitor-started", "monitor", gone, ""},
		{"monitor-started", "init", exited, "Exited (137)"},
		{"monitor-started", "cli", gone, ""},
		{"monitor-reported", "monitor", exited, "Exited (-1)"},
		{"monitor-reported", "init", exited, "Exited (137)"},
		{"watch", "monitor", exited, "Exited (-1)"},
		{"watch", "init", exited, "Exited (137)"},
		{"exited", "monitor", exited, "Exited (-1)"},
		{"backoff", "monitor", exited, "Exited (1)"},
		{"restarted", "monitor", exited, "Exited (-1)"},
		{"restarted", "init", exited, "Exited (137)"},
	} {
		t.Run(tc.stall+"/"+tc.victim, func(t *testing.T) {
			l := testutil.Snapshot()
			name := "crash-" + strings.ReplaceAll(tc.stall+"-"+tc.victim, "/", "-")
			t.Cleanup(func() { run(t, "rm", "-f", name) })
			pidfile := filepath.Join(t.TempDir(), "stalled")
			args := []string{"--root", testRoot, "run", "-d", "--name", name}
			payload := []string{"--", "sleep", "100"}
			switch tc.stall {
			case "exited":
				payload = []string{"--", "true"}
			case "backoff", "restarted":
				args = append(args, "--restart", "on-failure:1")
				// The first run fails, the second runs on.
				payload = []string{"--", "sh", "-c", "test -f /tmp/" + name + " && exec sleep 100; touch /tmp/" + name + "; exit 1"}
				t.Cleanup(func() { os.Remove(filepath.Join(testRoot, "lib/rootfs/default/tmp", name)) })
			}
			cli := exec.Command(stepboxBin, append(args, payload...)...)
			cli.Env = append(os.Environ(), "NO_COLOR=1", "_STEPBOX_TEST_STALL="+tc.stall+":"+pidfile)
			var stdout, stderr bytes.Buffer
			cli.Stdout, cli.Stderr = &stdout, &stderr
			if err := cli.Start(); err != nil {
				t.Fatal(err)
			}
			cliDone := make(chan struct{})
			go func() { _ = cli.Wait(); close(cliDone) }()
			var stalled int
			eventually(t, "the process stops at "+tc.stall, func() bool {
				b, err := os.ReadFile(pidfile)
				if err != nil {
					return false
				}
				stalled, _ = strconv.Atoi(string(b))
				st, _, _, _, _ := procStat(stalled)
				return st == "T"
			})
			var victim int
			switch tc.victim {
			case "cli":
				victim = cli.Process.Pid
			case "monitor":
				victim = stalled
				if tc.stall == "cli-spawned" {
					victim = childOf(cli.Process.Pid)
				}
			case "init":
				victim = childNamed(stalled, "stepbox-init")
			}
			if victim <= 0 {
				t.Fatalf("no %s to kill", tc.victim)
			}
			unix.Kill(victim, unix.SIGKILL)
			// Dead, its descriptors closed, before the stalled one goes on:
			// the command line is reaped only once all its threads are
			// gone; a leader shows Z while the others still exit.
			if tc.victim == "cli" {
				<-cliDone
			}
			eventually(t, "the "+tc.victim+" dies", func() bool { return !alive(victim) })
			unix.Kill(stalled, unix.SIGCONT)
			select {
			case <-cliDone:
			case <-time.After(20 * time.Second):
				cli.Process.Kill()
				t.Fatal("the command line hangs")
			}
			code := cli.ProcessState.ExitCode()
			switch tc.want {
			case gone:
				if tc.victim != "cli" && (code != 125 || strings.Count(stderr.String(), "\n") != 1) {
					t.Errorf("run -d: exit %d, stderr %q; want 125 and one line", code, stderr.String())
				}
				eventually(t, "no container", func() bool { return psRowOf(t, name).ID == "" })
			case exited:
				if tc.victim != "cli" && code != 0 {
					t.Errorf("run -d: exit %d (%s)", code, stderr.String())
				}
				eventually(t, "it shows "+tc.status, func() bool { return strings.HasPrefix(psRowOf(t, name).Status, tc.status) })
			}
			if r := run(t, "rm", "-f", name); tc.want == exited && r.code != 0 {
				t.Errorf("rm -f: %+v", r)
			}
			l.Check(t, 5*time.Second)
		})
	}
}

// childOf returns a child of pid (0: none).
func childOf(pid int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if c, err := strconv.Atoi(e.Name()); err == nil {
			if _, ppid, _, _, _ := procStat(c); ppid == pid && alive(c) {
				return c
			}
		}
	}
	return 0
}

// childNamed returns the child of pid whose comm is comm (0: none).
func childNamed(pid int, comm string) int {
	for _, c := range pidsNamed(comm) {
		if _, ppid, _, _, _ := procStat(c); ppid == pid {
			return c
		}
	}
	return 0
}
