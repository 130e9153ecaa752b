//go:build linux && cgo

package nsenter

import "testing"

// The C constructor and the Go side must agree on how the stage is marked.
func TestNamesAgree(t *testing.T) {
	arg, env := cNames()
	if arg != Arg || env != Env {
		t.Errorf("C has %q and %q, Go %q and %q", arg, env, Arg, Env)
	}
	if Entered() {
		t.Error("a test binary started normally says it was entered")
	}
}
