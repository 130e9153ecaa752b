package lessons

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// bridgeTerminal connects the learner's terminal to a shell's pty master
// until the shell exits. It polls both sides itself instead of leaving a
// goroutine blocked on standard input, which would swallow the key the
// learner presses next to go on with the lesson.
func bridgeTerminal(in *os.File, out io.Writer, master *os.File) error {
	if term.IsTerminal(int(in.Fd())) {
		st, err := term.MakeRaw(int(in.Fd()))
		if err == nil {
			defer term.Restore(int(in.Fd()), st)
		}
		if ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ); err == nil {
			_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
		}
	}
	buf := make([]byte, 4096)
	fds := []unix.PollFd{{Fd: int32(in.Fd()), Events: unix.POLLIN}, {Fd: int32(master.Fd()), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return err
		}
		if fds[1].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0 {
			n, err := unix.Read(int(master.Fd()), buf)
			if n > 0 {
				out.Write(buf[:n])
			}
			// EIO: the last holder of the pty's slave side is gone.
			if n <= 0 && err != unix.EAGAIN {
				return nil
			}
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			n, err := unix.Read(int(in.Fd()), buf)
			if n <= 0 && err != unix.EAGAIN {
				fds[0].Fd = -1 // end of input: keep showing output until the shell ends
				continue
			}
			if n > 0 {
				writeAll(int(master.Fd()), buf[:n])
			}
		}
	}
}

func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EAGAIN {
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, 1000)
			continue
		}
		if err != nil {
			return
		}
		b = b[n:]
	}
}
