package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/cgroups"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
	"github.com/stepbox/stepbox/sandbox/security"
)

// Docker's exit codes for a run that did not get as far as the payload.
const (
	exitRunFailed  = 125 // stepbox itself failed
	exitCannotExec = 126
	exitNotFound   = 127
)

type runOptions struct {
	rootfs   string
	name     string
	hostname string
	domain   string
	env      []string
	workdir  string
	user     string
	readOnly bool
	ns       string
	userns   bool
	stdin    bool
	tty      bool
	rm       bool
	volumes  []string
	init     bool

	resources   cgroups.Flags
	capAdd      []string
	capDrop     []string
	securityOpt []string
	privileged  bool
	nsGiven     bool // --ns was on the command line

	detach  bool   // -d (lifecycle.go)
	restart string // --restart, with -d

	entrypoint    string          // --entrypoint
	entrypointSet bool            // --entrypoint was on the command line ("" clears the image's)
	dashAt        int             // where "--" was among the arguments (cobra's ArgsLenAtDash)
	net           netOptions      // --network, -p, … (run_network.go)
	netCfg        *netconf.Config // what they ask for, made by spec
}

func init() { register("run", newRunCmd) }

func newRunCmd(g *globals) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] [IMAGE] [--] [COMMAND [ARG...]]",
		Short: "Run a command in a new container",
		Long: `Run a command in a new, fully isolated container, in the foreground; with -d
in the background, under a monitor that keeps its output (stepbox logs) and
applies --restart, printing the container's id once it runs.

The container runs on IMAGE (a name:tag, an ID or a prefix of one, from
'stepbox images'), with its own writable layer over the image's layers
(overlayfs): what it writes stays in that layer, and the image never
changes. The image's Env, Cmd, Entrypoint, WorkingDir, User and StopSignal
apply, and -e, -w, -u and --entrypoint override them as in docker. Without
IMAGE ("run -- COMMAND", or a COMMAND that starts with /) the built-in
image is used, made from the built-in root filesystem (see 'stepbox
rootfs'); --rootfs DIR runs on a plain directory of yours instead, with no
layer of its own. Every namespace but the user namespace is on; --ns picks
them one by one and --userns adds the user namespace, mapping root inside to an
unprivileged range on the host. A small init runs as PID 1 (docker's --init) so
that Ctrl-C stops programs like sleep; --init=false makes your command PID 1.

The exit code is the command's own, or 125 when stepbox failed, 126 when the
command cannot be executed and 127 when it is not found, as with docker.

새 컨테이너에서 명령을 실행합니다. IMAGE를 주면 그 이미지의 레이어 위에 컨테이너만의 쓰기
레이어를 얹어(overlayfs) 실행하고, 이미지의 Env, Cmd, Entrypoint, WorkingDir, User가 적용됩니다.
IMAGE가 없으면 내장 이미지를, --rootfs DIR을 주면 그 디렉터리를 그대로 씁니다. -d를 주면 모니터 아래에서 백그라운드로 실행하고, 실행이 시작되면 컨테이너 ID를 출력합니다.`,
		Example: `  stepbox run -- sh -c 'hostname; ps'
  stepbox run -it --rm -- sh
  stepbox run --rm course/base:v1
  stepbox run --rm -e GREETING=hi course/base:v1 sh -c 'echo $GREETING'
  stepbox run -d --name web --restart on-failure:3 -- sh -c 'while :; do date; sleep 5; done'
  stepbox run --ns uts,pid --hostname lab -- hostname
  stepbox run --userns -v /tmp/data:/data -- touch /data/x
  stepbox run --rootfs ./busybox-root --read-only -w /tmp -- ls
  stepbox run --memory 64m --cpus 0.5 --pids-limit 100 -- sh
  stepbox run --cap-drop ALL --cap-add NET_BIND_SERVICE -- sh`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.nsGiven = cmd.Flags().Changed("ns")
			o.entrypointSet = cmd.Flags().Changed("entrypoint")
			o.dashAt = cmd.ArgsLenAtDash()
			return runRun(g, o, args)
		},
	}
	// docker exits 125 for a bad flag too.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitRunFailed, err) })
	o.flags(cmd)
	o.detachFlags(cmd)
	return cmd
}

