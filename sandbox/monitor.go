package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A detached container's monitor is one process for the container's whole
// life (what conmon is to podman, containerd-shim to containerd). It is
// the parent of the container's init, so it reaps it and learns its exit
// code; it holds the payload's output and writes it to the log; it applies
// the restart policy and removes a --rm container. It runs in a session of
// its own with no terminal, so the command line's exit or its terminal's
// closing does not touch it.
//
// Most of its life it runs lean: the monitor execve(2)s into stepbox-init
// (or, without a trusted one beside stepbox, into stepbox) and polls the
// init's pidfd, its pipes and a signal pipe; nothing more is initialised
// than the runtime and the sandbox package's dependencies. The work that
// needs the whole runtime (creating the container, recording the exit,
// removing cgroups, the restart policy) runs in stepbox itself, which the
// monitor execve(2)s into when there is such work and out of when it is
// done. Across these execve(2)s it keeps its pid, its children and the
// descriptors it hands on; the phases (monitorArgs.mode) are:
//
//	create   stepbox: read the request from the command line, create and
//	         start the container, report, then watch
//	watch    lean: log the output, wait for the init, forward SIGTERM;
//	         at the init's exit, exited
//	exited   stepbox: record the exit, remove the cgroups, then exit, remove
//	         the container (--rm) or, by the restart policy, backoff
//	backoff  lean: wait the back-off, then restart
//	restart  stepbox: create and start the container again, then watch
const (
	monitorArg  = "monitor"
	monitorEnv  = "_STEPBOX_MONITOR"
	monitorComm = "stepbox-monitor"
	// monitorProtocol changes whenever monitorArgs' fields change meaning:
	// a stepbox-init from another build hands the phase back to stepbox.
	monitorProtocol = "2"
	// stallEnv ("phase:pidfile") makes the process reaching phase write
	// its pid to pidfile and stop itself (SIGSTOP), so that the tests can
	// kill any process of a start at any phase.
	stallEnv = "_STEPBOX_TEST_STALL"
)

// monitorArgs are a phase's arguments, in the environment (monitorEnv) as
// comma-separated key=value pairs; the container's directory is argv[2].
type monitorArgs struct {
	mode string
	dir  string
	exe  int // the stepbox binary, kept open across every phase
	// watch: the init, and the descriptors of its standard streams (-1
	// when absent): the pipes of its output, the pty master, the write end
	// of its stdin (held so that -i keeps it open), the log, and the
	// attach socket (attach.go).
	pid, out, err, pty, in, log, sock int
	status                            int  // exited: the init's wait status, -1 when unknown
	stopped                           bool // the monitor was told to stop (SIGTERM)
	delay                             time.Duration
}

func (a monitorArgs) env() string {
	var b []byte
	add := func(k string, v int64) {
		b = append(b, ',')
		b = append(b, k...)
		b = append(b, '=')
		b = strconv.AppendInt(b, v, 10)
	}
	b = append(b, "v="+monitorProtocol+",mode="+a.mode...)
	add("exe", int64(a.exe))
	add("pid", int64(a.pid))
	add("out", int64(a.out))
	add("err", int64(a.err))
	add("pty", int64(a.pty))
	add("in", int64(a.in))
	add("log", int64(a.log))
	add("sock", int64(a.sock))
	add("status", int64(a.status))
	stopped := int64(0)
	if a.stopped {
		stopped = 1
	}
	add("stopped", stopped)
	add("delay", int64(a.delay))
	return monitorEnv + "=" + string(b)
}

// parseMonitorArgs reads this process's phase; ok is false when it is not
// a monitor, or when the arguments are in another build's protocol (exe is
// then still read, if it can be, so that stepbox can take over).
func parseMonitorArgs() (a monitorArgs, ok bool) {
	a = monitorArgs{exe: -1, pid: -1, out: -1, err: -1, pty: -1, in: -1, log: -1, sock: -1, status: -1}
	v := os.Getenv(monitorEnv)
	if len(os.Args) < 3 || os.Args[1] != monitorArg || v == "" {
		return a, false
	}
	a.dir = os.Args[2]
	ok = true
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		n, _ := strconv.ParseInt(val, 10, 64)
		switch k {
		case "v":
			ok = ok && val == monitorProtocol
		case "mode":
			a.mode = val
		case "exe":
			a.exe = int(n)
		case "pid":
			a.pid = int(n)
		case "out":
			a.out = int(n)
		case "err":
			a.err = int(n)
		case "pty":
			a.pty = int(n)
		case "in":
			a.in = int(n)
		case "log":
			a.log = int(n)
		case "sock":
			a.sock = int(n)
		case "status":
			a.status = int(n)
		case "stopped":
			a.stopped = n == 1
		case "delay":
			a.delay = time.Duration(n)
		}
	}
	return a, ok
}

