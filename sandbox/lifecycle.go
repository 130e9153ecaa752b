package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/flock"
	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/cgroups"
)

// Restarting is the status of a detached container between two runs of
// its restart policy: the payload has exited, the monitor waits its
// back-off and starts it again.
const Restarting Status = "restarting"

// Detached is what stepbox records about a container run under a monitor
// (monitor.go): how it runs, and what the monitor keeps count of.
type Detached struct {
	Restart    RestartPolicy `json:"restart"`
	AutoRemove bool          `json:"autoRemove,omitempty"`
	// Stdin keeps the payload's standard input open (-i): a pipe whose
	// other end the monitor holds.
	Stdin bool `json:"stdin,omitempty"`
	// LogPath is the payload's output, one record per line (monitor_log.go).
	LogPath string `json:"logPath"`
	// MonitorPid and MonitorStart identify the monitor, which keeps its pid
	// through every execve(2) of its life.
	MonitorPid   int    `json:"monitorPid,omitempty"`
	MonitorStart uint64 `json:"monitorStart,omitempty"`
	RestartCount int    `json:"restartCount"`
	// Restarting is set while the monitor waits to start the payload again.
	Restarting bool `json:"restarting,omitempty"`
	// ManualStop is set by stop, kill (with a signal that ends the
	// container) and rm: the restart policy then lets the container rest,
	// until it is started again (docker's rule).
	ManualStop bool `json:"manualStop,omitempty"`
	// Backoff is the wait before the next restart (docker's: 100 ms,
	// doubled each time, back to 100 ms after a run of 10 s or more).
	Backoff time.Duration `json:"backoff,omitempty"`
	// Error is why the last start by the monitor failed, or why the exit
	// code is unknown.
	Error string `json:"error,omitempty"`
}

// monitorAlive reports whether the container's monitor still runs.
func (d *Detached) monitorAlive() bool {
	return d != nil && d.MonitorPid > 0 && processAlive(d.MonitorPid, d.MonitorStart)
}

// RestartPolicy is docker's --restart: no, on-failure[:N] or always.
type RestartPolicy struct {
	Name string `json:"name"`
	// MaxRetries bounds on-failure's restarts; 0 is no bound.
	MaxRetries int `json:"maxRetries,omitempty"`
}

// ParseRestartPolicy reads --restart.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	bad := func() error {
		return hint.With(fmt.Errorf("invalid restart policy %q", s), "use --restart no, on-failure, on-failure:N or always")
	}
	switch name {
	case "", "no":
		if hasN {
			return RestartPolicy{}, bad()
		}
		return RestartPolicy{Name: "no"}, nil
	case "always":
		if hasN {
			return RestartPolicy{}, hint.With(fmt.Errorf("invalid restart policy %q: only on-failure takes a count", s), "use --restart always or on-failure:N")
		}
		return RestartPolicy{Name: name}, nil
	case "on-failure":
		p := RestartPolicy{Name: name}
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return RestartPolicy{}, bad()
			}
			p.MaxRetries = v
		}
		return p, nil
	}
	return RestartPolicy{}, bad()
}

func (r RestartPolicy) String() string {
	if r.Name == "on-failure" && r.MaxRetries > 0 {
		return r.Name + ":" + strconv.Itoa(r.MaxRetries)
	}
	if r.Name == "" {
		return "no"
	}
	return r.Name
}

// restarts reports whether the policy starts the container again after an
// exit with code (-1: unknown), after count restarts so far.
func (r RestartPolicy) restarts(code, count int) bool {
	switch r.Name {
	case "always":
		return true
	case "on-failure":
		return code != 0 && (r.MaxRetries == 0 || count < r.MaxRetries)
	}
	return false
}

// Docker's back-off between restarts.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = time.Minute
	// A run this long counts as a success: the back-off starts over.
	goodRun = 10 * time.Second
)

func nextBackoff(last, ran time.Duration) time.Duration {
	if last == 0 || ran >= goodRun {
		return firstBackoff
	}
	return min(2*last, maxBackoff)
}

// monitoredStatus is liveStatus's answer where the monitor decides: a
// container between the runs of its restart policy is restarting while its
// monitor waits; one whose init has exited is as recorded until its monitor
// has recorded the exit (a moment; so ps never shows an exit code that is
// about to be known as unknown); one being created by a monitor that died
// is stopped.
func monitoredStatus(s State) (Status, bool) {
	d := s.Detached
	switch {
	case d == nil:
		return "", false
	case s.Status == Stopped && d.Restarting:
		if d.monitorAlive() {
			return Restarting, true
		}
		return Stopped, true
	case s.Status == Creating && !d.monitorAlive():
		return Stopped, true
	case (s.Status == Running || s.Status == Created) && !processAlive(s.Pid, s.PidStart) && d.monitorAlive():
		return s.Status, true
	}
	return "", false
}

// Active reports whether the container runs, or is about to: anything but
// stopped.
func (s State) Active() bool { return s.Status != Stopped }

