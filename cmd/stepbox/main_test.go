package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox"
)

// stepboxBin is the stepbox binary built once for the command-line tests,
// statically as `make build` does (testutil.GoBuild).
var stepboxBin string

// testRoot is the --root every command-line test that starts containers
// uses: their state and the built-in root filesystem (built by the first
// run, through the same code a user's first run takes) live there.
var testRoot string

func TestMain(m *testing.M) {
	// 0755 all the way, so the unprivileged user of the permission tests
	// can run it.
	dir, err := os.MkdirTemp("", "stepbox-cli-test-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		panic(err)
	}
	stepboxBin = filepath.Join(dir, "stepbox")
	// The lean container init beside it, as `make build` puts it.
	for out, pkg := range map[string]string{stepboxBin: "./cmd/stepbox", filepath.Join(dir, sandbox.InitBinaryName): "./cmd/stepbox-init"} {
		if err := testutil.GoBuild(pkg, out); err != nil {
			os.RemoveAll(dir)
			panic(err.Error())
		}
	}
	testRoot = filepath.Join(dir, "state")
	testutil.Main(m, func() {
		// Stopped containers' records and the built-in rootfs built
		// under --root by the run tests go with the directory.
		os.RemoveAll(dir)
	})
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// stepbox runs the binary; prefix (e.g. setpriv ...) runs before it.
func stepbox(t *testing.T, prefix []string, args ...string) result {
	t.Helper()
	argv := append(append(slices.Clone(prefix), stepboxBin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", argv, err)
	}
	return r
}
