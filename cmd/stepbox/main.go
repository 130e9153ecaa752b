// Command stepbox builds a Linux container one kernel feature at a time, shows
// the evidence for each step, inspects the isolation of any process on a host,
// and runs containers.
package main

import (
	"os"

	"github.com/stepbox/stepbox/sandbox"
)

// version is set by the Makefile (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	// The container init is this binary, re-executed from a sealed copy:
	// it must not pay for the command line's setup.
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	if sandbox.IsProbe() {
		sandbox.RunProbe()
	}
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
