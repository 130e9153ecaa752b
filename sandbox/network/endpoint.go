package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// vethPrefix is the start of the host ends' names of a container's veth
// pairs: "veth" and nine hex digits of a hash of its id. Derived from the
// id, never only recorded, so the links of a container are found and
// removed whatever happened to its records; an index follows (veth(4)
// names are at most 15 bytes, IFNAMSIZ).
func vethPrefix(id string) string {
	h := sha256.Sum256([]byte(id))
	return "veth" + hex.EncodeToString(h[:])[:9]
}

const indexDigits = "0123456789abcdefghijklmnopqrstuvwxyz"

// macFor is the container's hardware address on an endpoint, made from
// its IPv4 address (as docker does): an address given back and given
// again keeps its hardware address, so a peer's ARP cache stays right.
func macFor(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x5b, b[0], b[1], b[2], b[3]}
}

// attachEndpoint puts the container whose network namespace is open at
// nsFd (nsh a netlink handle there) on network a.Network: an address from
// the network's leases, a veth pair with the host end on the bridge and
// the other end inside as ifName, the address on it, both up, and, when
// route is set, the default route via the bridge. On failure nothing of it
// is left.
func (s Store) attachEndpoint(nsFd int, nsh *netlink.Handle, c netconf.Container, a netconf.Attach, index int, ifName string, route bool) (ep netconf.Endpoint, err error) {
	n, err := s.Get(a.Network)
	if err != nil {
		return ep, err
	}
	if index >= len(indexDigits) {
		return ep, fmt.Errorf("attach to network %s: a container is on at most %d networks", n.Name, len(indexDigits))
	}
	hostIf := vethPrefix(c.ID) + string(indexDigits[index])
	l, err := s.lease(n, c, a, hostIf, ifName)
	if err != nil {
		return ep, err
	}
	defer func() {
		if err != nil {
			_ = deleteLink(hostIf)
			_, _ = s.releaseOn(n.Name, c.ID, hostIf)
		}
	}()
	ip := netip.MustParseAddr(l.IP)
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return ep, fmt.Errorf("find bridge %s of network %s: %w", n.Bridge, n.Name, err)
	}
	// One RTM_NEWLINK makes the pair with its far end already in the
	// container's namespace, named as it will be seen there, with its
	// hardware address (veth(4), rtnetlink(7): IFLA_INFO_DATA carries the
	// peer, IFLA_NET_NS_FD its namespace); the near end joins the bridge
	// (IFLA_MASTER, `ip link set vethX master BRIDGE`).
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostIf
	attrs.MasterIndex = br.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: ifName, PeerHardwareAddr: macFor(ip), PeerNamespace: netlink.NsFd(nsFd)}
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return ep, fmt.Errorf("add veth %s: a link of that name is left from an earlier run of the container: %w", hostIf, err)
		}
		return ep, fmt.Errorf("add veth %s to bridge %s: %w", hostIf, n.Bridge, err)
	}
	inside, err := nsh.LinkByName(ifName)
	if err != nil {
		return ep, fmt.Errorf("find %s in the container: %w", ifName, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(n.prefix().Bits(), 32)}}
	if err := nsh.AddrAdd(inside, addr); err != nil {
		return ep, fmt.Errorf("add %s to %s in the container: %w", addr.IPNet, ifName, err)
	}
	if err := nsh.LinkSetUp(inside); err != nil {
		return ep, fmt.Errorf("bring %s up in the container: %w", ifName, err)
	}
	if route {
		// `ip route add default via GATEWAY dev eth0` (ip-route(8)):
		// whatever is not on one of the container's own subnets goes to
		// the host's end of the bridge, which routes it no further
		// (setForwarding).
		gw := &netlink.Route{LinkIndex: inside.Attrs().Index, Gw: net.IP(n.gateway().AsSlice())}
		if err := nsh.RouteAdd(gw); err != nil {
			return ep, fmt.Errorf("add the default route via %s in the container: %w", n.Gateway, err)
		}
	}
	if err := setUp(hostIf); err != nil {
		return ep, err
	}
	return netconf.Endpoint{Network: n.Name, NetworkID: n.ID, Bridge: n.Bridge, IfName: ifName, HostIf: hostIf,
		Address: addr.IPNet.String(), Gateway: n.Gateway, MAC: macFor(ip).String(), Aliases: a.Aliases}, nil
}

// lease takes an address on n for the container, making the bridge first
// if it is missing; both under the network's lock, so that containers
// started at once neither share an address nor each make the bridge.
func (s Store) lease(n *Network, c netconf.Container, a netconf.Attach, hostIf, ifName string) (lease, error) {
	unlock, err := s.lockLeases(n.Name)
	if err != nil {
		return lease{}, err
	}
	defer unlock()
	// Removed meanwhile? (`network rm` holds this lock while it removes.)
	if n, err = s.read(n.Name); err != nil {
		return lease{}, err
	}
	if err := ensureBridge(n); err != nil {
		return lease{}, err
	}
	if n.NAT {
		// After a reboot: the bridge is new, the table and ip_forward gone.
		if err := s.ensureNAT(n); err != nil {
			return lease{}, err
		}
	}
	l := lease{Container: c.ID, Name: c.Name, Hostname: c.Hostname, Aliases: a.Aliases,
		Hosts: hostsPath(c.Dir), IfName: ifName, HostIf: hostIf}
	return s.allocate(n, l, a.IP)
}

// setUp brings the host link name up (`ip link set NAME up`).
func setUp(name string) error {
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	if err != nil {
		return fmt.Errorf("bring %s up: %w", name, err)
	}
	return nil
}

// freeIfName is the first ethN the container's namespace does not have.
func freeIfName(nsh *netlink.Handle) (string, error) {
	links, err := retryDump(nsh.LinkList)
	if err != nil {
		return "", fmt.Errorf("list the container's links: %w", err)
	}
	have := map[string]bool{}
	for _, l := range links {
		have[l.Attrs().Name] = true
	}
	for i := 0; ; i++ {
		if name := "eth" + strconv.Itoa(i); !have[name] {
			return name, nil
		}
	}
}

// deleteContainerLinks deletes the host ends of every veth pair of
// container id (which takes the far ends with them): the ones recorded and
// any other whose name says it is the container's.
func deleteContainerLinks(id string) error {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list the host's links: %w", err)
	}
	prefix := vethPrefix(id)
	var errs []error
	for _, l := range links {
		if name := l.Attrs().Name; strings.HasPrefix(name, prefix) && len(name) == len(prefix)+1 {
			if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("delete link %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}
