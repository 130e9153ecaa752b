// Command vethhook gives runc's container a network the way stepbox's
// --network bridge wires one, for bench/network.sh: a veth pair made by
// netlink (the library stepbox uses), its host end on a bridge the bench
// made, the container's end moved into the container's network namespace
// as eth0 with an address, up, and a default route via the bridge.
//
//	vethhook add CONFIG BRIDGE GATEWAY/BITS   add the createRuntime hook to an OCI config.json
//	vethhook hook BRIDGE GATEWAY/BITS         the hook itself: the OCI state on stdin
//
// As a createRuntime hook (runtime-spec config.md) it runs in the
// runtime's namespaces once the container's exist, before pivot_root. The
// pair is named after the container's pid (unique while it runs) and goes
// with the container's namespace; the address is taken from the pid too,
// in the bench's /16, so no state is kept between runs.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 5 && os.Args[1] == "add":
		err = addHook(os.Args[2], os.Args[3], os.Args[4])
	case len(os.Args) == 4 && os.Args[1] == "hook":
		err = hook(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("usage: vethhook add CONFIG BRIDGE GATEWAY/BITS | vethhook hook BRIDGE GATEWAY/BITS")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vethhook:", err)
		os.Exit(1)
	}
}

func addHook(config, bridge, gw string) error {
	b, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if s.Hooks == nil {
		s.Hooks = &specs.Hooks{}
	}
	s.Hooks.CreateRuntime = append(s.Hooks.CreateRuntime, specs.Hook{Path: self, Args: []string{"vethhook", "hook", bridge, gw}})
	if b, err = json.MarshalIndent(&s, "", "  "); err != nil {
		return err
	}
	return os.WriteFile(config, b, 0o644)
}

func hook(bridge, gwCIDR string) error {
	var st specs.State
	if err := json.NewDecoder(os.Stdin).Decode(&st); err != nil {
		return fmt.Errorf("read the state: %w", err)
	}
	gw, subnet, err := net.ParseCIDR(gwCIDR)
	if err != nil {
		return err
	}
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return err
	}
	ns, err := netns.GetFromPid(st.Pid)
	if err != nil {
		return err
	}
	defer ns.Close()
	host := fmt.Sprintf("vb%d", st.Pid)
	peer := fmt.Sprintf("vc%d", st.Pid)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host, MasterIndex: br.Attrs().Index}, PeerName: peer,
		PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s: %w", host, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(peer)
	if err != nil {
		return err
	}
	if err := h.LinkSetName(l, "eth0"); err != nil {
		return err
	}
	ip := subnet.IP.To4()
	addr := net.IPv4(ip[0], ip[1], byte(2+st.Pid/250%250), byte(2+st.Pid%250))
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: addr, Mask: subnet.Mask}}); err != nil {
		return err
	}
	if err := h.LinkSetUp(l); err != nil {
		return err
	}
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return err
	}
	return h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw})
}
