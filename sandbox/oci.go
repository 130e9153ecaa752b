package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/cgroups"
)

// What the runc-compatible command line (`stepbox oci`, or stepbox run as
// runc) needs of the runtime beyond what `stepbox run` uses: a bundle read
// as the runtime-spec says, the fields stepbox cannot honour refused, and a
// container left behind in its created state by a process that exits.

// Paused is the runtime-spec's fifth status, which runc reports for a
// container whose cgroup is frozen.
const Paused Status = "paused"

// LoadBundle reads a bundle's config.json. Unknown properties are ignored,
// as the runtime-spec demands ("MUST NOT generate an error if they encounter
// an unknown property"); a malformed file, a value of the wrong type, or a
// bundle without its root filesystem is one error.
func LoadBundle(bundle string) (*specs.Spec, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(abs, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %s: no such file or directory", path)
		}
		return nil, err
	}
	var spec specs.Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("parse %s: %s", path, jsonError(b, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("parse %s: data after the JSON object", path)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return nil, invalidf("root.path is not set in %s", path)
	}
	root := AbsRoot(&spec, abs)
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("root.path %s: the bundle has no root filesystem there", root)
	}
	// Relative bind sources are relative to the bundle (config.md,
	// "Mounts").
	for i, m := range spec.Mounts {
		if m.Source != "" && !filepath.IsAbs(m.Source) && isBind(m) {
			spec.Mounts[i].Source = filepath.Join(abs, m.Source)
		}
	}
	return &spec, nil
}

// jsonError says where in the file a decoding error is, as a line number.
func jsonError(b []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return err.Error()
	}
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	return fmt.Sprintf("line %d: %v", line, err)
}

// CheckOCI refuses, one line naming the field, what a bundle asks for that
// stepbox cannot do on this machine: the runtime-spec lets a runtime refuse
// what it does not support, never ignore it silently. (Validate, at Create,
// checks the rest.)
func CheckOCI(s *specs.Spec) error {
	switch {
	case s.Solaris != nil:
		return invalidf("solaris: not a Linux container")
	case s.Windows != nil:
		return invalidf("windows: not a Linux container")
	case s.VM != nil:
		return invalidf("vm: stepbox runs containers, not virtual machines")
	case s.ZOS != nil:
		return invalidf("zos: not a Linux container")
	}
	if p := s.Process; p != nil {
		if p.ApparmorProfile != "" && !apparmorEnabled() {
			return invalidf("process.apparmorProfile %q: AppArmor is not enabled on this host", p.ApparmorProfile)
		}
		if p.ApparmorProfile != "" {
			return invalidf("process.apparmorProfile %q: not supported by stepbox", p.ApparmorProfile)
		}
		if p.SelinuxLabel != "" {
			return invalidf("process.selinuxLabel: SELinux is not supported by stepbox")
		}
		if p.Scheduler != nil {
			return invalidf("process.scheduler: not supported by stepbox")
		}
		if p.IOPriority != nil {
			return invalidf("process.ioPriority: not supported by stepbox")
		}
		if p.ExecCPUAffinity != nil {
			return invalidf("process.execCPUAffinity: not supported by stepbox")
		}
		if p.ConsoleSize != nil && !p.Terminal {
			return invalidf("process.consoleSize is set without process.terminal")
		}
	}
	if l := s.Linux; l != nil {
		switch {
		case l.MountLabel != "":
			return invalidf("linux.mountLabel: SELinux is not supported by stepbox")
		case l.IntelRdt != nil:
			return invalidf("linux.intelRdt: not supported by stepbox")
		case l.MemoryPolicy != nil:
			return invalidf("linux.memoryPolicy: not supported by stepbox")
		case len(l.NetDevices) > 0:
			return invalidf("linux.netDevices: not supported by stepbox")
		case l.Seccomp != nil && l.Seccomp.ListenerPath == "" && seccompNotifies(l.Seccomp):
			return invalidf("linux.seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath")
		}
		if l.Personality != nil {
			if _, err := personalityValue(l.Personality); err != nil {
				return err
			}
		}
		if l.Resources != nil {
			if err := cgroups.Validate(l.Resources); err != nil {
				return fmt.Errorf("%w: linux.resources: %v", ErrInvalidSpec, err)
			}
		}
	}
	return checkHooks(s.Hooks)
}

