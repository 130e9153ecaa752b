package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/stepbox/stepbox/internal/flock"
	"github.com/stepbox/stepbox/internal/hint"
)

// Addresses in use (IPAM): a network's directory under Run/networks holds
// one file per address given out, named by the address and holding its
// lease; `.last` is the last address given, so the next container gets the
// one after it and an address just given back is not reused at once
// (another container's ARP cache may still hold it). Every change is made
// under the directory's flock(2), so containers started at the same time
// never get one address; readers (the /etc/hosts writer, inspect) need no
// lock, as each file is replaced whole (rename(2)).

// lease is one address given to one container's endpoint.
type lease struct {
	IP        string   `json:"ip"`
	Container string   `json:"container"`
	Name      string   `json:"name,omitempty"`
	Hostname  string   `json:"hostname,omitempty"`
	Aliases   []string `json:"aliases,omitempty"`
	// Hosts is the container's /etc/hosts on the host, which is rewritten
	// as its peers come and go; its directory is the container's state
	// directory, whose removal makes the lease stale.
	Hosts  string `json:"hosts"`
	IfName string `json:"ifName"`
	HostIf string `json:"hostIf"`
	MAC    string `json:"mac"`
}

// live reports whether the lease's container still exists: one removed by
// a crash half-way leaves a stale lease, taken back when the address is
// needed.
func (l *lease) live() bool {
	_, err := os.Stat(filepath.Dir(l.Hosts))
	return err == nil
}

// display is the container as the user knows it.
func (l *lease) display() string {
	if l.Name != "" {
		return l.Name
	}
	return shortID(l.Container)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (s Store) lockLeases(name string) (func(), error) {
	dir := s.leaseDir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	return flock.Dir(dir)
}

// leases reads the network's leases, in no order; unreadable ones are
// skipped (being written, or damaged).
func (s Store) leases(name string) []lease {
	dir := s.leaseDir(name)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []lease
	for _, e := range ents {
		if _, err := netip.ParseAddr(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var l lease
		if json.Unmarshal(b, &l) == nil && l.IP == e.Name() {
			out = append(out, l)
		}
	}
	return out
}

// networksWithLeases lists the networks that have a lease directory.
func (s Store) networksWithLeases() []string {
	ents, err := os.ReadDir(filepath.Join(s.Run, "networks"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// allocate gives l an address of n (want, when asked for one), with the
// network's lock held by the caller.
func (s Store) allocate(n *Network, l lease, want string) (lease, error) {
	dir := s.leaseDir(n.Name)
	used := map[netip.Addr]bool{}
	for _, x := range s.leases(n.Name) {
		a := netip.MustParseAddr(x.IP)
		if x.live() {
			used[a] = true
		} else {
			os.Remove(filepath.Join(dir, x.IP)) // its container is gone
		}
	}
	p := n.prefix()
	usable := func(a netip.Addr) bool {
		return p.Contains(a) && a != p.Addr() && a != n.gateway() && a != broadcast(p)
	}
	var ip netip.Addr
	if want != "" {
		a, err := netip.ParseAddr(want)
		switch {
		case err != nil || !a.Is4():
			return l, hint.With(fmt.Errorf("--ip %q is not an IPv4 address", want), "give an address of the network's subnet")
		case !usable(a):
			return l, hint.With(fmt.Errorf("--ip %s is not an address network %s gives to containers", a, n.Name),
				fmt.Sprintf("give one of %s but its first, last and the gateway %s", n.Subnet, n.Gateway))
		case used[a]:
			return l, hint.With(fmt.Errorf("--ip %s: the address is in use on network %s", a, n.Name), "give another, or leave --ip out")
		}
		ip = a
	} else {
		start := p.Addr()
		if b, err := os.ReadFile(filepath.Join(dir, ".last")); err == nil {
			if a, err := netip.ParseAddr(strings.TrimSpace(string(b))); err == nil && p.Contains(a) {
				start = a
			}
		}
		for a := next(p, start); ; a = next(p, a) {
			if usable(a) && !used[a] {
				ip = a
				break
			}
			if a == start {
				return l, hint.With(fmt.Errorf("network %s has no free address left in %s", n.Name, n.Subnet),
					"remove containers from it, or make a network with a larger --subnet")
			}
		}
	}
	l.IP, l.MAC = ip.String(), macFor(ip).String()
	if err := writeJSON(filepath.Join(dir, l.IP), l, 0o644); err != nil {
		return l, fmt.Errorf("record address %s on network %s: %w", l.IP, n.Name, err)
	}
	_ = os.WriteFile(filepath.Join(dir, ".last"), []byte(l.IP+"\n"), 0o644)
	return l, nil
}

// next is the address after a in p, wrapping round.
func next(p netip.Prefix, a netip.Addr) netip.Addr {
	n := a.Next()
	if !n.IsValid() || !p.Contains(n) {
		return p.Addr()
	}
	return n
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// releaseOn gives back every address container id holds on network name,
// or only the one on that network's endpoint hostIf when it is set.
func (s Store) releaseOn(name, id, hostIf string) ([]lease, error) {
	unlock, err := s.lockLeases(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []lease
	var errs []error
	for _, l := range s.leases(name) {
		if l.Container != id || hostIf != "" && l.HostIf != hostIf {
			continue
		}
		if err := os.Remove(filepath.Join(s.leaseDir(name), l.IP)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		out = append(out, l)
	}
	return out, errors.Join(errs...)
}

// Leases lists the containers on network name as its leases show them:
// the address, the container's id and name, its aliases.
func (s Store) Leases(name string) []LeaseInfo {
	var out []LeaseInfo
	for _, l := range s.leases(name) {
		if l.live() {
			out = append(out, LeaseInfo{IP: l.IP, Container: l.Container, Name: l.Name, Aliases: l.Aliases,
				MAC: l.MAC, HostIf: l.HostIf})
		}
	}
	return out
}

// LeaseInfo is an address in use, as `network inspect` shows it.
type LeaseInfo struct {
	IP        string
	Container string
	Name      string
	Aliases   []string
	MAC       string
	HostIf    string
}
