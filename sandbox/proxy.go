package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// ProcessRef names a process for as long as it lives: its pid and its start
// time (proc(5) stat field 22), since a pid alone is reused.
type ProcessRef struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// alive reports whether the process still runs.
func (p *ProcessRef) alive() bool { return p != nil && processAlive(p.Pid, p.Start) }

// startProxy starts the container's proxy (proxy_lean.go) for the
// listening sockets ls, watching the init initPid, which is this
// process's own unreaped child: its pidfd names it and no other. The
// proxy is recorded in the container's state; ls stay the caller's to
// close.
func (c *Container) startProxy(initPid int, ls []netconf.Listener) error {
	pidfd, err := unix.PidfdOpen(initPid, 0)
	if err != nil {
		return fmt.Errorf("pidfd of the container's init: %w", err)
	}
	pidFile := os.NewFile(uintptr(pidfd), "pidfd")
	defer pidFile.Close()
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("open /proc/self/exe: %w", err)
	}
	defer exe.Close()
	bin := leanBinary(exe)
	if bin != exe {
		defer bin.Close()
	}
	// Descriptors 3 (the pidfd), 4 (the binary, executed through
	// /proc/self/fd/4 as the init is) and 5… (the sockets).
	files := []*os.File{pidFile, bin}
	spec := []string{proxyProtocol, "3", "4"}
	for i, l := range ls {
		files = append(files, l.File)
		spec = append(spec, l.Proto+","+strconv.Itoa(5+i)+","+l.Target)
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/4",
		Args:       []string{proxyComm, proxyArg, c.dir},
		Env:        []string{proxyEnv + "=" + strings.Join(spec, ";")},
		Dir:        "/",
		ExtraFiles: files,
		// A session of its own: the terminal's ^C, which a foreground
		// run passes to the container, is not for it.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the container's port proxy: %w", err)
	}
	// Not waited for here: whoever ends the container reaps it
	// (stopProxy), in the monitor after the execve(2)s to come too.
	start, _, _ := procStart(cmd.Process.Pid)
	c.mu.Lock()
	c.state.Proxy = &ProcessRef{Pid: cmd.Process.Pid, Start: start}
	c.mu.Unlock()
	tracef("proxy started, pid %d", cmd.Process.Pid)
	return nil
}

// proxyProtocol changes with proxyEnv's format: a proxy of another build
// refuses it.
const proxyProtocol = "p1"

// stopProxy kills the container's proxy, if it still runs, and reaps it
// if it is this process's child (the monitor's, or a foreground run's).
func (c *Container) stopProxy() {
	c.mu.Lock()
	p := c.state.Proxy
	c.mu.Unlock()
	if p == nil {
		if st, err := readState(c.dir); err == nil {
			p = st.Proxy
		}
	}
	if p == nil {
		return
	}
	start, state, err := procStart(p.Pid)
	if err != nil || start != p.Start {
		return // gone, and reaped by someone
	}
	if state != "Z" {
		if fd, err := unix.PidfdOpen(p.Pid, 0); err == nil {
			if processAlive(p.Pid, p.Start) {
				_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			}
			waitPidfd(fd, time.Second)
			unix.Close(fd)
		}
	}
	var ws unix.WaitStatus
	_, _ = unix.Wait4(p.Pid, &ws, unix.WNOHANG, nil) // ECHILD when it is not ours
	c.mu.Lock()
	c.state.Proxy = nil
	c.mu.Unlock()
}
