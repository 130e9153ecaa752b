package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// Published ports are served by a proxy in user space, as docker-proxy
// serves them, not by a DNAT rule: the host's firewall is never changed.
// The sockets are bound here, by the runtime, before the container runs:
// a port someone else has is refused at once, in one line, and the
// proxy (sandbox/proxy*.go) only accepts and forwards.

// bindPorts binds a listening socket for each port, forwarding to the
// container's address target. On failure none is left open.
func bindPorts(ports []netconf.Port, target netip.Addr) (_ []netconf.Listener, err error) {
	var out []netconf.Listener
	defer func() {
		if err != nil {
			for _, l := range out {
				l.File.Close()
			}
		}
	}()
	for _, p := range ports {
		f, port, err := listen(p)
		if err != nil {
			return nil, err
		}
		q := p
		q.HostPort = port
		out = append(out, netconf.Listener{File: f, Published: netconf.Published{Port: q,
			Target: netip.AddrPortFrom(target, p.ContainerPort).String()}})
	}
	return out, nil
}

// listen makes the socket of a published port: socket(2), SO_REUSEADDR
// (a port is published again at once after a stop, whatever connections
// of the last run still wait in TIME_WAIT), bind(2), and listen(2) for
// TCP. Port 0 takes any free one, which getsockname(2) tells.
func listen(p netconf.Port) (*os.File, uint16, error) {
	ip, err := netip.ParseAddr(p.HostIP)
	if err != nil {
		return nil, 0, fmt.Errorf("publish %s: %q is not an IP address", p, p.HostIP)
	}
	family, sa := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{Port: int(p.HostPort), Addr: ip.As4()})
	if ip.Is6() {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(p.HostPort), Addr: ip.As16()}
	}
	typ := unix.SOCK_STREAM
	if p.Proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("publish %s: socket: %w", p, err)
	}
	fail := func(call string, err error) (*os.File, uint16, error) {
		unix.Close(fd)
		where := netip.AddrPortFrom(ip, p.HostPort).String() + "/" + p.Proto
		switch {
		case errors.Is(err, unix.EADDRINUSE):
			return nil, 0, hint.With(fmt.Errorf("publish %s: port %s is already in use", p, where),
				"pick another host port, or see what holds it with 'ss -lnp'")
		case errors.Is(err, unix.EADDRNOTAVAIL):
			return nil, 0, hint.With(fmt.Errorf("publish %s: %s is not an address of this host", p, ip),
				"publish on 127.0.0.1 (the default) or on one of the host's addresses")
		case errors.Is(err, unix.EACCES):
			return nil, 0, fmt.Errorf("publish %s: %s %s: %w", p, call, where, err)
		}
		return nil, 0, fmt.Errorf("publish %s: %s %s: %w", p, call, where, err)
	}
	if p.Proto == "tcp" {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if family == unix.AF_INET6 {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if p.Proto == "tcp" {
		if err := unix.Listen(fd, 128); err != nil {
			return fail("listen", err)
		}
	}
	port := p.HostPort
	if port == 0 {
		got, err := unix.Getsockname(fd)
		if err != nil {
			return fail("getsockname", err)
		}
		switch a := got.(type) {
		case *unix.SockaddrInet4:
			port = uint16(a.Port)
		case *unix.SockaddrInet6:
			port = uint16(a.Port)
		}
	}
	return os.NewFile(uintptr(fd), p.Proto+":"+strconv.Itoa(int(port))), port, nil
}
