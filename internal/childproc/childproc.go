// Package childproc starts helper programs (a registry a lesson or a test
// runs) that must not outlive the process that started them.
package childproc

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// StartTied starts cmd in a process group of its own, killed (SIGKILL) when
// this process dies, and waits for it; done is closed once it has exited.
// The death signal comes when the thread that forked the child ends, not
// the process (prctl(2), PR_SET_PDEATHSIG), and Go ends a thread that a
// goroutine leaves locked (the runtime's namespace work does), which would
// kill the child at a random moment: the start and the wait happen on one
// locked thread, kept for the child's whole life.
func StartTied(cmd *exec.Cmd) (done <-chan struct{}, err error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}

// Stop ends a child that StartTied started (done is what it returned):
// SIGTERM, then SIGKILL if it is still there after grace. It returns once
// the child has been waited for; a child already gone costs nothing.
func Stop(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// ErrNotReady is StartServer's answer for a server that did not say it was
// ready in time; it has been stopped.
var ErrNotReady = errors.New("not ready in time")

// ExitedError is StartServer's answer for a server that exited before it
// was ready: Log is what it wrote.
type ExitedError struct{ Log string }

func (e *ExitedError) Error() string { return "exited: " + e.Log }

// StartServer starts cmd, a server, as StartTied does, with its standard
// output and error in the file logPath, and asks ready every 20 ms until it
// says the server serves, for at most timeout.
func StartServer(cmd *exec.Cmd, logPath string, timeout time.Duration, ready func() bool) (done <-chan struct{}, err error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if done, err = StartTied(cmd); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			return nil, &ExitedError{Log: string(b)}
		default:
		}
		if ready() {
			return done, nil
		}
	}
	Stop(cmd, done, 5*time.Second)
	return nil, ErrNotReady
}
