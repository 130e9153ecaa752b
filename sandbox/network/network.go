// Package network wires containers' network namespaces with netlink (no `ip`
// command): a veth pair with one end in each of two namespaces, addresses,
// links up. A new network namespace has only a loopback device, and it is
// down (network_namespaces(7)); the runtime's init brings lo up itself.
package network

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// End is one end of a veth pair: the process whose network namespace gets
// it, the interface's name there, and its address in CIDR form.
type End struct {
	Pid     int
	Name    string
	Address string // "10.200.0.1/24"; empty for none
}

// Veth connects the network namespaces of a.Pid and b.Pid with a veth pair
// (veth(4)): a is made in a's namespace with its peer created directly in
// b's, both get their addresses and are brought up. Nothing is made in the
// caller's own namespace, so a failure halfway leaves nothing on the host;
// the pair vanishes with either namespace.
func Veth(a, b End) error {
	nsA, err := netns.GetFromPid(a.Pid)
	if err != nil {
		return fmt.Errorf("network namespace of pid %d: %w", a.Pid, err)
	}
	defer nsA.Close()
	nsB, err := netns.GetFromPid(b.Pid)
	if err != nil {
		return fmt.Errorf("network namespace of pid %d: %w", b.Pid, err)
	}
	defer nsB.Close()
	hA, err := netlink.NewHandleAt(nsA)
	if err != nil {
		return fmt.Errorf("netlink in pid %d's namespace: %w", a.Pid, err)
	}
	defer hA.Close()
	hB, err := netlink.NewHandleAt(nsB)
	if err != nil {
		return fmt.Errorf("netlink in pid %d's namespace: %w", b.Pid, err)
	}
	defer hB.Close()

	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: a.Name},
		PeerName:      b.Name,
		PeerNamespace: netlink.NsFd(int(nsB)),
	}
	if err := hA.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s/%s: %w", a.Name, b.Name, err)
	}
	if err := configure(hA, a); err != nil {
		hA.LinkDel(veth)
		return err
	}
	if err := configure(hB, b); err != nil {
		hA.LinkDel(veth) // deleting one end deletes the pair
		return err
	}
	return nil
}

func configure(h *netlink.Handle, e End) error {
	link, err := h.LinkByName(e.Name)
	if err != nil {
		return fmt.Errorf("find %s in pid %d's namespace: %w", e.Name, e.Pid, err)
	}
	if e.Address != "" {
		addr, err := netlink.ParseAddr(e.Address)
		if err != nil {
			return fmt.Errorf("address %q: %w", e.Address, err)
		}
		if err := h.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("add %s to %s: %w", e.Address, e.Name, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring %s up: %w", e.Name, err)
	}
	return nil
}

// LoopbackUp brings lo up in pid's network namespace.
func LoopbackUp(pid int) error {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("network namespace of pid %d: %w", pid, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}

// Addresses lists the IPv4 addresses of pid's interfaces, by name.
func Addresses(pid int) (map[string][]string, error) {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	for errors.Is(err, netlink.ErrDumpInterrupted) {
		links, err = h.LinkList() // a partial dump: ask again
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, l := range links {
		addrs, err := h.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			out[l.Attrs().Name] = append(out[l.Attrs().Name], a.IPNet.String())
		}
	}
	return out, nil
}
