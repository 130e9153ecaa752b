package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/testutil"
)

// The exec stage is a binary of its own (stepbox-exec), which the tests
// build once, as make does; where one lies beside the test binary (the
// qemu machine of TestExecInQemu) they use that.
var (
	execStageOnce sync.Once
	execStageDir  string
	execStageErr  error
)

func needExecStage(t *testing.T) {
	t.Helper()
	execStageOnce.Do(func() {
		if self, err := os.Executable(); err == nil {
			if _, err := os.Stat(filepath.Join(filepath.Dir(self), ExecBinaryName)); err == nil {
				return
			}
		}
		if execStageDir, execStageErr = os.MkdirTemp("", "stepbox-exec-"); execStageErr != nil {
			return
		}
		execStageErr = testutil.GoBuild("./cmd/stepbox-exec", filepath.Join(execStageDir, ExecBinaryName))
		execBinaryDir = execStageDir
	})
	if execStageErr != nil {
		t.Fatalf("build %s: %v", ExecBinaryName, execStageErr)
	}
}

func removeExecStage() {
	if execStageDir != "" {
		os.RemoveAll(execStageDir)
	}
}

// execOut runs s in c with the container's defaults and returns the output
// and exit code.
func execOut(t *testing.T, c *Container, s ExecSettings) (string, int) {
	t.Helper()
	p, err := c.ExecProcess(s)
	if err != nil {
		t.Fatalf("exec process: %v", err)
	}
	var out bytes.Buffer
	proc, err := c.Exec(p, ExecOptions{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("exec %v: %v", s.Args, err)
	}
	code, err := proc.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return out.String(), code
}

// execStarted starts s in c and leaves it running; cleanup kills it.
func execStarted(t *testing.T, c *Container, s ExecSettings) *Process {
	t.Helper()
	p, err := c.ExecProcess(s)
	if err != nil {
		t.Fatalf("exec process: %v", err)
	}
	proc, err := c.Exec(p, ExecOptions{})
	if err != nil {
		t.Fatalf("exec %v: %v", s.Args, err)
	}
	t.Cleanup(func() {
		_ = proc.Signal(syscall.SIGKILL)
		proc.Wait()
	})
	return proc
}

// payloadPid is the container's payload: its init, or the minimal init's
// only child.
func payloadPid(t *testing.T, c *Container) int {
	t.Helper()
	if !c.State().Init {
		return c.Pid()
	}
	p := fmt.Sprintf("/proc/%d/task/%d/children", c.Pid(), c.Pid())
	deadline := time.Now().Add(2 * time.Second)
	for {
		b, _ := os.ReadFile(p)
		if f := strings.Fields(string(b)); len(f) == 1 {
			pid, _ := strconv.Atoi(f[0])
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the minimal init's children: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// status reads the named fields of /proc/PID/status (proc(5)), spaces
// normalised.
func status(t *testing.T, pid int, keys ...string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		for _, want := range keys {
			if k == want {
				out[k] = strings.Join(strings.Fields(v), " ")
			}
		}
	}
	return out
}

func readProc(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// An exec'd process is where the container's payload is, as the host's
// /proc sees both: the same eight namespaces (lsns agrees), the same
// cgroups, the same capabilities, no_new_privs and seccomp filter; with a
// user namespace, uid 0 inside and the mapped uid on the host. With and
// without the minimal init, whose own time namespace is the host's.
func TestExecLandsWhereThePayloadIs(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	for _, tc := range []struct {
		name         string
		init, userns bool
	}{
		{"plain", false, false},
		{"init", true, false},
		{"userns", false, true},
		{"userns+init", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := sleeper(t)
			SetNamespace(spec, specs.UserNamespace, tc.userns)
			timens := HasNamespace(spec, specs.TimeNamespace)
			if timens {
				// A clock a year ahead, to tell the time namespace by.
				spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 365 * 86400}}
			}
			c := started(t, spec, Options{Init: tc.init})
			payload := payloadPid(t, c)
			proc := execStarted(t, c, ExecSettings{Args: []string{"sleep", "30"}})

			for _, ns := range procNames {
				want, got := nsInode(t, payload, ns), nsInode(t, proc.Pid, ns)
				if got != want {
					t.Errorf("%s namespace: exec'd %d, payload %d", ns, got, want)
				}
				if got == nsInode(t, os.Getpid(), ns) && (ns != "user" || tc.userns) && (ns != "time" || timens) {
					t.Errorf("%s namespace: the exec'd process has the host's", ns)
				}
			}
			if got, want := readProc(t, proc.Pid, "cgroup"), readProc(t, payload, "cgroup"); got != want {
				t.Errorf("cgroups: exec'd\n%s\npayload\n%s", got, want)
			}
			keys := []string{"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters"}
			got, want := status(t, proc.Pid, keys...), status(t, payload, keys...)
			for _, k := range keys {
				if got[k] != want[k] {
					t.Errorf("%s: exec'd %q, payload %q", k, got[k], want[k])
				}
			}
			if got["NoNewPrivs"] != "1" || got["Seccomp"] != "2" {
				t.Errorf("NoNewPrivs %s, Seccomp %s: want 1 and 2 (filter)", got["NoNewPrivs"], got["Seccomp"])
			}
			wantUID := "0 0 0 0"
			if tc.userns {
				wantUID = "100000 100000 100000 100000"
			}
			if got["Uid"] != wantUID {
				t.Errorf("Uid on the host: %q, want %q", got["Uid"], wantUID)
			}
			// Inside: root, the container's hostname, its PID 1 in ps,
			// its clock a year ahead.
			o, code := execOut(t, c, ExecSettings{Args: []string{"sh", "-c", "id -u; hostname; ps -o pid,comm | grep -c '^ *1 '; cut -d. -f1 /proc/uptime"}})
			f := strings.Fields(o)
			if code != 0 || len(f) != 4 || f[0] != "0" || f[1] != "stepbox" || f[2] != "1" {
				t.Fatalf("inside: exit %d, %q", code, o)
			}
			if up, _ := strconv.Atoi(f[3]); timens && up < 365*86400 {
				t.Errorf("uptime inside is %s s: not the container's clock", f[3])
			}
		})
	}
}

// A container that shares some of the host's namespaces: the exec'd
// process joins the container's and keeps sharing the rest (setns(2) is
// asked only for the ones that differ; it refuses to re-enter our own user
// namespace).
func TestExecSomeNamespaces(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	spec := DefaultSpec("/", "/bin/sleep", "30")
	SetNamespaces(spec, []specs.LinuxNamespaceType{specs.UTSNamespace, specs.PIDNamespace})
	spec.Process.Capabilities = nil
	c := started(t, spec, Options{})
	proc := execStarted(t, c, ExecSettings{Args: []string{"/bin/sleep", "30"}})
	for _, ns := range procNames {
		want := nsInode(t, os.Getpid(), ns)
		if ns == "uts" || ns == "pid" {
			want = nsInode(t, c.Pid(), ns)
		}
		if got := nsInode(t, proc.Pid, ns); got != want {
			t.Errorf("%s namespace: %d, want %d", ns, got, want)
		}
	}
	out, code := execOut(t, c, ExecSettings{Args: []string{"/bin/sh", "-c", "hostname; echo $$"}})
	if f := strings.Fields(out); code != 0 || len(f) != 2 || f[0] != "stepbox" || f[1] == "1" {
		t.Errorf("exit %d: %q", code, out)
	}
}

// lsns, a witness that reads the namespaces its own way, agrees that the
// exec'd process is in the payload's eight.
func TestExecNamespacesByLsns(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	lsns := testutil.RequiresCommand(t, "lsns")
	spec := sleeper(t)
	SetNamespace(spec, specs.UserNamespace, true)
	c := started(t, spec, Options{Init: true})
	payload := payloadPid(t, c)
	proc := execStarted(t, c, ExecSettings{Args: []string{"sleep", "30"}})
	out, err := exec.Command(lsns, "-n", "-r", "-o", "NS,TYPE", "-p", strconv.Itoa(proc.Pid)).Output()
	if err != nil {
		t.Fatalf("lsns: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		seen++
		if f[0] != strconv.FormatUint(nsInode(t, payload, f[1]), 10) {
			t.Errorf("lsns: the exec'd process's %s namespace is %s, the payload's %d", f[1], f[0], nsInode(t, payload, f[1]))
		}
	}
	if seen != len(procNames) {
		t.Errorf("lsns listed %d namespaces: %q", seen, out)
	}
}

// sleeper is a container that sleeps, with every namespace of DefaultSpec
// that a Go program can run in here (timeNamespaceWorks).
func sleeper(t *testing.T) *specs.Spec {
	spec := DefaultSpec(rootfsDir(t), "sleep", "30")
	if !timeNamespaceWorks(t) {
		SetNamespace(spec, specs.TimeNamespace, false)
	}
	return spec
}

// timeNamespaceWorks reports whether a Go program can run in a time
// namespace here (timens.go: not on Debian 12's Linux 6.1).
func timeNamespaceWorks(t *testing.T) bool {
	ok, err := TimeNamespaceThreadsWork(testPaths(t))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		timensLogged.Do(func() { t.Log("this kernel refuses threads in a time namespace: tested without one") })
	}
	return ok
}

var timensLogged sync.Once

// docker's exit codes: the command's own, 126 when it cannot be executed,
// 127 when it is not there, 128+n for signal n.
func TestExecExitCodes(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	for _, init := range []bool{false, true} {
		c := started(t, sleeper(t), Options{Init: init})
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"true"}, 0},
			{[]string{"sh", "-c", "exit 7"}, 7},
			{[]string{"sh", "-c", "kill -9 $$"}, 137},
			{[]string{"/bin/notexec"}, 126},
			{[]string{"/etc"}, 126},
			{[]string{"no-such-command"}, 127},
			{[]string{"/bin/no-such-file"}, 127},
		} {
			p, err := c.ExecProcess(ExecSettings{Args: tc.args})
			if err != nil {
				t.Fatal(err)
			}
			code := -1
			proc, err := c.Exec(p, ExecOptions{})
			if err == nil {
				code, err = proc.Wait()
			} else {
				code = ExitCode(err)
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("%v: error is not one line: %q", tc.args, err)
				}
			}
			if code != tc.code {
				t.Errorf("init=%v %v: exit %d (%v), want %d", init, tc.args, code, err, tc.code)
			}
		}
	}
}

