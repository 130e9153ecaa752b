package sandbox

import (
	"encoding/binary"
	"slices"

	"golang.org/x/sys/unix"
)

// The monitor's side of `stepbox attach`, in the lean watch phase: a
// SOCK_SEQPACKET socket in the container's directory (attachSocket), made
// by stepbox before the container starts and handed on across the execve.
// Every message is one frame, so neither side parses a stream: the monitor
// sends the payload's output to every client as it logs it, and writes what
// a client sends to the pty master or the stdin pipe. Nothing a client does
// may hold the monitor up: output is sent with MSG_DONTWAIT, and a client
// whose socket is full is let go; input waits in one buffer while the
// payload does not read, and meanwhile no more is taken from any client
// (whose own send(2) then blocks, not the monitor).

// Frames: the first byte says what the rest is.
const (
	frameStdout = 1 // monitor to client: output
	frameStderr = 2
	frameExit   = 3 // monitor to client: the init exited, the exit is being recorded
	frameInput  = 'i'
	frameResize = 'r' // client to monitor: rows, cols (uint16, big-endian)
)

// maxAttach bounds the clients at once, and with them the monitor's memory.
const maxAttach = 32

// attachHub is the watch phase's listening socket and its clients.
type attachHub struct {
	lfd     int // listening socket, -1 without
	clients []int
	in      int    // where input goes: the pty master or the stdin pipe, -1 for none
	pending []byte // input the payload has not taken yet
	frame   []byte // one outgoing frame, reused
}

func newAttachHub(lfd, in int) *attachHub {
	h := &attachHub{lfd: lfd, in: in}
	if in >= 0 {
		_ = unix.SetNonblock(in, true)
	}
	if lfd >= 0 {
		_ = unix.SetNonblock(lfd, true)
		// A start -a's client connected before the payload ran: taken
		// before any output is read, it misses none.
		h.accept()
	}
	return h
}

// pollFds appends what the hub waits for, and returns how many it added.
func (h *attachHub) pollFds(fds []unix.PollFd) ([]unix.PollFd, int) {
	if h == nil || h.lfd < 0 {
		return fds, 0
	}
	n := len(fds)
	fds = append(fds, unix.PollFd{Fd: int32(h.lfd), Events: unix.POLLIN})
	ev := int16(unix.POLLIN)
	if len(h.pending) > 0 {
		ev = 0 // hang-ups only, until the payload takes what waits
		fds = append(fds, unix.PollFd{Fd: int32(h.in), Events: unix.POLLOUT})
	}
	for _, c := range h.clients {
		fds = append(fds, unix.PollFd{Fd: int32(c), Events: ev})
	}
	return fds, len(fds) - n
}

// handle acts on what poll(2) reported in fds (as pollFds laid them out);
// buf is scratch space.
func (h *attachHub) handle(fds []unix.PollFd, buf []byte) {
	if len(fds) == 0 {
		return
	}
	if fds[0].Revents != 0 {
		h.accept()
	}
	fds = fds[1:]
	if len(h.pending) > 0 {
		if fds[0].Revents != 0 {
			h.flush()
		}
		fds = fds[1:]
	}
	// By descriptor, not by place: output sent meanwhile may have let a
	// client go, and clients accepted just now are not in fds.
	var gone []int
	for _, f := range fds {
		c := int(f.Fd)
		if f.Revents == 0 || !slices.Contains(h.clients, c) {
			continue
		}
		if !h.receive(c, buf) {
			gone = append(gone, c)
		}
	}
	for _, c := range gone {
		h.drop(c)
	}
}

func (h *attachHub) accept() {
	for {
		fd, _, err := unix.Accept4(h.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return
		}
		// Only root or the monitor's own user (the socket is 0600 in a
		// root-only directory; this holds should those be loosened).
		cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil || (cred.Uid != 0 && int(cred.Uid) != unix.Geteuid()) || len(h.clients) >= maxAttach {
			unix.Close(fd)
			continue
		}
		// Room for bursts of output in the kernel, not in the monitor.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
		h.clients = append(h.clients, fd)
	}
}

// receive takes one frame from client c; false when c is gone.
func (h *attachHub) receive(c int, buf []byte) bool {
	n, _, _, _, err := unix.Recvmsg(c, buf, nil, unix.MSG_DONTWAIT)
	if err == unix.EAGAIN || err == unix.EINTR {
		return true
	}
	if err != nil || n == 0 {
		return false
	}
	switch msg := buf[:n]; msg[0] {
	case frameInput:
		if h.in >= 0 {
			h.pending = append(h.pending, msg[1:]...)
			h.flush()
		}
	case frameResize:
		if len(msg) == 5 && h.in >= 0 {
			ws := unix.Winsize{Row: binary.BigEndian.Uint16(msg[1:]), Col: binary.BigEndian.Uint16(msg[3:])}
			// On a pipe this fails (ENOTTY), as it should. On the pty
			// master the kernel sends SIGWINCH to the foreground group.
			_ = unix.IoctlSetWinsize(h.in, unix.TIOCSWINSZ, &ws)
		}
	}
	return true
}

// flush writes waiting input to the payload, as much as it takes.
func (h *attachHub) flush() {
	for len(h.pending) > 0 {
		n, err := unix.Write(h.in, h.pending)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if n <= 0 {
			// Its reading end is gone (EPIPE) or broken: input is lost,
			// never the monitor.
			h.pending = h.pending[:0]
			break
		}
		h.pending = h.pending[n:]
	}
	if len(h.pending) == 0 {
		h.pending = nil // a large paste is not kept
	}
}

// send gives output to every client; one that cannot take it now is let go.
func (h *attachHub) send(stream string, data []byte) {
	if h == nil || len(h.clients) == 0 {
		return
	}
	kind := byte(frameStdout)
	if stream == "stderr" {
		kind = frameStderr
	}
	h.frame = append(append(h.frame[:0], kind), data...)
	h.broadcast(h.frame)
	if cap(h.frame) > 32<<10 {
		h.frame = nil
	}
}

func (h *attachHub) broadcast(frame []byte) {
	var gone []int
	for _, c := range h.clients {
		if err := unix.Sendmsg(c, frame, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL); err != nil && err != unix.EINTR {
			gone = append(gone, c)
		}
	}
	for _, c := range gone {
		h.drop(c)
	}
}

func (h *attachHub) drop(c int) {
	for i, x := range h.clients {
		if x == c {
			h.clients = append(h.clients[:i], h.clients[i+1:]...)
			break
		}
	}
	unix.Close(c)
}

// close tells the clients that the init exited, and closes everything;
// the socket's name goes from the directory.
func (h *attachHub) close(dir string) {
	if h == nil {
		return
	}
	h.broadcast([]byte{frameExit})
	for _, c := range h.clients {
		unix.Close(c)
	}
	h.clients = nil
	if h.lfd >= 0 {
		unix.Close(h.lfd)
		_ = unix.Unlink(dir + "/" + attachSocketName)
		h.lfd = -1
	}
}
