package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// run starts `stepbox --root testRoot ARGS`.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runIn(t, testRoot, args...)
}

// runIn starts `stepbox --root root ARGS`; a root from builtinRoot says
// which kind of built-in rootfs a container gets.
func runIn(t *testing.T, root string, args ...string) result {
	t.Helper()
	return stepbox(t, nil, append([]string{"--root", root}, args...)...)
}

// kinds are both kinds of built-in rootfs, for the tests that run on each.
var kinds = []builtinfs.Source{builtinfs.SourceBusybox, builtinfs.SourceHostTools}

// proc is a `stepbox run` that a test drives as a process: signals, a
// terminal.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited and been waited for
}

// runSeq numbers the containers startRun names.
var runSeq int

// startRun starts `stepbox --root root run --name NAME ARGS` with start
// (cmd.Start when nil, or a pty's) and returns it running. When the test
// ends, passed or failed, container NAME is killed and removed, which ends
// the run; a run that still does not end is killed.
func startRun(t *testing.T, root string, start func(*exec.Cmd) error, args ...string) *proc {
	t.Helper()
	runSeq++
	name := fmt.Sprintf("test-%d", runSeq)
	cmd := exec.Command(stepboxBin, append([]string{"--root", root, "run", "--name", name}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en")
	if start == nil {
		start = (*exec.Cmd).Start
	}
	if err := start(cmd); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		if err := removeContainer(sandbox.DefaultPaths(root), name); err != nil {
			t.Errorf("remove container %s: %v", name, err)
		}
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exit waits for the run to end, at most d, and returns its exit code.
func (p *proc) exit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("%v still running after %v", p.cmd.Args, d)
		return 0
	}
}

// oneLine checks that stderr is a single "stepbox: …" line.
func oneLine(t *testing.T, what string, r result) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "stepbox: ") {
		t.Errorf("%s: stderr is not one 'stepbox:' line: %q", what, r.stderr)
	}
}

// On both kinds of built-in rootfs.
func TestRunExitCodes(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			root := builtinRoot(t, kind)
			l := testutil.Snapshot()
			for _, tc := range []struct {
				args []string
				code int
				out  string
			}{
				{[]string{"--rm", "--", "true"}, 0, ""},
				{[]string{"--rm", "--", "sh", "-c", "echo out; exit 7"}, 7, "out\n"},
				{[]string{"--rm", "--", "sh", "-c", "kill -TERM $$"}, 143, ""},
				{[]string{"--rm", "--", "no-such-command"}, 127, ""},
				{[]string{"--rm", "--", "/etc/passwd"}, 126, ""},
			} {
				r := runIn(t, root, append([]string{"run"}, tc.args...)...)
				if r.code != tc.code || r.stdout != tc.out {
					t.Errorf("run %v: exit %d, stdout %q, stderr %q; want exit %d, stdout %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out)
				}
				if tc.code >= 126 && tc.code <= 127 {
					oneLine(t, strings.Join(tc.args, " "), r)
				}
			}
			l.Check(t, 5*time.Second)
		})
	}
}

