//go:build linux && cgo

package nsenter

import (
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
	if Entered() {
		t.Error("a test binary started normally says it was entered")
	}
}
