package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ensureBridge makes the network's bridge on the host if it is not there
// (after a reboot, or made by `network create`), with the gateway's
// address, up; a link of that name that is no bridge is an error. Every
// call is made in the host's network namespace: no thread of ours is ever
// left in another (handleIn).
//
// What the kernel does for it: a bridge (`ip link add NAME type bridge`,
// rtnetlink(7) RTM_NEWLINK with IFLA_INFO_KIND "bridge") forwards frames
// between its ports as a switch does; its own address makes the host one
// of the hosts on that switch, so the containers' default route points at
// it and the host reaches them through it.
func ensureBridge(n *Network) error {
	link, err := netlink.LinkByName(n.Bridge)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		link, err = addBridge(n)
		if err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("find bridge %s: %w", n.Bridge, err)
	case link.Type() != "bridge":
		return fmt.Errorf("network %s: the host has a link %s that is not a bridge (%s)", n.Name, n.Bridge, link.Type())
	}
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(n.gateway().AsSlice()), Mask: net.CIDRMask(n.prefix().Bits(), 32)}}
	if err := netlink.AddrAdd(link, gw); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %s to bridge %s: %w", gw.IPNet, n.Bridge, err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("bring bridge %s up: %w", n.Bridge, err)
		}
	}
	return nil
}

func addBridge(n *Network) (netlink.Link, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = n.Bridge
	if mac, err := net.ParseMAC(n.MAC); err == nil {
		attrs.HardwareAddr = mac
	}
	br := &netlink.Bridge{LinkAttrs: attrs}
	if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("add bridge %s: %w", n.Bridge, err)
	}
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return nil, fmt.Errorf("find bridge %s: %w", n.Bridge, err)
	}
	// Nothing is forwarded from this bridge to any other link of the
	// host, even on a host that forwards (ip_forward=1): packets received
	// on an interface whose forwarding is off are not routed on
	// (ip-sysctl: conf/<interface>/forwarding). A setting of the bridge's
	// own: the host's ip_forward and firewall stay as they are. So the
	// networks are kept apart, and nothing leaves the machine.
	if err := setForwarding(n.Bridge, false); err != nil {
		_ = netlink.LinkDel(link)
		return nil, err
	}
	return link, nil
}

func setForwarding(ifname string, on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	path := "/proc/sys/net/ipv4/conf/" + ifname + "/forwarding"
	if err := os.WriteFile(path, []byte(v), 0); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// deleteLink deletes a host link by name; one already gone is no error.
// Deleting either end of a veth pair deletes both (veth(4)).
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// hostPrefixes lists what the host already reaches directly: the
// destinations of its routes (but the default route, which would overlap
// everything) and its addresses' subnets, leaving out the bridge except.
// A network's subnet must overlap none of them, or the host could not
// tell which way a packet goes (ip-route(8)).
func hostPrefixes(except string) ([]taken, error) {
	exceptIndex := -1
	if except != "" {
		if l, err := netlink.LinkByName(except); err == nil {
			exceptIndex = l.Attrs().Index
		}
	}
	routes, err := retryDump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list the host's routes: %w", err)
	}
	var out []taken
	name := func(index int) string {
		if l, err := netlink.LinkByIndex(index); err == nil {
			return l.Attrs().Name
		}
		return fmt.Sprint("link ", index)
	}
	for _, r := range routes {
		if r.Dst == nil || r.LinkIndex == exceptIndex {
			continue
		}
		p, ok := prefixOf(r.Dst)
		if !ok || p.Bits() == 0 {
			continue
		}
		out = append(out, taken{p, "the host's route to " + p.String() + " on " + name(r.LinkIndex)})
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list the host's addresses: %w", err)
	}
	for _, a := range addrs {
		if a.LinkIndex == exceptIndex {
			continue
		}
		if p, ok := prefixOf(a.IPNet); ok {
			out = append(out, taken{p.Masked(), "the host's address " + p.String() + " on " + name(a.LinkIndex)})
		}
	}
	return out, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
