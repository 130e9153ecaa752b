package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
)

func testPaths(t *testing.T) Paths {
	t.Helper()
	return DefaultPaths(t.TempDir())
}

// runIn runs spec to completion and returns its output and exit code.
func runIn(t *testing.T, spec *specs.Spec, o Options) (string, int) {
	t.Helper()
	var out bytes.Buffer
	o.Stdout, o.Stderr = &out, &out
	c, err := Create(testPaths(t), "", spec, o)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer c.Delete(true)
	if err := c.Start(); err != nil {
		t.Fatalf("start: %v (output %q)", err, out.String())
	}
	code := waitFor(t, c, payloadTimeout)
	return out.String(), code
}

// payloadTimeout bounds a payload that should end by itself: one that hangs
// fails its test instead of the whole run, and is killed by the test's
// deferred Delete.
const payloadTimeout = 30 * time.Second

// waitFor waits for c's payload to end, at most d, and returns its exit code.
func waitFor(t *testing.T, c *Container, d time.Duration) int {
	t.Helper()
	type exit struct {
		code int
		err  error
	}
	done := make(chan exit, 1)
	go func() { code, err := c.Wait(); done <- exit{code, err} }()
	select {
	case e := <-done:
		if e.err != nil {
			t.Fatalf("wait: %v", e.err)
		}
		return e.code
	case <-time.After(d):
		t.Fatalf("container %s still running after %v", c.ID, d)
		return 0
	}
}

// started creates and starts spec and leaves it running; cleanup deletes it.
func started(t *testing.T, spec *specs.Spec, o Options) *Container {
	t.Helper()
	c, err := Create(testPaths(t), "", spec, o)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Delete(true); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	if err := c.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	return c
}

func nsInode(t *testing.T, pid int, typ string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, typ), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

