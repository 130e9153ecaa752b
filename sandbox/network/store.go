package network

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stepbox/stepbox/internal/flock"
	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// Store is where networks live: their definitions under Lib/networks (one
// JSON file each; they outlive a reboot, as docker's do, and their bridges
// are made again on first use), the addresses in use under Run/networks
// (one directory per network, one file per address: gone at reboot, with
// the containers that held them).
type Store struct {
	Lib, Run string
}

// StoreOf is the store of a container's runtime directories.
func StoreOf(c netconf.Container) Store { return Store{Lib: c.Lib, Run: c.Run} }

// Network is a bridge network's definition.
type Network struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Subnet  string    `json:"subnet"`  // 10.97.0.0/24
	Gateway string    `json:"gateway"` // the bridge's own address, the containers' default route
	Bridge  string    `json:"bridge"`  // the bridge's name on the host, sb-<first 12 of the id>
	MAC     string    `json:"mac"`     // the bridge's, fixed: it would change with its ports otherwise
	Created time.Time `json:"created"`
	// Default marks the network `bridge`, made on first use: its
	// containers do not resolve one another's names (docker's default
	// bridge does not either).
	Default bool `json:"default,omitempty"`
	// NAT: the containers reach other hosts, masqueraded (nat.go).
	NAT bool `json:"nat,omitempty"`
}

// ResolvesNames reports whether the network's containers find one another
// by name in their /etc/hosts.
func (n *Network) ResolvesNames() bool { return !n.Default }

func (n *Network) prefix() netip.Prefix { return netip.MustParsePrefix(n.Subnet) }

func (n *Network) gateway() netip.Addr { return netip.MustParseAddr(n.Gateway) }

// Errors of the network commands, for errors.Is.
var (
	ErrNoNetwork = errors.New("no such network")
	ErrExists    = errors.New("network already exists")
	ErrOverlap   = errors.New("subnet overlaps")
	ErrInUse     = errors.New("network in use")
)

// The pool the subnets come from when none is given: /24s of 10.210/16,
// skipping any the host or another network already routes.
var pool = netip.MustParsePrefix("10.210.0.0/16")

// Reserved names: the modes of --network, and the default network, which
// is made on first use.
var reserved = []string{netconf.ModeNone, netconf.ModeHost, netconf.ModeBridge, "default", "container"}

func (s Store) defDir() string { return filepath.Join(s.Lib, "networks") }

func (s Store) defPath(name string) string { return filepath.Join(s.defDir(), name+".json") }

func (s Store) leaseDir(name string) string { return filepath.Join(s.Run, "networks", name) }

// lockDefs serialises the changes to the definitions (create, rm): names
// and subnets are checked and taken under it.
func (s Store) lockDefs() (func(), error) {
	if err := os.MkdirAll(s.defDir(), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", s.defDir(), err)
	}
	return flock.Dir(s.defDir())
}

// CreateOptions are `network create`'s choices.
type CreateOptions struct {
	Subnet string // CIDR; empty: the next free /24 of the pool
	NAT    bool
}

// Create defines the network name and makes its bridge.
func (s Store) Create(name string, o CreateOptions) (*Network, error) {
	if err := netconf.ValidateName(name); err != nil {
		return nil, err
	}
	for _, r := range reserved {
		if name == r {
			return nil, hint.With(fmt.Errorf("network name %q is reserved", name),
				"none, host and bridge are the modes of --network; the network bridge is made on first use")
		}
	}
	unlock, err := s.lockDefs()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.create(name, o.Subnet, false, o.NAT)
}

// create makes the network with the definitions' lock held.
func (s Store) create(name, subnet string, isDefault, nat bool) (*Network, error) {
	if _, err := os.Stat(s.defPath(name)); err == nil {
		return nil, hint.With(fmt.Errorf("network %s: %w", name, ErrExists), "pick another name, or see 'stepbox network ls'")
	}
	taken, err := s.takenPrefixes("")
	if err != nil {
		return nil, err
	}
	var p netip.Prefix
	if subnet == "" {
		if p, err = freeSubnet(taken); err != nil {
			return nil, err
		}
	} else if p, err = parseSubnet(subnet); err != nil {
		return nil, err
	} else if who, ok := overlapping(p, taken); ok {
		return nil, hint.With(fmt.Errorf("subnet %s: %w %s", p, ErrOverlap, who),
			"choose a subnet nothing on this host uses, e.g. one of 10.210.0.0/16's /24s, or leave --subnet out")
	}
	id := randomHex(32)
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac)
	mac[0] = mac[0]&0xfe | 0x02 // unicast, locally administered
	n := &Network{Name: name, ID: id, Subnet: p.String(), Gateway: p.Addr().Next().String(),
		Bridge: "sb-" + id[:12], MAC: mac.String(), Created: time.Now().UTC(), Default: isDefault, NAT: nat}
	if err := ensureBridge(n); err != nil {
		return nil, err
	}
	if nat {
		if err := s.ensureNAT(n); err != nil {
			_ = s.removeNAT(n)
			_ = deleteLink(n.Bridge)
			return nil, err
		}
	}
	if err := writeJSON(s.defPath(name), n, 0o644); err != nil {
		if nat {
			_ = s.removeNAT(n)
		}
		_ = deleteLink(n.Bridge)
		return nil, fmt.Errorf("write network %s: %w", name, err)
	}
	return n, nil
}

