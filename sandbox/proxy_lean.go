package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A container's published ports are served by a proxy of its own,
// stepbox-proxy in ps (what docker-proxy is to docker): the runtime binds
// the host's sockets (sandbox/network, ports.go) and hands them to this
// process, which accepts on them and forwards every connection, and every
// UDP exchange, to the container's address. Nothing in the host's
// firewall changes.
//
// It is one process for all of a container's ports, run as the monitor's
// lean phases are, from stepbox-init when a trusted one is installed: the
// code below uses the system calls and the Go runtime's poller only, no
// net package (which the container init would then carry too). It ends by
// itself when the container's init exits (it polls a pidfd of it), so it
// never outlives the container, never holds up its stop, and needs nobody
// to clean it up after a crash; whoever removes the container kills it
// anyway (stopProxy).
const (
	proxyArg  = "proxy"
	proxyEnv  = "_STEPBOX_PROXY" // "protocol;pidfd;exefd;PROTO,FD,IP:PORT;…"
	proxyComm = "stepbox-proxy"
	// udpIdle is how long a UDP exchange with no traffic keeps its socket
	// to the container (docker-proxy's 90 s).
	udpIdle = 90 * time.Second
	// dialTimeout bounds a connection to the container.
	dialTimeout = 5 * time.Second
)

func isProxyProcess() bool {
	return len(os.Args) > 2 && os.Args[1] == proxyArg && os.Getenv(proxyEnv) != ""
}

// runProxy serves the ports in proxyEnv until the container's init exits.
func runProxy() {
	setComm(proxyComm)
	// It holds sockets of the host: nobody without CAP_SYS_PTRACE may take
	// them through /proc/PID/fd.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	fields := strings.Split(os.Getenv(proxyEnv), ";")
	if len(fields) < 4 || fields[0] != proxyProtocol {
		fmt.Fprintln(os.Stderr, "stepbox-proxy: started by another build of stepbox: install stepbox and stepbox-init together")
		os.Exit(2)
	}
	pidfd, err1 := strconv.Atoi(fields[1])
	exefd, err2 := strconv.Atoi(fields[2])
	if err1 != nil || err2 != nil {
		os.Exit(2)
	}
	unix.CloseOnExec(pidfd)
	unix.Close(exefd) // the binary we were started from
	for _, f := range fields[3:] {
		proto, rest, _ := strings.Cut(f, ",")
		fdText, target, _ := strings.Cut(rest, ",")
		fd, err := strconv.Atoi(fdText)
		to, ok := parseInet4(target)
		if err != nil || !ok {
			os.Exit(2)
		}
		unix.CloseOnExec(fd)
		// Non-blocking, so that os.NewFile puts it under the runtime's
		// poller: a goroutine waiting on it holds no thread.
		if err := unix.SetNonblock(fd, true); err != nil {
			os.Exit(2)
		}
		l := os.NewFile(uintptr(fd), proto)
		switch proto {
		case "tcp":
			go serveTCP(l, to)
		case "udp":
			go serveUDP(l, to)
		}
	}
	waitExit(pidfd)
	os.Exit(0)
}

// waitExit waits until the process of pidfd has exited (a pidfd polls
// readable then, pidfd_open(2)).
func waitExit(pidfd int) {
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, -1)
		if err != unix.EINTR {
			return
		}
	}
}

// parseInet4 reads "10.97.0.2:80".
func parseInet4(s string) (*unix.SockaddrInet4, bool) {
	host, port, ok := strings.Cut(s, ":")
	p, err := strconv.Atoi(port)
	parts := strings.Split(host, ".")
	if !ok || err != nil || len(parts) != 4 {
		return nil, false
	}
	sa := &unix.SockaddrInet4{Port: p}
	for i, x := range parts {
		n, err := strconv.Atoi(x)
		if err != nil || n < 0 || n > 255 {
			return nil, false
		}
		sa.Addr[i] = byte(n)
	}
	return sa, true
}