var procNames = map[specs.LinuxNamespaceType]string{
	specs.UTSNamespace: "uts", specs.PIDNamespace: "pid", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.NetworkNamespace: "net", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// Each namespace switched on alone, then all together: exactly those differ
// from the host's, as /proc/PID/ns and lsns (an independent witness) see it.
func TestNamespacesOneByOne(t *testing.T) {
	testutil.RequiresRoot(t)
	root := rootfsDir(t)
	cases := [][]specs.LinuxNamespaceType{}
	for _, ns := range Namespaces {
		cases = append(cases, []specs.LinuxNamespaceType{ns.Type})
	}
	all, _ := ParseNamespaceList("all")
	cases = append(cases, all)
	for _, on := range cases {
		name := "all"
		if len(on) == 1 {
			name = ShortName(on[0])
		}
		t.Run(name, func(t *testing.T) {
			spec := DefaultSpec(root, "sleep", "30")
			SetNamespaces(spec, on)
			if !HasNamespace(spec, specs.MountNamespace) {
				// The host's own sleep, as there is no rootfs of our own.
				spec.Process.Args = []string{"/bin/sleep", "30"}
			}
			spec.Process.Capabilities = nil
			c := started(t, spec, Options{})
			pid := c.Pid()
			for typ, proc := range procNames {
				want := false
				for _, x := range on {
					want = want || x == typ
				}
				got := nsInode(t, pid, proc) != nsInode(t, os.Getpid(), proc)
				if got != want {
					t.Errorf("%s namespace isolated = %v, want %v", proc, got, want)
				}
			}
			// lsns must agree on the inode of every namespace.
			out, err := exec.Command(testutil.RequiresCommand(t, "lsns"), "-n", "-r", "-o", "NS,TYPE", "-p", strconv.Itoa(pid)).Output()
			if err != nil {
				t.Fatalf("lsns: %v", err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				f := strings.Fields(line)
				if len(f) != 2 {
					continue
				}
				if f[0] != strconv.FormatUint(nsInode(t, pid, f[1]), 10) {
					t.Errorf("lsns says %s is %s, /proc says %d", f[1], f[0], nsInode(t, pid, f[1]))
				}
			}
		})
	}
}

func TestPivotRootHidesTheHost(t *testing.T) {
	testutil.RequiresRoot(t)
	root := rootfsDir(t)
	sentinel := filepath.Join(t.TempDir(), "host-only")
	os.WriteFile(sentinel, []byte("x"), 0o644)
	spec := DefaultSpec(root, "sh", "-c", "cat "+sentinel+" 2>&1; ls /; echo pid=$$; ps -o pid,comm; true")
	out, code := runIn(t, spec, Options{})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if !strings.Contains(out, "No such file") {
		t.Errorf("host file reachable inside: %q", out)
	}
	if !strings.Contains(out, "pid=1\n") {
		t.Errorf("shell is not PID 1: %q", out)
	}
	// ps shows one process tree starting at 1.
	lines := strings.Split(strings.TrimSpace(out[strings.Index(out, "PID"):]), "\n")
	if len(lines) != 3 || !strings.HasPrefix(strings.TrimSpace(lines[1]), "1 ") {
		t.Errorf("ps inside shows more than the container: %q", lines)
	}
}

func TestRootIsTheRootfs(t *testing.T) {
	testutil.RequiresRoot(t)
	root := rootfsDir(t)
	c := started(t, DefaultSpec(root, "sleep", "30"), Options{})
	var a, b unix.Stat_t
	unix.Stat(fmt.Sprintf("/proc/%d/root/", c.Pid()), &a)
	unix.Stat(root, &b)
	if a.Ino != b.Ino || a.Dev != b.Dev {
		t.Errorf("/proc/%d/root is not %s", c.Pid(), root)
	}
	// nsenter, an independent tool, enters and sees the rootfs.
	out, err := exec.Command(testutil.RequiresCommand(t, "nsenter"), "-t", strconv.Itoa(c.Pid()), "-m", "-u", "-p", "-r", "-w", "hostname").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "stepbox" {
		t.Errorf("nsenter hostname: %q, %v", out, err)
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	testutil.RequiresRoot(t)
	// This kernel may lack some of them (no CONFIG_PROC_KCORE, say): check
	// the ones the host has.
	var script strings.Builder
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/interrupts", "/proc/sched_debug"} {
		if _, err := os.Stat(p); err == nil {
			fmt.Fprintf(&script, "echo %s=$(wc -c < %s)\n", p, p)
		}
	}
	script.WriteString(`
		echo 1 > /proc/sys/kernel/panic 2>/dev/null && echo procsys-writable
		[ -e /proc/sysrq-trigger ] && echo c > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable
		touch /sys/x 2>/dev/null && echo sys-writable
		echo done`)
	out, code := runIn(t, DefaultSpec(rootfsDir(t), "sh", "-c", script.String()), Options{})
	if code != 0 || strings.Contains(out, "writable") || !strings.Contains(out, "done") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && v != "0" {
			t.Errorf("masked %s reads %s bytes", k, v)
		}
	}
}

func TestReadonlyRootfs(t *testing.T) {
	testutil.RequiresRoot(t)
	spec := DefaultSpec(rootfsDir(t), "sh", "-c", "touch /x 2>&1; touch /dev/shm/ok && echo shm-ok")
	spec.Root.Readonly = true
	out, _ := runIn(t, spec, Options{})
	if !strings.Contains(out, "Read-only file system") || !strings.Contains(out, "shm-ok") {
		t.Errorf("output: %q", out)
	}
}

func TestUserNamespaceFileOwnership(t *testing.T) {
	testutil.RequiresRoot(t)
	root := rootfsDir(t)
	name := "owned-" + NewID()
	spec := DefaultSpec(root, "sh", "-c", "id -u; touch /tmp/"+name+"; cat /proc/self/uid_map")
	SetNamespace(spec, specs.UserNamespace, true)
	spec.Process.Capabilities = nil
	out, code := runIn(t, spec, Options{})
	defer os.Remove(filepath.Join(root, "tmp", name))
	if code != 0 || !strings.HasPrefix(out, "0\n") {
		t.Fatalf("exit %d: %q", code, out)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(root, "tmp", name), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != DefaultIDMap.HostID || st.Gid != DefaultIDMap.HostID {
		t.Errorf("file made by root inside is owned by %d:%d on the host, want %d", st.Uid, st.Gid, DefaultIDMap.HostID)
	}
	if !strings.Contains(out, "100000") {
		t.Errorf("uid_map inside: %q", out)
	}
}

func TestExitCodes(t *testing.T) {
	testutil.RequiresRoot(t)
	root := rootfsDir(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"true"}, 0},
		{[]string{"sh", "-c", "exit 7"}, 7},
		{[]string{"sh", "-c", "kill -TERM $$"}, 143},
	} {
		for _, atOnce := range []bool{false, true} {
			_, code := runIn(t, DefaultSpec(root, tc.args...), Options{Init: true, StartAtOnce: atOnce})
			if code != tc.code {
				t.Errorf("%v (at once %v): exit %d, want %d", tc.args, atOnce, code, tc.code)
			}
		}
	}
}

