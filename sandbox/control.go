package sandbox

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// What the commands of a container's life do to it: stop, kill, rm, wait.
// Each takes the container's lock for what it changes, and never holds it
// while it waits, since the monitor needs it to record the exit.

// monitorWait bounds how long a command waits for the monitor to record an
// exit and end.
const monitorWait = 15 * time.Second

// DisplayName is the container's name, or its short id.
func (s State) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return ShortID(s.ID)
}

// kindError is an error worded for the user that errors.Is still knows.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func manualStop(s *State) {
	if s.Detached != nil {
		s.Detached.ManualStop = true
	}
}

// Stop stops a running container as docker stop does: SIGTERM (or its
// image's STOPSIGNAL) to its init (the minimal init passes it on), then, after grace, SIGKILL to every
// process in its cgroups; then it waits for the monitor to record the exit.
// The restart policy rests until the container is started again. A
// container that is not running is left as it is.
func (c *Container) Stop(grace time.Duration) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	st := c.State()
	if !st.Active() {
		unlock()
		return nil
	}
	if err := c.update(manualStop); err != nil {
		unlock()
		return err
	}
	pidfd := openInit(st)
	if pidfd >= 0 {
		defer unix.Close(pidfd)
		_ = unix.PidfdSendSignal(pidfd, st.StopSignal(), nil, 0)
	}
	if st.Status == Restarting {
		signalMonitor(st, unix.SIGTERM) // ends its back-off
	}
	unlock()
	if pidfd >= 0 && !waitPidfd(pidfd, grace) {
		c.killAll(pidfd)
	}
	c.awaitMonitor(st, monitorWait)
	return nil
}

// Kill sends sig to the container's init. A signal that ends a container
// (KILL, TERM, INT, QUIT) also makes the restart policy rest, as docker's
// kill does; others (HUP, USR1, …) leave it.
func (c *Container) Kill(sig syscall.Signal) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	st := c.State()
	if st.Status != Running && st.Status != Created {
		return &kindError{fmt.Sprintf("cannot kill container %s: it is not running", st.DisplayName()), ErrWrongState}
	}
	switch sig {
	case unix.SIGKILL, unix.SIGTERM, unix.SIGINT, unix.SIGQUIT:
		if err := c.update(manualStop); err != nil {
			return err
		}
	}
	return c.Signal(sig)
}

// Remove removes the container and everything it has: its processes (only
// with force, when it runs), its monitor, cgroups, log, record and name.
func (c *Container) Remove(force bool) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	st := c.State()
	if st.Active() {
		if !force {
			unlock()
			return hint.With(&kindError{fmt.Sprintf("cannot remove %s container %s", st.Status, st.DisplayName()), ErrWrongState},
				"stop it first or use -f")
		}
		if err := c.update(manualStop); err != nil {
			unlock()
			return err
		}
	}
	unlock()
	if st.Active() {
		pidfd := openInit(st)
		c.killAll(pidfd)
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		if st.Status == Restarting {
			signalMonitor(st, unix.SIGTERM)
		}
	}
	if !c.awaitMonitor(st, monitorWait) {
		signalMonitor(st, unix.SIGKILL)
		c.awaitMonitor(st, time.Second)
	}
	unlock, err = c.lock()
	if errors.Is(err, ErrNoContainer) && st.Detached != nil && st.Detached.AutoRemove {
		return nil // removed by its monitor as it exited (--rm)
	}
	if err != nil {
		return err
	}
	defer unlock()
	return c.destroy()
}

// WaitStopped waits until the container has stopped and its exit is
// recorded, and returns its state: ExitCode is nil when nobody could learn
// it (its monitor was killed). A container between two runs of its restart
// policy counts as stopped.
func (c *Container) WaitStopped(ctx context.Context) (State, error) {
	var unrecorded time.Time
	for {
		st, err := readState(c.dir)
		if err != nil {
			return st, hint.With(fmt.Errorf("%w: %s (removed while waiting)", ErrNoContainer, c.ID), "a --rm container is removed as it exits")
		}
		if st.Status == Stopped {
			return st, nil
		}
		if liveStatus(c.dir, st) == Stopped {
			// Exited, not recorded yet: its monitor (or the foreground
			// stepbox run) records it at once, unless it is gone.
			if unrecorded.IsZero() {
				unrecorded = time.Now()
			}
			detachedGone := st.Detached != nil && !st.Detached.monitorAlive()
			if detachedGone || st.Detached == nil && time.Since(unrecorded) > time.Second {
				st.Status, st.ExitCode = Stopped, nil
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// openInit opens a pidfd of the container's init if it still runs (-1).
func openInit(st State) int {
	if !processAlive(st.Pid, st.PidStart) {
		return -1
	}
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return -1
	}
	// The pid may have been reused between the check and the open.
	if !processAlive(st.Pid, st.PidStart) {
		unix.Close(fd)
		return -1
	}
	return fd
}

// killAll kills the init, and with it its pid namespace, then whatever is
// left in the container's cgroups (without a pid namespace, its children).
func (c *Container) killAll(pidfd int) {
	if pidfd >= 0 {
		_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	}
	if cg := c.findCgroups(); cg != nil {
		_ = cg.Kill()
	}
	if pidfd >= 0 {
		waitPidfd(pidfd, 5*time.Second)
	}
}

// waitPidfd waits up to d for the process to exit, and reports whether it
// did.
func waitPidfd(fd int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

// signalMonitor signals the container's monitor, if it still runs.
func signalMonitor(st State, sig syscall.Signal) {
	d := st.Detached
	if !d.monitorAlive() {
		return
	}
	if fd, err := unix.PidfdOpen(d.MonitorPid, 0); err == nil {
		if processAlive(d.MonitorPid, d.MonitorStart) {
			_ = unix.PidfdSendSignal(fd, sig, nil, 0)
		}
		unix.Close(fd)
	}
}

// awaitMonitor waits up to d for the container's monitor to end, which it
// does once it has recorded the exit and cleaned up (unless it restarts
// the container); it reports whether the monitor is gone.
func (c *Container) awaitMonitor(st State, d time.Duration) bool {
	m := st.Detached
	if !m.monitorAlive() {
		return true
	}
	fd, err := unix.PidfdOpen(m.MonitorPid, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	if !processAlive(m.MonitorPid, m.MonitorStart) {
		return true
	}
	return waitPidfd(fd, d)
}

// LogPath is the container's log, or "" when it ran in the foreground
// (its output went to the terminal).
func (s State) LogPath() string {
	if s.Detached == nil {
		return ""
	}
	return s.Detached.LogPath
}

// Dir is the container's state directory.
func (c *Container) Dir() string { return c.dir }
