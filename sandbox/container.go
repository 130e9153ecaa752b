package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/flock"
	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/cgroups"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
	"github.com/stepbox/stepbox/sandbox/rootfs"
)

// Options are the stepbox choices that the OCI description has no field for.
type Options struct {
	// Bundle is the directory a relative root.path is resolved against.
	Bundle string
	// Stdin, Stdout and Stderr are the payload's standard streams when it has
	// no terminal. An *os.File is passed as it is; anything else through a pipe.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Init runs a minimal init as PID 1 that forwards signals to the payload
	// and reaps orphans (docker run --init). Without it the payload is PID 1,
	// and the kernel drops signals it has no handler for (pid_namespaces(7)):
	// Ctrl-C would not stop `sleep`.
	Init bool
	// RootfsMode is how the init enters the root: pivot_root(2) by default;
	// chroot(2) only for the lesson that shows why chroot is not enough.
	RootfsMode rootfs.Mode
	// HostRoot gives the container a mount namespace that starts as a
	// private copy of the host's mount tree, with no root filesystem of its
	// own (unshare --mount). The lessons' failure demos run inside one, so
	// that what they break is a throwaway copy, not the host.
	HostRoot bool
	// KeepPropagation leaves a HostRoot container's mounts with the
	// propagation they inherited instead of making "/" private first: on a
	// host whose "/" is shared (systemd's default) what it mounts then shows
	// up outside. Only the mount lesson's failure demo wants this.
	KeepPropagation bool
	// UnmappedUserNS leaves a new user namespace without uid and gid maps:
	// the process is then the overflow uid (nobody) inside and has no
	// capabilities. Only the user-namespace lesson wants this.
	UnmappedUserNS bool
	// DenySetgroups writes "deny" to the user namespace's setgroups file
	// before its gid map, as an unprivileged user must (user_namespaces(7)).
	DenySetgroups bool
	// ExtraFiles are passed to the payload as descriptors 3, 4, … (runc's
	// --preserve-fds); nothing else crosses into the container.
	ExtraFiles []*os.File
	// AfterClone runs in the parent once the init exists in its namespaces
	// and cgroups, before it may continue: the place to wire its network.
	AfterClone func(pid int) error
	// BeforeDelete runs before the cgroups and state are removed.
	BeforeDelete func()
	// Name is the container's name beside its id, unique under Paths.Run
	// (names.go); none when empty.
	Name string
	// Image is the root filesystem prepared for the container in an image
	// store (imagefs.Prepare): the init mounts its overlay on the spec's
	// root.path, and removing the container releases it (imageroot.go).
	Image *ImageRootfs
	// Network is what the container asks of the network (netattach.go):
	// nil leaves it as the description says, with a network namespace of
	// its own holding only lo, or the host's.
	Network *netconf.Config
	// StartAtOnce says the caller calls Start as soon as Create returns,
	// with nothing to do in between: the init then goes on to its payload
	// without waiting for Start (startnow.go). Start must still be called.
	StartAtOnce bool

	// probe marks the runtime's own probe of the kernel (timens.go).
	probe bool
	// monitored marks a container whose creator becomes its monitor
	// (monitor.go), and detached is the monitor's record of it.
	monitored bool
	detached  *Detached
	// attachFirst holds a monitored container's payload until a client
	// is on its attach socket (StartAttached).
	attachFirst bool
}

// Container is one container, made by Create or found by Load.
type Container struct {
	ID    string
	paths Paths
	dir   string
	spec  *specs.Spec
	opts  Options

	mu    sync.Mutex
	state State

	// Set only in the process that created the container.
	cmd     *exec.Cmd
	sync    *os.File
	console *os.File
	cg      cgroups.Manager
	waited  chan struct{}
	waitErr error
	// saved is closed when the created state is written (savedErr).
	saved    chan struct{}
	savedErr error
	// joined is the container whose network namespace this one joins.
	joined *joined
	// atOnce marks a container that starts at once, and early is its start
	// fifo and pidfd until Start takes them (startnow.go).
	atOnce bool
	early  *earlyStart
	// cInit marks a container whose minimal init is the C one: the Go
	// init is replaced before the payload runs, as by the payload itself
	// without a minimal init.
	cInit bool
}

// Spec returns the description the container was made from.
func (c *Container) Spec() *specs.Spec { return c.spec }

