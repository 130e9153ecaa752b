package sandbox

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/testutil"
)

// A container that starts at once runs its payload without waiting for
// Start (here its first line arrives before Start is called); Start then
// finds it running and records it so, and nothing of the start is left.
func TestStartAtOnce(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	spec := DefaultSpec(rootfsDir(t), "sh", "-c", "echo up; sleep 30")
	c, err := Create(testPaths(t), "", spec, Options{Init: true, StartAtOnce: true, Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() { s, _ := bufio.NewReader(r).ReadString('\n'); line <- s }()
	select {
	case s := <-line:
		if s != "up\n" {
			t.Errorf("payload said %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Error("the payload did not run before Start")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if st := c.State().Status; st != Running {
		t.Errorf("status after Start %s, want running", st)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "exec.fifo")); !os.IsNotExist(err) {
		t.Errorf("exec.fifo after Start: %v", err)
	}
	if err := c.Delete(true); err != nil {
		t.Fatal(err)
	}
	l.Check(t, 5*time.Second)
}

// Where something must happen between ready and the payload (a pids limit
// set once the init's threads exist), the container waits for Start as
// any other; one removed without a Start leaves nothing behind.
func TestStartAtOnceWaitsForPidsLimit(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	spec := DefaultSpec(rootfsDir(t), "true")
	limit := int64(64)
	spec.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
	c, err := Create(testPaths(t), "", spec, Options{Init: true, StartAtOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.early != nil {
		t.Error("a container with a pids limit started at once")
	}
	if st := c.State().Status; st != Created {
		t.Errorf("status %s, want created", st)
	}
	if err := c.Delete(true); err != nil {
		t.Fatal(err)
	}
	at, err := Create(testPaths(t), "", DefaultSpec(rootfsDir(t), "true"), Options{StartAtOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	if at.early == nil {
		t.Error("a container without anything to wait for did not start at once")
	}
	if err := at.Delete(true); err != nil {
		t.Fatal(err)
	}
	l.Check(t, 5*time.Second)
}