// flags registers docker's run flags (shared by run and spec).
func (o *runOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVar(&o.rootfs, "rootfs", "", "run on this plain directory instead of an image (no layer of its own)")
	f.StringVar(&o.name, "name", "", "container name (default: a made-up one, like quiet_otter)")
	f.StringVar(&o.hostname, "hostname", "", "hostname inside (default: the container's name)")
	f.StringVar(&o.domain, "domainname", "", "NIS domain name inside")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable, KEY=VALUE (KEY alone copies it from here)")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside (default: the image's, else /)")
	f.StringVarP(&o.user, "user", "u", "", "user inside: UID[:GID] or NAME[:GROUP] (default: the image's)")
	f.StringVar(&o.entrypoint, "entrypoint", "", "run this instead of the image's entrypoint (\"\" for none); drops the image's Cmd")
	f.BoolVar(&o.readOnly, "read-only", false, "mount the root filesystem read-only")
	f.StringVar(&o.ns, "ns", "uts,pid,mnt,ipc,net,cgroup,time", "namespaces to create: uts,pid,mnt,ipc,net,user,cgroup,time, all or none")
	f.BoolVar(&o.userns, "userns", false, "add a user namespace (root inside is unprivileged outside)")
	f.BoolVarP(&o.stdin, "interactive", "i", false, "keep standard input open")
	f.BoolVarP(&o.tty, "tty", "t", false, "give the command a terminal")
	f.BoolVar(&o.rm, "rm", false, "remove the container when it exits")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind mount HOST:CONTAINER[:ro]")
	f.BoolVar(&o.init, "init", true, "run a minimal init as PID 1 that forwards signals and reaps orphans")
	f.StringVarP(&o.resources.Memory, "memory", "m", "", "memory limit, e.g. 64m")
	f.StringVar(&o.resources.MemorySwap, "memory-swap", "", "memory plus swap, e.g. 128m; -1 for unlimited swap")
	f.StringVar(&o.resources.MemoryReservation, "memory-reservation", "", "memory soft limit, e.g. 32m")
	f.StringVar(&o.resources.CPUs, "cpus", "", "number of CPUs, e.g. 0.5")
	f.Int64VarP(&o.resources.CPUShares, "cpu-shares", "c", 0, "relative CPU weight (1024 is the default)")
	f.StringVar(&o.resources.CPUsetCPUs, "cpuset-cpus", "", "CPUs the container may use, e.g. 0-1")
	f.StringVar(&o.resources.CPUsetMems, "cpuset-mems", "", "memory nodes the container may use, e.g. 0")
	f.Int64Var(&o.resources.PidsLimit, "pids-limit", 0, "most processes at once (-1 for unlimited)")
	f.StringArrayVar(&o.capAdd, "cap-add", nil, "add a capability (or ALL)")
	f.StringArrayVar(&o.capDrop, "cap-drop", nil, "drop a capability (or ALL)")
	f.StringArrayVar(&o.securityOpt, "security-opt", nil, "no-new-privileges[=true|false], seccomp=unconfined|PROFILE.json")
	f.BoolVar(&o.privileged, "privileged", false, "every capability, no seccomp filter, nothing masked in /proc (dangerous)")
	o.net.flags(cmd)
}

// runPaths is where run keeps its state.
func runPaths(g *globals) sandbox.Paths { return sandbox.DefaultPaths(g.StateRoot()) }

// runFailed marks an error as stepbox's own (exit 125), unless it already
// carries a code.
func runFailed(err error) error {
	if err == nil {
		return nil
	}
	var st exitStatus
	if errors.As(err, &st) {
		return err
	}
	switch {
	case errors.Is(err, sandbox.ErrNotFound):
		return withCode(exitNotFound, err)
	case errors.Is(err, sandbox.ErrCannotExecute):
		return withCode(exitCannotExec, err)
	}
	return withCode(exitRunFailed, err)
}

