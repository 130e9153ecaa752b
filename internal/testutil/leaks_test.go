package testutil

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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
