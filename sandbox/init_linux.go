package sandbox

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/rootfs"
	"github.com/stepbox/stepbox/sandbox/security"
)

var initComm = []byte("stepbox-init\x00")

const (
	initArg = "init"
	initEnv = "_STEPBOX_INIT" // "cfgfd,syncfd,fifofd,exefd[,fingerprint]"
	// The minimal init's second stage (see reexecReaper).
	reapArg = "reap"
	reapEnv = "_STEPBOX_REAP" // "syncfd,preserve,terminal"
)

// The container init runs from this package's initialisation, which
// follows only that of the packages sandbox imports: a binary's other
// packages (a command line, its lessons, the image libraries) are never initialised in
// the init, which saves it a millisecond on every start. Importing sandbox
// is therefore all a binary needs to serve as the container init.
func init() {
	if IsInit() {
		// Everything the init does must happen on the main thread: unshare
		// and setns change only the calling thread, /proc/self/timens_offsets
		// belongs to the thread-group leader, and capabilities, seccomp and
		// no_new_privs are per thread. The payload is exec'd from this thread.
		// One P: a second let the minimal init's signal handlers be
		// registered beside the setup instead of after "ready", but made
		// more threads to start and confine, and was 0.8 ms slower in
		// paired runs (DESIGN.md, "Start latency").
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
		RunInit()
	}
	if isMonitorProcess() {
		// A monitor clones the container's init from its main thread and
		// waits for it there (cloneInit).
		runtime.LockOSThread()
		runLeanMonitor()
	}
	if isProxyProcess() {
		runProxy() // a container's published ports (proxy_lean.go)
	}
}

// IsInit reports whether this process is a container init started by Create
// (this package's init function has then taken it over already).
func IsInit() bool {
	return len(os.Args) > 1 && (os.Args[1] == initArg && os.Getenv(initEnv) != "" ||
		os.Args[1] == reapArg && os.Getenv(reapEnv) != "")
}

// RunInit is the container's init: it never returns. On success the payload
// replaces it (execve(2)); on failure the error goes to the parent.
func RunInit() {
	tracef("init: started")
	// Executed from /proc/self/fd/N, the kernel named us "N"; ps inside
	// the container should say what PID 1 is (prctl(2) PR_SET_NAME).
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&initComm[0])), 0, 0, 0)
	if os.Args[1] == reapArg {
		runReapStage()
	}
	// "cfgfd,syncfd,fifofd,exefd[,fingerprint]", see initEnviron.
	f := strings.Split(os.Getenv(initEnv), ",")
	var fd [4]int
	var err error
	for i := 0; i < len(fd) && err == nil; i++ {
		if i >= len(f) {
			err = errors.New("missing")
			break
		}
		fd[i], err = strconv.Atoi(f[i])
	}
	reaperFd := -1
	if err == nil && len(f) == 6 {
		reaperFd, err = strconv.Atoi(f[5])
	}
	if err != nil || len(f) > 6 {
		fmt.Fprintln(os.Stderr, "stepbox init: started without its descriptors")
		os.Exit(1)
	}
	cfgFd, syncFd, fifoFd, exeFd := fd[0], fd[1], fd[2], fd[3]
	for _, fd := range []int{cfgFd, syncFd, fifoFd, reaperFd} {
		if fd >= 0 {
			unix.CloseOnExec(fd)
		}
	}
	// The sealed copy we run from: mapped already, the descriptor is not
	// needed.
	unix.Close(exeFd)
	sync := os.NewFile(uintptr(syncFd), "sync")
	if len(f) >= 5 && f[4] != wireFingerprint() {
		failInit(sync, fmt.Errorf("the container init (%s) was built from other sources than this stepbox: build both again (make build)", InitBinaryName))
	}
	err = runInit(os.NewFile(uintptr(cfgFd), "config"), sync, fifoFd, reaperFd)
	failInit(sync, err)
}

// failInit reports err to the parent and exits with docker's code for it.
func failInit(sync *os.File, err error) {
	var ie *InitError
	if !errors.As(err, &ie) {
		ie = &InitError{Message: err.Error()}
	}
	_ = sendMsg(sync, syncMsg{Type: "error", Kind: ie.Kind, Message: ie.Message}, -1)
	switch ie.Kind {
	case "notfound":
		os.Exit(127)
	case "noexec":
		os.Exit(126)
	}
	os.Exit(1)
}

