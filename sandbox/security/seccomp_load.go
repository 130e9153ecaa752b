package security

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// A bpf.RawInstruction must be laid out as the kernel's struct sock_filter
// (u16 code, u8 jt, u8 jf, u32 k) for Load to pass the program as it is.
var _ [unsafe.Sizeof(bpf.RawInstruction{}) - unix.SizeofSockFilter]struct{}
var _ [unix.SizeofSockFilter - unsafe.Sizeof(bpf.RawInstruction{})]struct{}

// Load installs the filter on the calling thread with seccomp(2)
// SECCOMP_SET_MODE_FILTER. Call it on the thread that will execve the
// payload (runtime.LockOSThread), after no_new_privs is set, or while the
// thread still has CAP_SYS_ADMIN: the kernel refuses a filter from a thread
// with neither (seccomp(2), EACCES), so that a filter cannot be used to
// confuse a setuid program.
//
// The filter is loaded without SECCOMP_FILTER_FLAG_TSYNC, on purpose: it
// must hold for the payload, and execve(2) keeps only the calling thread
// (and its filter); the other threads of the Go runtime die at execve. TSYNC
// would also confine those runtime threads for the few microseconds left,
// with nothing gained, and fail the whole load if one of them were in a
// different seccomp state. From Load to execve the thread must only make
// calls the filter allows (docker's default profile allows what the Go
// runtime and execve need).
//
// A filter cannot be removed; a second Load stacks a second filter, and the
// kernel applies the strictest answer of all (seccomp(2)).
func (f *Filter) Load() error {
	fd, err := f.LoadListener()
	if fd >= 0 {
		// Nobody asked for the listener: with it closed, a notified call
		// fails with ENOSYS (seccomp_unotify(2)).
		unix.Close(fd)
	}
	return err
}

// Notifies reports whether the filter hands out a listener when loaded
// (SCMP_ACT_NOTIFY).
func (f *Filter) Notifies() bool {
	return f != nil && f.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
}

// LoadListener is Load, returning the user-notification listener the
// kernel gives for a filter with SCMP_ACT_NOTIFY (-1 for another): the
// runtime passes it to the profile's listenerPath (seccomp_unotify(2)).
func (f *Filter) LoadListener() (int, error) {
	if f == nil || len(f.Program) == 0 {
		return -1, errors.New("seccomp: empty filter")
	}
	if len(f.Program) > maxInstructions {
		return -1, fmt.Errorf("seccomp: the filter has %d instructions, the kernel takes at most %d", len(f.Program), maxInstructions)
	}
	prog := unix.SockFprog{
		Len:    uint16(len(f.Program)),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&f.Program[0])),
	}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f.Flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	if errno != 0 {
		err := fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
		switch errno {
		case unix.EACCES:
			return -1, hint.With(err, "set no_new_privs first, or load the filter before dropping CAP_SYS_ADMIN")
		case unix.EINVAL:
			return -1, hint.With(err, "this kernel refused the program or a flag; check the profile's flags")
		}
		return -1, err
	}
	if f.Notifies() {
		unix.CloseOnExec(int(r))
		return int(r), nil
	}
	return -1, nil
}

// SetNoNewPrivileges sets no_new_privs on the calling thread (prctl(2)
// PR_SET_NO_NEW_PRIVS): from then on execve(2) grants nothing, not the
// set-user-ID bit, not file capabilities. It is inherited by children and
// across execve and can never be unset.
func SetNoNewPrivileges() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	return nil
}