// Pid is the host pid of the container's init (its PID 1 when it has a pid
// namespace).
func (c *Container) Pid() int { c.mu.Lock(); defer c.mu.Unlock(); return c.state.Pid }

// Console returns the master side of the container's terminal, when the
// process asked for one (process.terminal); the caller copies to and from it.
func (c *Container) Console() *os.File { return c.console }

// CgroupPaths maps each cgroup controller to the container's directory.
func (c *Container) CgroupPaths() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.CgroupPaths
}

// Cgroups returns the container's cgroup manager (nil for a container found
// by Load whose cgroups are gone).
func (c *Container) Cgroups() cgroups.Manager { return c.cg }

// Create makes the container: its state directory, its cgroups and its init
// process in the new namespaces, which prepares everything and then waits for
// Start. On any failure everything made so far is removed.
func Create(p Paths, id string, spec *specs.Spec, o Options) (*Container, error) {
	return create(p, id, spec, o, nil)
}

// create is Create, or with prev the same container made again in its
// directory (startAgain), which a failure then leaves stopped, not removed.
func create(p Paths, id string, spec *specs.Spec, o Options, prev *State) (_ *Container, err error) {
	if id == "" {
		id = NewID()
	}
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	tracef("create %s", id)
	// The sealed copy of the init needs nothing from what follows: it
	// starts now, in the background.
	go sealedExe()
	warmPidfdCheck()
	cfg, err := prepare(spec, o)
	if err != nil {
		return nil, err
	}
	cfg.ParentDeath = o.monitored
	if o.Image != nil {
		cfg.Overlay = o.Image.Overlay
	}
	tracef("validated, seccomp compiled")
	// Readable by all, so that `stepbox ps` works unprivileged.
	if err := os.MkdirAll(p.Run, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", p.Run, err)
	}
	dir := p.containerDir(id)
	if err := os.Mkdir(dir, 0o711); err != nil && (prev == nil || !errors.Is(err, fs.ErrExist)) {
		if errors.Is(err, fs.ErrExist) {
			return nil, hint.With(fmt.Errorf("container %q: %w", id, ErrNameInUse),
				"choose another --name, or remove the old one with 'stepbox rm "+id+"'")
		}
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	c := &Container{ID: id, paths: p, dir: dir, spec: spec, opts: o, waited: make(chan struct{})}
	c.state = State{OCIVersion: specs.Version, ID: id, Status: Creating, Bundle: o.Bundle,
		Rootfs: cfg.Rootfs, Created: time.Now().UTC(), Args: spec.Process.Args, Init: cfg.Init,
		Name: o.Name, Detached: o.detached, Image: o.Image}
	if spec.Annotations != nil {
		c.state.Annotations = spec.Annotations
	}
	if prev != nil {
		c.state.carryOver(prev)
	}
	defer func() {
		if err != nil {
			if prev != nil {
				c.abandon()
			} else {
				c.destroy()
			}
		}
	}()
	if prev == nil {
		if err := reserveName(p, o.Name, id); err != nil {
			return nil, err
		}
	}
	if err := writeState(dir, c.state); err != nil {
		return nil, fmt.Errorf("write state.json: %w", err)
	}
	// config.json (with its seccomp profile, the bulk of it) is written
	// while the init starts.
	wroteConfig := make(chan error, 1)
	go func() { wroteConfig <- writeJSON(filepath.Join(dir, "config.json"), spec) }()
	defer func() {
		if werr := <-wroteConfig; werr != nil && err == nil {
			err = fmt.Errorf("write config.json: %w", werr)
		}
	}()

	// The pids limit waits until the init is ready: the init is a Go
	// program whose threads count as tasks, and a small limit in place
	// from the start would stop its runtime from making them (it aborts).
	// It is in place before the payload runs.
	resources, pids := splitPids(spec)
	tracef("state written")
	c.cg, err = cgroups.New(cgroupPath(spec, id), resources)
	if err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	tracef("cgroups made")
	c.state.CgroupPaths = c.cg.Paths()
	for controller := range c.state.CgroupPaths {
		cfg.Cgroups = append(cfg.Cgroups, controller)
	}

	if o.Network != nil {
		if err := c.planNetwork(cfg); err != nil {
			return nil, err
		}
	}
	c.atOnce = c.startsAtOnce(pids != nil)
	if err := c.startInit(cfg); err != nil {
		return nil, err
	}
	if err := c.checkJoined(); err != nil {
		return nil, err
	}
	if pids != nil {
		if err := c.limitPids(pids, cfg.Init && !c.cInit); err != nil {
			return nil, err
		}
	}
	c.state.Status = Created
	// Recorded while the caller goes on (Start, usually, at once); every
	// later state write waits for it (settled).
	c.saved = make(chan struct{})
	go func(st State) {
		if err := writeState(dir, st); err != nil {
			c.savedErr = fmt.Errorf("write state.json: %w", err)
		}
		close(c.saved)
	}(c.state)
	return c, nil
}

// settled waits for the record of the created state to be on disk.
func (c *Container) settled() error {
	if c.saved == nil {
		return nil
	}
	<-c.saved
	return c.savedErr
}

// splitPids returns the resources without the pids section, and that
// section when it sets a limit.
func splitPids(spec *specs.Spec) (*specs.LinuxResources, *specs.LinuxPids) {
	if spec.Linux == nil || spec.Linux.Resources == nil {
		return nil, nil
	}
	r := *spec.Linux.Resources
	pids := r.Pids
	r.Pids = nil
	if pids == nil || pids.Limit == nil || *pids.Limit <= 0 {
		return &r, nil // no limit, or unlimited: nothing to write
	}
	return &r, pids
}

// limitPids writes the pids limit once the init is ready. Until its
// execve(2) the init makes no more threads; a minimal init in Go
// (goInitStays) keeps running beside the payload, and its threads keep
// counting: a limit that leaves it no room is refused rather than let its
// runtime abort. The C minimal init is one task.
func (c *Container) limitPids(pids *specs.LinuxPids, goInitStays bool) error {
	if goInitStays {
		if n := threads(c.Pid()); n > 0 && *pids.Limit < int64(n)+2 {
			return hint.With(fmt.Errorf("--pids-limit %d leaves no room: the container's minimal init alone runs %d threads", *pids.Limit, n),
				fmt.Sprintf("use a limit of at least %d, or --init=false", n+2))
		}
	}
	if err := c.cg.Set(&specs.LinuxResources{Pids: pids}); err != nil {
		return fmt.Errorf("set pids limit: %w", err)
	}
	tracef("pids limit set")
	return nil
}

// threads counts a process's threads (proc(5), /proc/PID/status Threads).
func threads(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

func cgroupPath(spec *specs.Spec, id string) string {
	if spec.Linux != nil && spec.Linux.CgroupsPath != "" {
		return spec.Linux.CgroupsPath
	}
	return "/stepbox/" + id
}

// startInit starts the re-executed init and drives it to "ready".
func (c *Container) startInit(cfg *initConfig) (err error) {
	// Everything up to the clone but the sealed copy first, while the copy
	// may still be under way (Prefetch, Create).
	//
	// The start fifo (runc's exec.fifo): the init blocks opening it for
	// writing until Start opens it for reading. A fifo, not the socket, so that
	// a different stepbox process can start a created container.
	fifoPath := filepath.Join(c.dir, "exec.fifo")
	if err := unix.Mkfifo(fifoPath, 0o600); err != nil {
		return fmt.Errorf("mkfifo %s: %w", fifoPath, err)
	}
	// The init opens it once it has taken the payload's identity, perhaps
	// without a capability left to override the file's mode: it is the
	// payload user's (mapped to the host), or, in a user namespace left
	// without maps, still ours. The mode is set apart from mkfifo's, which
	// the umask trims.
	u := c.spec.Process.User
	uid, gid := hostUID(c.spec, u.UID), hostGID(c.spec, u.GID)
	if c.opts.UnmappedUserNS {
		uid, gid = os.Getuid(), os.Getgid()
	}
	if err := os.Chown(fifoPath, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", fifoPath, err)
	}
	if err := os.Chmod(fifoPath, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", fifoPath, err)
	}
	fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", fifoPath, err)
	}
	defer fifo.Close()

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	parentSock, childSock := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync-child")
	defer childSock.Close()
	c.sync = parentSock

	cfg.PreserveFDs = len(c.opts.ExtraFiles)
	trees, err := openSourceTrees(c.spec, cfg)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range trees {
			if t != nil {
				t.Close()
			}
		}
	}()
	// The descriptors' numbers in the init, known before the clone:
	// after ExtraFiles, the pipe, the socket, the fifo and the copy.
	if trees != nil {
		cfg.SourceTrees = make([]int, len(trees))
		n := 3 + len(c.opts.ExtraFiles) + 4
		for i, t := range trees {
			cfg.SourceTrees[i] = -1
			if t != nil {
				cfg.SourceTrees[i] = n
				n++
			}
		}
	}
	// The configuration waits in the pipe, so the init reads it as soon as
	// it runs, unless AfterClone must act first (sending it is what lets the
	// init go on). A pipe holds 64 KiB; a larger one is written while the
	// init reads.
	msg, err := marshalWire(cfg)
	if err != nil {
		return err
	}
	sent := make(chan error, 1)
	send := func() {
		_, err := cfgW.Write(msg)
		cfgW.Close()
		sent <- err
	}
	if c.opts.AfterClone == nil {
		go send()
	}

	exe, err := sealedExe()
	if err != nil {
		return err
	}
	tracef("sealed copy of the init")

	extra := append([]*os.File{}, c.opts.ExtraFiles...)
	base := 3 + len(extra)
	// execve(2) of /proc/self/fd/N runs the sealed copy, handed to the child
	// as one of its descriptors so that N is known: the child side of
	// os/exec moves descriptors to numbers above the highest one it is
	// given, and would overwrite a copy left at one of those (seen with 20
	// containers starting at once: execve of a pipe, EACCES). The init marks
	// it close-on-exec first thing, with the other three.
	extra = append(extra, cfgR, childSock, fifo, exe.file)
	for _, t := range trees {
		if t != nil {
			extra = append(extra, t) // at the numbers cfg.SourceTrees says
		}
	}
	reaper := -1
	if cfg.Init && exe.reaper != nil {
		reaper, c.cInit = 3+len(extra), true
		extra = append(extra, exe.reaper)
	}
	cmd := &exec.Cmd{
		Path:       fmt.Sprintf("/proc/self/fd/%d", base+3),
		Args:       []string{"stepbox", initArg},
		Env:        initEnviron(base, exe.lean, reaper),
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: cfg.cloneFlags(),
			// A new session: the host terminal's job-control signals no
			// longer reach the container directly; stepbox forwards them.
			Setsid: true,
		},
	}
	if !cfg.Spec.Process.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = c.opts.Stdin, c.opts.Stdout, c.opts.Stderr
	}
	if hasNew(c.spec, specs.UserNamespace) && !c.opts.UnmappedUserNS {
		cmd.SysProcAttr.UidMappings = idMaps(c.spec.Linux.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(c.spec.Linux.GIDMappings)
		// setgroups(2) stays allowed, as the maps are written by privileged
		// us; Go writes "deny" when false (user_namespaces(7)).
		cmd.SysProcAttr.GidMappingsEnableSetgroups = !c.opts.DenySetgroups
		// Our own uid 0 is not in the map, so the child would run as the
		// overflow uid and lose every capability at execve. Go switches it to
		// uid 0 of the new namespace once the maps are written.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: c.opts.DenySetgroups}
	}
	// Born in its cgroups: no migration, no grace period (cgroups.StartIn).
	if err := c.cloneInit(cmd); err != nil {
		return fmt.Errorf("start container init: %w", err)
	}
	tracef("init cloned, pid %d", cmd.Process.Pid)
	c.cmd = cmd
	c.state.Pid = cmd.Process.Pid
	c.state.PidStart, _, _ = procStart(cmd.Process.Pid)
	if c.atOnce {
		if err := c.openStartEarly(fifoPath, cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			go c.awaitInit(cmd)
			return err
		}
	}
	go c.awaitInit(cmd)
	childSock.Close()
	cfgR.Close()

	if c.opts.AfterClone != nil {
		if err := c.opts.AfterClone(cmd.Process.Pid); err != nil {
			return err
		}
		go send()
	}
	if err := <-sent; err != nil {
		// An init that refused to start said why before it went.
		if m, _, ok, _ := recvMsg(parentSock); ok && m.Type == "error" {
			return &InitError{Kind: m.Kind, Message: m.Message}
		}
		return fmt.Errorf("send configuration to container init: %w", err)
	}

	for {
		m, fd, ok, err := recvMsg(parentSock)
		if err != nil {
			return err
		}
		if !ok {
			return c.initDied("before it was ready")
		}
		switch m.Type {
		case "console":
			if c.console, err = receivedConsole(fd, "container init"); err != nil {
				return err
			}
		case "hooks":
			if err := c.runCreateHooks(); err != nil {
				return err
			}
		case "seccomp":
			if fd < 0 {
				return errors.New("container init sent a seccomp listener without its descriptor")
			}
			if err := c.passSeccompListener(fd); err != nil {
				return err
			}
		case "ready":
			tracef("init ready")
			return nil
		case "error":
			return &InitError{Kind: m.Kind, Message: m.Message}
		default:
			return fmt.Errorf("container init sent an unknown message %q", m.Type)
		}
	}
}

