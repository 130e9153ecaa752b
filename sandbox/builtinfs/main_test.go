package builtinfs

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(buildHelperEnv); dir != "" {
		os.Exit(buildHelperMain(dir))
	}
	testutil.Main(m)
}

// buildHelperEnv names the rootfs directory a helper builds, stopping for
// good once the files are in place (to be killed there by the test).
const buildHelperEnv = "STEPBOX_ROOTFS_BUILD_HELPER"

func buildHelperMain(dir string) int {
	afterFill = func(tmp string) {
		fmt.Println("filled", tmp)
		// Not select {}: with no other goroutine and no timer, the runtime
		// calls that a deadlock and exits, dropping the lock before the
		// test is ready (a flake seen once in make test).
		for {
			time.Sleep(time.Hour)
		}
	}
	if _, err := Build(dir, "", BuildOptions{Source: SourceBusybox}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func hostHas(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