func runRun(g *globals, o *runOptions, args []string) error {
	if err := o.checkDetach(); err != nil {
		return runFailed(err)
	}
	paths := runPaths(g)
	src, args, err := o.source(g, paths, args, false)
	if err != nil {
		return runFailed(err)
	}
	spec, err := o.spec(g, paths, src, args)
	sandbox.Tracef("run: spec built")
	if err != nil {
		return runFailed(err)
	}
	// docker's ids, and its short id as the hostname.
	id := sandbox.NewContainerID()
	if sandbox.HasNamespace(spec, specs.UTSNamespace) && spec.Hostname == "" {
		spec.Hostname = sandbox.ShortID(id)
	}
	spec.Process.Env = append(spec.Process.Env, "HOSTNAME="+spec.Hostname)
	if err := checkNetworks(paths, o.netCfg); err != nil {
		return runFailed(err)
	}
	if o.detach {
		return runDetached(g, o, paths, id, spec, src)
	}
	opts := sandbox.Options{Init: o.init, Stdout: g.stdout, Stderr: g.stderr, Network: o.netCfg}
	if o.stdin {
		opts.Stdin = g.stdin
	}
	// Signals that mean "stop" or that a program may handle itself pass
	// through to the container (docker's --sig-proxy); they are registered
	// while the container is made (signals.go).
	forward := catchForwarded()
	// Nothing is done between create and start but a terminal's attach:
	// without one, the init goes on to the payload as soon as it is ready
	// (sandbox.Options.StartAtOnce), once the signals to pass on are caught.
	if !spec.Process.Terminal {
		opts.StartAtOnce = true
		opts.AfterClone = func(int) error { forward.Wait(); return nil }
	}
	var c *sandbox.Container
	warned := false
	afterBase := opts.AfterClone
	err = named(o.name, func(name string) (err error) {
		// Made again for each name tried: a failed Create releases it.
		opts.Name = name
		var wait func() error
		if opts.Image, wait, err = src.prepare(g, id, spec, &warned); err != nil {
			return err
		}
		opts.AfterClone = afterClone(afterBase, wait)
		c, err = sandbox.Create(paths, id, spec, opts)
		if err != nil {
			_ = wait()
			_ = sandbox.ReleaseImageRootfs(opts.Image, id)
		}
		return err
	})
	if err != nil {
		return runFailed(err)
	}
	sandbox.Tracef("run: created")
	code, err := foreground(g, c, o, forward)
	if o.rm {
		if derr := c.Delete(true); derr != nil && err == nil {
			err = derr
		}
	} else if cerr := c.Cleanup(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return runFailed(err)
	}
	if code != 0 {
		return withCode(code, nil)
	}
	return nil
}

// foreground starts the container and stays with it: the terminal, signals,
// the exit code.
func foreground(g *globals, c *sandbox.Container, o *runOptions, forward *notifier) (int, error) {
	drain := func() {}
	if con := c.Console(); con != nil {
		var restore func()
		drain, restore = attachConsole(g.stdin, g.stdout, con, o.stdin)
		defer restore()
	}
	// Nothing runs in the container before the signals it should get are
	// caught here.
	forward.Wait()
	if err := c.Start(); err != nil {
		return 0, err
	}
	interrupts := 0
	code := waitForwarding(c.Wait, forward, c.Console(), g.stdout, func(sig syscall.Signal) {
		if sig == syscall.SIGINT {
			interrupts++
			if interrupts >= 3 {
				fmt.Fprintln(g.stderr, "stepbox: third interrupt, killing the container")
				_ = c.Signal(syscall.SIGKILL)
				return
			}
		}
		_ = c.Signal(sig)
	})
	drain()
	return code, nil
}

func rawTerminal(in io.Reader) func() {
	f, ok := terminal(in)
	if !ok {
		return func() {}
	}
	st, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		return func() {}
	}
	return func() { _ = term.Restore(int(f.Fd()), st) }
}

