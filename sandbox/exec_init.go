package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/security"
)

// The exec stage's Go half. The C constructor of package nsenter has
// already put this process inside every namespace of the container and
// forked it (it is the child; its parent waits for it); stepbox-exec's main
// hands it here (RunExecStage). What is left is the process spec, in the
// init's order, with the init's functions: terminal, limits, working
// directory, the executable, descriptors, then identity, capabilities,
// no_new_privs and seccomp last before execve(2).

// ExecStageArg (argv[1]) and ExecStageEnv mark a process started as the
// exec stage, for the constructor (sandbox/nsenter/nsenter.h says the
// same) and for RunExecStage. ExecStageEnv holds the descriptors' numbers,
// the constructor's five first (package nsenter, doc.go).
const (
	ExecStageArg = "exec-init"
	ExecStageEnv = "_STEPBOX_EXEC"
)

// execConfig is what Exec sends the stage over its pipe (wire.go's form).
type execConfig struct {
	Process *specs.Process
	// Seccomp is the container's filter, compiled by the parent.
	Seccomp     *security.Filter
	PreserveFDs int
	// Unmapped: the container's user namespace has no uid map; the process
	// keeps the overflow uid and loses its capabilities at execve, as the
	// container's own payload did.
	Unmapped bool
	// Detach: the process is forked from this one and left to the
	// container's init (detachExec).
	Detach bool
}

// The stage's environment after the constructor's five fields: the
// configuration pipe, the sealed binary and the fingerprint of execConfig
// (see wireFingerprint): stepbox-exec is a binary apart, which must speak
// this one's configuration.
const (
	execSyncField = 4
	execCfgField  = 5
	execExeField  = 6
	execFields    = 7
)

var execFingerprint = sync.OnceValue(func() string {
	return typeFingerprint(reflect.TypeFor[execConfig]())
})

// RunExecStage is the exec stage's Go half, for stepbox-exec's main to
// call, on a locked thread, once nsenter.Entered says the constructor has
// put the process inside the container: anywhere else it would run the
// command on the host. It never returns: the process becomes the command,
// or reports why not and exits with docker's code (failInit).
func RunExecStage() {
	f := strings.Split(os.Getenv(ExecStageEnv), ",")
	var fd [execFields]int
	var err error
	if len(f) != execFields+1 {
		err = errors.New("wrong number of fields")
	}
	for i := 0; i < execFields && err == nil; i++ {
		fd[i], err = strconv.Atoi(f[i])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stepbox exec: started without its descriptors")
		os.Exit(1)
	}
	sync := os.NewFile(uintptr(fd[execSyncField]), "sync")
	unix.CloseOnExec(fd[execSyncField])
	unix.CloseOnExec(fd[execCfgField])
	unix.Close(fd[execExeField]) // mapped already
	if f[execFields] != execFingerprint() {
		failInit(sync, fmt.Errorf("%s was built from other sources than this stepbox: build both again (make build)", ExecBinaryName))
	}
	failInit(sync, runExec(os.NewFile(uintptr(fd[execCfgField]), "config"), sync))
}

func runExec(cfgFile, sync *os.File) error {
	msg, err := io.ReadAll(cfgFile)
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	cfgFile.Close()
	var cfg execConfig
	if err := unmarshalWire(msg, &cfg); err != nil {
		return err
	}
	p := cfg.Process
	// A session of its own, as the init has: a terminal of the host given
	// as a standard stream is then not our controlling terminal, so
	// TIOCSTI cannot push keystrokes into it (tty_ioctl(4)); and a terminal
	// of our own needs a session leader (TIOCSCTTY).
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if p.Terminal {
		// From the container's /dev/ptmx, as the init's terminal is.
		if err := setupConsole(sync, false); err != nil {
			return err
		}
	}
	if err := applyLimits(p); err != nil {
		return err
	}
	// Not made if missing, unlike the init's (docker exec -w refuses a
	// directory that is not there); checked to be inside the container.
	if err := chdirInside(p.Cwd); err != nil {
		return err
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return err
	}
	if err := closeHostFDs(cfg.PreserveFDs); err != nil {
		return err
	}
	setUmask(p.User)
	if err := confineExec(&cfg); err != nil {
		return err
	}
	if cfg.Detach {
		return detachExec(path, &cfg, sync)
	}
	err = unix.Exec(path, p.Args, p.Env)
	return execError(p.Args[0], err)
}

// detachExec starts the command as a child of this process and exits, so
// that the command is an orphan of the container's own pid namespace: the
// kernel gives it to the container's init to reap (pid_namespaces(7)), as a
// process started by the container itself would be. Were this process to
// execve(2) the command instead, the command's parent would be the stage,
// which lives in the host's pid namespace and, once the caller has gone,
// would be left to the host's init (or a subreaper) to reap, with the
// container's cgroup busy until it is. The child inherits this thread's
// identity, capabilities, no_new_privs and seccomp filter (fork(2)), and
// its own session, with the terminal as its controlling terminal when it
// has one. Its host pid reaches the caller with a pidfd of it.
func detachExec(path string, cfg *execConfig, sync *os.File) error {
	p := cfg.Process
	files := make([]uintptr, 3+cfg.PreserveFDs)
	for i := range files {
		files[i] = uintptr(i)
	}
	attr := &syscall.ProcAttr{Env: p.Env, Files: files,
		Sys: &syscall.SysProcAttr{Setsid: true, Setctty: p.Terminal, Ctty: 0}}
	pid, err := syscall.ForkExec(path, p.Args, attr)
	if err != nil {
		return execError(p.Args[0], err)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd of the detached process: %w", err)
	}
	_ = sendMsg(sync, syncMsg{Type: "pid", Message: strconv.Itoa(pid)}, fd)
	os.Exit(0)
	return nil
}

// confineExec gives this thread the process's identity and privileges and
// the container's seccomp filter (security.Confine orders them). Without a
// uid map there is no identity to take: the process is the overflow uid,
// and execve(2) leaves it no capability, as it left the container's own
// payload none.
func confineExec(cfg *execConfig) error {
	p := cfg.Process
	if !cfg.Unmapped {
		return security.Confine(p.User, p.Capabilities, p.NoNewPrivileges, cfg.Seccomp)
	}
	if p.NoNewPrivileges {
		if err := security.SetNoNewPrivileges(); err != nil {
			return err
		}
	}
	if cfg.Seccomp != nil {
		if err := cfg.Seccomp.Load(); err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
	}
	return nil
}