func TestExecFailures(t *testing.T) {
	testutil.RequiresRoot(t)
	root := rootfsDir(t)
	for _, tc := range []struct {
		arg  string
		want error
	}{
		{"no-such-command", ErrNotFound},
		{"/bin/no-such-file", ErrNotFound},
		{"/bin/notexec", ErrCannotExecute},
		{"/etc", ErrCannotExecute},
	} {
		for _, o := range []Options{{}, {Init: true}, {StartAtOnce: true}, {Init: true, StartAtOnce: true}} {
			l := testutil.Snapshot()
			c, err := Create(testPaths(t), "", DefaultSpec(root, tc.arg), o)
			if err == nil {
				err = c.Start()
				c.Delete(true)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("%s (init %v, at once %v): error %v, want %v", tc.arg, o.Init, o.StartAtOnce, err, tc.want)
			}
			l.Check(t, 5*time.Second)
		}
	}
}

// Ctrl-C reaches sleep through the minimal init; without it the kernel
// drops SIGINT for a namespace's PID 1 that has no handler.
func TestSignalsThroughInit(t *testing.T) {
	testutil.RequiresRoot(t)
	c := started(t, DefaultSpec(rootfsDir(t), "sleep", "30"), Options{Init: true})
	time.Sleep(100 * time.Millisecond)
	if err := c.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { code, _ := c.Wait(); done <- code }()
	select {
	case code := <-done:
		if code != 130 {
			t.Errorf("exit %d after SIGINT, want 130", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGINT did not stop sleep")
	}
}

// CVE-2019-5736: the init runs from a read-only overlay view of its binary
// or a sealed memfd copy, never from the host's binary as it is mounted, and
// it cannot be opened for writing.
func TestInitRunsFromSealedMemfd(t *testing.T) {
	testutil.RequiresRoot(t)
	c, err := Create(testPaths(t), "", DefaultSpec(rootfsDir(t), "true"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(true)
	exe := fmt.Sprintf("/proc/%d/exe", c.Pid())
	link, _ := os.Readlink(exe)
	if why := notProtected(exe, "stepbox-init"); why != "" {
		t.Errorf("init runs from %q: %s", link, why)
	}
	if f, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Error("the init's binary can be opened for writing")
	}
	self, _ := os.Executable()
	if link == self {
		t.Error("the init is the host's binary itself")
	}
}

// CVE-2024-21626: only 0, 1 and 2 (and what was asked for) reach the payload.
func TestNoDescriptorLeaks(t *testing.T) {
	testutil.RequiresRoot(t)
	extra, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	for _, init := range []bool{false, true} {
		c := started(t, DefaultSpec(rootfsDir(t), "sleep", "30"), Options{Init: init, ExtraFiles: []*os.File{extra}})
		pid := c.Pid()
		if init {
			// The payload is the init's only child.
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
			deadline := time.Now().Add(2 * time.Second)
			for len(strings.Fields(string(b))) == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
				b, _ = os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
			}
			pid, _ = strconv.Atoi(strings.Fields(string(b))[0])
		}
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatal(err)
		}
		var fds []string
		for _, e := range ents {
			fds = append(fds, e.Name())
		}
		if strings.Join(fds, ",") != "0,1,2,3" {
			t.Errorf("init=%v: payload holds descriptors %v, want 0,1,2 and the one asked for (3)", init, fds)
		}
	}
}

// CVE-2024-21626: a working directory reached through a host descriptor is
// refused.
func TestCwdOutsideTheRootIsRefused(t *testing.T) {
	testutil.RequiresRoot(t)
	hostDir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer hostDir.Close()
	for fd := 3; fd <= 20; fd++ {
		spec := DefaultSpec(rootfsDir(t), "true")
		spec.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", fd)
		c, err := Create(testPaths(t), "", spec, Options{ExtraFiles: []*os.File{hostDir}})
		if err == nil {
			c.Delete(true)
			t.Errorf("cwd %s accepted", spec.Process.Cwd)
		}
	}
}

// CVE-2016-9962: while it holds host descriptors the init is not dumpable,
// so a process with the container's uid on the host cannot read it.
func TestInitIsNotDumpable(t *testing.T) {
	testutil.RequiresRoot(t)
	setpriv := testutil.RequiresCommand(t, "setpriv")
	spec := DefaultSpec(rootfsDir(t), "true")
	SetNamespace(spec, specs.UserNamespace, true)
	c, err := Create(testPaths(t), "", spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(true)
	uid := strconv.Itoa(int(DefaultIDMap.HostID))
	out, err := exec.Command(setpriv, "--reuid", uid, "--regid", uid, "--clear-groups",
		"cat", fmt.Sprintf("/proc/%d/environ", c.Pid())).CombinedOutput()
	if err == nil {
		t.Errorf("a host process with the container's uid read the init's environ: %q", out)
	}
}

// A hostile rootfs whose etc is a symlink to the host's /etc must not let a
// bind mount land on the host's /etc.
func TestHostileRootfsSymlink(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	if err := exec.Command("cp", "-a", rootfsDir(t)+"/.", root).Run(); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(root, "etc"))
	os.Symlink("/etc", filepath.Join(root, "etc"))
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "hostname"), []byte("evil\n"), 0o644)
	before, _ := os.ReadFile("/etc/hostname")
	spec := DefaultSpec(root, "cat", "/etc/hostname")
	AddBind(spec, filepath.Join(src, "hostname"), "/etc/hostname", false)
	var out bytes.Buffer
	c, err := Create(testPaths(t), "", spec, Options{Stdout: &out, Stderr: &out})
	if err == nil {
		defer c.Delete(true)
		if c.Start() == nil {
			waitFor(t, c, payloadTimeout)
		}
	}
	after, _ := os.ReadFile("/etc/hostname")
	if !bytes.Equal(before, after) {
		t.Fatalf("the host's /etc/hostname changed: %q -> %q", before, after)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), " /etc/hostname ") {
		t.Fatal("a mount landed on the host's /etc/hostname")
	}
}

