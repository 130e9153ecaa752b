package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

// TestExecInQemu runs the exec tests on another kernel and cgroup layout:
// Debian 12's Linux 6.1 with pure cgroup v2, in the throw-away machine of
// ../shared/tools/v2vm. There the exec stage is born in a cgroup2
// directory by CLONE_INTO_CGROUP alone, and the kernel refuses threads to a
// program in a time namespace (timens.go), so the containers have none
// there (sleeper). The machine has busybox and no util-linux, so the lsns
// witness stays home.
// It skips, with the reason, where that machine is not at hand.
func TestExecInQemu(t *testing.T) {
	script := testutil.V2VM(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: no go tool to build the test binary with: %v", err)
	}
	// Static, as the machine has no C library; stepbox-exec goes beside
	// the test binary, where needExecStage finds it.
	dir := t.TempDir()
	bin := filepath.Join(dir, "sandbox.test")
	build := exec.Command(goTool, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	stage := filepath.Join(dir, ExecBinaryName)
	if err := testutil.GoBuild("./cmd/stepbox-exec", stage); err != nil {
		t.Fatal(err)
	}
	tests := []string{"TestExecLandsWhereThePayloadIs", "TestExecExitCodes", "TestExecSignal", "TestExecOverrides",
		"TestExecDescriptors", "TestExecTerminal", "TestExecManyAtOnce", "TestExecDetachAndPidFile", "TestExecStdin"}
	snippet := "cd /tmp && \"$BIN\" -test.run '^(" + strings.Join(tests, "|") + ")$' -test.v -test.count=1 -test.timeout 240s; " +
		"echo \"left $(find /sys/fs/cgroup -name 'stepbox*' | wc -l)\""
	cmd := exec.Command(script, bin, snippet)
	cmd.Env = append(os.Environ(), "V2VM_TIMEOUT=280", "V2VM_FILES="+stage+":/usr/local/bin/"+ExecBinaryName)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("in the v2 machine (%s):\n%s", time.Since(start).Round(time.Second), out)
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 124 || ee.ExitCode() == 125) {
		t.Fatalf("the v2 machine failed (exit %d: 124 timeout, 125 no status; V2VM_VERBOSE=1 shows its console)", ee.ExitCode())
	}
	if err != nil {
		t.Fatalf("the exec tests failed on Linux 6.1 with cgroup v2: %v", err)
	}
	s := string(out)
	for _, name := range tests {
		if !regexp.MustCompile(`--- PASS: ` + name + ` `).MatchString(s) {
			t.Errorf("%s did not pass in the v2 machine", name)
		}
	}
	if !strings.Contains(s, "left 0") {
		t.Error("cgroups were left in the v2 machine")
	}
}
