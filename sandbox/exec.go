package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/cgroups"
	"github.com/stepbox/stepbox/sandbox/security"
)

// ExecOptions are how Exec wires the new process (docker exec's -i, -d and
// runc exec's --pid-file, --preserve-fds).
type ExecOptions struct {
	// Stdin, Stdout and Stderr are the process's standard streams when it
	// has no terminal (process.terminal), as in Options: an *os.File is
	// passed as it is, anything else through a pipe; nil is /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// ExtraFiles are passed as descriptors 3, 4, …; nothing else of ours
	// crosses into the container.
	ExtraFiles []*os.File
	// Detach returns as soon as the process runs, left to the container's
	// init to reap (docker exec -d): nothing of stepbox waits for it, and
	// a caller that exits at once leaves nothing behind. Wait then waits
	// for its end and reports -1: its exit code is the container init's.
	Detach bool
	// PidFile, when set, receives the process's pid on the host.
	PidFile string
	// Release leaves the process to the caller's subreaper (runc exec
	// --detach under conmon or containerd's shim, which wait for the pid
	// in the pid file): the stage exits as soon as the process runs
	// instead of waiting for it, so the process is orphaned and adopted by
	// the subreaper. Unlike Detach, which leaves it to the container's
	// init, where no engine could wait for it. Wait then reports the
	// stage's 0, not the process's code.
	Release bool
}

// Process is a process started in a running container by Exec.
type Process struct {
	// Pid is the process's pid on the host.
	Pid int

	container string
	cmd       *exec.Cmd // the exec stage, which waits for the process
	console   *os.File
	done      chan struct{}
	detached  bool // left to the container's init (ExecOptions.Detach)
	mu        sync.Mutex
	pidfd     int // -1 once the process has been waited for
}

// Console returns the master side of the process's terminal when it asked
// for one (process.terminal); the caller copies to and from it.
func (p *Process) Console() *os.File { return p.console }

// Wait waits for the process to exit and returns its exit code, or 128+n
// when signal n killed it (docker's convention), once its output is all
// copied.
func (p *Process) Wait() (int, error) {
	<-p.done
	if p.detached {
		// Not our child: the pidfd becomes readable when it exits.
		p.mu.Lock()
		fd := p.pidfd
		p.mu.Unlock()
		if fd >= 0 {
			for {
				_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
				if err != unix.EINTR {
					break
				}
			}
		}
		p.mu.Lock()
		if p.pidfd >= 0 {
			unix.Close(p.pidfd)
			p.pidfd = -1
		}
		p.mu.Unlock()
		return -1, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
	return exitCodeOf(p.cmd.ProcessState), nil
}

// Signal sends sig to the process, through a pidfd: never to another
// process that got its pid.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pidfd < 0 {
		return fmt.Errorf("signal exec'd process %d in container %s: it has exited: %w", p.Pid, p.container, ErrWrongState)
	}
	if err := unix.PidfdSendSignal(p.pidfd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal exec'd process %d in container %s: %w", p.Pid, p.container, err)
	}
	return nil
}

// ExitCode is the exit code docker gives a process that could not be
// started: 127 when the executable was not found, 126 when it could not be
// executed, 125 for any other failure of the runtime.
func ExitCode(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return 127
	case errors.Is(err, ErrCannotExecute):
		return 126
	}
	return 125
}

// Exec starts p in the running container: in every one of its namespaces,
// born in its cgroups, with p's user, capabilities, no_new_privs, rlimits,
// environment and working directory, and the container's seccomp filter
// (runc exec --process P.json; ExecProcess derives p from the container's
// own description). It returns once p's command has been executed, or with
// the reason it could not be, one line: errors.Is tells ErrNotFound and
// ErrCannotExecute apart (ExitCode).
//
// The process is started by stepbox-exec, whose C constructor (package
// nsenter) enters the namespaces before its Go runtime starts; DESIGN.md,
// "Entering a running container", explains the mechanism.
func (c *Container) Exec(p *specs.Process, o ExecOptions) (*Process, error) {
	proc, err := c.exec(p, o)
	if err != nil {
		var ie *InitError
		if errors.As(err, &ie) {
			// The process's own words ("exec "nope": executable file
			// not found in $PATH") are the line, as for run.
			return nil, err
		}
		return nil, fmt.Errorf("exec in container %s: %w", c.ID, err)
	}
	return proc, nil
}