// initEnviron is the init's environment: "cfgfd,syncfd,fifofd,exefd",
// then for the lean init its fingerprint, and for a minimal init in C the
// descriptor of its binary (execReaper).
func initEnviron(base int, lean bool, reaper int) []string {
	fds := fmt.Sprintf("%d,%d,%d,%d", base, base+1, base+2, base+3)
	if lean {
		fds += "," + wireFingerprint()
		if reaper >= 0 {
			fds += "," + strconv.Itoa(reaper)
		}
	}
	env := []string{initEnv + "=" + fds}
	if traceOn {
		env = append(env, "STEPBOX_TRACE=1")
	}
	return env
}

// openSourceTrees makes, for a container with a user namespace of its own,
// a detached copy of each bind mount's source (open_tree(2)
// OPEN_TREE_CLONE, recursive for rbind) while we are still the host's root:
// inside, the container's root may not even be able to reach the path (a
// source below root's own /root, mode 0700). nil without a user namespace,
// where the init binds by path as it always did.
func openSourceTrees(spec *specs.Spec, cfg *initConfig) ([]*os.File, error) {
	if !hasNew(spec, specs.UserNamespace) || cfg.HostRoot || cfg.Unmapped {
		return nil, nil
	}
	var trees []*os.File
	for i, m := range spec.Mounts {
		opts, err := rootfs.ParseMountOptions(m.Options)
		if err != nil || !(m.Type == "bind" || opts.IsBind()) {
			continue // the init reports a bad option
		}
		flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
		if opts.Flags&unix.MS_REC != 0 {
			flags |= unix.AT_RECURSIVE
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, m.Source, flags)
		if err != nil {
			for _, t := range trees {
				if t != nil {
					t.Close()
				}
			}
			return nil, fmt.Errorf("bind mount source %s: %w", m.Source, err)
		}
		if trees == nil {
			trees = make([]*os.File, len(spec.Mounts))
		}
		trees[i] = os.NewFile(uintptr(fd), m.Source)
	}
	return trees, nil
}

