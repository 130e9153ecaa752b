package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// `stepbox attach`: a client of the socket the monitor listens on while the
// payload runs (attach_lean.go has the monitor's side and the frames).

// attachSocketName is the socket in the container's directory.
const attachSocketName = "attach.sock"

// listenAttach makes the container's attach socket, for the monitor to
// hand on to its watch phase. A socket's path must fit sun_path (108
// bytes, unix(7)) and a --root may be longer: it is bound through the
// directory's descriptor, /proc/self/fd/N/attach.sock, which always fits.
func listenAttach(dir string) (*os.File, error) {
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(d)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	_ = unix.Unlinkat(d, attachSocketName, 0) // a dead monitor's
	path := "/proc/self/fd/" + strconv.Itoa(d) + "/" + attachSocketName
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: path})
	if err == nil {
		err = unix.Fchmodat(d, attachSocketName, 0o600, 0)
	}
	if err == nil {
		err = unix.Listen(fd, 8)
	}
	if err != nil {
		unix.Close(fd)
		_ = unix.Unlinkat(d, attachSocketName, 0)
		return nil, fmt.Errorf("attach socket in %s: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), attachSocketName), nil
}

// ErrNotAttachable: the container has no monitor to attach to.
var ErrNotAttachable = errors.New("cannot attach")

// Attachment is a connection to a running container's monitor.
type Attachment struct {
	conn *net.UnixConn
	buf  []byte
	// Terminal and Stdin are how the container runs: its output is one
	// stream on a terminal (-t); input reaches it only with -i.
	Terminal, Stdin bool
	exited          bool
}

// Attach connects to the monitor of the running container c.
func (c *Container) Attach() (*Attachment, error) {
	st := c.State()
	if st.Status != Running {
		return nil, hint.With(&kindError{fmt.Sprintf("cannot attach to container %s: it is %s", st.DisplayName(), st.Status), ErrWrongState},
			"start it first: stepbox start "+st.DisplayName())
	}
	if st.Detached == nil {
		return nil, hint.With(&kindError{fmt.Sprintf("cannot attach to container %s: it runs in the foreground of the stepbox run that started it", st.DisplayName()), ErrNotAttachable},
			"only a container run with -d has a monitor to attach to")
	}
	a, err := c.dialAttach(st.DisplayName())
	if err != nil {
		return nil, hint.With(&kindError{fmt.Sprintf("cannot attach to container %s: its monitor does not listen (%v)", st.DisplayName(), errors.Unwrap(err)), ErrNotAttachable},
			"a container started by an older stepbox has no attach socket: restart it, or read its output with stepbox logs -f")
	}
	a.Stdin = st.Detached.Stdin
	return a, nil
}

// dialAttach connects to the attach socket in the container's directory.
func (c *Container) dialAttach(name string) (*Attachment, error) {
	spec, err := readSpec(c.dir)
	if err != nil {
		return nil, err
	}
	conn, err := c.dialSocket(name)
	if err != nil {
		return nil, err
	}
	return newAttachment(conn, spec), nil
}

func newAttachment(conn *net.UnixConn, spec *specs.Spec) *Attachment {
	a := &Attachment{conn: conn, buf: make([]byte, 64<<10)}
	a.Terminal = spec.Process != nil && spec.Process.Terminal
	return a
}

func (c *Container) dialSocket(name string) (*net.UnixConn, error) {
	d, err := os.Open(c.dir)
	if err != nil {
		return nil, fmt.Errorf("attach to %s: %w", name, err)
	}
	defer d.Close()
	// Through the directory's descriptor, as listenAttach binds it.
	path := "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + attachSocketName
	return net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
}

// Recv returns the next output and its stream (1 stdout, 2 stderr). At the
// end it returns io.EOF when the payload exited, or ErrDropped when the
// monitor let this client go (too slow, or the monitor died).
func (a *Attachment) Recv() (stream int, data []byte, err error) {
	for {
		n, err := a.conn.Read(a.buf)
		if n == 0 || err != nil {
			if a.exited {
				return 0, nil, io.EOF
			}
			return 0, nil, ErrDropped
		}
		switch a.buf[0] {
		case frameStdout, frameStderr:
			return int(a.buf[0]), a.buf[1:n], nil
		case frameExit:
			a.exited = true
		}
	}
}

// ErrDropped: the monitor closed an attachment without the payload's exit.
var ErrDropped = errors.New("the container's monitor let this attach go")

// Write sends input to the payload.
func (a *Attachment) Write(p []byte) (int, error) {
	const chunk = 8 << 10 // the monitor reads frames into 16 KiB
	for off := 0; off < len(p); off += chunk {
		part := p[off:min(len(p), off+chunk)]
		if _, err := a.conn.Write(append([]byte{frameInput}, part...)); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// Resize sets the size of the container's terminal.
func (a *Attachment) Resize(rows, cols uint16) error {
	b := []byte{frameResize, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[1:], rows)
	binary.BigEndian.PutUint16(b[3:], cols)
	_, err := a.conn.Write(b)
	return err
}

// Close ends the attachment; the container runs on.
func (a *Attachment) Close() error { return a.conn.Close() }
