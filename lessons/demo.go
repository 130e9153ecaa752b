package lessons

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/sandbox"
)

// EnvDemoNamespace is set inside the throwaway namespace a failure demo runs
// in, so the re-executed command knows it is already there.
const EnvDemoNamespace = "STEPBOX_DEMO_NS"

// InDemoNamespace reports whether this process runs inside a demo's
// throwaway namespace.
func InDemoNamespace() bool { return os.Getenv(EnvDemoNamespace) == "1" }

// RunInThrowawayNamespace runs this stepbox again with args, inside new UTS,
// IPC, network and mount namespaces made for the purpose, and returns its
// exit code. A failure demo runs there: what it breaks (a hostname, a mount
// that propagates, a shared memory segment, a link) is a copy that vanishes
// with the namespace, never the host the class is looking at. The mount
// namespace starts as a private copy of the host's tree whose "/" is made
// shared inside, as systemd does on most hosts, so that the mount lesson can
// show propagation.
func RunInThrowawayNamespace(paths sandbox.Paths, args []string, stdin, stdout, stderr *os.File) (int, error) {
	return runThrowaway(paths, throwaway{
		Hostname: "demo-host", Args: args, Env: []string{EnvDemoNamespace + "=1"},
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
	})
}

// throwaway describes a run of this stepbox in throwaway namespaces.
type throwaway struct {
	Hostname string
	Args     []string // stepbox's arguments
	Env      []string // added to this process's environment
	// Cgroup adds a cgroup namespace (an exercise's shell, which mounts
	// its cgroup file systems again to show only its own subtree).
	Cgroup                bool
	Stdin, Stdout, Stderr *os.File
	// Created, when set, is called with the container before it starts.
	Created func(c *sandbox.Container) error
}

func runThrowaway(paths sandbox.Paths, t throwaway) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	spec := sandbox.DefaultSpec("/", append([]string{self}, t.Args...)...)
	ns := []specs.LinuxNamespaceType{specs.UTSNamespace, specs.IPCNamespace, specs.NetworkNamespace, specs.MountNamespace}
	if t.Cgroup {
		ns = append(ns, specs.CgroupNamespace)
	}
	sandbox.SetNamespaces(spec, ns)
	spec.Mounts, spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths = nil, nil, nil
	spec.Linux.RootfsPropagation = "rshared"
	spec.Hostname = t.Hostname
	spec.Process.Env = append(os.Environ(), t.Env...)
	spec.Process.Capabilities = nil
	spec.Process.NoNewPrivileges = false
	spec.Process.Rlimits = nil
	spec.Linux.Seccomp = nil
	if wd, err := os.Getwd(); err == nil {
		spec.Process.Cwd = wd
	}
	c, err := sandbox.Create(paths, "", spec, sandbox.Options{
		HostRoot: true, Stdin: t.Stdin, Stdout: t.Stdout, Stderr: t.Stderr,
	})
	if err != nil {
		return 0, err
	}
	defer c.Delete(true)
	if t.Created != nil {
		if err := t.Created(c); err != nil {
			return 0, err
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGWINCH)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return 0, err
	}
	done := make(chan int, 1)
	go func() { code, _ := c.Wait(); done <- code }()
	for {
		select {
		case code := <-done:
			return code, nil
		case s := <-sigs:
			// The demo runs in its own session: pass the learner's Ctrl-C on,
			// so it tears down what it made before the namespace goes; and a
			// change of the terminal's size, which an exercise's shell follows.
			if err := c.Signal(s.(syscall.Signal)); err != nil && !errors.Is(err, sandbox.ErrWrongState) {
				return 0, err
			}
		}
	}
}
