package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox"
)

// createFlags are create's and run's.
type createFlags struct {
	bundle        string
	consoleSocket string
	pidFile       string
	noPivot       bool
	noNewKeyring  bool
	preserveFDs   int
	// run's
	detach      bool
	keep        bool
	noSubreaper bool
	isRun       bool
}

func (f *createFlags) register(cmd *cobra.Command, run bool) {
	fl := cmd.Flags()
	fl.StringVarP(&f.bundle, "bundle", "b", "", "path to the root of the bundle directory, defaults to the current directory")
	fl.StringVar(&f.consoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
	fl.StringVar(&f.pidFile, "pid-file", "", "specify the file to write the process id to")
	fl.BoolVar(&f.noPivot, "no-pivot", false, "accepted for runc's callers; the root is always bind-mounted first, so pivot_root always works")
	fl.BoolVar(&f.noNewKeyring, "no-new-keyring", false, "accepted for runc's callers; stepbox makes no session keyring")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)")
	if run {
		fl.BoolVarP(&f.detach, "detach", "d", false, "detach from the container's process")
		fl.BoolVar(&f.keep, "keep", false, "do not delete the container after it exits")
		fl.BoolVar(&f.noSubreaper, "no-subreaper", false, "accepted for runc's callers")
	}
}

func ociCreateCmd(g *ociGlobals) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create [flags] CONTAINER_ID",
		Short: "create a container",
		Long: `Create a container from the bundle (config.json and its root filesystem):
its namespaces, cgroups and mounts are made and its process waits, in the
created state, until 'start'.`,
		Args: ociArgs("create", 1, true),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := g.create(args[0], f)
			if err != nil {
				return err
			}
			return c.Release()
		},
	}
	f.register(cmd, false)
	return cmd
}

// create makes the container from the bundle and leaves it created.
func (g *ociGlobals) create(id string, f *createFlags) (*sandbox.Container, error) {
	if id == "" {
		return nil, errors.New("container id cannot be empty")
	}
	bundle := f.bundle
	if bundle == "" {
		bundle = "."
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, err
	}
	spec, err := sandbox.LoadBundle(bundle)
	if err != nil {
		return nil, err
	}
	if spec.Process == nil {
		sandbox.WithoutProcess(spec)
	}
	if err := sandbox.CheckOCI(spec); err != nil {
		return nil, err
	}
	sandbox.AllowDefaultDevices(spec)
	terminal := spec.Process != nil && spec.Process.Terminal
	switch {
	case terminal && f.consoleSocket == "" && !f.foreground():
		return nil, errors.New("cannot allocate tty if runc will detach without setting console socket")
	case !terminal && f.consoleSocket != "":
		return nil, errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	if _, err := os.Stat(filepath.Join(g.root, id, "state.json")); err == nil {
		return nil, sandbox.ErrNameInUse
	}
	if err := os.MkdirAll(g.root, 0o711); err != nil {
		return nil, err
	}
	o := sandbox.Options{Bundle: bundle, Stdin: stdinFile(g.stdin), Stdout: g.stdout, Stderr: g.stderr}
	// The minimal init is stepbox's, not the bundle's: only when the
	// bundle asks for it by annotation.
	o.Init = spec.Annotations[sandbox.AnnotationInit] == "true"
	for i := 0; i < f.preserveFDs; i++ {
		o.ExtraFiles = append(o.ExtraFiles, os.NewFile(uintptr(3+i), "preserved"))
	}
	sandbox.Prefetch()
	c, err := sandbox.Create(g.paths(), id, spec, o)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*sandbox.Container, error) {
		_ = c.Delete(true)
		return nil, err
	}
	if terminal && f.consoleSocket != "" {
		if err := sandbox.SendConsole(f.consoleSocket, c.Console()); err != nil {
			return fail(err)
		}
	}
	if f.pidFile != "" {
		if err := sandbox.WritePidFile(f.pidFile, c.Pid()); err != nil {
			return fail(err)
		}
	}
	return c, nil
}

// foreground reports whether run stays with the container (run without -d).
func (f *createFlags) foreground() bool { return f.isRun && !f.detach }

// stdinFile passes our standard input on as it is when it is a file (the
// engine's pipe), so the payload reads it directly.
func stdinFile(r io.Reader) io.Reader {
	if f, ok := r.(*os.File); ok {
		return f
	}
	return r
}

func ociStartCmd(g *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "start CONTAINER_ID",
		Short: "executes the user defined process in a created container",
		Args:  ociArgs("start", 1, true),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return g.start(c)
		},
	}
}

// start lets a created container run its process, then runs the
// poststart hooks, whose failure is a warning (config.md, "Poststart").
func (g *ociGlobals) start(c *sandbox.Container) error {
	switch st := c.OCIStatus(); st {
	case sandbox.Created:
	case sandbox.Stopped:
		return errors.New("cannot start a container that has stopped")
	case sandbox.Running:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in the %s state", st)
	}
	if sandbox.HasNoProcess(c.Spec()) {
		// Nothing to run: the container ends here (runtime.md, start).
		_ = c.Signal(syscall.SIGKILL)
		return errors.New("process is not set in the bundle's config.json: nothing to start")
	}
	if err := c.Start(); err != nil {
		return err
	}
	st := c.State().OCI()
	if err := sandbox.RunHooks(sandbox.HookPoststart, sandbox.Hooks(c.Spec().Hooks, sandbox.HookPoststart), st); err != nil {
		g.warnf("%v", err)
	}
	return nil
}

