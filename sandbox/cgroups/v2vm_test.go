package cgroups

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

// TestV2RealInQemu runs the real-kernel tests (TestReal*) on pure cgroup v2:
// the build machines are hybrid, so the v2 driver's memory, pids and cpu
// cannot be exercised on them. It builds this package's test binary
// statically and boots it in the throw-away machine of
// ../shared/tools/v2vm (Debian's kernel with cgroup_no_v1=all, about five
// seconds a boot), where the tests must find layout v2, and none may skip.
//
// It skips, with the reason, where that machine is not at hand: no
// run-v2.sh (a user's checkout, CI without ../shared) or no qemu.
func TestV2RealInQemu(t *testing.T) {
	script := testutil.V2VM(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: no go tool to build the test binary with: %v", err)
	}

	bin := filepath.Join(t.TempDir(), "cgroups.test")
	build := exec.Command(goTool, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}

	snippet := testutil.EnvRoot + "=1 " + expectModeEnv + "=v2 \"$BIN\" -test.run '^TestReal' -test.v -test.count=1 -test.timeout 240s"
	cmd := exec.Command(script, bin, snippet)
	cmd.Env = append(os.Environ(), "V2VM_TIMEOUT=280")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("in the v2 machine (%s):\n%s", time.Since(start).Round(time.Second), out)
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 124 || ee.ExitCode() == 125) {
		t.Fatalf("the v2 machine failed (exit %d: 124 timeout, 125 no status; V2VM_VERBOSE=1 shows its console)", ee.ExitCode())
	}
	if err != nil {
		t.Fatalf("the real tests failed on cgroup v2: %v", err)
	}
	s := string(out)
	if strings.Contains(s, "--- SKIP") {
		t.Error("a real test skipped on cgroup v2")
	}
	// Every TestReal function of this package must have passed there.
	src, err := os.ReadFile("real_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^func (TestReal\w+)\(`).FindAllStringSubmatch(string(src), -1) {
		if !strings.Contains(s, "--- PASS: "+m[1]+" ") {
			t.Errorf("%s did not pass on cgroup v2", m[1])
		}
	}
}