// carryOver keeps, in a container made again in its directory, what
// belongs to the container rather than to one run of it.
func (s *State) carryOver(prev *State) {
	s.Created, s.Name, s.Finished = prev.Created, prev.Name, prev.Finished
	if s.Image == nil {
		s.Image = prev.Image
	}
	if s.Detached == nil {
		s.Detached = prev.Detached
	}
}

func readSpec(dir string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, readErr(filepath.Join(dir, "config.json"), err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("read %s/config.json: %w", dir, err)
	}
	return &spec, nil
}

// abandon undoes a failed create of a container again (startAgain): the new init and cgroups go, the
// record stays, stopped.
func (c *Container) abandon() {
	_ = c.settled()
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
	if c.cg != nil {
		_ = c.cg.Destroy()
	}
	if c.cmd != nil {
		<-c.waited
	}
	_ = c.releaseNetwork()
	if c.sync != nil {
		c.sync.Close()
		c.sync = nil
	}
	if c.console != nil {
		c.console.Close()
	}
	os.Remove(filepath.Join(c.dir, "exec.fifo"))
	c.mu.Lock()
	c.state.Status, c.state.CgroupPaths, c.state.Proxy = Stopped, nil, nil
	st := c.state
	c.mu.Unlock()
	_ = writeState(c.dir, st)
}

// findCgroups returns the container's cgroups from its record, or, when
// its creator died before recording them, from its description: a crash
// must not leave them behind unfound. nil when neither says.
func (c *Container) findCgroups() cgroups.Manager {
	st, err := readState(c.dir)
	if err != nil {
		c.mu.Lock()
		st = c.state
		c.mu.Unlock()
	}
	if len(st.CgroupPaths) > 0 {
		if m, err := cgroups.Load(st.CgroupPaths); err == nil {
			return m
		}
	}
	if st.Status != Creating && st.Status != Created && st.Status != Running {
		return nil // stopped cleanly: its cgroups went then
	}
	spec := c.spec
	if spec == nil || spec.Linux == nil {
		if s, err := readSpec(c.dir); err == nil {
			spec = s
		}
	}
	path := "/stepbox/" + c.ID
	var r *specs.LinuxResources
	if spec != nil && spec.Linux != nil {
		path, r = cgroupPath(spec, c.ID), spec.Linux.Resources
	}
	m, err := cgroups.Find(path, r)
	if err != nil {
		return nil
	}
	return m
}

// cloneInit starts the init born in its cgroups. A monitored container's
// init is cloned from the monitor's main thread, which lives as long as
// the monitor and survives its execve(2), and gets SIGKILL when that thread
// ends: a container never outlives its monitor unwatched. (The signal is
// tied to the parent thread, not the process: cloned from any other Go
// thread, it would fire when that thread went.)
func (c *Container) cloneInit(cmd *exec.Cmd) error {
	if path := joinedUserNS(c.spec); path != "" {
		if c.opts.monitored {
			return invalidf("a detached container cannot join a user namespace by path")
		}
		return c.startInUserNS(cmd, path)
	}
	if joinsInParent(c.spec) {
		if c.opts.monitored {
			return invalidf("a detached container cannot join a mount or pid namespace by path")
		}
		return startJoined(c.spec, c.cg, cmd)
	}
	if !c.opts.monitored {
		return cgroups.StartIn(c.cg, cmd)
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return cgroups.StartInHere(c.cg, cmd)
}

// awaitInit waits for the init to exit. The monitor's process must not
// reap it: the lean monitor it becomes (an execve(2) away, which kills
// this thread at any point) reaps it and learns its status. So it only
// watches (waitid(2) WNOWAIT).
func (c *Container) awaitInit(cmd *exec.Cmd) {
	defer close(c.waited)
	if !c.opts.monitored {
		c.waitErr = cmd.Wait()
		return
	}
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	// siginfo_t for SIGCHLD: signo, errno, code, a pad, then pid, uid and
	// status (sigaction(2)); x/sys leaves the union opaque.
	ch := (*struct{ signo, errno, code, _, pid, uid, status int32 })(unsafe.Pointer(&info))
	const cldExited, cldKilled, cldDumped = 1, 2, 3 // si_code for SIGCHLD
	switch ch.code {
	case cldExited:
		c.waitErr = fmt.Errorf("exit status %d", ch.status)
	case cldKilled, cldDumped:
		c.waitErr = fmt.Errorf("signal: %v", syscall.Signal(ch.status))
	}
}

// lock takes the container's lock (lockDir) and checks that it still
// exists: rm may have removed it while we waited.
func (c *Container) lock() (func(), error) {
	unlock, err := flock.Dir(c.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNoContainer, c.ID)
		}
		return nil, readErr(c.dir, err)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "state.json")); err != nil {
		unlock()
		return nil, fmt.Errorf("%w: %s", ErrNoContainer, c.ID)
	}
	return unlock, nil
}

// update changes the recorded state under the container's lock, which the
// caller holds.
func (c *Container) update(f func(*State)) error {
	st, err := readState(c.dir)
	if err != nil {
		return err
	}
	f(&st)
	c.mu.Lock()
	c.state = st
	c.mu.Unlock()
	return writeState(c.dir, st)
}