// initDied explains an init that closed the socket without a word: it was
// killed (the OOM killer, a signal) or crashed.
func (c *Container) initDied(when string) error {
	if c.sync != nil {
		// Its last words, if it had time for them.
		if m, fd, ok, err := recvMsg(c.sync); err == nil && ok && m.Type == "error" {
			if fd >= 0 {
				unix.Close(fd)
			}
			return &InitError{Kind: m.Kind, Message: m.Message}
		}
	}
	if c.cmd == nil {
		return fmt.Errorf("container init exited %s", when)
	}
	select {
	case <-c.waited:
	case <-time.After(2 * time.Second):
	}
	if c.waitErr != nil {
		return fmt.Errorf("container init exited %s: %v", when, c.waitErr)
	}
	return fmt.Errorf("container init exited %s", when)
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, x := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(x.ContainerID), HostID: int(x.HostID), Size: int(x.Size)}
	}
	return out
}

// hostUID and hostGID are the host's ids for a container's uid and gid (the
// same ids without a user namespace).
func hostUID(spec *specs.Spec, id uint32) int {
	if !HasNamespace(spec, specs.UserNamespace) {
		return int(id)
	}
	return mapID(spec.Linux.UIDMappings, id)
}

func hostGID(spec *specs.Spec, id uint32) int {
	if !HasNamespace(spec, specs.UserNamespace) {
		return int(id)
	}
	return mapID(spec.Linux.GIDMappings, id)
}