func (c *Container) exec(p *specs.Process, o ExecOptions) (_ *Process, err error) {
	tracef("exec in %s", c.ID)
	if err := validateExecProcess(p); err != nil {
		return nil, err
	}
	st := c.State()
	if st.Status != Running {
		return nil, hint.With(fmt.Errorf("it is %s, not running: %w", st.Status, ErrWrongState),
			"start it first ('stepbox start "+c.ID+"')")
	}
	cfg := &execConfig{Process: p, PreserveFDs: len(o.ExtraFiles), Detach: o.Detach}
	if s := c.spec; s != nil && s.Linux != nil && s.Linux.Seccomp != nil {
		if cfg.Seccomp, err = security.Compile(s.Linux.Seccomp); err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
	}
	t, err := openTarget(st.Pid, st.PidStart)
	if err != nil {
		return nil, err
	}
	defer t.close()
	cfg.Unmapped = t.unmapped
	msg, err := marshalWire(cfg)
	if err != nil {
		return nil, err
	}
	exe, err := sealedExecStage()
	if err != nil {
		return nil, err
	}

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	sock, childSock := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync-child")
	defer sock.Close()
	defer childSock.Close()

	cmd := execCommand(t, o, exe, cfgR, childSock)
	if !p.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	// Born in the container's cgroups (cgroups.StartIn), like its init;
	// the process forked inside inherits them.
	if cg := c.cgroups(st); cg != nil {
		if err := roomForStage(cg); err != nil {
			return nil, err
		}
		err = cgroups.StartIn(cg, cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("start the exec stage: %w", err)
	}
	tracef("exec: stage started, pid %d", cmd.Process.Pid)
	proc := &Process{container: c.ID, cmd: cmd, done: make(chan struct{}), pidfd: -1}
	go func() {
		_ = cmd.Wait()
		close(proc.done)
	}()
	defer func() {
		if err != nil {
			proc.kill()
		}
	}()
	childSock.Close()
	cfgR.Close()
	go func() {
		// A pipe holds 64 KiB; a larger configuration is written while
		// the stage reads. A stage that died early makes this fail, and
		// the socket says why.
		_, _ = cfgW.Write(msg)
		cfgW.Close()
	}()
	if err := proc.awaitStart(sock); err != nil {
		return nil, err
	}
	tracef("exec: process %d executed", proc.Pid)
	if o.Detach {
		// The stage ends with the process's first parent, at once.
		<-proc.done
		proc.detached = true
	}
	if p.Terminal && p.ConsoleSize != nil && proc.console != nil {
		ws := &unix.Winsize{Row: uint16(p.ConsoleSize.Height), Col: uint16(p.ConsoleSize.Width)}
		_ = unix.IoctlSetWinsize(int(proc.console.Fd()), unix.TIOCSWINSZ, ws)
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, proc.Pid); err != nil {
			return nil, err
		}
	}
	return proc, nil
}

// cgroups returns the container's cgroups, loaded from its record when
// another process made it.
func (c *Container) cgroups(st State) cgroups.Manager {
	if c.cg != nil {
		return c.cg
	}
	if len(st.CgroupPaths) == 0 {
		return nil
	}
	m, err := cgroups.Load(st.CgroupPaths)
	if err != nil {
		return nil
	}
	return m
}

// execRelease is nsenter.h's STEPBOX_EXEC_RELEASE, a bit of the flags
// field that is never a namespace (ExecOptions.Release).
const execRelease = 0x1