// runInit sets the container up and executes the payload, or with
// cfg.Init the minimal init: the C one in the binary open at reaperFd
// (execReaper), or without one (-1) this process (reap).
func runInit(cfgFile, sync *os.File, fifoFd, reaperFd int) error {
	// CVE-2016-9962: until execve the init holds descriptors from the host
	// (the sync socket, the fifo). Not dumpable, nobody without
	// CAP_SYS_PTRACE over our user namespace can ptrace it or open
	// /proc/<pid>/fd. execve(2) makes the payload dumpable again.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_DUMPABLE: %w", err)
	}
	var cfg initConfig
	msg, err := io.ReadAll(cfgFile)
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	if err := unmarshalWire(msg, &cfg); err != nil {
		return err
	}
	cfgFile.Close()
	tracef("init: configuration read")
	s := cfg.Spec
	// The minimal init's signal handlers go on in the background while the
	// container is set up: registering them costs milliseconds (see
	// notifyForwarded).
	var notified <-chan chan os.Signal
	if cfg.Init && reaperFd < 0 {
		notified = notifyForwarded()
	}
	if err := joinNamespaces(s); err != nil {
		return err
	}
	if hasNew(s, specs.CgroupNamespace) {
		// The cgroups we are in, the container's since our birth
		// (cgroups.StartIn), become the namespace's root
		// (cgroup_namespaces(7)).
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	if hasNew(s, specs.TimeNamespace) {
		if err := unshareTime(s.Linux.TimeOffsets); err != nil {
			return err
		}
	}
	if HasNamespace(s, specs.UTSNamespace) {
		if s.Hostname != "" {
			if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
				return fmt.Errorf("sethostname %q: %w", s.Hostname, err)
			}
		}
		if s.Domainname != "" {
			if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
				return fmt.Errorf("setdomainname %q: %w", s.Domainname, err)
			}
		}
	}
	if hasNew(s, specs.NetworkNamespace) {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	ro := rootfsOptions(&cfg)
	ownRoot := HasNamespace(s, specs.MountNamespace) && !cfg.HostRoot
	if cfg.HostRoot && !cfg.KeepProp {
		// A private copy of the host's tree: what we mount stays here. Made
		// shared again when asked, it gets peer groups of its own, still
		// unconnected to the host's (mount_namespaces(7)).
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make / private: %w", err)
		}
		if p := s.Linux.RootfsPropagation; p == "shared" || p == "rshared" {
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
				return fmt.Errorf("make / shared: %w", err)
			}
		}
	}
	// The create hooks run once the mounts are made, before the root is
	// entered (hooks.go).
	var hookState []byte
	if hasCreateHooks(s.Hooks) {
		hookStep := func() (err error) { hookState, err = initCreateHooks(sync, s.Hooks); return err }
		if ownRoot {
			ro.BeforeEnter = hookStep
		} else if err := hookStep(); err != nil {
			return err
		}
	}
	if ownRoot {
		if err := rootfs.Setup(ro); err != nil {
			return err
		}
		tracef("init: root filesystem set up")
	}
	// The bind sources' trees are attached now (or were never needed).
	for _, fd := range cfg.SourceTrees {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if s.Process.Terminal {
		if err := setupConsole(sync, ownRoot); err != nil {
			return err
		}
	}
	if err := writeSysctls(s.Linux.Sysctl); err != nil {
		return err
	}
	if ownRoot {
		if err := rootfs.Finalize(ro); err != nil {
			return err
		}
	}
	if err := applyLimits(s.Process); err != nil {
		return err
	}
	if err := enterCwd(s.Process.Cwd, HasNamespace(s, specs.UserNamespace)); err != nil {
		return err
	}
	path := ""
	if !HasNoProcess(s) { // nothing to look for: start refuses it (oci.go)
		if path, err = lookPath(s.Process.Args[0], s.Process.Env); err != nil {
			return err
		}
	}
	if err := closeHostFDs(cfg.PreserveFDs); err != nil {
		return err
	}
	// seccomp(2) needs no_new_privs or CAP_SYS_ADMIN. Without no_new_privs
	// the filter goes on now, while we still hold CAP_SYS_ADMIN, and must
	// allow what follows (docker's profile does; runc orders it the same).
	// A filter that notifies goes on now too, so that its listener can
	// reach the parent, which hands it to the profile's listenerPath.
	early := cfg.Seccomp != nil && (!s.Process.NoNewPrivileges || cfg.Seccomp.Notifies())
	if early {
		if err := loadSeccompEarly(cfg.Seccomp, sync); err != nil {
			return err
		}
	}
	// A minimal init in Go stays beside the payload: its other threads take
	// the payload's groups now, and its identity and capabilities while we
	// wait to be started (security.AllThreads). The C one replaces this
	// process, and its threads with it, before the payload runs.
	confineAll := cfg.Init && !cfg.Unmapped && reaperFd < 0
	if confineAll {
		if err := security.AllThreadsGroups(s.Process.User); err != nil {
			return err
		}
	}
	// Without maps there is no identity to switch to and no capability to
	// drop: the process already is nobody, with none.
	if !cfg.Unmapped {
		if err := security.Finalize(s.Process.User, s.Process.Capabilities, s.Process.NoNewPrivileges); err != nil {
			return err
		}
	}
	if cfg.ParentDeath {
		if err := rearmParentDeath(sync); err != nil {
			return err
		}
	}
	tracef("init: ready")
	if err := sendMsg(sync, syncMsg{Type: "ready"}, -1); err != nil {
		return fmt.Errorf("tell the parent we are ready: %w", err)
	}
	allThreads := make(chan error, 1)
	if confineAll {
		go func() { allThreads <- security.AllThreads(s.Process.User, s.Process.Capabilities) }()
	} else {
		allThreads <- nil
	}
	if err := awaitStart(fifoFd); err != nil {
		return err
	}
	if err := initStartHooks(s.Hooks, hookState); err != nil {
		return err
	}
	if err := setPersonality(s.Linux.Personality); err != nil {
		return err
	}
	if err := <-allThreads; err != nil {
		return err
	}
	setUmask(s.Process.User)
	// seccomp last: from here only execve(2) and what the filter allows.
	if cfg.Seccomp != nil && !early {
		if err := cfg.Seccomp.Load(); err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
	}
	if cfg.Init && reaperFd >= 0 {
		return execReaper(reaperFd, path, s.Process, cfg.PreserveFDs, sync)
	}
	if cfg.Init {
		return reap(path, s.Process, cfg.PreserveFDs, sync, false, notified)
	}
	err = unix.Exec(path, s.Process.Args, s.Process.Env)
	return execError(s.Process.Args[0], err)
}

