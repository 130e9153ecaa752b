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
	// The container init is this binary, re-executed from a sealed copy;
	// it never gets here, as sandbox's package initialisation runs it
	// before the command line's packages are initialised.
	if sandbox.IsProbe() {
		sandbox.RunProbe()
	}
	// A detached container's monitor, in a phase that needs all of
	// stepbox (sandbox/monitor.go).
	if sandbox.IsMonitor() {
		sandbox.RunMonitor()
	}
	sandbox.Tracef("main")
	if startsContainers(os.Args[1:]) {
		sandbox.Prefetch()
	} else if commandName(os.Args[1:]) == "exec" {
		// The sealed copy of stepbox-exec, made while the command line
		// finds the container.
		sandbox.PrefetchExec()
	}
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// startsContainers reports whether the command line names a command that
// starts containers.
func startsContainers(args []string) bool {
	switch commandName(args) {
	case "run", "learn", "tour":
		return true
	}
	return false
}
