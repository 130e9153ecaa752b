package sandbox

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// `stepbox start -a`: attached before the payload runs, as docker's start
// -a attaches before it starts, so that not even a shell's first prompt is
// missed. The monitor makes the container and its attach socket, and holds
// the payload until a client is queued on the socket (awaitAttach); its
// watch phase takes that client before it reads any output
// (newAttachHub).

// attachFirst is a start request's ask for it.
type attachFirst struct {
	// Stdin keeps the container's standard input open for this run
	// (start -ai), whatever its run asked for.
	Stdin bool `json:"stdin,omitempty"`
}

// attachFirstWait bounds the monitor's wait for the command line's client:
// one that is gone by then leaves the container stopped, as it was.
const attachFirstWait = 10 * time.Second

// awaitAttach waits until a connection is queued on the listening socket
// (poll(2) reports it readable), without taking it.
func awaitAttach(sock *os.File, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		fds := []unix.PollFd{{Fd: int32(sock.Fd()), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return fmt.Errorf("wait for start -a on the attach socket: %w", err)
		case n > 0:
			return nil
		case time.Now().After(deadline):
			return &kindError{fmt.Sprintf("nobody attached to the container within %s", d), ErrNotAttachable}
		}
	}
}

// StartAttached starts the stopped container id again under a new
// monitor, as StartDetached does, and returns an attachment made before its
// payload ran, and the init's pid. stdin keeps its standard input open.
func StartAttached(p Paths, id string, stdin bool) (*Attachment, int, error) {
	c, err := Load(p, id)
	if err != nil {
		return nil, 0, err
	}
	spec, err := readSpec(c.dir)
	if err != nil {
		return nil, 0, err
	}
	type started struct {
		pid int
		err error
	}
	done := make(chan started, 1)
	go func() {
		pid, err := startDetached(detachRequest{Paths: p, ID: id, Attach: &attachFirst{Stdin: stdin}})
		done <- started{pid, err}
	}()
	// The socket appears once the monitor has made the container; until
	// then (or while an old monitor's is left) there is nothing to reach.
	name := c.State().DisplayName()
	for {
		conn, err := c.dialSocket(name)
		if err == nil {
			s := <-done
			if s.err != nil {
				conn.Close()
				return nil, 0, s.err
			}
			a := newAttachment(conn, spec)
			if st := c.State(); st.Detached != nil {
				a.Stdin = st.Detached.Stdin
			}
			return a, s.pid, nil
		}
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ECONNREFUSED) {
			<-done
			return nil, 0, hint.With(fmt.Errorf("start -a %s: %w", name, err), "start it without -a, and read its output with stepbox logs -f")
		}
		select {
		case s := <-done:
			if s.err == nil {
				s.err = fmt.Errorf("start -a %s: the container started without waiting for this attach", name)
			}
			return nil, 0, s.err
		case <-time.After(time.Millisecond):
		}
	}
}