// applyLimits sets the process's rlimits and OOM score, while it still has
// the privileges that raising them may need.
func applyLimits(p *specs.Process) error {
	if err := security.SetRlimits(p.Rlimits); err != nil {
		return err
	}
	if p.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj)), 0); err != nil {
			return fmt.Errorf("write oom_score_adj: %w", err)
		}
	}
	return nil
}

// closeHostFDs marks every descriptor past 0, 1, 2 and the preserve asked
// for close-on-exec. CVE-2024-21626: nothing of the host may cross into the
// container by descriptor; the ones still needed (the sync socket, the
// fifo) go at execve.
func closeHostFDs(preserve int) error {
	if err := unix.CloseRange(uint(3+preserve), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	return nil
}

// setUmask sets the process's umask, docker's 022 unless it asks for one.
func setUmask(u specs.User) {
	umask := 0o022
	if u.Umask != nil {
		umask = int(*u.Umask)
	}
	unix.Umask(umask)
}

func hasNew(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path == ""
		}
	}
	return false
}

var nsFlags = map[specs.LinuxNamespaceType]int{
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// joinNamespaces enters the namespaces given by path, on this thread.
func joinNamespaces(s *specs.Spec) error {
	for _, ns := range s.Linux.Namespaces {
		if ns.Path == "" || nsFlags[ns.Type] == 0 {
			continue // none, or the parent joined it for us (joinns.go)
		}
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s namespace %s: %w", ns.Type, ns.Path, err)
		}
		err = unix.Setns(fd, nsFlags[ns.Type])
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("setns %s %s: %w", ns.Type, ns.Path, err)
		}
	}
	return nil
}

