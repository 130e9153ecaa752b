package probe

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Echo is a server that sends back what it gets on port of every address:
// a TCP connection's bytes, or each UDP datagram to its sender. It is the
// service behind a published port in the course (`-p`), the same in every
// built-in root filesystem. It returns only when it cannot listen.
func Echo(w io.Writer, udp bool, port int) error {
	addr := ":" + strconv.Itoa(port)
	if udp {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "echo: listening on udp %s\n", c.LocalAddr())
		buf := make([]byte, 64<<10)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return err
			}
			_, _ = c.WriteTo(buf[:n], from)
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "echo: listening on tcp %s\n", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() { _, _ = io.Copy(c, c); c.Close() }()
	}
}

// Connect sends text to addr (HOST:PORT) over TCP, or UDP, and waits up to
// wait for the same text back, as a client of Echo: what a published port
// gives the host. It prints each step with its result.
func Connect(w io.Writer, udp bool, addr, text string, wait time.Duration) int {
	proto := "tcp"
	if udp {
		proto = "udp"
	}
	c, err := net.DialTimeout(proto, addr, wait)
	Call(w, "connect", proto+" "+addr, 0, err)
	if err != nil {
		return Refused
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	n, err := c.Write([]byte(text))
	Call(w, "write", Quote(text), n, err)
	if err != nil {
		return Refused
	}
	buf := make([]byte, len(text))
	n, err = io.ReadFull(c, buf)
	Call(w, "read", strconv.Itoa(len(text)), n, err)
	if err != nil {
		return Refused
	}
	fmt.Fprintf(w, "reply %s\n", Quote(string(buf[:n])))
	if string(buf[:n]) != text {
		return Refused
	}
	return OK
}