// parseSubnet reads an IPv4 subnet whose host bits are zero, from /8 to
// /30 (a /31 or /32 leaves no address for a container besides the
// gateway).
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	bad := func(why string) error {
		return hint.With(fmt.Errorf("invalid subnet %q: %s", s, why), "--subnet takes an IPv4 CIDR, e.g. 10.97.0.0/24")
	}
	switch {
	case err != nil || !p.Addr().Is4():
		return p, bad("not an IPv4 CIDR")
	case p.Masked() != p:
		return p, bad("the address has host bits set (" + p.Masked().String() + " is the subnet)")
	case p.Bits() < 8 || p.Bits() > 30:
		return p, bad("the prefix must be from /8 to /30")
	}
	return p, nil
}

// taken is a prefix in use, and by what.
type taken struct {
	p   netip.Prefix
	who string
}

// takenPrefixes lists the subnets of the other networks and the host's
// routes and addresses (another root's bridges among them), but the
// bridge named except's.
func (s Store) takenPrefixes(except string) ([]taken, error) {
	var out []taken
	nets, err := s.List()
	if err != nil {
		return nil, err
	}
	exceptBridge := ""
	for _, n := range nets {
		if n.Name == except {
			exceptBridge = n.Bridge
			continue
		}
		out = append(out, taken{n.prefix(), "network " + n.Name + "'s " + n.Subnet})
	}
	host, err := hostPrefixes(exceptBridge)
	if err != nil {
		return nil, err
	}
	return append(out, host...), nil
}

func overlapping(p netip.Prefix, in []taken) (string, bool) {
	for _, t := range in {
		if t.p.Overlaps(p) {
			return "with " + t.who, true
		}
	}
	return "", false
}

// freeSubnet is the first /24 of the pool that nothing uses.
func freeSubnet(in []taken) (netip.Prefix, error) {
	for a := pool.Addr(); pool.Contains(a); {
		p := netip.PrefixFrom(a, 24)
		if _, used := overlapping(p, in); !used {
			return p, nil
		}
		b := a.As4()
		b[2]++
		if b[2] == 0 {
			break
		}
		a = netip.AddrFrom4(b)
	}
	return netip.Prefix{}, hint.With(fmt.Errorf("no free /24 left in %s", pool), "give one with --subnet")
}

// Get reads the network name's definition; `bridge` is made on first use.
func (s Store) Get(name string) (*Network, error) {
	n, err := s.read(name)
	if errors.Is(err, ErrNoNetwork) && name == netconf.DefaultNetwork {
		return s.makeDefault()
	}
	return n, err
}

// Find reads the network name's definition, without making the default
// network.
func (s Store) Find(name string) (*Network, error) { return s.read(name) }

func (s Store) read(name string) (*Network, error) {
	if err := netconf.ValidateName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.defPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, hint.With(fmt.Errorf("network %s: %w", name, ErrNoNetwork), "see 'stepbox network ls', or make it with 'stepbox network create "+name+"'")
	}
	if err != nil {
		return nil, err
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("read network %s: %w", name, err)
	}
	return &n, nil
}

func (s Store) makeDefault() (*Network, error) {
	unlock, err := s.lockDefs()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if n, err := s.read(netconf.DefaultNetwork); err == nil {
		return n, nil // made meanwhile
	}
	return s.create(netconf.DefaultNetwork, "", true, false)
}

// List reads every network's definition, by name.
func (s Store) List() ([]*Network, error) {
	ents, err := os.ReadDir(s.defDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Network
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		if n, err := s.read(name); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove removes the network: its bridge, its addresses' directory and
// its definition. users lists the containers that are on it (stopped ones
// included, which would find it gone at their next start); while there
// are any, or addresses in use, it is refused.
func (s Store) Remove(name string, users func(name string) []string) error {
	unlock, err := s.lockDefs()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := s.read(name)
	if err != nil {
		return err
	}
	unlockLeases, err := s.lockLeases(name)
	if err != nil {
		return err
	}
	defer unlockLeases()
	in := users(name)
	for _, l := range s.leases(name) {
		if l.live() && !contains(in, l.display()) {
			in = append(in, l.display())
		}
	}
	if len(in) > 0 {
		sort.Strings(in)
		return hint.With(fmt.Errorf("network %s: %w by %d container(s): %s", name, ErrInUse, len(in), strings.Join(in, ", ")),
			"remove them first, or take them off it with 'stepbox network disconnect "+name+" NAME'")
	}
	if n.NAT {
		if err := s.removeNAT(n); err != nil {
			return err
		}
	}
	if err := deleteLink(n.Bridge); err != nil {
		return err
	}
	if err := os.RemoveAll(s.leaseDir(name)); err != nil {
		return err
	}
	return os.Remove(s.defPath(name))
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeJSON writes v to path atomically: a reader sees the old file or
// the new one, never half (rename(2)).
func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
