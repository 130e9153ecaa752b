package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// A container's network, as the runtime sees it. The request
// (Options.Network, a netconf.Config) is kept in the container's directory
// (network.json) for its whole life, and wired at every start: while the
// init waits, before its configuration is sent (Options.AfterClone), the
// driver that sandbox/network registers makes the links, addresses and
// /etc files and binds the published ports, and the runtime starts the
// port proxy (proxy*.go). Whatever ends a run (the foreground run's
// Cleanup, the monitor's record of the exit, rm, a failed start) releases
// it all again (releaseNetwork). The runtime itself links no network code
// (see netconf).

// networkFile is the container's network request in its directory.
const networkFile = "network.json"

// netRecord is network.json: the request, and where the runtime's
// networks live (the monitor's phases know only the state directory).
type netRecord struct {
	Lib    string          `json:"lib"`
	Config *netconf.Config `json:"config"`
}

func readNetRecord(dir string) (*netRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, networkFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, readErr(filepath.Join(dir, networkFile), err)
	}
	var r netRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Config == nil {
		return nil, fmt.Errorf("read %s: %v", filepath.Join(dir, networkFile), err)
	}
	return &r, nil
}

// NetworkConfig is the container's network request, nil for a container
// made without one (a network namespace with only lo, or none).
func (c *Container) NetworkConfig() *netconf.Config {
	r, err := readNetRecord(c.dir)
	if err != nil || r == nil {
		return nil
	}
	return r.Config
}

// NetworkContainer is the container as the network driver sees it, for
// the commands that change a running container's networks (network
// connect and disconnect).
func (c *Container) NetworkContainer() netconf.Container {
	c.mu.Lock()
	name := c.state.Name
	c.mu.Unlock()
	nc := netconf.Container{Lib: c.paths.Lib, Run: c.paths.Run, ID: c.ID, Name: name, Dir: c.dir}
	if c.spec != nil {
		nc.Hostname = c.spec.Hostname
	}
	if r, err := readNetRecord(c.dir); err == nil && r != nil {
		// The networks of the runtime that made it (a monitor's phases
		// know only the state directory).
		nc.Config = r.Config
		if r.Lib != "" {
			nc.Lib = r.Lib
		}
	}
	return nc
}

// UpdateNetwork changes the container's network request with its lock
// held: f gets the request and the container's state, and may wire a
// running container (network connect, disconnect). What f returns is
// recorded only when it returns no error.
func (c *Container) UpdateNetwork(f func(cfg *netconf.Config, st State) error) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	r, err := readNetRecord(c.dir)
	if err != nil {
		return err
	}
	if r == nil {
		r = &netRecord{Lib: c.paths.Lib, Config: &netconf.Config{Mode: netconf.ModeNone}}
	}
	if err := f(r.Config, c.State()); err != nil {
		return err
	}
	return writeJSON(filepath.Join(c.dir, networkFile), r)
}

// OpenNetns opens the network namespace of the container's running init,
// checking the pid against the init's start time before and after, so
// that a recycled pid is never taken for it.
func (c *Container) OpenNetns() (*os.File, error) {
	st := c.State()
	if st.Status != Running && st.Status != Created {
		return nil, &kindError{fmt.Sprintf("container %s is not running", st.DisplayName()), ErrWrongState}
	}
	return openNetnsOf(st.Pid, st.PidStart)
}

func openNetnsOf(pid int, start uint64) (*os.File, error) {
	if !processAlive(pid, start) {
		return nil, fmt.Errorf("%w: its process %d is gone", ErrWrongState, pid)
	}
	path := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !processAlive(pid, start) {
		f.Close()
		return nil, fmt.Errorf("%w: its process %d is gone", ErrWrongState, pid)
	}
	return f, nil
}

// planNetwork prepares a container with a network request, before its
// init is cloned: it records the request, binds the container's own /etc
// files (or those of the container whose namespace it joins) over the
// root filesystem's, points the network namespace at the joined one, and
// has the network wired once the init exists.
func (c *Container) planNetwork(cfg *initConfig) error {
	req := c.opts.Network
	if err := writeJSON(filepath.Join(c.dir, networkFile), netRecord{Lib: c.paths.Lib, Config: req}); err != nil {
		return fmt.Errorf("record the container's network: %w", err)
	}
	var files []specs.Mount
	switch req.Mode {
	case netconf.ModeContainer:
		if err := c.joinNetworkOf(cfg, req.Container); err != nil {
			return err
		}
		// The joined container's names and resolvers, as in a pod (when
		// it has files of its own).
		f := netconf.FilesIn(c.joined.dir)
		for _, b := range [][2]string{{f.Hosts, "/etc/hosts"}, {f.ResolvConf, "/etc/resolv.conf"}} {
			if _, err := os.Stat(b[0]); err == nil {
				files = append(files, fileBind(b[0], b[1]))
			}
		}
	case netconf.ModeBridge, netconf.ModeNone:
		if !hasNew(c.spec, specs.NetworkNamespace) {
			return hint.With(invalidf("--network %s needs a network namespace of the container's own", req.Mode),
				"add net to --ns, or use --network host")
		}
	}
	if req.Files() {
		f := netconf.FilesIn(c.dir)
		// Made now, empty: a container with a user namespace of its own
		// takes its bind sources before the clone (openSourceTrees); the
		// driver writes them in place once the init exists.
		for _, p := range []string{f.Hosts, f.ResolvConf, f.Hostname} {
			fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
			if err != nil {
				return fmt.Errorf("create %s: %w", p, err)
			}
			unix.Close(fd)
		}
		files = append(files, fileBind(f.Hosts, "/etc/hosts"), fileBind(f.ResolvConf, "/etc/resolv.conf"))
		if HasNamespace(c.spec, specs.UTSNamespace) {
			files = append(files, fileBind(f.Hostname, "/etc/hostname"))
		}
	}
	if HasNamespace(c.spec, specs.MountNamespace) && !cfg.HostRoot && len(files) > 0 {
		// slices.Clip: the caller's description must not see them (it is
		// config.json, written meanwhile, and read again at each start).
		var add []specs.Mount
		for _, m := range files {
			if !slices.ContainsFunc(c.spec.Mounts, func(x specs.Mount) bool { return x.Destination == m.Destination }) {
				add = append(add, m)
			}
		}
		spec := *c.spec
		spec.Mounts = append(slices.Clip(spec.Mounts), add...)
		c.spec = &spec
		lean := *cfg.Spec
		lean.Mounts = append(slices.Clip(lean.Mounts), add...)
		cfg.Spec = &lean
	}
	then := c.opts.AfterClone
	c.opts.AfterClone = func(pid int) error {
		if err := c.attachNetwork(pid); err != nil {
			return err
		}
		if then != nil {
			return then(pid)
		}
		return nil
	}
	return nil
}

