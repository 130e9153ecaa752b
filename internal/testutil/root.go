// Package testutil holds what every stepbox test package shares: gating of
// root-only tests and the leak checker that proves a package leaves no kernel
// object behind.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// EnvRoot is set to 1 by `make test` (and so by CI): tests that would skip
// without root or without a witness tool fail instead, so a CI run cannot pass
// by silently skipping the tests that matter.
const EnvRoot = "STEPBOX_TEST_ROOT"

// Strict reports whether skips of root-only tests must become failures.
func Strict() bool { return os.Getenv(EnvRoot) == "1" }

// RequiresRoot skips t when the test does not run as root, and fails it instead
// when STEPBOX_TEST_ROOT=1 (containerd's pkg/testutil semantics).
func RequiresRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if Strict() {
		t.Fatalf("this test needs root, and %s=1 forbids skipping it: run it as root", EnvRoot)
	}
	t.Skip("skipping: needs root (run as root, or set " + EnvRoot + "=1 to make this a failure)")
}

// RequiresCommand returns the path of an independent witness tool (lsns,
// unshare, capsh, …). It skips when the tool is missing, and fails instead when
// STEPBOX_TEST_ROOT=1, because `make test` installs every tool the tests name
// (scripts/deps.sh).
func RequiresCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if Strict() {
		t.Fatalf("witness tool %s is missing and %s=1 forbids skipping: %s", name, EnvRoot, installHint)
	}
	t.Skipf("skipping: %s is not installed (%s)", name, installHint)
	return ""
}

// installHint says where the tests' tools come from.
const installHint = "as root, `make deps` installs what the tests need (scripts/deps.sh lists it)"
