//go:build linux && cgo

package nsenter

import (
	"slices"
	"syscall"
	"testing"

	"github.com/stepbox/stepbox/sandbox"
)

// The C constructor and the sandbox package, which starts the stage, must
// agree on how it is marked.
func TestNamesAgree(t *testing.T) {
	arg, env := cNames()
	if arg != sandbox.ExecStageArg || env != sandbox.ExecStageEnv {
		t.Errorf("C has %q and %q, sandbox %q and %q", arg, env, sandbox.ExecStageArg, sandbox.ExecStageEnv)
	}
	arg, env = cUserNSNames()
	if arg != sandbox.UserNSStageArg || env != sandbox.UserNSStageEnv {
		t.Errorf("C has %q and %q, sandbox %q and %q", arg, env, sandbox.UserNSStageArg, sandbox.UserNSStageEnv)
	}
	arg, env = cReapNames()
	if arg != sandbox.ReapStageArg || env != sandbox.ReapStageEnv {
		t.Errorf("C has %q and %q, sandbox %q and %q", arg, env, sandbox.ReapStageArg, sandbox.ReapStageEnv)
	}
	// The C minimal init passes on what the Go one does; both reap on
	// SIGCHLD.
	var goSigs []int
	for _, s := range sandbox.ForwardedSignals() {
		if s != int(syscall.SIGCHLD) {
			goSigs = append(goSigs, s)
		}
	}
	if c := cReapForwarded(); !slices.Equal(c, goSigs) {
		t.Errorf("the C minimal init forwards %v, the Go one %v", c, goSigs)
	}
	if Entered() {
		t.Error("a test binary started normally says it was entered")
	}
}
