package nsinspect

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/nsinspect/nstest"
)

const helperEnv = "STEPBOX_NSINSPECT_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "seccomp" {
		seccompHelper()
	}
	testutil.Main(m)
}

// seccompHelper is the test binary re-executed: it sets no_new_privs,
// installs an allow-everything seccomp filter on all its threads, says
// "ready" and sleeps until killed.
func seccompHelper() {
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		os.Stderr.WriteString("prctl: " + err.Error() + "\n")
		os.Exit(10)
	}
	filter := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// TSYNC puts the filter (and no_new_privs) on every thread, the main
	// thread included, whose status /proc/PID/status shows.
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		os.Stderr.WriteString("seccomp: " + errno.Error() + "\n")
		os.Exit(11)
	}
	os.Stdout.WriteString("ready\n")
	time.Sleep(time.Minute)
	os.Exit(0)
}

func take(t *testing.T, pid int) Snapshot {
	t.Helper()
	s, err := Take(pid)
	if err != nil {
		t.Fatalf("Take(%d): %v", pid, err)
	}
	return s
}

func checkOf(t *testing.T, target, ref Snapshot, id string) Check {
	t.Helper()
	return statusOf(t, Compare(target, ref), id)
}

// isolatedTypes lists the kernel namespace types whose ns.X check passes.
func isolatedTypes(checks []Check) []string {
	var out []string
	for _, c := range checks {
		if typ, ok := cutNS(c.ID); ok && c.Status == Pass {
			out = append(out, typ)
		}
	}
	return out
}

func cutNS(id string) (string, bool) {
	for _, k := range KernelNamespaces {
		if id == "ns."+k {
			return k, true
		}
	}
	return "", false
}

func TestLiveSelf(t *testing.T) {
	testutil.RequiresRoot(t)
	s := take(t, os.Getpid())
	if errs := s.Errors(); len(errs) != 0 {
		t.Errorf("reading ourselves as root failed: %v", errs)
	}
	for _, n := range s.Namespaces {
		var st unix.Stat_t
		if err := unix.Stat("/proc/self/ns/"+n.Type, &st); err != nil {
			t.Fatal(err)
		}
		if st.Dev != n.Dev || st.Ino != n.Inode {
			t.Errorf("%s: snapshot %d:%d, stat %d:%d", n.Type, n.Dev, n.Inode, st.Dev, st.Ino)
		}
	}
	host, _ := os.Hostname()
	if s.UTS.Hostname != host {
		t.Errorf("hostname %q, want %q", s.UTS.Hostname, host)
	}
	if len(s.Network.Interfaces) == 0 || s.Status.Name == "" || len(s.Mounts.Entries) == 0 {
		t.Errorf("empty parts: %+v %+v", s.Network, s.Status)
	}
	// Compared with itself, a process shares everything.
	if iso := isolatedTypes(Compare(s, s)); len(iso) != 0 {
		t.Errorf("self against self isolated in %v", iso)
	}
}

func TestLiveNoSuchProcess(t *testing.T) {
	if _, err := Take(1 << 30); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Take of a missing PID: %v", err)
	}
}

func TestUnshareUTSIPC(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := nstest.Start(t, "sleep", "unshare", "--uts", "--ipc", "--fork", "sleep", "30")
	target, self := take(t, pid), take(t, os.Getpid())
	checks := Compare(target, self)
	if iso := isolatedTypes(checks); !slices.Equal(iso, []string{"ipc", "uts"}) {
		t.Errorf("isolated in %v, want [ipc uts]", iso)
	}
	for _, id := range []string{"ns.mnt", "ns.net", "ns.pid"} {
		if c := statusOf(t, checks, id); c.Status != Fail {
			t.Errorf("%s = %s, want fail (shared)", id, c.Status)
		}
	}
	for _, id := range []string{"ns.user", "ns.cgroup", "ns.time"} {
		if c := statusOf(t, checks, id); c.Status != Warn {
			t.Errorf("%s = %s, want warn (shared)", id, c.Status)
		}
	}
	crossCheckLsns(t, pid, target)
}