// fileBind binds one of the container's /etc files: a file of its own,
// so writing it inside changes no other container's.
func fileBind(src, dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"bind", "nosuid", "nodev", "noexec"}}
}

// joined is the container whose network namespace this one joins, and
// that namespace's identity when it was looked up.
type joined struct {
	id, dir  string
	dev, ino uint64
}

// joinNetworkOf points the init's network namespace at that of the
// container ref (docker run --network container:NAME): the init enters it
// with setns(2) (joinNamespaces) instead of being born in a new one.
// The path names the joined init by pid; checkJoined makes sure,
// once the init is in, that it is that container's namespace.
func (c *Container) joinNetworkOf(cfg *initConfig, ref string) error {
	other, err := Find(c.paths, ref)
	if err != nil {
		return hint.With(fmt.Errorf("--network container:%s: %w", ref, err), "name a running container")
	}
	if other.ID == c.ID {
		return invalidf("--network container:%s: a container cannot join its own network namespace", ref)
	}
	st := other.State()
	if st.Status != Running {
		return hint.With(&kindError{fmt.Sprintf("--network container:%s: the container is %s, not running", ref, st.Status), ErrWrongState},
			"start it first")
	}
	if HasNamespace(c.spec, specs.UserNamespace) {
		return hint.With(invalidf("--network container:%s cannot go with --userns: a namespace owned by the host's user namespace cannot be joined from another", ref),
			"drop --userns")
	}
	path := "/proc/" + strconv.Itoa(st.Pid) + "/ns/net"
	var sb unix.Stat_t
	if err := unix.Stat(path, &sb); err != nil || !processAlive(st.Pid, st.PidStart) {
		return &kindError{fmt.Sprintf("--network container:%s: the container stopped", ref), ErrWrongState}
	}
	c.joined = &joined{id: other.ID, dir: other.dir, dev: sb.Dev, ino: sb.Ino}
	for _, s := range []*specs.Spec{c.spec, cfg.Spec} {
		linux := *s.Linux
		linux.Namespaces = slices.Clone(linux.Namespaces)
		for i := range linux.Namespaces {
			if linux.Namespaces[i].Type == specs.NetworkNamespace {
				linux.Namespaces[i].Path = path
			}
		}
		if !slices.ContainsFunc(linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
			linux.Namespaces = append(linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: path})
		}
		s.Linux = &linux
	}
	return nil
}

// checkJoined makes sure the ready init is in the namespace it was meant
// to join: had the joined container's init exited and its pid been
// reused before the init opened the path, it would be in another's.
func (c *Container) checkJoined() error {
	if c.joined == nil {
		return nil
	}
	var sb unix.Stat_t
	path := "/proc/" + strconv.Itoa(c.Pid()) + "/ns/net"
	if err := unix.Stat(path, &sb); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if sb.Dev != c.joined.dev || sb.Ino != c.joined.ino {
		return &kindError{"--network container: the container to join stopped while this one started", ErrWrongState}
	}
	return nil
}

// attachNetwork wires the network while the init waits, then starts the
// proxy for the published ports.
func (c *Container) attachNetwork(pid int) error {
	if c.opts.Network.Mode == netconf.ModeContainer {
		return nil
	}
	d, err := netconf.Registered()
	if err != nil {
		return err
	}
	nc := netconf.Container{Lib: c.paths.Lib, Run: c.paths.Run, ID: c.ID, Name: c.opts.Name,
		Hostname: c.spec.Hostname, Dir: c.dir, Config: c.opts.Network}
	ls, err := d.Attach(nc, pid)
	tracef("network wired")
	if err != nil || len(ls) == 0 {
		return err
	}
	defer func() {
		for _, l := range ls {
			l.File.Close()
		}
	}()
	return c.startProxy(pid, ls)
}

// releaseNetwork removes what the container's network holds on the host:
// its proxy, links, addresses and names. Nothing, and no cost but one
// failed open(2), for a container made without a network request.
func (c *Container) releaseNetwork() error {
	c.stopProxy()
	r, err := readNetRecord(c.dir)
	if err != nil || r == nil {
		return err
	}
	if r.Config.Mode == netconf.ModeContainer {
		return nil
	}
	d, err := netconf.Registered()
	if err != nil {
		return err
	}
	nc := c.NetworkContainer()
	if err := d.Detach(nc); err != nil {
		return fmt.Errorf("release the network of container %s: %w", c.ID, err)
	}
	tracef("network released")
	return nil
}