func ociRunCmd(g *ociGlobals) *cobra.Command {
	f := &createFlags{isRun: true}
	cmd := &cobra.Command{
		Use:   "run [flags] CONTAINER_ID",
		Short: "create and run a container",
		Long: `Create and start a container from the bundle. Without --detach, stay with it
and exit with its status, then delete it (unless --keep).`,
		Args: ociArgs("run", 1, true),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.run(args[0], f)
		},
	}
	f.register(cmd, true)
	return cmd
}

func (g *ociGlobals) run(id string, f *createFlags) error {
	forward := catchForwarded()
	c, err := g.create(id, f)
	if err != nil {
		return err
	}
	if f.detach {
		if err := g.start(c); err != nil {
			_ = c.Delete(true)
			return err
		}
		return c.Release()
	}
	drain := func() {}
	if con := c.Console(); con != nil && f.consoleSocket == "" {
		var restore func()
		drain, restore = attachConsole(g.stdin, g.stdout, con, true)
		defer restore()
	}
	forward.Wait()
	if err := g.start(c); err != nil {
		_ = c.Delete(true)
		return err
	}
	code := waitForwarding(c.Wait, forward, c.Console(), g.stdout, func(sig syscall.Signal) { _ = c.Signal(sig) })
	drain()
	if !f.keep {
		g.delete(c, true)
	}
	if code != 0 {
		return withCode(code, nil)
	}
	return nil
}

// ociState is runc's state output (its containerState): the runtime-spec's
// state plus rootfs, created and owner.
type ociState struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func stateOf(c *sandbox.Container) ociState {
	st := c.State()
	status := c.OCIStatus()
	pid := st.Pid
	if status == sandbox.Stopped {
		pid = 0
	}
	return ociState{Version: specs.Version, ID: st.ID, Pid: pid, Status: string(status), Bundle: st.Bundle,
		Rootfs: st.Rootfs, Created: st.Created, Annotations: st.Annotations, Owner: ""}
}

func ociStateCmd(g *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "state CONTAINER_ID",
		Short: "output the state of a container",
		Args:  ociArgs("state", 1, true),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(stateOf(c), "", "  ")
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
}

func ociKillCmd(g *ociGlobals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [--all] CONTAINER_ID [SIGNAL]",
		Short: "kill sends the specified signal (default: SIGTERM) to the container's init process",
		Args: func(c *cobra.Command, args []string) error {
			if err := ociArgs("kill", 1, false)(c, args); err != nil {
				return err
			}
			if len(args) > 2 {
				return fmt.Errorf("%q requires a maximum of 2 argument(s)", "kill")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			sigstr := "SIGTERM"
			if len(args) > 1 {
				sigstr = args[1]
			}
			sig, err := parseOCISignal(sigstr)
			if err != nil {
				return err
			}
			if all {
				return notRunning(c.SignalAll(sig))
			}
			if st := c.OCIStatus(); st == sandbox.Stopped {
				return errors.New("container not running")
			}
			return notRunning(c.Signal(sig))
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the specified signal to all processes inside the container")
	return cmd
}

// notRunning gives a signal to a container that has no process runc's
// words, which containerd's shim and podman match.
func notRunning(err error) error {
	if errors.Is(err, sandbox.ErrWrongState) {
		return errors.New("container not running")
	}
	return err
}

// parseOCISignal reads a signal as runc does: a number, or a name with or
// without SIG, in any case.
func parseOCISignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("unknown signal %q", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func ociDeleteCmd(g *ociGlobals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [--force] CONTAINER_ID",
		Short: "delete any resources held by the container",
		Long: `Delete a stopped container: its cgroups and state go, and the poststop hooks
run. A created or running container is refused, as the runtime-spec's
lifecycle says (runc and crun delete a created one); --force kills it first.`,
		Args: ociArgs("delete", 1, true),
		RunE: func(_ *cobra.Command, args []string) error {
			id := args[0]
			c, err := g.load(id)
			if errors.Is(err, sandbox.ErrNoContainer) {
				// A create that died before its record leaves a
				// directory that no command can see: remove it (runc).
				if sandbox.ValidateID(id) == nil {
					_ = os.RemoveAll(filepath.Join(g.root, id))
				}
				if force {
					return nil
				}
				return err
			}
			if err != nil {
				return err
			}
			if !force {
				if st := c.OCIStatus(); st != sandbox.Stopped {
					return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st)
				}
			}
			return g.delete(c, force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "forcibly deletes the container if it is still running (uses SIGKILL)")
	return cmd
}

// delete removes the container and runs its poststop hooks, whose failure
// is a warning (config.md, "Poststop").
func (g *ociGlobals) delete(c *sandbox.Container, force bool) error {
	st := c.State().OCI()
	if c.OCIStatus() == sandbox.Paused {
		_ = c.Resume() // a frozen init would not die until thawed
	}
	if err := c.Delete(force); err != nil {
		return err
	}
	st.Status = specs.StateStopped
	if err := sandbox.RunHooks(sandbox.HookPoststop, sandbox.Hooks(c.Spec().Hooks, sandbox.HookPoststop), st); err != nil {
		g.warnf("%v", err)
	}
	return nil
}
