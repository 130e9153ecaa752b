package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// The runtime calls the driver through netconf.Driver: importing this
// package is what gives a program networks (netconf's package comment
// says why the runtime does not import it).
func init() { netconf.Register(Driver{}) }

// Driver is the bridge driver: sandbox.Create calls Attach while the
// container's init waits (sandbox.Options.AfterClone), and Detach when the
// container stops, is removed, or fails to start.
type Driver struct{}

// Attach wires the container whose init is pid, its own unreaped child
// (so pid names it and no other process).
func (Driver) Attach(c netconf.Container, pid int) (_ []netconf.Listener, err error) {
	cfg := c.Config
	if cfg == nil {
		return nil, nil
	}
	defer func() {
		if err != nil {
			_ = Driver{}.Detach(c)
		}
	}()
	st := netconf.State{Mode: cfg.Mode}
	if cfg.Files() {
		if err := writeFiles(c); err != nil {
			return nil, err
		}
		f := FilesOf(c.Dir)
		st.Files = &f
	}
	if cfg.Mode != netconf.ModeBridge {
		return nil, writeState(c.Dir, st)
	}
	nsFd, err := openNetns(pid)
	if err != nil {
		return nil, err
	}
	defer unix.Close(nsFd)
	nsh, err := handleIn(nsFd)
	if err != nil {
		return nil, err
	}
	defer nsh.Close()
	s := StoreOf(c)
	for i, a := range cfg.Networks {
		ep, err := s.attachEndpoint(nsFd, nsh, c, a, i, fmt.Sprintf("eth%d", i), i == 0)
		if err != nil {
			return nil, err
		}
		st.Endpoints = append(st.Endpoints, ep)
		// Recorded as it is made, for inspect; the removal does not need
		// it (Detach finds everything by the container's id).
		if err := writeState(c.Dir, st); err != nil {
			return nil, err
		}
	}
	for _, a := range cfg.Networks {
		if err := s.refreshNetwork(a.Network); err != nil {
			return nil, err
		}
	}
	if len(cfg.Ports) == 0 {
		return nil, nil
	}
	if len(st.Endpoints) == 0 {
		return nil, hint.With(errors.New("publishing a port needs a network for the container"), "add --network bridge, or a network of yours")
	}
	target := netip.MustParsePrefix(st.Endpoints[0].Address).Addr()
	ls, err := bindPorts(cfg.Ports, target)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		st.Ports = append(st.Ports, l.Published)
	}
	if err := writeState(c.Dir, st); err != nil {
		for _, l := range ls {
			l.File.Close()
		}
		return nil, err
	}
	return ls, nil
}

// Detach removes the container's links, addresses and names everywhere,
// found by its id, whatever its records say.
func (Driver) Detach(c netconf.Container) error {
	s := StoreOf(c)
	// The host ends first, so that no traffic reaches the container while
	// its addresses go.
	errs := []error{deleteContainerLinks(c.ID)}
	for _, name := range s.networksWithLeases() {
		released, err := s.releaseOn(name, c.ID, "")
		errs = append(errs, err)
		if len(released) > 0 {
			errs = append(errs, s.refreshNetwork(name))
		}
	}
	if err := os.Remove(filepath.Join(c.Dir, netconf.StateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Connect puts a running container on network a.Network (`network
// connect`): its namespace is open at nsFd. It gets the next ethN, an
// address, and the default route if it had none.
func Connect(c netconf.Container, nsFd int, a netconf.Attach) (netconf.Endpoint, error) {
	st, err := LoadState(c.Dir)
	if err != nil {
		return netconf.Endpoint{}, err
	}
	nsh, err := handleIn(nsFd)
	if err != nil {
		return netconf.Endpoint{}, err
	}
	defer nsh.Close()
	ifName, err := freeIfName(nsh)
	if err != nil {
		return netconf.Endpoint{}, err
	}
	used := map[string]bool{}
	for _, ep := range st.Endpoints {
		used[ep.HostIf] = true
	}
	index := 0
	for index < len(indexDigits) && used[vethPrefix(c.ID)+string(indexDigits[index])] {
		index++
	}
	routes, err := retryDump(func() ([]netlink.Route, error) { return nsh.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return netconf.Endpoint{}, fmt.Errorf("list the container's routes: %w", err)
	}
	hasDefault := false
	for _, r := range routes {
		// netlink gives the default route's destination as nil or 0.0.0.0/0.
		if r.Dst == nil {
			hasDefault = true
		} else if ones, _ := r.Dst.Mask.Size(); ones == 0 {
			hasDefault = true
		}
	}
	s := StoreOf(c)
	ep, err := s.attachEndpoint(nsFd, nsh, c, a, index, ifName, !hasDefault)
	if err != nil {
		return ep, err
	}
	st.Mode = netconf.ModeBridge
	st.Endpoints = append(st.Endpoints, ep)
	if err := writeState(c.Dir, st); err != nil {
		return ep, err
	}
	return ep, s.refreshNetwork(a.Network)
}

// Disconnect takes a running container off network name: the veth pair
// goes (and with it the routes through it), the address is given back,
// and the other containers there forget its name.
func Disconnect(c netconf.Container, name string) error {
	st, err := LoadState(c.Dir)
	if err != nil {
		return err
	}
	s := StoreOf(c)
	var errs []error
	kept := st.Endpoints[:0]
	for _, ep := range st.Endpoints {
		if ep.Network != name {
			kept = append(kept, ep)
			continue
		}
		errs = append(errs, deleteLink(ep.HostIf))
		_, err := s.releaseOn(name, c.ID, ep.HostIf)
		errs = append(errs, err)
	}
	st.Endpoints = kept
	errs = append(errs, writeState(c.Dir, st), s.refreshNetwork(name), s.refreshHosts(hostsPath(c.Dir), c.ID))
	return errors.Join(errs...)
}

// LoadState reads what is wired for the container whose state directory
// is dir (an empty State when nothing is).
func LoadState(dir string) (netconf.State, error) {
	var st netconf.State
	b, err := os.ReadFile(filepath.Join(dir, netconf.StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read %s: %w", filepath.Join(dir, netconf.StateFile), err)
	}
	return st, nil
}

func writeState(dir string, st netconf.State) error {
	if err := writeJSON(filepath.Join(dir, netconf.StateFile), st, 0o644); err != nil {
		return fmt.Errorf("record the container's network: %w", err)
	}
	return nil
}