// execCommand builds the exec stage's command: the sealed copy of
// stepbox-exec (exec_binary.go, CVE-2019-5736), never a binary of the
// container's, with the descriptors the constructor and the Go half read
// from ExecStageEnv.
func execCommand(t *execTarget, o ExecOptions, exe *sealedInit, cfgR, sync *os.File) *exec.Cmd {
	extra := append([]*os.File{}, o.ExtraFiles...)
	n := 3 + len(extra)
	num := func(f *os.File) int {
		if f == nil {
			return -1
		}
		extra = append(extra, f)
		n++
		return n - 1
	}
	// The order of ExecStageEnv's fields: the constructor's (package
	// nsenter, doc.go), then the Go half's (exec_init.go).
	flags := t.flags
	if o.Release {
		flags |= execRelease
	}
	fields := []int{num(t.pidfd), flags, num(t.time), num(t.root), num(sync), num(cfgR), num(exe.file)}
	env := ""
	for _, f := range fields {
		env += strconv.Itoa(f) + ","
	}
	env += execFingerprint()
	return &exec.Cmd{
		Path: fmt.Sprintf("/proc/self/fd/%d", fields[execExeField]),
		Args: []string{ExecBinaryName, ExecStageArg},
		// One P: the stage's Go runtime makes as few threads as it can,
		// as every one counts against the container's pids.max.
		Env:        []string{ExecStageEnv + "=" + env, "GOMAXPROCS=1"},
		ExtraFiles: extra,
		// A session of its own: the host terminal's job-control signals
		// (Ctrl-C) are not for it, but for the process, which the caller
		// forwards them to.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
}

// awaitStart reads the stage's messages until the socket closes: the
// process's pid (from the stage), its terminal, or why it could not start.
// The end of the stream means execve(2) succeeded: every holder of the
// socket has closed it, the process at execve (close-on-exec).
func (p *Process) awaitStart(sock *os.File) error {
	var failure error
	for {
		m, fd, ok, err := recvMsg(sock)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch m.Type {
		case "pid":
			// The stage's child, or for a detached process its child,
			// whose pid the message gives in the container's pid
			// namespace: the pidfd says it in ours.
			p.Pid, _ = strconv.Atoi(m.Message)
			if fd >= 0 {
				if pid, err := pidfdPid(fd); err == nil {
					p.Pid = pid
				}
				p.mu.Lock()
				if p.pidfd >= 0 {
					unix.Close(p.pidfd)
				}
				p.pidfd = fd
				p.mu.Unlock()
			}
		case "console":
			var err error
			if p.console, err = receivedConsole(fd, "the exec'd process"); err != nil {
				return err
			}
		case "errno":
			// A failed step of the constructor: its name, and the errno.
			n, _ := strconv.Atoi(m.Message)
			failure = fmt.Errorf("%s: %w", m.Kind, syscall.Errno(n))
			if errors.Is(failure, unix.EINVAL) && m.Kind == "setns" {
				failure = hint.With(failure, "entering a container needs Linux 5.8 or later (setns(2) with a pidfd)")
			}
		case "error":
			failure = &InitError{Kind: m.Kind, Message: m.Message}
		default:
			if fd >= 0 {
				unix.Close(fd)
			}
			return fmt.Errorf("the exec stage sent an unknown message %q", m.Type)
		}
	}
	if failure != nil {
		return failure
	}
	if p.Pid == 0 {
		// The stage died before it could say anything.
		<-p.done
		return fmt.Errorf("the exec stage exited before the process started: %v", p.cmd.ProcessState)
	}
	return nil
}

// kill ends a process that failed to start properly and waits for the
// stage, so that nothing is left.
func (p *Process) kill() {
	p.mu.Lock()
	if p.pidfd >= 0 {
		_ = unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
	}
	p.mu.Unlock()
	<-p.done
	p.mu.Lock()
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
	p.mu.Unlock()
	if p.console != nil {
		p.console.Close()
	}
}

// validateExecProcess checks p before anything is started, as Validate
// checks a container's process.
func validateExecProcess(p *specs.Process) error {
	if p == nil || len(p.Args) == 0 || p.Args[0] == "" {
		return hint.With(invalidf("no command to run"), "give the command to run in the container")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return invalidf("working directory %q is not an absolute path", p.Cwd)
	}
	if err := security.CheckRlimits(p.Rlimits); err != nil {
		return err
	}
	if p.Capabilities != nil {
		if err := security.CheckCapabilities(p.Capabilities); err != nil {
			return err
		}
	}
	return nil
}

// writePidFile writes pid to path atomically (a reader sees a whole pid
// or no file), as runc's --pid-file does.
func writePidFile(path string, pid int) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write pid file %s: %w", path, err)
	}
	return nil
}

// pidfdPid is the pid of the process a pidfd names, as this process's pid
// namespace numbers it (the Pid line of /proc/self/fdinfo/FD, proc(5)).
func pidfdPid(fd int) (int, error) {
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("fdinfo of pidfd %d: no Pid", fd)
}

// execStageTasks is how many tasks the exec stage may need at once under
// the container's pids limit: the waiting C process, and the child's Go
// runtime with GOMAXPROCS=1 (its main thread, sysmon, the template thread
// of a locked thread, one per blocking call; 5 to 6 seen with pids.peak),
// with a margin.
const execStageTasks = 8

// roomForStage refuses an exec the container's pids limit leaves no room
// for, in one line: the Go runtime of a stage that cannot make its threads
// aborts with a dump of its stack (runtime/cgo: pthread_create failed).
// The count can change between the check and the start; the check covers
// the usual case, a limit the container's own tasks already fill.
func roomForStage(cg cgroups.Manager) error {
	st, err := cg.Stats()
	if err != nil || st.Pids.Limit < 0 {
		return nil
	}
	if left := st.Pids.Limit - st.Pids.Current; left < execStageTasks {
		return hint.With(fmt.Errorf("the container's pids limit (%d) leaves room for %d more tasks, and the exec stage needs %d",
			st.Pids.Limit, max(left, 0), execStageTasks), "start it with a higher --pids-limit")
	}
	return nil
}
