// Command stepbox builds a Linux container one kernel feature at a time, shows
// the evidence for each step, inspects the isolation of any process on a host,
// and runs containers.
package main

import (
	"os"
	"strings"

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
	sandbox.Tracef("main")
	if startsContainers(os.Args[1:]) {
		sandbox.Prefetch()
	}
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// startsContainers reports whether the command line names a command that
// starts containers, looking past the global flags (root.go) to the first
// word, as cobra will.
func startsContainers(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return false
		case a == "--lang" || a == "--color" || a == "--root":
			i++ // the flag's value
		case strings.HasPrefix(a, "-"):
		default:
			return a == "run" || a == "learn" || a == "tour"
		}
	}
	return false
}