func mapID(m []specs.LinuxIDMapping, id uint32) int {
	for _, x := range m {
		if id >= x.ContainerID && id-x.ContainerID < x.Size {
			return int(x.HostID + id - x.ContainerID)
		}
	}
	return 65534 // the overflow id: unmapped ids read as nobody
}

// Start lets the created container execve(2) its payload. When this process
// created the container it also learns whether the execve worked.
func (c *Container) Start() error {
	unlock, err := flock.Dir(c.dir)
	if err != nil {
		return err
	}
	defer unlock()
	fifoPath := filepath.Join(c.dir, "exec.fifo")
	fifo, pidfd, err := c.openStart(fifoPath)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	defer fifo.Close()
	if err := c.awaitFifo(fifo, pidfd); err != nil {
		return err
	}
	tracef("started")
	os.Remove(fifoPath)
	if err := c.settled(); err != nil {
		return err
	}
	c.mu.Lock()
	c.state.Status = Running
	c.state.Started = time.Now().UTC()
	st := c.state
	c.mu.Unlock()
	if err := writeState(c.dir, st); err != nil {
		return err
	}
	if c.sync == nil {
		return nil
	}
	// The socket is close-on-exec in the init: end of stream means the
	// execve succeeded; a message means it failed.
	defer func() { c.sync.Close(); c.sync = nil }()
	m, fd, ok, err := recvMsg(c.sync)
	if fd >= 0 {
		unix.Close(fd)
	}
	if err != nil || !ok {
		return err
	}
	if m.Type == "error" {
		return &InitError{Kind: m.Kind, Message: m.Message}
	}
	return nil
}

