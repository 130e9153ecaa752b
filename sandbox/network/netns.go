package network

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// handleIn returns a netlink handle whose sockets live in the network
// namespace open at nsFd. A socket belongs to the namespace it was made in
// for its whole life (network_namespaces(7)), so only its making needs a
// thread there: a goroutine locks a thread, setns(2)s it into the
// namespace, makes the handle and ends without unlocking, and the Go
// runtime then ends that thread instead of letting another goroutine run
// on it in the container's namespace. (netlink.NewHandleAt switches the
// calling thread there and back, and would hand the thread back to the
// scheduler in the container's namespace if the way back failed.)
func handleIn(nsFd int) (*netlink.Handle, error) {
	type result struct {
		h   *netlink.Handle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := unix.Setns(nsFd, unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns into the container's network namespace: %w", err)}
			return
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			err = fmt.Errorf("netlink socket in the container's network namespace: %w", err)
		}
		ch <- result{h, err}
	}()
	r := <-ch
	return r.h, r.err
}

// openNetns opens the network namespace of pid (/proc/PID/ns/net). The
// caller makes sure pid is the process it means: its own unreaped child,
// or one whose start time it checked.
func openNetns(pid int) (int, error) {
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	return fd, nil
}

// retryDump repeats a netlink dump the kernel interrupted (the list
// changed while it was read): the partial answer is thrown away.
func retryDump[T any](f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
}
