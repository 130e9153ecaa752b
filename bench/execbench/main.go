// Command execbench drives sandbox.Container.Exec from the command line,
// one process per exec as `runc exec` is, so that bench/exec.sh can time
// it against runc and crun with hyperfine. It stands in for `stepbox exec`
// until the command line has one.
//
//	execbench start STATE ID BUNDLE   create and start BUNDLE/config.json, and leave it running
//	execbench exec STATE ID CMD…      run CMD in it with the container's defaults; exit with its code
//	execbench rm STATE ID             remove it
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/sandbox"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: execbench start STATE ID BUNDLE | exec STATE ID CMD… | rm STATE ID")
		os.Exit(2)
	}
	paths := sandbox.DefaultPaths(os.Args[2])
	id := os.Args[3]
	switch os.Args[1] {
	case "start":
		sandbox.Prefetch()
		os.Exit(start(paths, id, os.Args[4]))
	case "exec":
		sandbox.PrefetchExec()
		os.Exit(execIn(paths, id, os.Args[4:]))
	case "rm":
		c, err := sandbox.Load(paths, id)
		if err == nil {
			err = c.Delete(true)
		}
		fail(err)
	}
}

func start(paths sandbox.Paths, id, bundle string) int {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	fail(err)
	var spec specs.Spec
	fail(json.Unmarshal(b, &spec))
	c, err := sandbox.Create(paths, id, &spec, sandbox.Options{Bundle: bundle, Init: true})
	fail(err)
	if err := c.Start(); err != nil {
		c.Delete(true)
		fail(err)
	}
	return 0
}

func execIn(paths sandbox.Paths, id string, args []string) int {
	c, err := sandbox.Load(paths, id)
	fail(err)
	p, err := c.ExecProcess(sandbox.ExecSettings{Args: args})
	fail(err)
	proc, err := c.Exec(p, sandbox.ExecOptions{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "execbench:", err)
		return sandbox.ExitCode(err)
	}
	code, err := proc.Wait()
	fail(err)
	return code
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "execbench:", err)
		os.Exit(125)
	}
}