// unshareTime makes a time namespace for the payload. The init itself stays
// outside (time_for_children) and the payload enters at execve(2); the
// offsets can be written only until a process has entered (time_namespaces(7)).
func unshareTime(offsets map[string]specs.LinuxTimeOffset) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("unshare time namespace: %w", err)
	}
	var b strings.Builder
	for _, clock := range []string{"monotonic", "boottime"} {
		if o, ok := offsets[clock]; ok {
			fmt.Fprintf(&b, "%s %d %d\n", clock, o.Secs, o.Nanosecs)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if err := os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0); err != nil {
		return fmt.Errorf("write /proc/self/timens_offsets: %w", err)
	}
	return nil
}

// loopbackUp brings up lo, which a new network namespace starts with down
// (network_namespaces(7)); SIOCSIFFLAGS is the whole of `ip link set lo up`.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

func rootfsOptions(cfg *initConfig) *rootfs.Options {
	s := cfg.Spec
	o := &rootfs.Options{
		Root:          cfg.Rootfs,
		Overlay:       cfg.Overlay,
		Mounts:        s.Mounts,
		Devices:       s.Linux.Devices,
		MaskedPaths:   s.Linux.MaskedPaths,
		ReadonlyPaths: s.Linux.ReadonlyPaths,
		Propagation:   s.Linux.RootfsPropagation,
		UserNS:        HasNamespace(s, specs.UserNamespace),
		CgroupNS:      HasNamespace(s, specs.CgroupNamespace),
		Mode:          cfg.RootfsMode,
		// Empty (a probe, an old caller): every hierarchy, as before.
		CgroupControllers: cfg.Cgroups,
		SourceTrees:       cfg.SourceTrees,
	}
	if s.Root != nil {
		o.Readonly = s.Root.Readonly
	}
	return o
}

// writeSysctls sets the (already validated, namespaced) sysctls through
// /proc/sys, before it is made read-only.
func writeSysctls(sysctl map[string]string) error {
	for key, value := range sysctl {
		p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		if err := os.WriteFile(p, []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
		}
	}
	return nil
}

// enterCwd changes into the working directory, making it if missing (as
// docker does for -w), and checks that it is inside the container: a
// directory reached through a leaked host descriptor, as with
// cwd=/proc/self/fd/N in CVE-2024-21626, lies outside the root, and getcwd(2)
// then answers "(unreachable)/…" or fails.
func enterCwd(cwd string, userNS bool) error {
	if err := os.MkdirAll(cwd, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		if userNS && errors.Is(err, unix.EACCES) {
			err = fmt.Errorf("%w (%s)", err, rootfs.UserNSOwnership)
		}
		return fmt.Errorf("make working directory %s: %w", cwd, err)
	}
	return chdirInside(cwd)
}

// chdirInside changes into cwd and checks that it is inside the container
// (see enterCwd).
func chdirInside(cwd string) error {
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir %s: %w", cwd, err)
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fmt.Errorf("working directory %s is outside the container: %w", cwd, err)
	}
	wd := string(buf[:n])
	wd = strings.TrimRight(wd, "\x00")
	if !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("working directory %s is outside the container (%s)", cwd, wd)
	}
	return nil
}

// lookPath finds the payload the way execvp(3) would, with the container's
// own PATH, inside the container's root.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, checkExecutable(file, file)
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = p
		}
	}
	var firstErr error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		err := checkExecutable(file, p)
		if err == nil {
			return p, nil
		}
		var ie *InitError
		if errors.As(err, &ie) && ie.Kind == "noexec" && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", &InitError{Kind: "notfound", Message: fmt.Sprintf("exec %q: executable file not found in $PATH", file)}
}

