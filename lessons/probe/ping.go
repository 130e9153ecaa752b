package probe

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Ping sends count ICMP echo requests to addr over a raw socket, as ping(8)
// does when it runs as root, and waits up to wait for each reply. It prints
// its ids first: a raw socket needs CAP_NET_RAW, which a set-user-ID-root
// copy gains through execve(2) unless no_new_privs is set.
//
// Exit status, as iputils' ping: 0 when a reply came, 1 when none did, 2
// when a call failed (no socket, or the network unreachable).
func Ping(w io.Writer, addr string, count int, wait time.Duration) int {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is4() {
		fmt.Fprintf(w, "ping: %q is not an IPv4 address\n", addr)
		return Usage
	}
	ruid, euid, _ := unix.Getresuid()
	fmt.Fprintf(w, "PING %s as uid %d (euid %d), one raw ICMP socket\n", addr, ruid, euid)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	Call(w, "socket", "AF_INET, SOCK_RAW, IPPROTO_ICMP", fd, err)
	if err != nil {
		return Usage
	}
	defer unix.Close(fd)
	to := &unix.SockaddrInet4{Addr: ip.As4()}
	id := uint16(os.Getpid())
	received := 0
	for seq := 1; seq <= count; seq++ {
		req := echoRequest(id, uint16(seq))
		sent := time.Now()
		err := unix.Sendto(fd, req, 0, to)
		n := len(req)
		if err != nil {
			n = 0
		}
		Call(w, "sendto", fmt.Sprintf("%d, ICMP echo seq=%d, %d, %s", fd, seq, len(req), addr), n, err)
		if err != nil {
			fmt.Fprintf(w, "%d packets transmitted, %d received\n", seq-1, received)
			return Usage
		}
		if ttl, ok := awaitReply(fd, ip, id, uint16(seq), sent.Add(wait)); ok {
			received++
			fmt.Fprintf(w, "reply from %s: icmp_seq=%d ttl=%d time=%.3f ms\n", addr, seq, ttl, float64(time.Since(sent).Microseconds())/1000)
		} else {
			fmt.Fprintf(w, "no reply from %s to icmp_seq=%d within %s\n", addr, seq, wait)
		}
	}
	fmt.Fprintf(w, "%d packets transmitted, %d received\n", count, received)
	if received == 0 {
		return Refused
	}
	return OK
}

// echoRequest is an ICMP echo request (RFC 792) with an 8-byte payload.
func echoRequest(id, seq uint16) []byte {
	b := make([]byte, 16)
	b[0] = 8 // echo request
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], "stepbox!")
	binary.BigEndian.PutUint16(b[2:], checksum(b))
	return b
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// awaitReply reads the raw socket until the echo reply to (id, seq) from
// from arrives or the deadline passes. A raw ICMP socket sees every ICMP
// packet the host receives, the IPv4 header included (raw(7)): on
// loopback, our own request too.
func awaitReply(fd int, from netip.Addr, id, seq uint16, deadline time.Time) (ttl int, ok bool) {
	buf := make([]byte, 1500)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, false
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0, false
		}
		m, src, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			continue
		}
		sa, isV4 := src.(*unix.SockaddrInet4)
		if !isV4 || netip.AddrFrom4(sa.Addr) != from || m < 20 {
			continue
		}
		hl := int(buf[0]&0x0f) * 4
		icmp := buf[hl:m]
		if len(icmp) < 8 || icmp[0] != 0 || // echo reply
			binary.BigEndian.Uint16(icmp[4:]) != id || binary.BigEndian.Uint16(icmp[6:]) != seq {
			continue
		}
		return int(buf[8]), true
	}
}