func (c *Container) awaitFifo(fifo *os.File, pidfd int) error {
	pfd := []unix.PollFd{{Fd: int32(fifo.Fd()), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(pfd, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for container init: %w", err)
		}
		if pfd[0].Revents&unix.POLLIN != 0 {
			var b [1]byte
			if n, _ := unix.Read(int(fifo.Fd()), b[:]); n == 1 {
				return nil
			}
		}
		if pfd[1].Revents != 0 || pfd[0].Revents&unix.POLLHUP != 0 {
			return c.initDied("before it was started")
		}
	}
}

// knownState is the state as this process knows it: its own record when it
// created the container, which only it writes (the lock is held), and
// otherwise the state file. Decoding the file costs a first use of
// encoding/json, a millisecond on the way to the payload.
func (c *Container) knownState() State {
	if c.cmd != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.state
	}
	return c.readState()
}

func (c *Container) readState() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, err := readState(c.dir); err == nil {
		c.state = s
	}
	return c.state
}

// Wait waits for the container's init to exit and returns its exit code, or
// 128+n when signal n killed it (the shell's and docker's convention).
// Only the process that created the container can learn the code; another
// one waits for the exit and gets -1.
func (c *Container) Wait() (int, error) {
	if c.cmd == nil {
		return -1, c.waitForeign()
	}
	<-c.waited
	tracef("payload exited")
	code := exitCodeOf(c.cmd.ProcessState)
	c.mu.Lock()
	c.state.Status = Stopped
	c.state.ExitCode = &code
	c.state.Finished = time.Now().UTC()
	st := c.state
	c.mu.Unlock()
	_ = c.settled()
	_ = writeState(c.dir, st)
	return code, nil
}

func exitCodeOf(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func (c *Container) waitForeign() error {
	st := c.readState()
	if !processAlive(st.Pid, st.PidStart) {
		return nil
	}
	pidfd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(pidfd)
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, -1)
		if err != unix.EINTR {
			return err
		}
	}
}

// Signal sends sig to the container's init. The pid is checked against the
// recorded start time first: a recycled pid must never get the signal.
func (c *Container) Signal(sig syscall.Signal) error {
	st := c.readState()
	if !processAlive(st.Pid, st.PidStart) {
		return fmt.Errorf("signal container %s: it is not running: %w", c.ID, ErrWrongState)
	}
	pidfd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return fmt.Errorf("signal container %s: %w", c.ID, err)
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal container %s: %w", c.ID, err)
	}
	return nil
}

