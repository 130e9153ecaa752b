// Command stepbox-init is the container init of stepbox and nothing else.
// stepbox starts it, through a read-only view or a sealed memfd copy, in each
// new container's namespaces; the sandbox package, imported here for that alone,
// runs the init from its package initialisation, so main is reached only
// when someone starts this binary by hand.
//
// It is a binary of its own so that every container start maps 3 MB, and
// where the kernel refuses the read-only view copies them, instead of all of
// stepbox (README.md, "How a container starts"). Without it beside stepbox,
// stepbox runs itself.
package main

import (
	"fmt"
	"os"

	_ "github.com/stepbox/stepbox/sandbox"
)

func main() {
	fmt.Fprintln(os.Stderr, "stepbox-init: this is the init that stepbox starts in each container; it does nothing on its own (try 'stepbox run -- sh')")
	os.Exit(2)
}