func checkExecutable(name, p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return &InitError{Kind: "notfound", Message: fmt.Sprintf("exec %s: no such file or directory", p)}
	}
	if st.IsDir() {
		return &InitError{Kind: "noexec", Message: fmt.Sprintf("exec %s: is a directory", p)}
	}
	if st.Mode()&0o111 == 0 {
		return &InitError{Kind: "noexec", Message: fmt.Sprintf("exec %s: permission denied", p)}
	}
	return nil
}

// execError classifies a failed execve(2) as docker does: 127 when the file
// (or its interpreter) is missing, 126 when it cannot be executed.
func execError(name string, err error) error {
	kind := "noexec"
	if errors.Is(err, unix.ENOENT) {
		kind = "notfound"
	}
	return &InitError{Kind: kind, Message: fmt.Sprintf("exec %s: %v", name, err)}
}

// awaitStart blocks until Start opens the fifo, then writes the one byte
// that tells it the init is going ahead. The fifo is reopened through
// /proc/self/fd, as the descriptor we hold is O_PATH.
func awaitStart(fifoFd int) error {
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fifoFd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open start fifo (is /proc mounted in the container?): %w", err)
	}
	defer unix.Close(fd)
	unix.Close(fifoFd)
	if _, err := unix.Write(fd, []byte{'0'}); err != nil {
		return fmt.Errorf("write start fifo: %w", err)
	}
	return nil
}

// reap is the minimal init (docker run --init): the payload runs as its
// child in a process group of its own; signals the init gets are passed on to
// that group, orphans are reaped, and the init exits with the payload's
// status, 128+n for a signal, when it ends (the namespace's other processes
// are then killed by the kernel).
// forwarded are the signals the minimal init passes on to the payload's
// process group: those a user or an orchestrator sends to stop, reload or
// resize a program (docker stop, kill, Ctrl-C, a terminal's resize), and
// SIGCHLD, on which it reaps.
var forwarded = []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGPIPE, unix.SIGALRM, unix.SIGTERM, unix.SIGCHLD, unix.SIGCONT, unix.SIGWINCH, unix.SIGPWR}

// notifyForwarded registers the handlers in the background. os/signal hands
// every signal to the runtime's signal thread and waits for it; with one P
// and the main thread locked, all 64 took 6.5 ms, a quarter of a container's
// start. The forwarded ones alone take 0.4 to 0.9 ms, mostly once the main
// thread first waits (after "ready"): with one P the goroutine runs only
// then.
func notifyForwarded() <-chan chan os.Signal {
	done := make(chan chan os.Signal, 1)
	go func() {
		sigs := make(chan os.Signal, 64)
		signal.Notify(sigs, forwarded...)
		done <- sigs
	}()
	return done
}

func reap(path string, p *specs.Process, preserve int, sync *os.File, secondStage bool, notified <-chan chan os.Signal) error {
	if notified == nil {
		notified = notifyForwarded()
	}
	sigs := <-notified
	files := []uintptr{0, 1, 2}
	for i := 0; i < preserve; i++ {
		files = append(files, uintptr(3+i))
	}
	attr := &syscall.ProcAttr{Env: p.Env, Files: files, Sys: &syscall.SysProcAttr{Setpgid: true}}
	if p.Terminal {
		// The payload's group owns the terminal, so Ctrl-C reaches it.
		attr.Sys.Foreground, attr.Sys.Ctty = true, 0
	}
	tracef("init: starting the payload")
	// syscall.ForkExec, not os.StartProcess: the init waits with wait4(2)
	// and needs no pidfd, and os's first start would first clone a throwaway
	// child to check that pidfds work (os/pidfd_linux.go, checkPidfd).
	childPid, err := syscall.ForkExec(path, p.Args, attr)
	tracef("init: payload started")
	if err != nil {
		if errors.Is(err, unix.EINVAL) && !secondStage {
			signal.Stop(sigs)
			return reexecReaper(path, p, preserve, sync)
		}
		return execError(p.Args[0], err)
	}
	if p.User.UID != 0 {
		// Like the payload's, our sets go with the switch from root.
		if err := security.ClearThreadCaps(); err != nil {
			_ = unix.Kill(-childPid, unix.SIGKILL)
			return err
		}
	}
	sync.Close() // end of stream: the payload runs
	for sig := range sigs {
		switch sig {
		case unix.SIGCHLD:
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if err != nil || pid <= 0 {
					break
				}
				if pid == childPid {
					tracef("init: payload reaped")
					if ws.Signaled() {
						os.Exit(128 + int(ws.Signal()))
					}
					os.Exit(ws.ExitStatus())
				}
			}
		default:
			if err := unix.Kill(-childPid, sig.(syscall.Signal)); err != nil {
				_ = unix.Kill(childPid, sig.(syscall.Signal))
			}
		}
	}
	return nil
}

