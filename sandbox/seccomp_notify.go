package sandbox

import (
	"encoding/json"
	"fmt"
	"net"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/security"
)

// SCMP_ACT_NOTIFY (seccomp_unotify(2)): the kernel gives the process that
// loads such a filter a listener descriptor, on which an agent outside the
// container receives the notified system calls and answers them. The
// runtime-spec has the runtime send it to linux.seccomp.listenerPath with
// the container's process state (config-linux.md, "Seccomp"; runc and crun
// do the same).

// loadSeccompEarly loads the filter in the init before it is ready; the
// listener of a filter that notifies goes to the parent over the sync
// socket ("seccomp", with the descriptor).
func loadSeccompEarly(f *security.Filter, sync *os.File) error {
	fd, err := f.LoadListener()
	if err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	if err := sendMsg(sync, syncMsg{Type: "seccomp"}, fd); err != nil {
		return fmt.Errorf("send the seccomp listener to the parent: %w", err)
	}
	// The parent answers once it has passed it on: until then a notified
	// call of ours would wait for an agent that has no listener yet.
	m, rfd, ok, err := recvMsg(sync)
	if rfd >= 0 {
		unix.Close(rfd)
	}
	if err != nil {
		return err
	}
	if !ok || m.Type != "seccomp-done" {
		return fmt.Errorf("the parent did not pass the seccomp listener on")
	}
	return nil
}

// passSeccompListener answers the init's "seccomp" message: the listener
// goes to the agent at listenerPath, with the state as the runtime-spec's
// ContainerProcessState.
func (c *Container) passSeccompListener(fd int) error {
	defer unix.Close(fd)
	sc := c.spec.Linux.Seccomp
	if sc == nil || sc.ListenerPath == "" {
		return fmt.Errorf("the container init sent a seccomp listener, and linux.seccomp.listenerPath is not set")
	}
	st := c.hookState(Creating)
	msg, err := json.Marshal(specs.ContainerProcessState{Version: specs.Version, Fds: []string{specs.SeccompFdName},
		Pid: st.Pid, Metadata: sc.ListenerMetadata, State: st})
	if err != nil {
		return err
	}
	conn, err := net.Dial("unix", sc.ListenerPath)
	if err != nil {
		return fmt.Errorf("seccomp listener path %s: %w", sc.ListenerPath, err)
	}
	defer conn.Close()
	if _, _, err := conn.(*net.UnixConn).WriteMsgUnix(msg, unix.UnixRights(fd), nil); err != nil {
		return fmt.Errorf("seccomp listener path %s: send: %w", sc.ListenerPath, err)
	}
	if err := sendMsg(c.sync, syncMsg{Type: "seccomp-done"}, -1); err != nil {
		return fmt.Errorf("tell the container init its listener was passed on: %w", err)
	}
	return nil
}
