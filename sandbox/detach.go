package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// DetachOptions are a detached container's choices beside its description.
type DetachOptions struct {
	Name       string        `json:"name,omitempty"`
	Init       bool          `json:"init,omitempty"`
	Stdin      bool          `json:"stdin,omitempty"` // -i: stdin stays open
	Restart    RestartPolicy `json:"restart"`
	AutoRemove bool          `json:"autoRemove,omitempty"` // --rm
	// Image is the container's root filesystem on an image (Options.Image).
	Image *ImageRootfs `json:"image,omitempty"`
	// Network is what the container asks of the network (Options.Network).
	Network *netconf.Config `json:"network,omitempty"`
}

// RunDetached creates and starts a container under a monitor of its own
// (monitor.go) and returns, with the init's pid, once the payload runs; or
// with the reason it does not, once nothing of it is left. The monitor is
// stepbox itself, started anew: the caller must be a binary whose main
// runs RunMonitor (IsMonitor).
func RunDetached(p Paths, id string, spec *specs.Spec, o DetachOptions) (int, error) {
	if err := ValidateID(id); err != nil {
		return 0, err
	}
	if o.Name != "" {
		if err := ValidateID(o.Name); err != nil {
			return 0, err
		}
	}
	pid, err := spawnMonitor(detachRequest{Paths: p, ID: id, Spec: spec, Opts: o})
	if errors.Is(err, errMonitorDied) {
		// What it made, if anything, goes: the init died with it
		// (cloneInit), its cgroups and record are left.
		if c, lerr := Load(p, id); lerr == nil {
			_ = c.destroy()
		}
	}
	return pid, err
}

// StartDetached starts the stopped container id again under a new
// monitor, with its description, root filesystem and log.
func StartDetached(p Paths, id string) (int, error) {
	return startDetached(detachRequest{Paths: p, ID: id})
}

// startDetached asks a new monitor to start a stopped container again;
// one that dies before it says how it went leaves the container stopped.
func startDetached(req detachRequest) (int, error) {
	p, id := req.Paths, req.ID
	pid, err := spawnMonitor(req)
	if errors.Is(err, errMonitorDied) {
		if c, lerr := Load(p, id); lerr == nil {
			if unlock, lerr := c.lock(); lerr == nil {
				if cg := c.findCgroups(); cg != nil {
					_ = cg.Destroy()
				}
				_ = c.update(func(s *State) {
					s.Status, s.CgroupPaths = Stopped, nil
					if s.Detached != nil {
						s.Detached.Error = err.Error()
					}
				})
				unlock()
			}
		}
	}
	return pid, err
}

var errMonitorDied = errors.New("the container's monitor exited before it said whether the container runs")

// spawnMonitor starts a monitor in a session of its own, with no terminal
// and its standard streams on /dev/null, hands it the request and waits for
// its report.
func spawnMonitor(req detachRequest) (int, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("pipe: %w", err)
	}
	defer reqR.Close()
	defer reqW.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("pipe: %w", err)
	}
	defer repR.Close()
	defer repW.Close()
	a := monitorArgs{mode: "create", dir: req.Paths.containerDir(req.ID), exe: -1, pid: -1, out: -1, err: -1, pty: -1, in: -1, log: -1, sock: -1, status: -1}
	env := []string{a.env()}
	for _, k := range []string{"STEPBOX_TRACE", stallEnv} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{monitorComm, monitorArg, a.dir},
		Env:         env,
		Dir:         "/",                    // not to hold the command line's directory busy
		ExtraFiles:  []*os.File{reqR, repW}, // 3 and 4
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the container's monitor: %w", err)
	}
	// Reaped whenever it ends, should this process live that long.
	go func() { _ = cmd.Wait() }()
	reqR.Close()
	repW.Close()
	stall("cli-spawned")
	// A description with a seccomp profile may not fit in the pipe.
	go func() {
		_ = json.NewEncoder(reqW).Encode(req)
		reqW.Close()
	}()
	b, err := io.ReadAll(repR)
	if err != nil || len(b) == 0 {
		return 0, errMonitorDied
	}
	var r detachReport
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("the container's monitor: %w", err)
	}
	return r.Pid, r.err()
}

// reportOf carries err to the command line with what errors.Is, the
// one-line message and the hint need.
func reportOf(err error) detachReport {
	r := detachReport{Message: err.Error(), Hint: hint.Of(err)}
	var ie *InitError
	if errors.As(err, &ie) {
		r.Kind, r.Message = "init:"+ie.Kind, ie.Message
		return r
	}
	for kind, e := range reportKinds {
		if errors.Is(err, e) {
			r.Kind = kind
		}
	}
	return r
}

var reportKinds = map[string]error{
	"nameinuse": ErrNameInUse, "nocontainer": ErrNoContainer, "invalid": ErrInvalidSpec,
	"wrongstate": ErrWrongState, "needsroot": ErrNeedsRoot,
}

func (r detachReport) err() error {
	if r.Message == "" {
		return nil
	}
	var err error
	if kind, ok := strings.CutPrefix(r.Kind, "init:"); ok {
		err = &InitError{Kind: kind, Message: r.Message}
	} else {
		err = &reportedError{msg: r.Message, kind: reportKinds[r.Kind]}
	}
	if r.Hint != "" {
		err = hint.With(err, r.Hint)
	}
	return err
}

// reportedError is an error the monitor reported, as it worded it.
type reportedError struct {
	msg  string
	kind error
}

func (e *reportedError) Error() string { return e.msg }
func (e *reportedError) Unwrap() error { return e.kind }