// Bad input: one clear line, exit 125, and nothing made is left.
func TestRunBadInput(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	run := func(t *testing.T, args ...string) result { t.Helper(); return runIn(t, root, args...) }
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if r := run(t, "run", "--name", "taken", "--", "true"); r.code != 0 {
		t.Fatalf("setup: %+v", r)
	}
	defer run(t, "rm", "taken")
	containers := func(t *testing.T) string { return containersIn(t, root) }
	before := containers(t)
	l := testutil.Snapshot()
	for name, args := range map[string][]string{
		"missing rootfs":      {"--rootfs", "/nonexistent", "--", "sh"},
		"rootfs is a file":    {"--rootfs", file, "--", "sh"},
		"rootfs without cmd":  {"--", "/bin/no-such-tool"},
		"unknown namespace":   {"--ns", "uts,bogus", "--", "sh"},
		"bad user":            {"-u", "mallory", "--", "sh"},
		"bind source missing": {"-v", "/nonexistent:/x", "--", "sh"},
		"relative volume":     {"-v", "data:/x", "--", "sh"},
		"bad memory":          {"--memory", "12zb", "--", "sh"},
		"memory too small":    {"--memory", "1k", "--", "sh"},
		"bad cpus":            {"--cpus", "-1", "--", "sh"},
		"unknown capability":  {"--cap-add", "CAP_FLY", "--", "sh"},
		"bad security-opt":    {"--security-opt", "apparmor=x", "--", "sh"},
		"name in use":         {"--name", "taken", "--", "true"},
		"bad name":            {"--name", "../x", "--", "true"},
		"unknown flag":        {"--bogus", "--", "sh"},
	} {
		r := run(t, append([]string{"run", "--rm"}, args...)...)
		want := 125
		if name == "rootfs without cmd" {
			want = 127
		}
		if r.code != want {
			t.Errorf("%s: exit %d, want %d (stderr %q)", name, r.code, want, r.stderr)
		}
		oneLine(t, name, r)
	}
	if after := containers(t); after != before {
		t.Errorf("containers before %q, after %q", before, after)
	}
	l.Check(t, 5*time.Second)
	if r := run(t, "run", "--rm", "--name", "taken", "--", "true"); !strings.Contains(r.stderr, "stepbox rm taken") {
		t.Errorf("name in use gives no hint of what to do: %q", r.stderr)
	}
}

