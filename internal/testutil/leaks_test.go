package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { Main(m) }

func TestLeakCheckerFindsAProcess(t *testing.T) {
	l := Snapshot()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leaks := waitForLeaks(l.before, 0)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(leaks) != 1 || !strings.Contains(leaks[0], "process") || !strings.Contains(leaks[0], "sleep") {
		t.Fatalf("leaks = %q, want the sleep process", leaks)
	}
	l.Check(t, time.Second)
}

func TestLeakCheckerFindsAnOrphan(t *testing.T) {
	l := Snapshot()
	// sh starts sleep in the background and exits: sleep is reparented to
	// us (the subreaper) and must be found.
	out, err := exec.Command("sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	leaks := waitForLeaks(l.before, 0)
	if p, err := os.FindProcess(atoi(strings.TrimSpace(string(out)))); err == nil {
		_ = p.Kill()
	}
	if len(leaks) == 0 {
		t.Fatal("orphaned sleep not found")
	}
	l.Check(t, 2*time.Second)
}

func TestLeakCheckerFindsACgroup(t *testing.T) {
	RequiresRoot(t)
	dir := "/sys/fs/cgroup/pids/stepbox-testutil-leak"
	if _, err := os.Stat("/sys/fs/cgroup/pids"); err != nil {
		dir = "/sys/fs/cgroup/stepbox-testutil-leak"
	}
	l := Snapshot()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	leaks := waitForLeaks(l.before, 0)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if len(leaks) != 1 || !strings.Contains(leaks[0], dir) {
		t.Fatalf("leaks = %q, want %s", leaks, dir)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// Cgroups that other commands get beside ours (the build machines give each
// command memory:/process_api/ID) are not the package's; ours, what is
// below it, and stepbox's own places are.
func TestOthersCgroups(t *testing.T) {
	self := "4:memory:/process_api/ours\n3:cpu,cpuacct:/\n9:name=systemd:/user.slice/user-0.slice/session-1.scope\n0::/\n"
	mi := `35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	others := othersCgroups([]byte(self), []byte(mi))
	for dir, want := range map[string]bool{
		"/sys/fs/cgroup/memory/process_api/theirs":                         true,
		"/sys/fs/cgroup/memory/process_api/theirs/sub":                     true,
		"/sys/fs/cgroup/systemd/user.slice/user-0.slice/session-2.scope":   true,
		"/sys/fs/cgroup/memory/process_api/ours":                           false,
		"/sys/fs/cgroup/memory/process_api/ours/child":                     false,
		"/sys/fs/cgroup/memory/process_api":                                false,
		"/sys/fs/cgroup/memory/stepbox/abc":                                false,
		"/sys/fs/cgroup/cpu,cpuacct/process_api/theirs":                    false,
		"/sys/fs/cgroup/unified/stepbox/abc":                               false,
		"/sys/fs/cgroup/systemd/user.slice/user-0.slice/session-1.scope/x": false,
	} {
		if got := others(dir); got != want {
			t.Errorf("others(%s) = %v, want %v", dir, got, want)
		}
	}
}

// A bridge is reported as one, apart from other links.
func TestLeakCheckerFindsABridge(t *testing.T) {
	RequiresRoot(t)
	l := Snapshot()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "sbtest-leak0"
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(&netlink.Bridge{LinkAttrs: attrs}) })
	leaks := waitForLeaks(l.before, 0)
	if err := netlink.LinkDel(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
		t.Fatal(err)
	}
	if len(leaks) != 1 || leaks[0] != "bridge: sbtest-leak0" {
		t.Fatalf("leaks = %q, want the bridge", leaks)
	}
	l.Check(t, time.Second)
}

// A port proxy is found below us however deep, here a grandchild whose
// parent (a shell, as a monitor would be) still runs.
func TestLeakCheckerFindsAProxy(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	dir := t.TempDir()
	proxy := filepath.Join(dir, "stepbox-proxy")
	if err := os.Symlink(sleep, proxy); err != nil {
		t.Fatal(err)
	}
	l := Snapshot()
	sh := exec.Command("sh", "-c", proxy+" 30 & wait")
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
	var leaks []string
	for range 100 {
		if leaks = waitForLeaks(l.before, 0); len(leaks) >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The shell's child, by its pid (proc(5): /proc/PID/task/TID/children).
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh.Process.Pid, sh.Process.Pid))
	for _, k := range strings.Fields(string(kids)) {
		_ = unix.Kill(atoi(k), unix.SIGKILL)
	}
	if !slices.ContainsFunc(leaks, func(s string) bool { return strings.HasPrefix(s, "port proxy: ") }) {
		t.Fatalf("leaks = %q, want the proxy", leaks)
	}
	_ = sh.Wait()
	l.Check(t, 2*time.Second)
}
