// Command runbench runs a bundle's container in the foreground through the
// sandbox package alone, as `stepbox run --rm` does, in a binary that links
// nothing else: bench/start.sh times it beside `stepbox run` to show what
// the command line's own start costs (its size and the libraries of its
// other commands).
//
//	runbench STATE BUNDLE   create, start, wait for and delete BUNDLE/config.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/sandbox"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: runbench STATE BUNDLE")
		os.Exit(2)
	}
	sandbox.Prefetch()
	paths := sandbox.DefaultPaths(os.Args[1])
	bundle := os.Args[2]
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	fail(err)
	var spec specs.Spec
	fail(json.Unmarshal(b, &spec))
	if !filepath.IsAbs(spec.Root.Path) {
		spec.Root.Path = filepath.Join(bundle, spec.Root.Path)
	}
	c, err := sandbox.Create(paths, "runbench-"+strconv.Itoa(os.Getpid()), &spec, sandbox.Options{Bundle: bundle, Init: true, StartAtOnce: true, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	fail(err)
	if err := c.Start(); err != nil {
		c.Delete(true)
		fail(err)
	}
	code, err := c.Wait()
	c.Delete(true)
	fail(err)
	os.Exit(code)
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "runbench:", err)
		os.Exit(125)
	}
}