func seccompNotifies(s *specs.LinuxSeccomp) bool {
	if s.DefaultAction == specs.ActNotify {
		return true
	}
	for _, c := range s.Syscalls {
		if c.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

// apparmorEnabled is the kernel's word on AppArmor (what runc reads).
func apparmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(b), "Y")
}

// Release lets the process that created the container exit and leave it in
// its created state, its init waiting for Start (runc create): the record is
// written, and the creator's ends of the init's socket and terminal close.
// The init carries on as the child of whoever adopts it (the engine's
// monitor, a subreaper).
func (c *Container) Release() error {
	if err := c.settled(); err != nil {
		return err
	}
	if c.sync != nil {
		c.sync.Close()
		c.sync = nil
	}
	if c.console != nil {
		c.console.Close()
		c.console = nil
	}
	return nil
}

// OCIStatus is the container's status as the runtime-spec names it, with
// runc's paused for a frozen one.
func (c *Container) OCIStatus() Status {
	st := c.State().Status
	if st == Running || st == Created {
		if cg := c.cgroups(c.readState()); cg != nil {
			if p, err := cg.Paused(); err == nil && p {
				return Paused
			}
		}
	}
	return st
}

// SignalAll sends sig to every process in the container's cgroups (runc
// kill --all), for a container without a pid namespace of its own, whose
// processes do not die with its init.
func (c *Container) SignalAll(sig syscall.Signal) error {
	cg := c.cgroups(c.readState())
	if cg == nil {
		return fmt.Errorf("signal container %s: it has no cgroups: %w", c.ID, ErrWrongState)
	}
	pids, err := cg.Procs()
	if err != nil {
		return fmt.Errorf("signal container %s: %w", c.ID, err)
	}
	if len(pids) == 0 {
		return fmt.Errorf("signal container %s: it is not running: %w", c.ID, ErrWrongState)
	}
	// A frozen process gets a fatal signal only once thawed; runc thaws
	// for SIGKILL too.
	paused := false
	if sig == unix.SIGKILL {
		if p, err := cg.Paused(); err == nil && p {
			paused = true
		}
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal process %d of container %s: %w", pid, c.ID, err)
		}
	}
	if paused {
		return cg.Resume()
	}
	return nil
}

// Pause freezes every process of the running container (runc pause).
func (c *Container) Pause() error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if st := c.State().Status; st != Running && st != Created {
		return fmt.Errorf("container %s is %s, not running: %w", c.ID, st, ErrWrongState)
	}
	cg := c.cgroups(c.readState())
	if cg == nil {
		return fmt.Errorf("pause container %s: it has no cgroups", c.ID)
	}
	return cg.Pause()
}

// Resume thaws a paused container (runc resume).
func (c *Container) Resume() error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	cg := c.cgroups(c.readState())
	if cg == nil {
		return fmt.Errorf("resume container %s: it has no cgroups", c.ID)
	}
	if p, err := cg.Paused(); err != nil || !p {
		return fmt.Errorf("container %s is not paused: %w", c.ID, ErrWrongState)
	}
	return cg.Resume()
}

// Update changes the cgroup limits of a created or running container (runc
// update); the new values are recorded in its config.json, so a later
// update starts from them.
func (c *Container) Update(r *specs.LinuxResources) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if st := c.State().Status; st == Stopped {
		return fmt.Errorf("container %s is stopped: %w", c.ID, ErrWrongState)
	}
	if err := cgroups.Validate(r); err != nil {
		return err
	}
	cg := c.cgroups(c.readState())
	if cg == nil {
		return fmt.Errorf("update container %s: it has no cgroups", c.ID)
	}
	if err := cg.Set(r); err != nil {
		return err
	}
	if c.spec != nil && c.spec.Linux != nil {
		c.spec.Linux.Resources = mergeResources(c.spec.Linux.Resources, r)
		return writeJSON(filepath.Join(c.dir, "config.json"), c.spec)
	}
	return nil
}

