package sandbox

import (
	"errors"
	"fmt"
)

// Kinds of failure the command line turns into docker's exit codes.
var (
	// ErrNotFound: the payload's executable does not exist in the container
	// (exit 127).
	ErrNotFound = errors.New("executable file not found")
	// ErrCannotExecute: the executable exists but execve(2) refused it
	// (exit 126).
	ErrCannotExecute = errors.New("cannot execute")
	// ErrNameInUse: a container with that id exists.
	ErrNameInUse = errors.New("name already in use")
	// ErrNoContainer: no container with that id.
	ErrNoContainer = errors.New("no such container")
	// ErrInvalidSpec: the description cannot be run as written.
	ErrInvalidSpec = errors.New("invalid container description")
	// ErrWrongState: the operation does not fit the container's state.
	ErrWrongState = errors.New("wrong container state")
)

// InitError is a failure reported by the container's init over the sync
// socket: the step that failed and the errno text, e.g.
// "pivot_root /var/lib/stepbox/rootfs: invalid argument".
type InitError struct {
	Kind    string // "notfound", "noexec" or "" (any other step)
	Message string
}

func (e *InitError) Error() string { return e.Message }

// Unwrap lets errors.Is match ErrNotFound and ErrCannotExecute.
func (e *InitError) Unwrap() error {
	switch e.Kind {
	case "notfound":
		return ErrNotFound
	case "noexec":
		return ErrCannotExecute
	}
	return nil
}

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, a...))
}