// Delete removes a stopped container: its processes (with force, a running
// or created one's too), cgroups and state. The OCI runtime spec says
// deleting a container that is not stopped must fail; runc and crun delete a
// created one anyway, stepbox does not.
func (c *Container) Delete(force bool) error {
	st := liveStatus(c.dir, c.readState())
	if st != Stopped && !force {
		return hint.With(fmt.Errorf("delete container %s: it is %s: %w", c.ID, st, ErrWrongState),
			"stop it first, or use --force")
	}
	return c.destroy()
}

// destroy kills every process of the container and removes everything it
// had, tolerating what is already gone.
func (c *Container) destroy() error {
	_ = c.settled() // nothing may write into the directory once it is gone
	var errs []error
	if c.opts.BeforeDelete != nil {
		c.opts.BeforeDelete()
	}
	if c.cg == nil {
		c.cg = c.findCgroups()
	}
	img := c.readState().Image
	released := c.releaseEarly(img)
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	} else if st := c.readState(); processAlive(st.Pid, st.PidStart) {
		_ = unix.Kill(st.Pid, unix.SIGKILL)
	}
	if c.cg != nil {
		// The cgroup holds every process the container made, including the
		// ones that left its pid namespace's view by double fork.
		if err := c.cg.Destroy(); err != nil {
			errs = append(errs, err)
		}
		tracef("cgroups removed")
	}
	if c.cmd != nil {
		<-c.waited
	}
	if err := c.releaseNetwork(); err != nil {
		errs = append(errs, err)
	}
	if c.sync != nil {
		c.sync.Close()
		c.sync = nil
	}
	if c.console != nil {
		c.console.Close()
	}
	c.closeStart()
	// Every process is gone, and with the last one the mount namespace
	// that held the overlay: its upper directory can go.
	if released == nil {
		if err := ReleaseImageRootfs(img, c.ID); err != nil {
			errs = append(errs, err)
		}
	} else if err := <-released; err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	releaseName(c.paths, c.state.Name, c.ID)
	tracef("deleted")
	return errors.Join(errs...)
}

// releaseEarly gives the container's image root filesystem back at once,
// while its cgroups go, when nothing can write into it any more: its init
// has exited, and it was its pid namespace's init, which the kernel lets
// die only after every other process of the namespace is gone
// (pid_namespaces(7)). Otherwise it returns nil, and destroy releases it
// last.
func (c *Container) releaseEarly(img *ImageRootfs) chan error {
	if img == nil || c.cmd == nil || c.spec == nil || !hasNew(c.spec, specs.PIDNamespace) {
		return nil
	}
	select {
	case <-c.waited:
	default:
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- ReleaseImageRootfs(img, c.ID) }()
	return done
}

// Load finds the container id under p.
func Load(p Paths, id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := p.containerDir(id)
	st, err := readState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, hint.With(fmt.Errorf("container %q: %w", id, ErrNoContainer), "list them with 'stepbox ps -a'")
	}
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		_ = json.Unmarshal(b, &spec)
	}
	st.Status = liveStatus(dir, st)
	c := &Container{ID: id, paths: p, dir: dir, spec: &spec, state: st}
	if len(st.CgroupPaths) > 0 {
		c.cg, _ = cgroups.Load(st.CgroupPaths)
	}
	return c, nil
}

// State returns the container's state as it is now.
func (c *Container) State() State {
	_ = c.settled() // the creator's own record first
	st := c.readState()
	st.Status = liveStatus(c.dir, st)
	return st
}

// Cleanup releases the kernel objects of a container whose payload has
// exited (every leftover process is killed, the cgroups go) but keeps its
// record, as docker keeps a stopped container until `rm`.
func (c *Container) Cleanup() error {
	_ = c.settled()
	var errs []error
	if c.opts.BeforeDelete != nil {
		c.opts.BeforeDelete()
		c.opts.BeforeDelete = nil
	}
	if c.cg != nil {
		if err := c.cg.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.cmd != nil {
		<-c.waited
	}
	if err := c.releaseNetwork(); err != nil {
		errs = append(errs, err)
	}
	c.mu.Lock()
	c.state.Status = Stopped
	c.state.CgroupPaths, c.state.Proxy = nil, nil
	st := c.state
	c.mu.Unlock()
	if err := writeState(c.dir, st); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
