package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/security"
)

type ociExecFlags struct {
	consoleSocket  string
	cwd            string
	env            []string
	tty            bool
	user           string
	additionalGids []string
	process        string
	detach         bool
	pidFile        string
	processLabel   string
	apparmor       string
	noNewPrivs     bool
	caps           []string
	preserveFDs    int
	ignorePaused   bool
}

func ociExecCmd(g *ociGlobals) *cobra.Command {
	f := &ociExecFlags{}
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER_ID [COMMAND [ARG...]]",
		Short: "execute new process inside the container",
		Long: `Start a new process in every namespace and cgroup of a running container:
from --process (a runtime-spec process JSON), or the command given, with the
container's own process as the base. Without --detach, wait for it and exit
with its status.`,
		Args: ociArgs("exec", 1, false),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.exec(args[0], args[1:], f)
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false) // the command's own flags are its own
	fl.StringVar(&f.consoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
	fl.StringVar(&f.cwd, "cwd", "", "current working directory in the container")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.StringVarP(&f.user, "user", "u", "", "UID (format: <uid>[:<gid>])")
	fl.StringArrayVarP(&f.additionalGids, "additional-gids", "g", nil, "additional gids")
	fl.StringVarP(&f.process, "process", "p", "", "path to the process.json")
	fl.BoolVarP(&f.detach, "detach", "d", false, "detach from the container's process")
	fl.StringVar(&f.pidFile, "pid-file", "", "specify the file to write the process id to")
	fl.StringVar(&f.processLabel, "process-label", "", "set the asm process label for the process commonly used with selinux")
	fl.StringVar(&f.apparmor, "apparmor", "", "set the apparmor profile for the process")
	fl.BoolVar(&f.noNewPrivs, "no-new-privs", false, "set the no new privileges value for the process")
	fl.StringArrayVarP(&f.caps, "cap", "c", nil, "add a capability to the bounding set for the process")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container")
	fl.BoolVar(&f.ignorePaused, "ignore-paused", false, "allow exec in a paused container")
	return cmd
}

func (g *ociGlobals) exec(id string, args []string, f *ociExecFlags) error {
	sandbox.PrefetchExec()
	c, err := g.load(id)
	if err != nil {
		return err
	}
	switch st := c.OCIStatus(); {
	case st == sandbox.Paused && !f.ignorePaused:
		return errors.New("cannot exec in a paused container (use --ignore-paused to override)")
	case st == sandbox.Stopped:
		return errors.New("cannot exec in a stopped container")
	case st == sandbox.Created:
		return errors.New("cannot exec in a created container: start it first")
	}
	p, err := f.processSpec(c, args)
	if err != nil {
		return err
	}
	switch {
	case p.Terminal && f.detach && f.consoleSocket == "":
		return errors.New("cannot allocate tty if runc will detach without setting console socket")
	case !p.Terminal && f.consoleSocket != "":
		return errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	o := sandbox.ExecOptions{Stdin: stdinFile(g.stdin), Stdout: g.stdout, Stderr: g.stderr,
		PidFile: f.pidFile, Release: f.detach}
	for i := 0; i < f.preserveFDs; i++ {
		o.ExtraFiles = append(o.ExtraFiles, os.NewFile(uintptr(3+i), "preserved"))
	}
	var forward *notifier
	if !f.detach {
		forward = catchForwarded()
	}
	proc, err := c.Exec(p, o)
	if err != nil {
		return err
	}
	if con := proc.Console(); con != nil && f.consoleSocket != "" {
		err := sandbox.SendConsole(f.consoleSocket, con)
		con.Close()
		if err != nil {
			_ = proc.Signal(syscall.SIGKILL)
			return err
		}
	}
	if f.detach {
		return nil
	}
	drain := func() {}
	if con := proc.Console(); con != nil && f.consoleSocket == "" {
		var restore func()
		drain, restore = attachConsole(g.stdin, g.stdout, con, true)
		defer restore()
	}
	code := waitForwarding(proc.Wait, forward, proc.Console(), g.stdout, func(sig syscall.Signal) { _ = proc.Signal(sig) })
	drain()
	if code != 0 {
		return withCode(code, nil)
	}
	return nil
}

// processSpec is the process to start: --process's file, or the container's
// own process with the command and flags applied (runc's getProcess).
func (f *ociExecFlags) processSpec(c *sandbox.Container, args []string) (*specs.Process, error) {
	if f.apparmor != "" {
		return nil, fmt.Errorf("--apparmor %q: AppArmor is not supported by stepbox", f.apparmor)
	}
	if f.processLabel != "" {
		return nil, fmt.Errorf("--process-label: SELinux is not supported by stepbox")
	}
	if f.process != "" {
		b, err := os.ReadFile(f.process)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&p); err != nil {
			return nil, fmt.Errorf("parse %s: %w", f.process, err)
		}
		if p.ApparmorProfile != "" {
			return nil, fmt.Errorf("process.apparmorProfile %q: AppArmor is not supported by stepbox", p.ApparmorProfile)
		}
		if p.SelinuxLabel != "" {
			return nil, errors.New("process.selinuxLabel: SELinux is not supported by stepbox")
		}
		if p.Cwd == "" {
			p.Cwd = "/"
		}
		return &p, nil
	}
	if len(args) == 0 {
		return nil, errors.New("exec: no command given, and no --process")
	}
	p, err := c.ExecProcess(sandbox.ExecSettings{Args: args, Cwd: f.cwd, Terminal: f.tty})
	if err != nil {
		return nil, err
	}
	for _, kv := range f.env {
		k, _, _ := strings.Cut(kv, "=")
		out := p.Env[:0]
		for _, e := range p.Env {
			if !strings.HasPrefix(e, k+"=") {
				out = append(out, e)
			}
		}
		p.Env = append(out, kv)
	}
	if f.user != "" {
		u, gr, hasG := strings.Cut(f.user, ":")
		uid, err := strconv.ParseUint(u, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parsing %s as int for uid failed: %w", u, err)
		}
		p.User.UID = uint32(uid)
		if hasG {
			gid, err := strconv.ParseUint(gr, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("parsing %s as int for gid failed: %w", gr, err)
			}
			p.User.GID = uint32(gid)
		}
	}
	for _, s := range f.additionalGids {
		gid, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parsing additional gid %s: %w", s, err)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	if f.noNewPrivs {
		p.NoNewPrivileges = true
	}
	if len(f.caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		for _, name := range f.caps {
			cn, err := security.NormalizeCapability(name)
			if err != nil {
				return nil, err
			}
			p.Capabilities.Bounding = append(p.Capabilities.Bounding, cn)
			p.Capabilities.Effective = append(p.Capabilities.Effective, cn)
			p.Capabilities.Permitted = append(p.Capabilities.Permitted, cn)
		}
	}
	return p, nil
}