// isMonitorProcess reports whether this process is a monitor, in any phase.
func isMonitorProcess() bool {
	return len(os.Args) > 2 && os.Args[1] == monitorArg && os.Getenv(monitorEnv) != ""
}

// IsMonitor reports whether this process is a container's monitor in a
// phase that runs in stepbox; its main function then calls RunMonitor
// first thing. (The lean phases never reach main.)
func IsMonitor() bool { return isMonitorProcess() }

// RunMonitor runs the monitor's phase in stepbox; it never returns.
func RunMonitor() {
	a, ok := parseMonitorArgs()
	if !ok {
		fmt.Fprintln(os.Stderr, "stepbox monitor: started without its arguments, or by another build of stepbox")
		os.Exit(2)
	}
	setComm(monitorComm)
	switch a.mode {
	case "create":
		monitorCreate(a)
	case "exited":
		monitorExited(a)
	case "restart":
		monitorRestart(a)
	case "watch", "backoff":
		runLeanPhase(a) // handed over by a stepbox-init of another build
	}
	os.Exit(2)
}

// detachRequest is what the command line asks of a new monitor: a new
// container (Spec set) or an existing, stopped one to start again.
type detachRequest struct {
	Paths Paths         `json:"paths"`
	ID    string        `json:"id"`
	Spec  *specs.Spec   `json:"spec,omitempty"`
	Opts  DetachOptions `json:"opts"`
	// Attach asks a start to wait for a client on the attach socket
	// before the payload runs (StartAttached), and with Stdin to keep its
	// standard input open for it.
	Attach *attachFirst `json:"attach,omitempty"`
}

// detachReport is the monitor's answer: the container runs (Pid), or why
// not, with what errors.Is needs to know of it on the other side.
type detachReport struct {
	Pid     int    `json:"pid,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message,omitempty"`
	Hint    string `json:"hint,omitempty"`
}

func monitorCreate(a monitorArgs) {
	stop := notifyStop()
	// Not for the container's init to inherit.
	unix.CloseOnExec(3)
	unix.CloseOnExec(4)
	report := os.NewFile(4, "report")
	var req detachRequest
	b, err := io.ReadAll(os.NewFile(3, "request"))
	if err == nil {
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		// The command line died before it asked, or spoke another
		// protocol: nothing is made.
		sendReport(report, fmt.Errorf("monitor: read the request: %w", err), 0)
		os.Exit(1)
	}
	stall("monitor-read")
	exe, err := os.Open("/proc/self/exe")
	var l *launched
	if err == nil {
		if req.Spec != nil {
			l, err = launchNew(req)
		} else {
			l, err = startAgain(req.Paths, req.ID, false, req.Attach)
		}
	}
	if err != nil {
		sendReport(report, err, 0)
		os.Exit(1)
	}
	stall("monitor-started")
	if err := sendReport(report, nil, l.c.Pid()); err != nil {
		// The command line is gone before it could say that the
		// container runs: as if it had never asked.
		l.cancel(req.Spec != nil)
		os.Exit(1)
	}
	report.Close()
	stall("monitor-reported")
	l.watch(exe, stopped(stop))
}

// The monitor's signals. SIGTERM and SIGQUIT ask it to stop its
// container. SIGHUP and SIGINT mean nothing to it (it has no terminal), and
// must not kill it at an execve(2) between phases, where caught signals go
// back to their default: so it ignores them (SIG_IGN) across each execve,
// and a Go program keeps an inherited SIG_IGN for exactly these two. In a
// phase that clones an init they are caught instead, for an ignored signal
// would be the container's too.
func notifyStop() chan os.Signal {
	c := make(chan os.Signal, 4)
	signal.Notify(c, unix.SIGTERM, unix.SIGQUIT, unix.SIGHUP, unix.SIGINT)
	return c
}