// serveTCP accepts connections and forwards each to the container.
func serveTCP(l *os.File, to *unix.SockaddrInet4) {
	rc, err := l.SyscallConn()
	if err != nil {
		return
	}
	for {
		var nfd int
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			return aerr != unix.EAGAIN
		})
		if err != nil {
			return
		}
		if aerr != nil {
			if aerr == unix.EMFILE || aerr == unix.ENFILE || aerr == unix.ENOBUFS || aerr == unix.ENOMEM {
				time.Sleep(50 * time.Millisecond) // out of resources: let some connections end
			}
			continue
		}
		go forwardTCP(os.NewFile(uintptr(nfd), "client"), to)
	}
}

// forwardTCP connects to the container and copies both ways; each side's
// end of stream is passed on as a half-close (shutdown(2) SHUT_WR), as a
// proxy must for protocols that close their sending side first.
func forwardTCP(client *os.File, to *unix.SockaddrInet4) {
	defer client.Close()
	server, err := dialTCP(to)
	if err != nil {
		return // the client sees its connection closed, as with docker-proxy
	}
	defer server.Close()
	done := make(chan struct{})
	go func() { pipe(server, client); close(done) }()
	pipe(client, server)
	<-done
}

// pipe copies src to dst until src ends, then shuts dst's sending side.
func pipe(dst, src *os.File) {
	buf := make([]byte, 32<<10)
	_, _ = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
	if rc, err := dst.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_WR) })
	}
}

// dialTCP connects to the container without blocking a thread: a
// non-blocking connect(2) answers EINPROGRESS, the socket turns writable
// once it is settled, and SO_ERROR says how (socket(7), connect(2)).
func dialTCP(to *unix.SockaddrInet4) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, to); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "server")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	_ = f.SetWriteDeadline(time.Now().Add(dialTimeout))
	var soErr error
	werr := rc.Write(func(fd uintptr) bool {
		if _, err := unix.Getpeername(int(fd)); err == nil {
			return true // connected
		}
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			soErr = err
		case v != 0:
			soErr = syscall.Errno(v)
		default:
			return false // still connecting: wait until writable
		}
		return true
	})
	if werr == nil {
		werr = soErr
	}
	if werr != nil {
		f.Close()
		return nil, werr
	}
	_ = f.SetWriteDeadline(time.Time{})
	return f, nil
}

// serveUDP forwards datagrams. UDP has no connections, so the proxy keeps
// one socket to the container for each client address (connected, so the
// container's replies come back on it) and sends the replies from the
// published port to that client; a socket idle for udpIdle is dropped.
func serveUDP(l *os.File, to *unix.SockaddrInet4) {
	rc, err := l.SyscallConn()
	if err != nil {
		return
	}
	var mu sync.Mutex
	flows := map[string]*os.File{}
	buf := make([]byte, 64<<10)
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			return
		}
		if rerr != nil || from == nil {
			continue
		}
		key := sockaddrKey(from)
		mu.Lock()
		flow := flows[key]
		if flow == nil {
			if flow, err = dialUDP(to); err != nil {
				mu.Unlock()
				continue
			}
			flows[key] = flow
			go func() {
				replies(flow, rc, from)
				mu.Lock()
				delete(flows, key)
				mu.Unlock()
				flow.Close()
			}()
		}
		mu.Unlock()
		_ = flow.SetReadDeadline(time.Now().Add(udpIdle))
		_, _ = flow.Write(buf[:n])
	}
}

// replies sends what the container answers on flow back to the client,
// from the published port, until the flow is idle for udpIdle.
func replies(flow *os.File, l syscall.RawConn, client unix.Sockaddr) {
	buf := make([]byte, 64<<10)
	for {
		_ = flow.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := flow.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) {
				return
			}
			continue // an ICMP error from the container (nobody listens yet)
		}
		_ = l.Write(func(fd uintptr) bool {
			err := unix.Sendto(int(fd), buf[:n], 0, client)
			return err != unix.EAGAIN
		})
	}
}

func dialUDP(to *unix.SockaddrInet4) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, to); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "udp"), nil
}

// sockaddrKey names a client address.
func sockaddrKey(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return string(a.Addr[:]) + strconv.Itoa(a.Port)
	case *unix.SockaddrInet6:
		return string(a.Addr[:]) + strconv.Itoa(a.Port)
	}
	return ""
}
