package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// V2VM returns the run-v2.sh of ../shared/tools/v2vm, the throw-away qemu
// machine with pure cgroup v2 (the build machines are hybrid), or skips t
// with the reason where it is not at hand: not beside the repository (a
// user's checkout, CI without ../shared; STEPBOX_V2VM names another), or no
// qemu. It needs root, like the tests that use it.
func V2VM(t testing.TB) string {
	t.Helper()
	script := os.Getenv("STEPBOX_V2VM")
	if script == "" {
		_, file, _, _ := runtime.Caller(0)
		// internal/testutil → the repository → its parent, where shared/ is.
		script = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "tools", "v2vm", "run-v2.sh")
	}
	if _, err := os.Stat(script); err != nil {
		t.Skipf("skipping: the cgroup v2 machine is not here (%v; set STEPBOX_V2VM to its run-v2.sh)", err)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skipf("skipping: qemu-system-x86_64 is not installed (run %s once as root to install it)", script)
	}
	RequiresRoot(t)
	return script
}
