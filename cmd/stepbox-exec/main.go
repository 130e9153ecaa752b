// Command stepbox-exec is the exec stage of stepbox and nothing else: for
// `stepbox exec` (sandbox.Container.Exec), stepbox starts it through a
// read-only view or a sealed memfd copy, whose C constructor (package nsenter) enters every namespace
// of the running container before the Go runtime starts, and whose Go half
// (sandbox.RunExecStage) then gives the process its user, privileges and
// seccomp filter and executes the command.
//
// It is the one binary of stepbox built with cgo, statically (make build);
// stepbox and stepbox-init stay without (DESIGN.md, "Entering a running
// container", says why).
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/nsenter"
)

func main() {
	if !nsenter.Entered() {
		// Not the constructor's child: nothing was entered, and nothing
		// may run here, on the host.
		fmt.Fprintln(os.Stderr, "stepbox-exec: this is the stage that stepbox starts to enter a running container; it does nothing on its own (try 'stepbox exec')")
		os.Exit(2)
	}
	// Identity, capabilities and the seccomp filter belong to a thread,
	// and execve(2) keeps only the calling one.
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	sandbox.RunExecStage()
}
