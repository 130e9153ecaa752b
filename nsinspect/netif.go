package nsinspect

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"syscall"
)

// Interface is one network interface of a network namespace.
type Interface struct {
	Index    int      `json:"index"`
	Name     string   `json:"name"`
	Up       bool     `json:"up"` // IFF_UP: configured up by someone
	Loopback bool     `json:"loopback"`
	MTU      int      `json:"mtu"`
	Flags    []string `json:"flags"`
	Addrs    []string `json:"addrs"` // CIDR, sorted
}

// Network lists the interfaces inside a process's network namespace.
// /proc/PID/net/dev would name them without entering, but lacks flags and
// addresses, so they are asked of netlink from within the namespace.
type Network struct {
	Interfaces []Interface `json:"interfaces"`
	Err        *FieldError `json:"error,omitempty"`
}

// OnlyLoopback reports whether the namespace has no interface but lo.
func (n Network) OnlyLoopback() bool {
	for _, i := range n.Interfaces {
		if !i.Loopback {
			return false
		}
	}
	return true
}

// Interface flag bits (netdevice(7)) and their names, in kernel order.
var ifFlagNames = []struct {
	bit  uint32
	name string
}{
	{0x1, "UP"}, {0x2, "BROADCAST"}, {0x8, "LOOPBACK"}, {0x10, "POINTOPOINT"},
	{0x40, "RUNNING"}, {0x80, "NOARP"}, {0x100, "PROMISC"}, {0x1000, "MULTICAST"},
	{0x10000, "LOWER_UP"},
}

// Sizes from rtnetlink(7): struct nlmsghdr, ifinfomsg, ifaddrmsg, rtattr.
const (
	nlmsgHdrLen   = 16
	ifInfoMsgLen  = 16
	ifAddrMsgLen  = 8
	rtAttrHdrLen  = 4
	rtmNewLink    = 16 // RTM_NEWLINK
	rtmNewAddr    = 20 // RTM_NEWADDR
	iflaIfname    = 3
	iflaMTU       = 4
	ifaAddress    = 1
	ifaLocal      = 2
	netlinkAlign4 = 3
)

func nlAlign(n int) int { return (n + netlinkAlign4) &^ netlinkAlign4 }

// netlinkMessages splits a netlink dump into (type, payload) pairs,
// stopping at the first malformed header instead of trusting its length.
func netlinkMessages(b []byte) (types []uint16, payloads [][]byte) {
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < nlmsgHdrLen || l > len(b) {
			break
		}
		types = append(types, binary.NativeEndian.Uint16(b[4:6]))
		payloads = append(payloads, b[nlmsgHdrLen:l])
		b = b[min(nlAlign(l), len(b)):]
	}
	return types, payloads
}

// netlinkAttrs splits route attributes the same careful way.
func netlinkAttrs(b []byte) map[uint16][]byte {
	out := map[uint16][]byte{}
	for len(b) >= rtAttrHdrLen {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		if l < rtAttrHdrLen || l > len(b) {
			break
		}
		out[binary.NativeEndian.Uint16(b[2:4])&0x3fff] = b[rtAttrHdrLen:l]
		b = b[min(nlAlign(l), len(b)):]
	}
	return out
}

// ParseLinkDump decodes the answers to RTM_GETLINK and RTM_GETADDR dumps
// into interfaces sorted by index, each with its sorted addresses.
func ParseLinkDump(links, addrs []byte) []Interface {
	byIndex := map[int]*Interface{}
	types, payloads := netlinkMessages(links)
	for i, t := range types {
		p := payloads[i]
		if t != rtmNewLink || len(p) < ifInfoMsgLen {
			continue
		}
		idx := int(int32(binary.NativeEndian.Uint32(p[4:8])))
		flags := binary.NativeEndian.Uint32(p[8:12])
		ifc := &Interface{Index: idx, Up: flags&syscall.IFF_UP != 0,
			Loopback: flags&syscall.IFF_LOOPBACK != 0, Flags: []string{}, Addrs: []string{}}
		for _, f := range ifFlagNames {
			if flags&f.bit != 0 {
				ifc.Flags = append(ifc.Flags, f.name)
			}
		}
		attrs := netlinkAttrs(p[ifInfoMsgLen:])
		if name, ok := attrs[iflaIfname]; ok {
			ifc.Name = cString(name)
		}
		if mtu, ok := attrs[iflaMTU]; ok && len(mtu) >= 4 {
			ifc.MTU = int(binary.NativeEndian.Uint32(mtu))
		}
		byIndex[idx] = ifc
	}
	types, payloads = netlinkMessages(addrs)
	for i, t := range types {
		p := payloads[i]
		if t != rtmNewAddr || len(p) < ifAddrMsgLen {
			continue
		}
		prefix := int(p[1])
		idx := int(binary.NativeEndian.Uint32(p[4:8]))
		attrs := netlinkAttrs(p[ifAddrMsgLen:])
		// IFA_LOCAL is the interface's own address on point-to-point links,
		// where IFA_ADDRESS is the peer's (rtnetlink(7)).
		raw, ok := attrs[ifaLocal]
		if !ok {
			raw, ok = attrs[ifaAddress]
		}
		ifc := byIndex[idx]
		if !ok || ifc == nil {
			continue
		}
		a, ok := netip.AddrFromSlice(raw)
		if !ok {
			continue
		}
		if pfx, err := a.Unmap().Prefix(prefix); err == nil {
			ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(a.Unmap(), pfx.Bits()).String())
		}
	}
	out := make([]Interface, 0, len(byIndex))
	for _, ifc := range byIndex {
		slices.Sort(ifc.Addrs)
		out = append(out, *ifc)
	}
	slices.SortFunc(out, func(a, b Interface) int { return a.Index - b.Index })
	return out
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// dumpInterfaces asks rtnetlink, in the calling thread's network namespace,
// for every link and address.
func dumpInterfaces() ([]Interface, error) {
	links, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, errf("netlink RTM_GETLINK: %w", err)
	}
	addrs, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, syscall.AF_UNSPEC)
	if err != nil {
		return nil, errf("netlink RTM_GETADDR: %w", err)
	}
	return ParseLinkDump(links, addrs), nil
}
