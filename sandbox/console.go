package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/rootfs"
)

// setupConsole gives the payload a terminal made inside the container: the
// pty pair comes from the container's own devpts (mounted with newinstance),
// so its name and /dev/console make sense in there. The slave becomes the
// standard streams and controlling terminal; the master goes to the parent
// over the sync socket (SCM_RIGHTS), like runc's --console-socket.
func setupConsole(sync *os.File, inRootfs bool) error {
	master, slave, err := OpenPTY()
	if err != nil {
		return err
	}
	defer unix.Close(master)
	defer unix.Close(slave)
	if inRootfs {
		if err := rootfs.BindConsole(slave); err != nil {
			return err
		}
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	// We are a session leader (Setsid at clone), so the terminal can become
	// our controlling one.
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make the pty the controlling terminal: %w", err)
	}
	if err := sendMsg(sync, syncMsg{Type: "console"}, master); err != nil {
		return fmt.Errorf("send the console to the parent: %w", err)
	}
	return nil
}

// OpenPTY opens a new pseudo-terminal from the /dev/ptmx of the caller's
// mount namespace (the container's own devpts, inside one) and returns its
// master and its peer (the slave), both close-on-exec. The peer comes from
// the TIOCGPTPEER ioctl on the master itself: no path lookup in /dev/pts that
// a hostile container could redirect (ioctl_tty(2), Linux 4.13).
func OpenPTY() (master, peer int, err error) {
	master, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(master)
		return -1, -1, fmt.Errorf("unlock pty: %w", err)
	}
	peer, err = ptyPeer(master)
	if err != nil {
		unix.Close(master)
		return -1, -1, err
	}
	return master, peer, nil
}

// ptyPeer is TIOCGPTPEER with O_RDWR|O_NOCTTY as its argument, which
// x/sys's IoctlRetInt cannot pass.
func ptyPeer(master int) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return -1, fmt.Errorf("open pty peer: %w", errno)
	}
	return int(r), nil
}

// receivedConsole wraps the master side of a terminal the sync socket
// brought (setupConsole's "console" message). Non-blocking before
// os.NewFile, so reads go through Go's poller and Close wakes a blocked
// reader (a pty master is blocking by default).
func receivedConsole(fd int, from string) (*os.File, error) {
	if fd < 0 {
		return nil, fmt.Errorf("%s sent a console without its descriptor", from)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("console: %w", err)
	}
	return os.NewFile(uintptr(fd), "console"), nil
}
