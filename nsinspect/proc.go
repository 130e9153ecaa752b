package nsinspect

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reader reads process facts from a proc filesystem.
type Reader struct {
	// Root is where procfs is: "/proc" for the live system, or a fixture
	// tree (testdata/proc) whose files carry the same names. Facts that can
	// only be had by entering a namespace (hostname, interfaces, SysV IPC)
	// are read only from the live /proc.
	Root string
}

// Live reads the running system.
var Live = Reader{Root: "/proc"}

// ErrNoProcess is returned by Take when the PID does not exist.
var ErrNoProcess = errors.New("no such process")

func (r Reader) live() bool { return filepath.Clean(r.Root) == "/proc" }

func (r Reader) path(pid int, name string) string {
	return filepath.Join(r.Root, strconv.Itoa(pid), name)
}

// read returns the contents of /proc/PID/name, or a FieldError.
func (r Reader) read(pid int, name string) ([]byte, *FieldError) {
	p := r.path(pid, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, newFieldError("read", p, err)
	}
	return b, nil
}

// FieldError records why one part of a Snapshot could not be read. Its
// presence turns every check that needs the part into "unknown".
type FieldError struct {
	Op    string `json:"op"`              // read, readlink, stat, setns, parse
	Path  string `json:"path"`            // the file involved
	Errno string `json:"errno,omitempty"` // EACCES, ENOENT, EPERM, ...
	Msg   string `json:"message"`         // the error as text
}

func (e *FieldError) Error() string { return e.Op + " " + e.Path + ": " + e.Msg }

// Denied reports whether the kernel refused access (as opposed to the file
// not existing or not parsing): the caller lacks privilege over the target.
func (e *FieldError) Denied() bool {
	return e != nil && (e.Errno == "EACCES" || e.Errno == "EPERM")
}

// Missing reports whether the file does not exist (an older kernel, a
// feature that is not built in, or a process that just exited).
func (e *FieldError) Missing() bool { return e != nil && e.Errno == "ENOENT" }

func newFieldError(op, path string, err error) *FieldError {
	fe := &FieldError{Op: op, Path: path, Msg: err.Error()}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		fe.Msg = pe.Err.Error()
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		fe.Errno = unix.ErrnoName(errno)
	}
	return fe
}

func parseError(path string, err error) *FieldError {
	return &FieldError{Op: "parse", Path: path, Msg: err.Error()}
}

// errf is fmt.Errorf, kept short for the parsers.
var errf = fmt.Errorf
