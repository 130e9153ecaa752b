// Command stepbox builds a Linux container one kernel feature at a time, shows
// the evidence for each step, inspects the isolation of any process on a host,
// and runs containers.
package main

import (
	"os"
	"path/filepath"

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
	// Run under the name runc (a symlink), this is the OCI runtime's
	// command line, for engines that call runc (oci.go).
	if filepath.Base(os.Args[0]) == "runc" {
		if ociStartsContainers(os.Args[1:]) {
			sandbox.Prefetch()
		}
		os.Exit(ociMain("runc", os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
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
	case "oci":
		return ociStartsContainers(args[1:])
	}
	return false
}

// ociStartsContainers reports whether an OCI command line (runc's) makes a
// container: its init's sealed copy can start at once.
func ociStartsContainers(args []string) bool {
	for _, a := range args {
		switch a {
		case "create", "run":
			return true
		case "exec":
			return false
		}
	}
	return false
}
