package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// The command line's network flags, read as docker reads them. They live
// here rather than in netconf, which the container init links: net/netip
// would add 120 KiB to it.

// ParseNetwork reads --network: none, host, bridge, container:NAME or
// the name of a user-defined network (mode bridge, that network).
func ParseNetwork(s string) (mode, arg string, err error) {
	switch {
	case s == "" || s == netconf.ModeNone:
		return netconf.ModeNone, "", nil
	case s == netconf.ModeHost:
		return netconf.ModeHost, "", nil
	case strings.HasPrefix(s, "container:"):
		ref := strings.TrimPrefix(s, "container:")
		if ref == "" {
			return "", "", fmt.Errorf("invalid --network %q: name the container, container:NAME", s)
		}
		return netconf.ModeContainer, ref, nil
	case s == "default":
		return netconf.ModeBridge, netconf.DefaultNetwork, nil
	}
	if err := netconf.ValidateName(s); err != nil {
		return "", "", err
	}
	return netconf.ModeBridge, s, nil
}

// ParsePort reads docker's -p: [IP:][HOSTPORT:]CONTAINERPORT[/PROTO],
// where IP may be [::1] for IPv6 and an empty HOSTPORT (IP::80) means any
// free port. Without an IP the port is published on netconf.DefaultHostIP.
func ParsePort(s string) (netconf.Port, error) {
	bad := func(why string) (netconf.Port, error) {
		return netconf.Port{}, fmt.Errorf("invalid port %q: %s (-p takes [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp])", s, why)
	}
	p := netconf.Port{Proto: "tcp", HostIP: netconf.DefaultHostIP}
	rest := s
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		p.Proto = strings.ToLower(rest[i+1:])
		rest = rest[:i]
		if p.Proto != "tcp" && p.Proto != "udp" {
			return bad("the protocol must be tcp or udp")
		}
	}
	var fields []string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || end+1 >= len(rest) || rest[end+1] != ':' {
			return bad("an IPv6 address goes in brackets, [::1]:8080:80")
		}
		fields = append([]string{rest[1:end]}, strings.Split(rest[end+2:], ":")...)
	} else {
		fields = strings.Split(rest, ":")
	}
	var host, ctr string
	switch len(fields) {
	case 1:
		host, ctr = "", fields[0]
	case 2:
		host, ctr = fields[0], fields[1]
	case 3:
		ip, err := netip.ParseAddr(fields[0])
		if err != nil || ip.Zone() != "" {
			return bad(fmt.Sprintf("%q is not an IP address", fields[0]))
		}
		p.HostIP = ip.Unmap().String()
		host, ctr = fields[1], fields[2]
	default:
		return bad("too many ':'")
	}
	if strings.Contains(host, "-") || strings.Contains(ctr, "-") {
		return bad("port ranges are not supported: publish each port")
	}
	n, err := portNumber(ctr)
	if err != nil {
		return bad("the container port " + err.Error())
	}
	p.ContainerPort = n
	if host != "" {
		if p.HostPort, err = portNumber(host); err != nil {
			return bad("the host port " + err.Error())
		}
	}
	return p, nil
}

// ParseExpose reads --expose: PORT[/PROTO].
func ParseExpose(s string) (netconf.Port, error) {
	p, err := ParsePort(s)
	if err != nil || strings.Contains(strings.TrimSuffix(strings.TrimSuffix(s, "/tcp"), "/udp"), ":") {
		return netconf.Port{}, fmt.Errorf("invalid --expose %q: it takes PORT[/tcp|udp]", s)
	}
	return p, nil
}

func portNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// ParseHost reads --add-host: NAME:IP (or NAME=IP; an IPv6 address may
// stand in brackets).
func ParseHost(s string) (netconf.Host, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	addr, err := netip.ParseAddr(ip)
	if !ok || name == "" || strings.ContainsAny(name, " \t#") || err != nil {
		return netconf.Host{}, fmt.Errorf("invalid --add-host %q: it takes NAME:IP", s)
	}
	return netconf.Host{Name: name, IP: addr.String()}, nil
}
