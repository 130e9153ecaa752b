package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A container that starts at once (Options.StartAtOnce) never waits in
// the created state for a Start to come: `stepbox run` starts what it
// creates and has nothing to do in between, as crun's run does not stop
// there either. The init takes the same steps as for any other container
// (the teaching paths are the same), but the start fifo is opened for
// reading before the init gets to it, so its open(2) for writing returns at
// once and it goes on to its payload without the round trip to the
// parent and back: 0.6 to 1.4 ms of a start on the build machines
// (STEPBOX_TRACE=1, "init: ready" to "init: starting the payload").
//
// The pidfd is taken at the clone, before anything can reap the init: by
// the time Start runs the payload may have run and exited.
type earlyStart struct {
	fifo  *os.File
	pidfd int
}

// startsAtOnce reports whether the container can go on past "ready"
// without its creator: not when a pids limit must be set once the init's
// threads exist (limitPids), nor when the network namespace it joins must
// be checked still to be the one looked up (checkJoined).
func (c *Container) startsAtOnce(pidsLimit bool) bool {
	return c.opts.StartAtOnce && !pidsLimit && c.joined == nil
}

// openStartEarly opens the start fifo and a pidfd of the just-cloned init.
func (c *Container) openStartEarly(fifoPath string, pid int) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open of container init: %w", err)
	}
	fifo, err := openStartFifo(fifoPath, pidfd)
	if err != nil {
		return err
	}
	c.early = &earlyStart{fifo: fifo, pidfd: pidfd}
	return nil
}

// openStart returns the start fifo, open for reading, and a pidfd of the
// init: those opened at the clone for a container that starts at once, or
// new ones for a container still in the created state.
func (c *Container) openStart(fifoPath string) (*os.File, int, error) {
	if e := c.early; e != nil {
		c.early = nil
		return e.fifo, e.pidfd, nil
	}
	if st := liveStatus(c.dir, c.knownState()); st != Created {
		return nil, -1, fmt.Errorf("start container %s: it is %s, not created: %w", c.ID, st, ErrWrongState)
	}
	// The pidfd first: opening the fifo releases the init, and a quick
	// payload may be gone before a pidfd taken afterwards could be.
	pidfd, err := unix.PidfdOpen(c.Pid(), 0)
	if err != nil {
		return nil, -1, c.initDied("before it was started")
	}
	fifo, err := openStartFifo(fifoPath, pidfd)
	if err != nil {
		return nil, -1, err
	}
	return fifo, pidfd, nil
}

// openStartFifo opens the start fifo for reading; on failure it closes
// pidfd, the init's. O_NONBLOCK: opening does not wait for the writer;
// poll(2) then waits for its byte or for the init to die, so Start never
// hangs on a corpse.
func openStartFifo(fifoPath string, pidfd int) (*os.File, error) {
	fifo, err := os.OpenFile(fifoPath, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(pidfd)
		return nil, fmt.Errorf("open %s: %w", fifoPath, err)
	}
	return fifo, nil
}

// closeStart closes what openStartEarly opened, for a container removed
// without a Start.
func (c *Container) closeStart() {
	if e := c.early; e != nil {
		c.early = nil
		e.fifo.Close()
		unix.Close(e.pidfd)
	}
}