// Signal reaches the exec'd process and only it; Wait says how it ended.
func TestExecSignal(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	c := started(t, sleeper(t), Options{})
	proc := execStarted(t, c, ExecSettings{Args: []string{"sleep", "30"}})
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, _ := proc.Wait(); code != 143 {
		t.Errorf("exit %d after SIGTERM, want 143", code)
	}
	if err := proc.Signal(syscall.SIGTERM); !errors.Is(err, ErrWrongState) {
		t.Errorf("signal after exit: %v, want ErrWrongState", err)
	}
	if c.State().Status != Running {
		t.Error("the container stopped with its exec'd process")
	}
}

// A stopped container and one that does not exist: one line each.
func TestExecIntoNoRunningContainer(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	p := testPaths(t)
	c, err := Create(p, "gone", DefaultSpec(rootfsDir(t), "true"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(true)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	proc, err := c.ExecProcess(ExecSettings{Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(proc, ExecOptions{})
	if !errors.Is(err, ErrWrongState) || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "exec in container gone: ") {
		t.Errorf("exec into a stopped container: %q", err)
	}
	loaded, err := Load(p, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loaded.Exec(proc, ExecOptions{}); !errors.Is(err, ErrWrongState) {
		t.Errorf("exec into a stopped container found by Load: %v", err)
	}
	if _, err := Load(p, "never-was"); !errors.Is(err, ErrNoContainer) || strings.Contains(err.Error(), "\n") {
		t.Errorf("load of a container that does not exist: %q", err)
	}
}

// docker exec's -e, -w and -u, and HOME following the user.
func TestExecOverrides(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	spec := sleeper(t)
	spec.Process.Env = append(spec.Process.Env, "KEEP=kept", "FOO=old", "HOME=/root")
	c := started(t, spec, Options{})
	script := "id -u; id -g; pwd; echo $FOO $KEEP $HOME"
	out, code := execOut(t, c, ExecSettings{Args: []string{"sh", "-c", script}})
	if want := "0\n0\n/\nold kept /root\n"; code != 0 || out != want {
		t.Errorf("defaults: exit %d, %q, want %q", code, out, want)
	}
	out, code = execOut(t, c, ExecSettings{Args: []string{"sh", "-c", script}, Env: []string{"FOO=new"}, Cwd: "/tmp", User: "nobody"})
	if want := "65534\n65534\n/tmp\nnew kept /\n"; code != 0 || out != want {
		t.Errorf("-e FOO=new -w /tmp -u nobody: exit %d, %q, want %q", code, out, want)
	}
	out, code = execOut(t, c, ExecSettings{Args: []string{"sh", "-c", "id -u; id -g"}, User: "1234:99"})
	if code != 0 || out != "1234\n99\n" {
		t.Errorf("-u 1234:99: exit %d, %q", code, out)
	}
	// A working directory that is not there is refused, not made.
	p, _ := c.ExecProcess(ExecSettings{Args: []string{"true"}, Cwd: "/no/such/dir"})
	if _, err := c.Exec(p, ExecOptions{}); err == nil || !strings.Contains(err.Error(), "chdir /no/such/dir") {
		t.Errorf("exec -w /no/such/dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rootfsDir(t), "no")); err == nil {
		t.Error("exec made the missing working directory")
	}
	if _, err := c.ExecProcess(ExecSettings{Args: []string{"true"}, User: "nosuchuser"}); err == nil {
		t.Error("-u nosuchuser accepted")
	}
}

// CVE-2024-21626: the exec'd process holds 0, 1, 2 and what was asked for,
// and a working directory reached through a descriptor of the host is
// refused.
func TestExecDescriptors(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	c := started(t, sleeper(t), Options{})
	extra, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	p, _ := c.ExecProcess(ExecSettings{Args: []string{"sleep", "30"}})
	proc, err := c.Exec(p, ExecOptions{ExtraFiles: []*os.File{extra}})
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", proc.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, e := range ents {
		fds = append(fds, e.Name())
	}
	if strings.Join(fds, ",") != "0,1,2,3" {
		t.Errorf("the exec'd process holds descriptors %v, want 0,1,2 and the one asked for (3)", fds)
	}
	proc.Signal(syscall.SIGKILL)
	proc.Wait()

	hostDir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer hostDir.Close()
	for fd := 3; fd <= 12; fd++ {
		p, _ := c.ExecProcess(ExecSettings{Args: []string{"true"}, Cwd: fmt.Sprintf("/proc/self/fd/%d", fd)})
		if proc, err := c.Exec(p, ExecOptions{ExtraFiles: []*os.File{hostDir}}); err == nil {
			proc.Wait()
			t.Errorf("cwd %s accepted", p.Cwd)
		}
	}
}

// -d and --pid-file: Exec returns while the process runs, the file has its
// host pid, and its parent is the container's init, which reaps it: the
// exec stage is gone, and nothing outside the container waits for it.
func TestExecDetachAndPidFile(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	c := started(t, sleeper(t), Options{Init: true})
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	p, _ := c.ExecProcess(ExecSettings{Args: []string{"sleep", "30"}})
	proc, err := c.Exec(p, ExecOptions{Detach: true, PidFile: pidFile})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil || string(b) != strconv.Itoa(proc.Pid) {
		t.Fatalf("pid file: %q, %v; pid %d", b, err, proc.Pid)
	}
	if cmd := readProc(t, proc.Pid, "cmdline"); cmd != "sleep\x0030\x00" {
		t.Errorf("pid %d runs %q", proc.Pid, cmd)
	}
	if ppid := statusField(t, proc.Pid, "PPid"); ppid != strconv.Itoa(c.Pid()) {
		t.Errorf("the detached process's parent is %s, not the container's init %d", ppid, c.Pid())
	}
	proc.Signal(syscall.SIGKILL)
	if code, _ := proc.Wait(); code != -1 {
		t.Errorf("Wait of a detached process = %d, want -1 (its code is the init's)", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", proc.Pid)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d was never reaped by the container's init", proc.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// statusField is a field of /proc/PID/status, trimmed.
func statusField(t *testing.T, pid int, key string) string {
	t.Helper()
	for _, line := range strings.Split(readProc(t, pid, "status"), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, key)
	return ""
}

// The exec stage that waits for the process runs from a read-only view or a
// sealed memfd copy of stepbox-exec (CVE-2019-5736), holds no descriptor, and is not
// dumpable (CVE-2016-9962): a host process with the container's uid cannot
// read it.
func TestExecStageIsSealedAndClosed(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	setpriv := testutil.RequiresCommand(t, "setpriv")
	spec := sleeper(t)
	SetNamespace(spec, specs.UserNamespace, true)
	c := started(t, spec, Options{})
	proc := execStarted(t, c, ExecSettings{Args: []string{"sleep", "30"}})
	f := strings.Fields(readProc(t, proc.Pid, "stat")[strings.LastIndexByte(readProc(t, proc.Pid, "stat"), ')')+1:])
	stage, _ := strconv.Atoi(f[1]) // ppid, as the host sees it
	exe := fmt.Sprintf("/proc/%d/exe", stage)
	if why := notProtected(exe, ExecBinaryName); why != "" {
		t.Errorf("the exec stage's binary: %s", why)
	}
	if f, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Error("the exec stage's binary can be opened for writing")
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", stage)); err != nil || len(ents) != 0 {
		t.Errorf("the exec stage holds %d descriptors (%v)", len(ents), err)
	}
	uid := strconv.Itoa(int(DefaultIDMap.HostID))
	out, err := exec.Command(setpriv, "--reuid", uid, "--regid", uid, "--clear-groups",
		"cat", fmt.Sprintf("/proc/%d/environ", stage)).CombinedOutput()
	if err == nil {
		t.Errorf("a host process with the container's uid read the exec stage's environ: %q", out)
	}
}

// exec -t: a terminal from the container's own devpts, driven by the test.
func TestExecTerminal(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	c := started(t, sleeper(t), Options{})
	p, err := c.ExecProcess(ExecSettings{Args: []string{"sh"}, Terminal: true})
	if err != nil {
		t.Fatal(err)
	}
	p.ConsoleSize = &specs.Box{Height: 33, Width: 101}
	proc, err := c.Exec(p, ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	con := proc.Console()
	if con == nil {
		t.Fatal("no console")
	}
	defer con.Close()
	fmt.Fprint(con, "tty; stty size; echo $TERM; echo marker-$((6*7)); exit 3\n")
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		r := bufio.NewReader(con)
		for {
			line, err := r.ReadString('\n')
			out.WriteString(line)
			if err != nil || strings.Contains(line, "marker-42") {
				break
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("no answer from the terminal; so far %q", out.String())
	}
	code, _ := proc.Wait()
	if code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	for _, want := range []string{"/dev/pts/", "33 101", "xterm", "marker-42"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("terminal output lacks %q: %q", want, out.String())
		}
	}
	// The payload's streams were no terminal; the exec'd one's slave came
	// from the container's devpts, whose /dev/pts/0 it was.
	if strings.Contains(out.String(), "not a tty") {
		t.Errorf("tty says no terminal: %q", out.String())
	}
}

// Twenty processes at once into one container, each with its own output;
// nothing left.
func TestExecManyAtOnce(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	l := testutil.Snapshot()
	func() {
		c, err := Create(testPaths(t), "", sleeper(t), Options{Init: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Delete(true)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				p, err := c.ExecProcess(ExecSettings{Args: []string{"sh", "-c", fmt.Sprintf("echo %d; exit %d", i, i)}})
				if err != nil {
					errs <- err
					return
				}
				var out bytes.Buffer
				proc, err := c.Exec(p, ExecOptions{Stdout: &out})
				if err != nil {
					errs <- fmt.Errorf("exec %d: %w", i, err)
					return
				}
				if code, _ := proc.Wait(); code != i || out.String() != fmt.Sprintf("%d\n", i) {
					errs <- fmt.Errorf("exec %d: exit %d, output %q", i, code, out.String())
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}()
	l.Check(t, 5*time.Second)
}

// Standard input reaches the process, and its end ends the process's.
func TestExecStdin(t *testing.T) {
	testutil.RequiresRoot(t)
	needExecStage(t)
	c := started(t, sleeper(t), Options{})
	p, _ := c.ExecProcess(ExecSettings{Args: []string{"wc", "-c"}})
	var out bytes.Buffer
	proc, err := c.Exec(p, ExecOptions{Stdin: io.LimitReader(strings.NewReader(strings.Repeat("x", 1000)), 1000), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := proc.Wait(); code != 0 || strings.TrimSpace(out.String()) != "1000" {
		t.Errorf("exit %d, %q", code, out.String())
	}
}