func TestManyContainersAtOnce(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	root := rootfsDir(t)
	p := testPaths(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := Create(p, fmt.Sprintf("many-%d", i), DefaultSpec(root, "sh", "-c", "echo hi"), Options{Stdout: new(bytes.Buffer)})
			if err != nil {
				errs <- err
				return
			}
			defer func() {
				if err := c.Delete(true); err != nil {
					errs <- err
				}
			}()
			if err := c.Start(); err != nil {
				errs <- err
				return
			}
			// Not waitFor: t.Fatal belongs to the test's own goroutine.
			if code, err := c.Wait(); err != nil || code != 0 {
				errs <- fmt.Errorf("container %d: exit %d, %v", i, code, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	l.Check(t, 5*time.Second)
	if ents, _ := os.ReadDir(p.Run); len(ents) != 0 {
		t.Errorf("state left: %d entries in %s", len(ents), p.Run)
	}
}

func TestNameInUse(t *testing.T) {
	testutil.RequiresRoot(t)
	p := testPaths(t)
	spec := DefaultSpec(rootfsDir(t), "true")
	c, err := Create(p, "dup", spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(true)
	if _, err := Create(p, "dup", spec, Options{}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("second create: %v, want ErrNameInUse", err)
	}
}

func TestBadInputLeavesNothing(t *testing.T) {
	testutil.RequiresRoot(t)
	root := rootfsDir(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for name, spec := range map[string]*specs.Spec{
		"missing rootfs":     DefaultSpec("/nonexistent/rootfs", "true"),
		"rootfs is a file":   DefaultSpec(file, "true"),
		"no command":         DefaultSpec(root),
		"command not found":  DefaultSpec(root, "nope"),
		"bind source absent": func() *specs.Spec { s := DefaultSpec(root, "true"); AddBind(s, "/nonexistent", "/x", false); return s }(),
		"bad version":        func() *specs.Spec { s := DefaultSpec(root, "true"); s.Version = "2.0.0"; return s }(),
	} {
		l := testutil.Snapshot()
		p := testPaths(t)
		c, err := Create(p, "", spec, Options{})
		if err == nil {
			c.Delete(true)
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", name, err)
		}
		if ents, _ := os.ReadDir(p.Run); len(ents) != 0 {
			t.Errorf("%s: state directory left", name)
		}
		l.Check(t, 5*time.Second)
	}
}

// The minimal init stays beside its payload: every one of its threads, not
// only the one that started the payload, has the payload's identity and
// capabilities, for root and for another user.
func TestInitThreadsConfined(t *testing.T) {
	testutil.RequiresRoot(t)
	root := rootfsDir(t)
	_, _, e := syscall.AllThreadsSyscall(syscall.SYS_GETPID, 0, 0, 0)
	cgo := e == syscall.ENOTSUP
	// Without CAP_SETGID the payload's thread could not call setgroups
	// again: every thread must still agree (AllThreadsSyscall aborts the
	// runtime when threads get different answers).
	none := &specs.LinuxCapabilities{Bounding: []string{}, Effective: []string{}, Permitted: []string{}}
	for name, tc := range map[string]struct {
		user specs.User
		caps *specs.LinuxCapabilities
	}{
		"root":                {},
		"user":                {user: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 20}}},
		"root, no capability": {caps: none},
		"user, no capability": {user: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{20}}, caps: none},
	} {
		t.Run(name, func(t *testing.T) {
			spec := DefaultSpec(root, "sleep", "30")
			spec.Process.User = tc.user
			if tc.caps != nil {
				spec.Process.Capabilities = tc.caps
			}
			// At once, the payload may run before the creator calls Start:
			// the init's threads must be confined before it all the same.
			c := started(t, spec, Options{Init: true, StartAtOnce: name == "root" || name == "user"})
			fields := func(p string) map[string]string {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]string{}
				for _, line := range strings.Split(string(b), "\n") {
					k, v, _ := strings.Cut(line, ":")
					switch k {
					case "Uid", "Gid", "Groups", "CapEff", "CapPrm":
						out[k] = strings.Join(strings.Fields(v), " ")
					}
				}
				return out
			}
			kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", c.Pid(), c.Pid()))
			if err != nil || len(strings.Fields(string(kids))) != 1 {
				t.Fatalf("the init's children: %q, %v", kids, err)
			}
			want := fields(fmt.Sprintf("/proc/%s/status", strings.TrimSpace(string(kids))))
			tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", c.Pid()))
			if err != nil {
				t.Fatal(err)
			}
			if len(tasks) < 2 {
				t.Fatalf("the init has %d thread(s); the test needs more", len(tasks))
			}
			for _, task := range tasks {
				got := fields(fmt.Sprintf("/proc/%d/task/%s/status", c.Pid(), task.Name()))
				if cgo {
					delete(got, "CapEff")
					delete(got, "CapPrm")
					delete(want, "CapEff")
					delete(want, "CapPrm")
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("thread %s of the init differs from the payload (-payload +thread):\n%s", task.Name(), d)
				}
			}
		})
	}
}

// notProtected says why the binary behind exe (a /proc/PID/exe) could be
// written through, or "" when it is a sealed memfd called name or on a
// read-only overlay (readOnlyView).
func notProtected(exe, name string) string {
	link, err := os.Readlink(exe)
	if err != nil {
		return err.Error()
	}
	if strings.HasPrefix(link, "/memfd:"+name) {
		return ""
	}
	var st unix.Statfs_t
	if err := unix.Statfs(exe, &st); err != nil {
		return err.Error()
	}
	if st.Type != unix.OVERLAYFS_SUPER_MAGIC || st.Flags&unix.ST_RDONLY == 0 {
		return fmt.Sprintf("neither a sealed memfd nor a read-only overlay (filesystem %#x, flags %#x)", st.Type, st.Flags)
	}
	return ""
}