// ignoreAcrossExec ignores SIGHUP and SIGINT before an execve(2).
func ignoreAcrossExec() { signal.Ignore(unix.SIGHUP, unix.SIGINT) }

// stopped reports whether a signal that asks to stop arrived.
func stopped(c chan os.Signal) bool {
	for {
		select {
		case s := <-c:
			if s == unix.SIGTERM || s == unix.SIGQUIT {
				return true
			}
		default:
			return false
		}
	}
}

func sendReport(w *os.File, err error, pid int) error {
	r := detachReport{Pid: pid}
	if err != nil {
		r = reportOf(err)
	}
	b, _ := json.Marshal(r)
	_, werr := w.Write(b)
	return werr
}

// launched is a container the monitor created and started, with the
// descriptors its lean phase keeps.
type launched struct {
	c                           *Container
	out, err, pty, in, lg, sock *os.File
}

// launchNew creates and starts the container the command line asked for.
func launchNew(req detachRequest) (*launched, error) {
	if err := ValidateID(req.ID); err != nil {
		return nil, err
	}
	d := &Detached{Restart: req.Opts.Restart, AutoRemove: req.Opts.AutoRemove, Stdin: req.Opts.Stdin}
	o := Options{Name: req.Opts.Name, Init: req.Opts.Init, Image: req.Opts.Image, Network: req.Opts.Network}
	return launch(req.Paths, req.ID, req.Spec, o, d, nil, nil)
}

// startAgain starts a stopped container again: for `stepbox start`, or by
// the restart policy (restart).
func startAgain(p Paths, id string, restart bool, first *attachFirst) (*launched, error) {
	c, err := Load(p, id)
	if err != nil {
		return nil, err
	}
	unlock, err := c.lock()
	if err != nil {
		return nil, err
	}
	st := c.State()
	d := &Detached{Restart: RestartPolicy{Name: "no"}}
	if st.Detached != nil {
		cp := *st.Detached
		d = &cp
	}
	if restart {
		if d.ManualStop || !d.Restarting {
			_ = c.update(func(s *State) {
				if s.Detached != nil {
					s.Detached.Restarting = false
				}
			})
			unlock()
			return nil, errNoRestart
		}
	} else {
		if st.Active() {
			unlock()
			return nil, fmt.Errorf("start container %s: it is %s: %w", c.ID, st.Status, ErrWrongState)
		}
		// What an earlier monitor's death left: its cgroups, perhaps
		// with processes in them.
		if cg := c.findCgroups(); cg != nil {
			if err := cg.Destroy(); err != nil {
				unlock()
				return nil, err
			}
		}
		d.ManualStop, d.RestartCount, d.Backoff = false, 0, 0
		if first != nil && first.Stdin {
			d.Stdin = true
		}
	}
	d.Restarting, d.Error = false, ""
	spec, err := readSpec(c.dir)
	if err != nil {
		unlock()
		return nil, err
	}
	// The same root filesystem: its upper directory kept what the
	// container wrote, and the new init mounts the overlay again.
	o := Options{Name: st.Name, Init: st.Init, Image: st.Image, attachFirst: first != nil}
	// Its network as it was asked for, wired anew; what a dead monitor
	// left of the last run's goes first.
	net, err := readNetRecord(c.dir)
	if err == nil && net != nil {
		err = c.releaseNetwork()
		o.Network = net.Config
		if p.Lib == "" {
			p.Lib = net.Lib
		}
	}
	if err != nil {
		unlock()
		return nil, err
	}
	return launch(p, id, spec, o, d, &st, unlock)
}

var errNoRestart = errors.New("no restart: the container was stopped")