// execReaper replaces this process with the minimal init in C (package
// nsenter, reaper.c), which starts and reaps the payload as reap would.
// It takes the second stage's arguments (reexecReaper): the sync socket
// crosses the execve(2), as do the identity, capabilities, no_new_privs
// and seccomp filter already in place, so the parent still hears how the
// payload's start went. A time namespace made for the children is entered
// at this execve, as reexecReaper's is.
func execReaper(reaperFd int, path string, p *specs.Process, preserve int, sync *os.File) error {
	tracef("init: minimal init in C")
	err := reapStage(fmt.Sprintf("/proc/self/fd/%d", reaperFd), path, p, preserve, sync)
	return fmt.Errorf("execute the minimal init (%s): %w", ExecBinaryName, err)
}

// reexecReaper is the way around a kernel that refuses os.StartProcess its
// vfork (CLONE_VM) while a time namespace made by unshare(2) waits for the
// caller's children: Linux 6.1 does, 6.18 does not. The init re-executes
// itself (the sealed copy, through /proc/self/exe), entering the time
// namespace at execve(2) like any payload, and that second stage starts
// the payload. Identity, capabilities, no_new_privs and the seccomp filter
// carry over the execve as they would to the payload; the sync socket
// crosses it, so the parent still hears how the start went.
func reexecReaper(path string, p *specs.Process, preserve int, sync *os.File) error {
	err := reapStage("/proc/self/exe", path, p, preserve, sync)
	return fmt.Errorf("re-execute the init to enter its time namespace: %w", err)
}

// reapStage executes binary as the minimal init's second stage, for the
// payload at path.
func reapStage(binary, path string, p *specs.Process, preserve int, sync *os.File) error {
	if _, err := unix.FcntlInt(sync.Fd(), unix.F_SETFD, 0); err != nil {
		return err
	}
	terminal := 0
	if p.Terminal {
		terminal = 1
	}
	env := append(slices.Clone(p.Env), fmt.Sprintf("%s=%d,%d,%d", reapEnv, sync.Fd(), preserve, terminal))
	argv := append([]string{"stepbox-init", reapArg, path}, p.Args...)
	return unix.Exec(binary, argv, env)
}

// runReapStage is the second stage started by reexecReaper; it never
// returns.
func runReapStage() {
	var syncFd, preserve, terminal int
	if _, err := fmt.Sscanf(os.Getenv(reapEnv), "%d,%d,%d", &syncFd, &preserve, &terminal); err != nil || len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "stepbox init: second stage started without its arguments")
		os.Exit(1)
	}
	unix.CloseOnExec(syncFd)
	sync := os.NewFile(uintptr(syncFd), "sync")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, reapEnv+"=") {
			env = append(env, kv)
		}
	}
	p := &specs.Process{Args: os.Args[3:], Env: env, Terminal: terminal == 1}
	failInit(sync, reap(os.Args[2], p, preserve, sync, true, nil))
}

// ReapStageArg (argv[1]) and ReapStageEnv mark the minimal init's second
// stage, which the C minimal init (package nsenter, reaper.c) recognises too.
const (
	ReapStageArg = reapArg
	ReapStageEnv = reapEnv
)

// ForwardedSignals lists, as numbers, the signals the minimal init passes
// on to the payload (and SIGCHLD, on which it reaps), for the C minimal
// init's test to compare with its own.
func ForwardedSignals() []int {
	sigs := make([]int, len(forwarded))
	for i, s := range forwarded {
		sigs[i] = int(s.(syscall.Signal))
	}
	return sigs
}
