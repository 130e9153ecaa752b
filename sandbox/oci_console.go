package sandbox

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// AnnotationInit, set to "true" in a bundle's annotations, asks for
// stepbox's minimal init as PID 1 (docker run --init). The OCI command line
// otherwise runs the bundle's process as PID 1, as runc does.
const AnnotationInit = "org.stepbox.init"

// SendConsole hands the master side of a container's terminal to the
// caller's AF_UNIX socket (--console-socket), the way runc does: one
// message with the terminal's name as its data and the descriptor in
// SCM_RIGHTS. The engine (conmon, containerd's shim) then owns the
// terminal; our copy is closed by the caller.
func SendConsole(socketPath string, console *os.File) error {
	if console == nil {
		return errors.New("console socket: the container has no terminal")
	}
	conn, err := net.Dial("unix", socketPath)
	if err != nil {
		return fmt.Errorf("console socket %s: %w", socketPath, err)
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("console socket %s: not a unix socket", socketPath)
	}
	name := console.Name()
	if n, err := ptsName(console); err == nil {
		name = n
	}
	if _, _, err := uc.WriteMsgUnix([]byte(name), unix.UnixRights(int(console.Fd())), nil); err != nil {
		return fmt.Errorf("console socket %s: send the terminal: %w", socketPath, err)
	}
	return nil
}

// ptsName is the terminal's name inside the container (TIOCGPTN).
func ptsName(master *os.File) (string, error) {
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/dev/pts/%d", n), nil
}

// WritePidFile writes pid to path atomically, as runc's --pid-file does.
func WritePidFile(path string, pid int) error { return writePidFile(path, pid) }