// resize gives the container's terminal the size of ours (TIOCSWINSZ), which
// sends SIGWINCH to its foreground process group.
func resize(con *os.File, out io.Writer) {
	if ws, ok := winsize(out); ok {
		_ = unix.IoctlSetWinsize(int(con.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// winsize is the size of the terminal out writes to, when it is one
// (TIOCGWINSZ).
func winsize(out io.Writer) (*unix.Winsize, bool) {
	f, ok := out.(*os.File)
	if !ok {
		return nil, false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return ws, err == nil
}

// spec turns the flags, the image's config and the command into the
// container's description. Its root.path is src's directory, or, for an
// image, set when the container's layer is prepared (imagefs.Prepare).
func (o *runOptions) spec(g *globals, paths sandbox.Paths, src *runSource, args []string) (*specs.Spec, error) {
	cfg := src.config()
	if src.img == nil && len(args) == 0 {
		return nil, usageError{hint.With(errors.New("no command to run in "+src.dir), "give it after --: stepbox run --rootfs DIR -- CMD")}
	}
	argv, err := o.command(cfg, args)
	if err != nil {
		return nil, err
	}
	spec := sandbox.DefaultSpec(src.dir, argv...)
	nss, err := sandbox.ParseNamespaceList(o.ns)
	if err != nil {
		return nil, hint.With(err, "--ns takes a comma-separated list, e.g. uts,pid,mnt")
	}
	if slices.Contains(nss, specs.TimeNamespace) {
		// Some kernels break every multi-threaded program in a time
		// namespace (sandbox/timens.go): left out of the default there,
		// and a warning when asked for by name.
		if works, err := sandbox.TimeNamespaceThreadsWork(paths); err == nil && !works {
			if o.nsGiven {
				fmt.Fprintln(g.stderr, "stepbox: warning: on this kernel a program with threads (Go, Java, …) cannot start in a time namespace; see 'stepbox doctor'")
			} else {
				nss = slices.DeleteFunc(nss, func(t specs.LinuxNamespaceType) bool { return t == specs.TimeNamespace })
			}
		}
	}
	if o.userns {
		nss = append(nss, specs.UserNamespace)
	}
	sandbox.SetNamespaces(spec, nss)
	spec.Hostname, spec.Domainname = o.hostname, o.domain
	spec.Root.Readonly = o.readOnly
	spec.Process.Terminal = o.tty
	if src.img != nil {
		spec.Process.Env = imageEnv(cfg)
		if o.tty && !hasEnv(spec.Process.Env, "TERM") {
			spec.Process.Env = append(spec.Process.Env, "TERM=xterm")
		}
		imageAnnotations(spec, cfg)
	} else if !o.tty {
		spec.Process.Env = removeEnv(spec.Process.Env, "TERM")
	}
	cwd := o.workdir
	if cwd == "" {
		cwd = cfg.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return nil, hint.With(fmt.Errorf("working directory %q is not absolute", cwd), "-w takes an absolute path inside the container")
	}
	spec.Process.Cwd = cwd
	home := "/root"
	user := o.user
	if user == "" {
		user = cfg.User
	}
	if user != "" {
		u, h, err := src.resolveUser(user)
		if err != nil {
			return nil, err
		}
		spec.Process.User, home = u, h
	}
	if !hasEnv(spec.Process.Env, "HOME") {
		spec.Process.Env = append(spec.Process.Env, "HOME="+home)
	}
	if spec.Process.Env, err = sandbox.MergeEnv(spec.Process.Env, o.env); err != nil {
		return nil, err
	}
	for _, v := range o.volumes {
		src, dst, ro, err := parseVolume(v)
		if err != nil {
			return nil, err
		}
		sandbox.AddBind(spec, src, dst, ro)
	}
	r, err := o.resources.Resources()
	if err != nil {
		return nil, err
	}
	if r != nil && r.Memory != nil && r.Memory.Swap != nil && o.resources.MemorySwap == "" {
		// docker's implicit memory+swap (twice --memory) is dropped, with
		// docker's warning, where the kernel does not account swap.
		if l, err := cgroups.HostLayout(); err == nil && !l.SwapAccounting() {
			r.Memory.Swap = nil
			fmt.Fprintln(g.stderr, "stepbox: warning: the kernel does not account swap: memory limited without swap")
		}
	}
	spec.Linux.Resources = r
	if err := o.security(g, spec); err != nil {
		return nil, err
	}
	if o.net.publishAll {
		// -P publishes the ports the image exposes too, as docker's does.
		for _, p := range imagePorts(cfg) {
			if !slices.Contains(o.net.expose, p) {
				o.net.expose = append(o.net.expose, p)
			}
		}
	}
	if o.netCfg, err = o.net.config(g, spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// security applies --privileged, --cap-add, --cap-drop and --security-opt
// with docker's meaning.
func (o *runOptions) security(g *globals, spec *specs.Spec) error {
	caps := security.DefaultCapabilities()
	if o.privileged {
		// setuid tools (sudo, ping on old images) are expected to work in a
		// privileged container; --security-opt can still turn it back on.
		caps, spec.Process.NoNewPrivileges = security.AllCapabilities(), false
	}
	caps, err := security.Merge(caps, o.capAdd, o.capDrop)
	if err != nil {
		return hint.With(err, "see capabilities(7) for the names, e.g. --cap-add NET_ADMIN")
	}
	sandbox.SetCapabilities(spec, caps)
	seccomp := "default"
	for _, opt := range o.securityOpt {
		k, v, hasValue := strings.Cut(opt, "=")
		if !hasValue {
			k, v, hasValue = strings.Cut(opt, ":") // docker's older form
		}
		switch k {
		case "no-new-privileges":
			switch v {
			case "", "true":
				spec.Process.NoNewPrivileges = true
			case "false":
				spec.Process.NoNewPrivileges = false
			default:
				return fmt.Errorf("--security-opt %s: use no-new-privileges=true or false", opt)
			}
		case "seccomp":
			if !hasValue || v == "" {
				return fmt.Errorf("--security-opt %s: use seccomp=unconfined or seccomp=PROFILE.json", opt)
			}
			seccomp = v
		case "apparmor", "label":
			return hint.With(fmt.Errorf("--security-opt %s: stepbox does not drive %s", opt, k), "only no-new-privileges and seccomp are supported")
		default:
			return hint.With(fmt.Errorf("unknown --security-opt %q", opt), "use no-new-privileges[=true|false] or seccomp=unconfined|PROFILE.json")
		}
	}
	if o.privileged {
		// docker --privileged: nothing masked, /proc/sys and /sys writable
		// by the container's root, no seccomp unless a profile is named.
		fmt.Fprintln(g.stderr, "stepbox: warning: --privileged gives the container every capability, no seccomp filter and an unmasked /proc: root inside can take over the host")
		spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths = nil, nil
		for i, m := range spec.Mounts {
			if m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
				spec.Mounts[i].Options = removeOpt(m.Options, "ro")
			}
		}
		if seccomp == "default" {
			seccomp = "unconfined"
		}
	}
	switch seccomp {
	case "unconfined":
		spec.Linux.Seccomp = nil
	case "default":
		// The profile depends on the capabilities: build it after them.
		return sandbox.SetDefaultSeccomp(spec)
	default:
		b, err := os.ReadFile(seccomp)
		if err != nil {
			return hint.With(fmt.Errorf("seccomp profile: %w", err), "--security-opt seccomp= takes unconfined or a docker profile JSON file")
		}
		p, err := security.LoadProfile(b, spec)
		if err != nil {
			return hint.With(fmt.Errorf("seccomp profile %s: %w", seccomp, err), "it must be in docker's seccomp profile format")
		}
		spec.Linux.Seccomp = p
	}
	return nil
}

func removeOpt(opts []string, o string) []string {
	out := opts[:0:0]
	for _, x := range opts {
		if x != o {
			out = append(out, x)
		}
	}
	return out
}

func removeEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// parseVolume reads -v HOST:CONTAINER[:ro|rw]. Named volumes are docker's,
// not ours: the host side must be an absolute path.
func parseVolume(v string) (src, dst string, ro bool, err error) {
	parts := strings.Split(v, ":")
	bad := func(why string) error {
		return hint.With(fmt.Errorf("invalid volume %q: %s", v, why), "-v takes HOST:CONTAINER[:ro], both absolute paths")
	}
	if len(parts) < 2 || len(parts) > 3 {
		return "", "", false, bad("want HOST:CONTAINER[:ro]")
	}
	src, dst = parts[0], parts[1]
	if !filepath.IsAbs(src) || !filepath.IsAbs(dst) {
		return "", "", false, bad("paths must be absolute")
	}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			ro = true
		case "rw":
		default:
			return "", "", false, bad("the mode must be ro or rw")
		}
	}
	return filepath.Clean(src), filepath.Clean(dst), ro, nil
}
