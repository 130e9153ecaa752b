package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// syncMsg is what the container's init tells its parent over the sync socket
// (a SOCK_SEQPACKET pair, so every message arrives whole). On the wire it is
// its three fields joined by NUL bytes: JSON would cost each side a first
// use of encoding/json on the way to the payload.
type syncMsg struct {
	Type    string // "console" (with the pty master attached), "ready" or "error"
	Kind    string
	Message string
}

const maxSyncMsg = 64 << 10

func sendMsg(sock *os.File, m syncMsg, fd int) error {
	b := []byte(m.Type + "\x00" + m.Kind + "\x00" + m.Message)
	if len(b) > maxSyncMsg {
		b = b[:maxSyncMsg]
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	return unix.Sendmsg(int(sock.Fd()), b, oob, nil, 0)
}

// recvMsg reads one message and the descriptor passed with it, if any (-1).
// io.EOF-like end is reported as ok=false with a nil error.
func recvMsg(sock *os.File) (m syncMsg, fd int, ok bool, err error) {
	buf := make([]byte, maxSyncMsg)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return m, -1, false, fmt.Errorf("read from container init: %w", err)
		}
		if n == 0 && oobn == 0 {
			return m, -1, false, nil
		}
		fd = -1
		if oobn > 0 {
			cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil && len(cmsgs) > 0 {
				if fds, err := unix.ParseUnixRights(&cmsgs[0]); err == nil && len(fds) > 0 {
					fd = fds[0]
					for _, extra := range fds[1:] {
						unix.Close(extra)
					}
				}
			}
		}
		f := strings.SplitN(string(buf[:n]), "\x00", 3)
		if len(f) != 3 {
			if fd >= 0 {
				unix.Close(fd)
			}
			return m, -1, false, fmt.Errorf("read from container init: %w", errors.New("malformed message"))
		}
		m = syncMsg{Type: f[0], Kind: f[1], Message: f[2]}
		return m, fd, true, nil
	}
}