// launch creates the container (again, with prev) as the monitor's child,
// with its output in pipes the monitor holds and the log open, and starts
// it. unlock, when given, releases the container's lock once it is made
// (Start takes the lock itself).
func launch(p Paths, id string, spec *specs.Spec, o Options, d *Detached, prev *State, unlock func()) (_ *launched, err error) {
	locked := unlock != nil
	defer func() {
		if locked {
			unlock()
		}
	}()
	d.MonitorPid = os.Getpid()
	d.MonitorStart, _, _ = procStart(d.MonitorPid)
	d.LogPath = filepath.Join(p.containerDir(id), "container.log")
	o.monitored, o.detached = true, d
	l := &launched{}
	var outW, errW, inR *os.File // the init's ends, closed here once it has them
	defer func() {
		for _, f := range []*os.File{outW, errW, inR} {
			if f != nil {
				f.Close()
			}
		}
		if err != nil {
			l.close()
		}
	}()
	if !spec.Process.Terminal {
		if l.out, outW, err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("pipe: %w", err)
		}
		if l.err, errW, err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("pipe: %w", err)
		}
		o.Stdout, o.Stderr = outW, errW
		if d.Stdin {
			if inR, l.in, err = os.Pipe(); err != nil {
				return nil, fmt.Errorf("pipe: %w", err)
			}
			o.Stdin = inR
		}
	}
	c, err := create(p, id, spec, o, prev)
	if err != nil {
		return nil, err
	}
	l.c = c
	if locked {
		locked = false
		unlock()
	}
	l.pty = c.Console()
	if l.lg, err = os.OpenFile(d.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600); err != nil {
		err = fmt.Errorf("open log %s: %w", d.LogPath, err)
	}
	if err == nil {
		l.sock, err = listenAttach(c.dir)
	}
	if err == nil && o.attachFirst {
		err = awaitAttach(l.sock, attachFirstWait)
	}
	stall("monitor-created")
	if err == nil {
		err = c.Start()
	}
	if err != nil {
		l.cancel(prev == nil)
		return nil, err
	}
	return l, nil
}

func (l *launched) close() {
	for _, f := range []*os.File{l.out, l.err, l.in, l.lg, l.sock} {
		if f != nil {
			f.Close()
		}
	}
}

// cancel undoes a launch: a new container goes entirely, one started again
// is stopped, as it was.
func (l *launched) cancel(isNew bool) {
	if l.c == nil {
		return
	}
	if isNew {
		_ = l.c.destroy()
	} else {
		l.c.abandon()
	}
}

// watch becomes the lean monitor of the launched container. Should the
// execve(2) fail, this process watches it itself.
func (l *launched) watch(exe *os.File, stop bool) {
	fd := func(f *os.File) int {
		if f == nil {
			return -1
		}
		return int(f.Fd())
	}
	a := monitorArgs{mode: "watch", dir: l.c.dir, exe: fd(exe), pid: l.c.Pid(), out: fd(l.out), err: fd(l.err),
		pty: fd(l.pty), in: fd(l.in), log: fd(l.lg), sock: fd(l.sock), status: -1, stopped: stop}
	ignoreAcrossExec()
	execMonitor(a, leanBinary(exe), exe, l.out, l.err, l.pty, l.in, l.lg, l.sock)
	runLeanPhase(a)
}

// leanBinary opens stepbox-init beside stepbox, when it can be trusted as
// the init is (trustedInit), else returns stepbox's own binary. It is run
// from the file, not from a sealed copy: the monitor lives outside the
// container, and the file's pages are shared by every monitor, where each
// container's sealed copy would be its own.
func leanBinary(exe *os.File) *os.File {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), InitBinaryName)
		if f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			if trustedInit(f) == nil {
				return f
			}
			f.Close()
		}
	}
	return exe
}

// monitorExited records the init's exit, removes its cgroups, and then
// ends the monitor, removes the container (--rm) or, by the restart
// policy, waits to start it again.
func monitorExited(a monitorArgs) {
	stop := notifyStop()
	stall("exited")
	p, id := Paths{Run: filepath.Dir(a.dir)}, filepath.Base(a.dir)
	c, err := Load(p, id)
	if err != nil {
		os.Exit(0) // removed meanwhile (rm -f)
	}
	unlock, err := c.lock()
	if err != nil {
		os.Exit(0)
	}
	var code *int
	if a.status >= 0 {
		n := exitCodeOfStatus(unix.WaitStatus(a.status))
		code = &n
	}
	restart, delay := c.recordExit(code, a.stopped || stopped(stop))
	unlock()
	if !restart {
		os.Exit(0)
	}
	exe := keep(os.NewFile(uintptr(a.exe), "stepbox"))
	b := monitorArgs{mode: "backoff", dir: a.dir, exe: a.exe, pid: -1, out: -1, err: -1, pty: -1, in: -1, log: -1, sock: -1, status: -1, delay: delay}
	ignoreAcrossExec()
	execMonitor(b, leanBinary(exe), exe)
	runLeanPhase(b)
}

func exitCodeOfStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// recordExit writes the exit (code nil: unknown) and removes what the
// container held in the kernel; with the lock held. It returns whether the
// restart policy starts the container again, and after how long. A --rm
// container that stays stopped is removed.
func (c *Container) recordExit(code *int, stopped bool) (restart bool, delay time.Duration) {
	if cg := c.findCgroups(); cg != nil {
		if err := cg.Destroy(); err != nil {
			_ = c.update(func(s *State) {
				if s.Detached != nil {
					s.Detached.Error = "remove cgroups: " + err.Error()
				}
			})
		}
	}
	if err := c.releaseNetwork(); err != nil {
		_ = c.update(func(s *State) {
			if s.Detached != nil {
				s.Detached.Error = err.Error()
			}
		})
	}
	now := time.Now().UTC()
	var remove bool
	_ = c.update(func(s *State) {
		s.Status, s.ExitCode, s.Finished, s.CgroupPaths, s.Proxy = Stopped, code, now, nil, nil
		d := s.Detached
		if d == nil {
			return
		}
		n := -1
		if code != nil {
			n = *code
		}
		restart = !stopped && !d.ManualStop && d.Restart.restarts(n, d.RestartCount)
		d.Restarting = restart
		if restart {
			d.Backoff = nextBackoff(d.Backoff, now.Sub(s.Started))
			d.RestartCount++
			delay = d.Backoff
		}
		remove = !restart && d.AutoRemove
	})
	if remove {
		_ = c.destroy()
	}
	return restart, delay
}

// monitorRestart starts the container again after the back-off, unless it
// was stopped meanwhile; a start that fails ends the policy, and says why.
func monitorRestart(a monitorArgs) {
	stop := notifyStop()
	p, id := Paths{Run: filepath.Dir(a.dir)}, filepath.Base(a.dir)
	exe := keep(os.NewFile(uintptr(a.exe), "stepbox"))
	if a.stopped {
		if c, err := Load(p, id); err == nil {
			if unlock, err := c.lock(); err == nil {
				_ = c.update(func(s *State) {
					if s.Detached != nil {
						s.Detached.Restarting = false
					}
				})
				unlock()
			}
		}
		os.Exit(0)
	}
	l, err := startAgain(p, id, true, nil)
	if err != nil {
		if !errors.Is(err, errNoRestart) {
			if c, lerr := Load(p, id); lerr == nil {
				if unlock, lerr := c.lock(); lerr == nil {
					_ = c.update(func(s *State) {
						s.Status = Stopped
						if s.Detached != nil {
							s.Detached.Restarting, s.Detached.Error = false, "restart: "+err.Error()
						}
					})
					unlock()
				}
			}
		}
		os.Exit(0)
	}
	stall("restarted")
	l.watch(exe, stopped(stop))
}

// execMonitor execve(2)s this process into the phase a, running bin (by
// its descriptor); keep are the descriptors the phase needs. It returns
// only if the execve failed.
func execMonitor(a monitorArgs, bin *os.File, pass ...*os.File) {
	if bin == nil {
		return
	}
	// Should the execve fail, this process goes on with the descriptors
	// by number: their files must never be collected (and closed).
	for _, f := range pass {
		keep(f)
	}
	for _, f := range pass {
		if f != nil {
			if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
				return
			}
		}
	}
	execPhase(a, int(bin.Fd()))
}

// execPhase execve(2)s into phase a from the binary open at fd, keeping
// the environment that matters across phases.
func execPhase(a monitorArgs, fd int) error {
	env := []string{a.env()}
	for _, k := range []string{"STEPBOX_TRACE", stallEnv} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return syscall.Exec("/proc/self/fd/"+strconv.Itoa(fd), []string{monitorComm, monitorArg, a.dir}, env)
}

var kept []*os.File

// keep holds f for the rest of the process's life.
func keep(f *os.File) *os.File {
	kept = append(kept, f)
	return f
}

// stall stops this process at phase for a test (stallEnv).
func stall(phase string) {
	v, ok := os.LookupEnv(stallEnv)
	if !ok {
		return
	}
	if ph, file, _ := strings.Cut(v, ":"); ph == phase {
		_ = os.WriteFile(file, []byte(strconv.Itoa(os.Getpid())), 0o644)
		_ = unix.Kill(os.Getpid(), unix.SIGSTOP)
	}
}