// The minimal init (stepbox-exec's C one where the kernel allows it; see
// TestRunLeanInit) reaps the orphans the pid namespace gives it, passes on a signal the
// payload handles, reports a payload the kernel cannot execute as the Go
// init would (126 and one line), and still ends with the payload under a
// seccomp profile that refuses it signals.
func TestRunMinimalInit(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	l := testutil.Snapshot()
	// The orphan's parent exits at once; PID 1 inherits it and must reap
	// it when it ends, or ps shows a zombie.
	r := runIn(t, root, "run", "--rm", "--", "sh", "-c",
		"sh -c 'sleep 0.1 &'; sleep 0.5; ps -o stat,comm")
	if r.code != 0 || strings.Contains(r.stdout, "Z ") || !strings.Contains(r.stdout, "stepbox-init") {
		t.Errorf("an orphan in the container: %+v", r)
	}
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "garbage"), []byte("not a program\n"), 0o755)
	r = runIn(t, root, "run", "--rm", "-v", bin+":/x:ro", "--", "/x/garbage")
	if r.code != 126 || !strings.Contains(r.stderr, "exec /x/garbage: exec format error") {
		t.Errorf("a file the kernel cannot execute: %+v", r)
	}
	oneLine(t, "exec format error", r)
	// A profile that refuses the call it takes signals with: it still
	// reaps, and ends with the payload.
	profile := filepath.Join(bin, "no-sigwait.json")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW",
		"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
		"syscalls": [{"names": ["rt_sigtimedwait"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`), 0o644)
	p := startRun(t, root, nil, "--rm", "--security-opt", "seccomp="+profile, "--", "sh", "-c", "sleep 0.2; exit 5")
	if got := p.exit(t, 10*time.Second); got != 5 {
		t.Errorf("without rt_sigtimedwait: exit %d, want 5", got)
	}
	var stdout syncBuffer
	p = startRun(t, root, func(c *exec.Cmd) error { c.Stdout = &stdout; return c.Start() },
		"--rm", "--", "sh", "-c", "trap 'echo caught; exit 7' TERM; echo ready; sleep 30 & wait")
	eventually(t, "the trap set", func() bool { return stdout.String() == "ready\n" })
	p.cmd.Process.Signal(syscall.SIGTERM)
	if got := p.exit(t, 10*time.Second); got != 7 || stdout.String() != "ready\ncaught\n" {
		t.Errorf("a trapped SIGTERM: exit %d, stdout %q; want 7, \"caught\"", got, stdout.String())
	}
	l.Check(t, 5*time.Second)
}

// containersIn lists every container's id and state under root, to
// compare (ps's times would differ from one call to the next).
func containersIn(t *testing.T, root string) string {
	r := runIn(t, root, "ps", "-a", "--format", "json")
	var ids []string
	for _, line := range strings.Split(r.stdout, "\n") {
		var row struct{ ID, State string }
		if json.Unmarshal([]byte(line), &row) == nil {
			ids = append(ids, row.ID+" "+row.State)
		}
	}
	return strings.Join(ids, ",")
}

// Ctrl-C reaches sleep (the minimal init passes it on) and the exit code
// says which signal ended it, as a shell would: 130 for SIGINT, 143 for
// SIGTERM.
func TestRunSignals(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143} {
		l := testutil.Snapshot()
		var stderr syncBuffer
		p := startRun(t, root, func(c *exec.Cmd) error { c.Stderr = &stderr; return c.Start() }, "--rm", "--", "sleep", "30")
		waitForChild(t, p.cmd.Process.Pid, "sleep")
		p.cmd.Process.Signal(sig)
		if got := p.exit(t, 10*time.Second); got != want {
			t.Errorf("%v: exit %d, want %d (%s)", sig, got, want, stderr.String())
		}
		l.Check(t, 5*time.Second)
	}
}

// waitForChild waits until a descendant of pid runs comm.
func waitForChild(t *testing.T, pid int, comm string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := exec.Command("pgrep", "-P", fmt.Sprint(pid)).Output()
		for _, p := range strings.Fields(string(out)) {
			if kids, _ := exec.Command("pgrep", "-P", p, "-x", comm).Output(); len(kids) > 0 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s under pid %d", comm, pid)
}

// A terminal session driven like a person would: -it gives a real tty of
// the container's own, with the size of ours and resized with it; keys
// reach the shell; the exit code comes back. On both kinds of built-in
// rootfs.
func TestRunTerminal(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) { testTerminal(t, builtinRoot(t, kind)) })
	}
}

func testTerminal(t *testing.T, root string) {
	l := testutil.Snapshot()
	var ptmx *os.File
	p := startRun(t, root, func(c *exec.Cmd) (err error) {
		ptmx, err = pty.StartWithSize(c, &pty.Winsize{Rows: 40, Cols: 100})
		return err
	}, "-it", "--rm", "--", "sh")
	t.Cleanup(func() { ptmx.Close() })
	out := &syncBuffer{}
	go io.Copy(out, ptmx)
	send := func(s string) { ptmx.Write([]byte(s)) }
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
	send("stty size; tty; echo $((6*7))x\r")
	expect("40 100")
	expect("/dev/pts/0")
	expect("42x")
	pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 90})
	time.Sleep(100 * time.Millisecond)
	send("stty size\r")
	expect("30 90")
	send("exit 3\r")
	if got := p.exit(t, 10*time.Second); got != 3 {
		t.Errorf("exit %d, want 3; screen:\n%s", got, out.String())
	}
	l.Check(t, 5*time.Second)
}

type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func (s *syncBuffer) lock() {
	if s.mu == nil {
		s.mu = make(chan struct{}, 1)
	}
	s.mu <- struct{}{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.lock()
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.lock()
	defer func() { <-s.mu }()
	return s.b.String()
}

func TestRunStdinAndEnv(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	r := stepboxWith(t, strings.NewReader("from stdin\n"), nil, "--root", root, "run", "-i", "--rm", "-e", "GREETING=hi", "-w", "/tmp/work", "--", "sh", "-c", "cat; echo $GREETING $HOSTNAME; pwd")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || lines[0] != "from stdin" || !strings.HasPrefix(lines[1], "hi ") || lines[2] != "/tmp/work" {
		t.Errorf("output %q", r.stdout)
	}
	// Without -i the container's stdin is empty.
	if r := stepboxWith(t, strings.NewReader("should not arrive\n"), nil, "--root", root, "run", "--rm", "--", "cat"); r.stdout != "" {
		t.Errorf("stdin reached the container without -i: %q", r.stdout)
	}
}

// With --userns, root inside is an unprivileged uid outside: a file made
// through a bind mount belongs to it on the host.
func TestRunUserNamespaceVolume(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	run := func(t *testing.T, args ...string) result { t.Helper(); return runIn(t, root, args...) }
	// The source must be reachable by the container's root (uid 100000 on
	// the host): t.TempDir's parent is 0700.
	dir, err := os.MkdirTemp(filepath.Dir(testRoot), "volume-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chown(dir, int(sandbox.DefaultIDMap.HostID), int(sandbox.DefaultIDMap.HostID))
	r := run(t, "run", "--rm", "--userns", "-v", dir+":/mnt", "--", "sh", "-c", "id -u; touch /mnt/made-inside")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
		t.Fatalf("%+v", r)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "made-inside"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != sandbox.DefaultIDMap.HostID {
		t.Errorf("file owned by uid %d on the host, want %d", st.Uid, sandbox.DefaultIDMap.HostID)
	}
	// A read-only volume stays read-only.
	r = run(t, "run", "--rm", "-v", dir+":/mnt:ro", "--", "touch", "/mnt/x")
	if r.code == 0 {
		t.Error("wrote through a read-only volume")
	}
	// A source below a directory the container's root cannot search (mode
	// 0700, the host's root's) is bound all the same: stepbox copies its
	// tree on the host side (open_tree) and the init attaches it. It stays
	// read-only when asked, in the user namespace too.
	hidden := filepath.Join(t.TempDir(), "hidden")
	if err := os.MkdirAll(filepath.Join(hidden, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(hidden, 0o700)
	if err := os.WriteFile(filepath.Join(hidden, "data", "f"), []byte("seen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, "run", "--rm", "--userns", "-v", filepath.Join(hidden, "data")+":/mnt:ro", "--", "sh", "-c", "cat /mnt/f; touch /mnt/x 2>/dev/null && echo wrote; true")
	if r.code != 0 || r.stdout != "seen\n" {
		t.Errorf("bind from below a 0700 directory in a user namespace: %+v", r)
	}
	// A target that is missing is made in the container's own layer over
	// the built-in image, which its root owns, in a user namespace too. In
	// a plain directory the host's root made (--rootfs) it cannot make
	// one: one line says why and what to do.
	plain := defaultRootfsDir(sandbox.DefaultPaths(root))
	for _, args := range [][]string{{"-w", "/no-such-dir"}, {"-v", dir + ":/no-such-dir"}} {
		r = run(t, append(append([]string{"run", "--rm", "--userns"}, args...), "--", "true")...)
		if r.code != 0 {
			t.Errorf("%v on the built-in image: %+v", args, r)
		}
		r = run(t, append(append([]string{"run", "--rm", "--userns", "--rootfs", plain}, args...), "--", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, "in a user namespace") {
			t.Errorf("%v on --rootfs %s: %+v", args, plain, r)
		}
		oneLine(t, strings.Join(args, " "), r)
	}
}

// The limits and security flags reach the kernel: the cgroup files, the
// capability sets, seccomp and no_new_privs as /proc shows them inside.
func TestRunLimitsAndSecurity(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	run := func(t *testing.T, args ...string) result { t.Helper(); return runIn(t, root, args...) }
	r := run(t, "run", "--rm", "--memory", "64m", "--pids-limit", "50", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE", "--",
		"sh", "-c", "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; cat /proc/self/cgroup")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{"CapEff:\t0000000000000400", "Seccomp:\t2", "NoNewPrivs:\t1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	r = run(t, "run", "--rm", "--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges=false", "--", "grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status")
	if !strings.Contains(r.stdout, "NoNewPrivs:\t0") || !strings.Contains(r.stdout, "Seccomp:\t0") {
		t.Errorf("security-opt ignored:\n%s", r.stdout)
	}
	// A user that is not root and has no capability left still gets its
	// container started (the init opens the start fifo as that user).
	for _, userns := range [][]string{nil, {"--userns"}} {
		args := append(append([]string{"run", "--rm"}, userns...), "-u", "1000:1000", "--cap-drop", "ALL", "--", "id")
		if r := run(t, args...); r.code != 0 || strings.TrimSpace(r.stdout) != "uid=1000 gid=1000" {
			t.Errorf("%v: %+v", args, r)
		}
	}
	// docker's default profile refuses unshare(2) with EPERM.
	r = run(t, "run", "--rm", "--", "unshare", "-u", "true")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "Operation not permitted") {
		t.Errorf("unshare was not refused: %+v", r)
	}
}

// A hog past --memory is killed by the kernel's OOM killer (137, as docker
// reports it), and its cgroup goes with the container. On both kinds of
// built-in rootfs.
func TestRunOOMKill(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			root := builtinRoot(t, kind)
			l := testutil.Snapshot()
			r := runIn(t, root, "run", "--rm", "--memory", "32m", "--memory-swap", "32m", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1")
			if r.code != 137 {
				t.Errorf("exit %d, want 137 (killed); stderr %q", r.code, r.stderr)
			}
			l.Check(t, 5*time.Second)
		})
	}
}

// --privileged: every capability the runtime holds, no seccomp filter, no
// masked /proc, a warning, and UTS and domain names still the container's.
func TestRunPrivileged(t *testing.T) {
	testutil.RequiresRoot(t)
	r := runIn(t, builtinRoot(t, builtinfs.SourceBusybox), "run", "--rm", "--privileged", "--hostname", "priv", "--domainname", "example.test", "--",
		"sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; wc -c < /proc/keys; hostname; cat /proc/sys/kernel/domainname")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if !strings.Contains(r.stderr, "warning: --privileged") {
		t.Errorf("no warning: %q", r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 || lines[0] == "CapEff:\t0000000000000000" || lines[1] != "Seccomp:\t0" ||
		lines[2] == "0" || lines[3] != "priv" || lines[4] != "example.test" {
		t.Errorf("output %q", r.stdout)
	}
	self, _ := os.ReadFile("/proc/self/status")
	if !strings.Contains(string(self), strings.Replace(lines[0], "CapEff", "CapBnd", 1)) {
		t.Errorf("privileged caps %q are not the runtime's own bounding set", lines[0])
	}
}

// --security-opt seccomp=PROFILE.json takes docker's profile format: a
// profile that refuses one call (mkdir) gets EPERM for it, and nothing
// else changes; a malformed profile is one clear line and 125.
func TestRunSeccompProfileFile(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	run := func(t *testing.T, args ...string) result { t.Helper(); return runIn(t, root, args...) }
	dir := t.TempDir()
	profile := filepath.Join(dir, "deny-mkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW",
		"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`), 0o644)
	r := run(t, "run", "--rm", "--security-opt", "seccomp="+profile, "--", "sh", "-c", "mkdir /tmp/x; grep Seccomp: /proc/self/status")
	if !strings.Contains(r.stdout+r.stderr, "Operation not permitted") || !strings.Contains(r.stdout, "Seccomp:\t2") {
		t.Errorf("mkdir not refused by the profile: %+v", r)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"defaultAction": `), 0o644)
	r = run(t, "run", "--rm", "--security-opt", "seccomp="+bad, "--", "true")
	if r.code != 125 {
		t.Errorf("malformed profile: exit %d, want 125", r.code)
	}
	oneLine(t, "malformed profile", r)
}

// Each container's init is stepbox-init (a read-only view or a sealed
// copy), the lean build beside stepbox, not stepbox itself, and the
// minimal init it leaves beside the payload is stepbox-exec's C one. A
// binary that others could have changed is not used: without stepbox-exec
// the Go init reaps, without stepbox-init stepbox copies itself.
func TestRunLeanInit(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	dir := filepath.Dir(stepboxBin)
	lean := filepath.Join(dir, sandbox.InitBinaryName)
	execStage := filepath.Join(dir, sandbox.ExecBinaryName)
	size := func(p string) int64 {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	// The container's PID 1 beside a running payload: its binary's link
	// and size, and its number of threads.
	initExe := func() (string, int64, int) {
		t.Helper()
		p := startRun(t, root, nil, "--rm", "--", "sleep", "30")
		defer func() {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.exit(t, 10*time.Second)
		}()
		waitForChild(t, p.cmd.Process.Pid, "sleep")
		out, err := exec.Command("pgrep", "-P", fmt.Sprint(p.cmd.Process.Pid), "-x", "stepbox-init").Output()
		if err != nil {
			t.Fatalf("no stepbox-init under stepbox: %v", err)
		}
		pid := strings.TrimSpace(string(out))
		exe := "/proc/" + pid + "/exe"
		link, _ := os.Readlink(exe)
		tasks, err := os.ReadDir("/proc/" + pid + "/task")
		if err != nil {
			t.Fatal(err)
		}
		return link, size(exe), len(tasks)
	}
	// The minimal init in C: stepbox-exec's constructor, one thread, seen
	// through the read-only view. A kernel without one (before 6.8) gets
	// sealed copies, and then the Go init reaps (DESIGN.md, "Start
	// latency").
	link, got, threads := initExe()
	// A pids limit as small as docker takes: the C init, sh and a sleep.
	small := runIn(t, root, "run", "--rm", "--pids-limit", "3", "--", "sh", "-c", "sleep 0.1 & wait; echo ok")
	switch {
	case strings.HasPrefix(link, "/memfd:"):
		t.Logf("no read-only view on this kernel: the Go init reaps")
		if want := size(lean); got != want {
			t.Errorf("the init's binary has %d bytes, stepbox-init %d", got, want)
		}
		if small.code != 125 || !strings.Contains(small.stderr, "leaves no room") {
			t.Errorf("--pids-limit 3 with the Go init: %+v", small)
		}
	case link != "/"+sandbox.ExecBinaryName:
		t.Errorf("the minimal init runs %s, not stepbox-exec's read-only view", link)
	case got != size(execStage) || threads != 1:
		t.Errorf("the minimal init's binary has %d bytes and %d threads, want stepbox-exec's %d and 1", got, threads, size(execStage))
	case small.code != 0 || small.stdout != "ok\n":
		t.Errorf("--pids-limit 3 with the C init: %+v", small)
	}
	// Without a trusted stepbox-exec, stepbox-init reaps, in Go.
	if err := os.Chmod(execStage, 0o777); err != nil {
		t.Fatal(err)
	}
	link, got, _ = initExe()
	os.Chmod(execStage, 0o755)
	if !strings.HasPrefix(link, "/memfd:") && link != "/"+sandbox.InitBinaryName {
		t.Errorf("the init runs %s, neither a memfd nor stepbox-init's read-only view", link)
	}
	if want := size(lean); got != want {
		t.Errorf("the init's binary has %d bytes, stepbox-init %d", got, want)
	}
	// Without a trusted stepbox-init, stepbox itself.
	if err := os.Chmod(lean, 0o777); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(lean, 0o755)
	if _, got, _ := initExe(); got != size(stepboxBin) {
		t.Errorf("with a world-writable stepbox-init the init's binary has %d bytes, want stepbox's own %d", got, size(stepboxBin))
	}
}

// The init's binary cannot be written from a privileged container, whether
// it runs from the read-only view or the sealed copy: not through
// /proc/1/exe (CVE-2019-5736), and not through /proc/1/map_files, which
// root with CAP_SYS_ADMIN may open (proc(5)). overlayfs maps the file
// beneath, but since Linux 6.6 a mapping's path is the overlay's (a
// backing file), which is read-only.
func TestInitBinaryNotWritable(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	script := `for f in /proc/1/exe $(ls -d /proc/1/map_files/* | head -1); do
	if (exec 3>>"$f") 2>/dev/null; then echo "WRITABLE $f"; else echo "refused $f"; fi
done`
	r := runIn(t, root, "run", "--rm", "--privileged", "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "WRITABLE") || strings.Count(r.stdout, "refused") != 2 {
		t.Errorf("the init's binary from inside a privileged container:\n%s", r.stdout)
	}
}
