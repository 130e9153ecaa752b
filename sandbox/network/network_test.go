package network

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// namespaceHolder starts a process in a new network namespace (made by
// clone, not by a shell tool) and returns it; the namespace dies with it.
func namespaceHolder(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func TestVethAcrossTwoNamespaces(t *testing.T) {
	testutil.RequiresRoot(t)
	nsenter := testutil.RequiresCommand(t, "nsenter")
	busybox := testutil.StaticBusybox(t)
	l := testutil.Snapshot()
	a, b := namespaceHolder(t), namespaceHolder(t)
	for _, p := range []int{a.Process.Pid, b.Process.Pid} {
		if err := LoopbackUp(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := Veth(End{a.Process.Pid, "eth0", "10.231.0.1/24"}, End{b.Process.Pid, "eth0", "10.231.0.2/24"}); err != nil {
		t.Fatal(err)
	}
	addrs, err := Addresses(b.Process.Pid)
	if err != nil || len(addrs["eth0"]) != 1 || addrs["eth0"][0] != "10.231.0.2/24" {
		t.Fatalf("addresses in b: %v, %v", addrs, err)
	}
	// The witness: busybox's ping (make test installs busybox-static;
	// Debian's base has no ping) from inside a, through nsenter; traffic
	// stays between the two namespaces this test made.
	out, err := exec.Command(nsenter, "-t", strconv.Itoa(a.Process.Pid), "-n", "--",
		busybox, "ping", "-c", "1", "-W", "2", "10.231.0.2").CombinedOutput()
	if err != nil {
		t.Fatalf("ping across the pair: %v\n%s", err, out)
	}
	// The host has no trace of the pair.
	if host, _ := exec.Command(testutil.RequiresCommand(t, "ip"), "-o", "addr").Output(); strings.Contains(string(host), "10.231") {
		t.Fatal("the pair touched the host")
	}
	a.Process.Kill()
	a.Wait()
	b.Process.Kill()
	b.Wait()
	l.Check(t, 5*time.Second)
}