// crossCheckLsns compares the snapshot's inodes with util-linux lsns -J.
func crossCheckLsns(t *testing.T, pid int, s Snapshot) {
	t.Helper()
	lsns := testutil.RequiresCommand(t, "lsns")
	out, err := exec.Command(lsns, "--json", "--list", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		t.Fatalf("lsns: %v", err)
	}
	var doc struct {
		Namespaces []struct {
			NS   uint64 `json:"ns"`
			Type string `json:"type"`
		} `json:"namespaces"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("lsns -J: %v\n%s", err, out)
	}
	if len(doc.Namespaces) != len(KernelNamespaces) {
		t.Errorf("lsns lists %d namespaces: %s", len(doc.Namespaces), out)
	}
	for _, n := range doc.Namespaces {
		if got := s.Namespace(n.Type).Inode; got != n.NS {
			t.Errorf("%s: snapshot inode %d, lsns %d", n.Type, got, n.NS)
		}
	}
}

func TestUnshareHostname(t *testing.T) {
	testutil.RequiresRoot(t)
	before, _ := os.Hostname()
	pid := nstest.Start(t, "sleep", "unshare", "--uts", "--fork", "sh", "-c", "hostname box-test && exec sleep 30")
	// sleep exists once sh exec'd it, which is after hostname ran.
	s := take(t, pid)
	if s.UTS.Hostname != "box-test" {
		t.Errorf("target hostname %q, want box-test", s.UTS.Hostname)
	}
	after, _ := os.Hostname()
	if after != before {
		t.Fatalf("the host's hostname changed from %q to %q", before, after)
	}
	// No thread of ours may be left in the target's namespace: not the main
	// thread (whose links /proc/PID/ns shows), not one back in the pool.
	for i := 0; i < 50; i++ {
		take(t, pid)
	}
	// A thread that entered the target's namespace is never given back to
	// the pool: it exits when its goroutine ends, and exiting takes the
	// kernel a moment, during which /proc still lists it.
	want := selfNamespace("uts")
	foreign := func() []string {
		var out []string
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, task := range tasks {
			var st unix.Stat_t
			if err := unix.Stat("/proc/self/task/"+task.Name()+"/ns/uts", &st); err == nil && st.Ino != want.Inode {
				out = append(out, fmt.Sprintf("thread %s is in uts:[%d], not ours uts:[%d]", task.Name(), st.Ino, want.Inode))
			}
		}
		return out
	}
	left := foreign()
	for deadline := time.Now().Add(2 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = foreign() {
		time.Sleep(10 * time.Millisecond)
	}
	for _, l := range left {
		t.Error(l)
	}
	self := take(t, os.Getpid())
	if self.UTS.Hostname != before {
		t.Errorf("our own hostname read as %q after inspecting the target, want %q: a thread leaked back?", self.UTS.Hostname, before)
	}
	if c := checkOf(t, s, self, "uts.hostname"); c.Status != Pass || c.Target != "box-test" || c.Reference != before {
		t.Errorf("uts.hostname = %+v", c)
	}
}

func TestUnshareNet(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := nstest.Start(t, "sleep", "unshare", "--net", "--fork", "sleep", "30")
	s := take(t, pid)
	if len(s.Network.Interfaces) != 1 || s.Network.Interfaces[0].Name != "lo" || s.Network.Interfaces[0].Up {
		t.Errorf("interfaces in a new netns = %+v, want lo down", s.Network.Interfaces)
	}
	c := checkOf(t, s, take(t, os.Getpid()), "net.ifaces")
	if c.Status != Pass || c.Target != "lo(down)" {
		t.Errorf("net.ifaces = %+v", c)
	}
	// Our own view is unchanged: the thread that entered did not come back.
	self := take(t, os.Getpid())
	if len(self.Network.Interfaces) == 0 || self.Namespace("net").Same(s.Namespace("net")) {
		t.Errorf("our network view changed: %+v", self.Network)
	}
}

func TestUnshareUserMapRoot(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := nstest.Start(t, "sleep", "unshare", "--user", "--map-root-user", "--fork", "sleep", "30")
	s, self := take(t, pid), take(t, os.Getpid())
	if want := []IDMapRange{{0, 0, 1}}; !slices.Equal(s.IDMap.UID, want) {
		t.Errorf("uid_map = %v, want %v (root maps itself)", s.IDMap.UID, want)
	}
	if s.IDMap.Setgroups != "deny" {
		t.Errorf("setgroups = %q, want deny", s.IDMap.Setgroups)
	}
	checks := Compare(s, self)
	if c := statusOf(t, checks, "ns.user"); c.Status != Pass {
		t.Errorf("ns.user = %s", c.Status)
	}
	// Root inside is uid 0 outside: the map is shown and judged.
	if c := statusOf(t, checks, "userns.map"); c.Status != Fail || c.Target != "0→0 (1)" {
		t.Errorf("userns.map = %+v", c)
	}
	// Full capabilities, but only inside the new user namespace.
	if c := statusOf(t, checks, "caps.effective"); c.Status != Warn {
		t.Errorf("caps.effective = %+v", c)
	}
}

func TestUnsharePIDMountProc(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := nstest.Start(t, "sleep", "unshare", "--pid", "--fork", "--mount-proc", "sleep", "30")
	s := take(t, pid)
	if len(s.Status.NSpid) != 2 || s.Status.NSpid[0] != pid || s.Status.NSpid[1] != 1 {
		t.Errorf("NSpid = %v, want [%d 1]", s.Status.NSpid, pid)
	}
	checks := Compare(s, take(t, os.Getpid()))
	if iso := isolatedTypes(checks); !slices.Equal(iso, []string{"mnt", "pid"}) {
		t.Errorf("isolated in %v, want [mnt pid]", iso)
	}
	if c := statusOf(t, checks, "pid.nspid"); c.Status != Pass || c.Target != strconv.Itoa(pid)+"→1" {
		t.Errorf("pid.nspid = %+v", c)
	}
	crossCheckLsns(t, pid, s)
}

func TestSetprivDropsAll(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := nstest.Start(t, "sleep", "setpriv", "--bounding-set", "-all", "--inh-caps", "-all", "sleep", "30")
	s := take(t, pid)
	c := s.Status.Caps
	if len(c.Bounding.Names) != 0 || c.Bounding.Hex != "0000000000000000" || len(c.Inheritable.Names) != 0 {
		t.Errorf("bounding %+v inheritable %+v, want empty", c.Bounding, c.Inheritable)
	}
	// Root execs sleep with an empty bounding set: nothing is permitted.
	if len(c.Effective.Names) != 0 || len(c.Permitted.Names) != 0 {
		t.Errorf("effective %v permitted %v, want none", c.Effective.Names, c.Permitted.Names)
	}
	if ch := checkOf(t, s, take(t, os.Getpid()), "caps.bounding"); ch.Status != Pass || ch.Target != "none" {
		t.Errorf("caps.bounding = %+v", ch)
	}
}

func TestCapshDrop(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := nstest.Start(t, "sleep", "capsh", "--drop=cap_sys_admin,cap_net_admin,cap_bpf", "--", "-c", "exec sleep 30")
	s := take(t, pid)
	self := take(t, os.Getpid())
	for _, set := range []CapSet{s.Status.Caps.Bounding, s.Status.Caps.Effective} {
		for _, gone := range []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_BPF"} {
			if set.Has(gone) {
				t.Errorf("%s still in %s", gone, set.Hex)
			}
		}
		if !set.Has("CAP_CHOWN") || !set.Has("CAP_SYS_PTRACE") {
			t.Errorf("kept capabilities missing from %v", set.Names)
		}
		want := self.Status.Caps.Bounding.Mask() &^ (1<<21 | 1<<12 | 1<<39)
		if set.Mask() != want {
			t.Errorf("mask %x, want %x", set.Mask(), want)
		}
	}
	// SYS_PTRACE is still there, in the host's user namespace.
	if c := checkOf(t, s, self, "caps.effective"); c.Status != Fail {
		t.Errorf("caps.effective = %+v", c)
	}
}

func TestSeccompFilter(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=seccomp")
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	s := take(t, cmd.Process.Pid)
	if s.Status.Seccomp != 2 || s.Status.SeccompFilters != 1 || s.Status.NoNewPrivs != 1 {
		t.Errorf("Seccomp %d filters %d NoNewPrivs %d, want 2 1 1", s.Status.Seccomp, s.Status.SeccompFilters, s.Status.NoNewPrivs)
	}
	self := take(t, os.Getpid())
	if c := checkOf(t, s, self, "sec.seccomp"); c.Status != Pass || c.Target != "filter ×1" {
		t.Errorf("sec.seccomp = %+v", c)
	}
	if c := checkOf(t, s, self, "sec.nnp"); c.Status != Pass {
		t.Errorf("sec.nnp = %+v", c)
	}
}

func TestUnshareTimeOffsets(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := nstest.Start(t, "sleep", "unshare", "--time", "--monotonic", "86400", "--fork", "sleep", "30")
	s := take(t, pid)
	want := []ClockOffset{{"monotonic", 86400, 0}, {"boottime", 0, 0}}
	if !slices.Equal(s.Time.Offsets, want) {
		t.Errorf("offsets = %+v, want %+v", s.Time.Offsets, want)
	}
	c := checkOf(t, s, take(t, os.Getpid()), "ns.time")
	if c.Status != Pass || !strings.Contains(c.Detail, "monotonic 86400s") {
		t.Errorf("ns.time = %+v", c)
	}
}

// A SysV shared memory segment made inside a new IPC namespace (by
// util-linux ipcmk) is seen by entering that namespace, and not on the host.
func TestUnshareIPCObjects(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresCommand(t, "ipcmk")
	pid := nstest.Start(t, "sleep", "unshare", "--ipc", "--fork", "sh", "-c", "ipcmk -M 4096 >/dev/null && exec sleep 30")
	s, self := take(t, pid), take(t, os.Getpid())
	if len(s.IPC.Shm) != 1 || len(s.IPC.Msg) != 0 || len(s.IPC.Sem) != 0 {
		t.Errorf("objects inside = %+v", s.IPC)
	}
	for _, o := range self.IPC.Shm {
		if o.Key == s.IPC.Shm[0].Key && o.ID == s.IPC.Shm[0].ID {
			t.Errorf("the container's segment %+v is visible on the host", o)
		}
	}
	if c := checkOf(t, s, self, "ipc.sysv"); c.Status != Pass || !strings.HasPrefix(c.Target, "1 shm") {
		t.Errorf("ipc.sysv = %+v", c)
	}
}
