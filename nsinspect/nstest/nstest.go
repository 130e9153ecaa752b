// Package nstest starts processes for the tests of nsinspect and of the
// stepbox commands built on it: processes made by independent tools
// (util-linux unshare and setpriv, libcap's capsh), never by stepbox's own
// code, so that the inspector is checked against a witness.
package nstest

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

// Start runs argv (whose first word must be an installed tool) and returns
// the PID of the first process named want in the tree it starts, once that
// process exists: "sleep" after `unshare --fork sh -c '...; exec sleep 30'`.
// Every process of the tree is killed and reaped when the test ends.
func Start(t testing.TB, want string, argv ...string) int {
	t.Helper()
	testutil.RequiresCommand(t, argv[0])
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	root := cmd.Process.Pid
	t.Cleanup(func() {
		// Children first: unshare --fork does not kill its child when it
		// dies, and an orphan would be a leak (testutil.Main finds it).
		tree := Tree(root)
		for i := len(tree) - 1; i >= 0; i-- {
			_ = syscall.Kill(tree[i], syscall.SIGKILL)
		}
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, pid := range Tree(root) {
			if Comm(pid) == want {
				return pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%v: no process %q appeared in 5s", argv, want)
	return 0
}

// Tree lists pid and its descendants, parents before children, from the
// kernel's /proc/PID/task/TID/children lists.
func Tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(out[i]) + "/task")
		for _, task := range tasks {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(out[i]) + "/task/" + task.Name() + "/children")
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// Comm is the command name of pid, or "".
func Comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}