// mergeResources lays the sections update sets over the recorded ones.
func mergeResources(old, r *specs.LinuxResources) *specs.LinuxResources {
	if old == nil {
		cp := *r
		return &cp
	}
	m := *old
	if r.Memory != nil {
		m.Memory = r.Memory
	}
	if r.CPU != nil {
		m.CPU = r.CPU
	}
	if r.Pids != nil {
		m.Pids = r.Pids
	}
	if r.BlockIO != nil {
		m.BlockIO = r.BlockIO
	}
	if len(r.Unified) > 0 {
		m.Unified = r.Unified
	}
	return &m
}

// Pids lists the host pids of every process in the container's
// cgroups (runc ps).
func (c *Container) Pids() ([]int, error) {
	cg := c.cgroups(c.readState())
	if cg == nil {
		return []int{}, nil
	}
	pids, err := cg.Procs()
	if err != nil {
		return nil, err
	}
	if pids == nil {
		pids = []int{}
	}
	return pids, nil
}

// Stats reads the container's cgroup counters (runc events --stats).
func (c *Container) Stats() (*cgroups.Stats, error) {
	cg := c.cgroups(c.readState())
	if cg == nil {
		return nil, fmt.Errorf("container %s has no cgroups: %w", c.ID, ErrWrongState)
	}
	return cg.Stats()
}

// AllowDefaultDevices appends to the device cgroup rules what every
// container needs whatever its bundle says (runc does the same: its
// AllowedDevices): mknod of any node, the default devices of the
// runtime-spec, the terminal devices, and each of linux.devices. Without
// them a bundle that denies all ("devices": [{"allow": false}], runc
// spec's default) could not even make /dev/null.
func AllowDefaultDevices(s *specs.Spec) {
	if s.Linux == nil || s.Linux.Resources == nil || len(s.Linux.Resources.Devices) == 0 {
		return
	}
	n := func(v int64) *int64 { return &v }
	rule := func(typ string, major, minor *int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: major, Minor: minor, Access: access}
	}
	r := s.Linux.Resources
	r.Devices = append(r.Devices,
		rule("c", nil, nil, "m"), rule("b", nil, nil, "m"),
		rule("c", n(1), n(3), "rwm"), rule("c", n(1), n(5), "rwm"), rule("c", n(1), n(7), "rwm"),
		rule("c", n(1), n(8), "rwm"), rule("c", n(1), n(9), "rwm"), rule("c", n(5), n(0), "rwm"),
		rule("c", n(5), n(1), "rwm"), rule("c", n(5), n(2), "rwm"), rule("c", n(136), nil, "rwm"))
	for _, d := range s.Linux.Devices {
		if d.Type == "p" {
			continue // a fifo is no device to the cgroup
		}
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		r.Devices = append(r.Devices, rule(typ, n(d.Major), n(d.Minor), "rwm"))
	}
}

// annotationNoProcess marks a container created from a bundle without a
// process: the runtime-spec lets create make it, and start must refuse it.
const annotationNoProcess = "org.stepbox.no-process"

// WithoutProcess gives a bundle that has no process (config.md: process is
// "REQUIRED when start is called", not before) a stand-in, so the
// container can be created; its init never runs it (it skips looking for
// the executable), and HasNoProcess tells start to refuse.
func WithoutProcess(s *specs.Spec) {
	s.Process = &specs.Process{Args: []string{"/"}, Cwd: "/"}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[annotationNoProcess] = "true"
}

// HasNoProcess reports whether the container was created without a process.
func HasNoProcess(s *specs.Spec) bool {
	return s != nil && s.Annotations[annotationNoProcess] == "true"
}
