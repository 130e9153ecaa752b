package nsinspect

import (
	"os"
)

// DefaultReference picks the process that stands for "the host" when the
// user names none: PID 1. Where PID 1 cannot be read (some VM and sandbox
// inits are protected even from root), kthreadd (PID 2) stands in: kernel
// threads always live in the initial namespaces (init_nsproxy). It is used
// only when it is really kthreadd in the reader's PID namespace and can be
// read; otherwise PID 1 stays, and its rows will say unknown.
func (r Reader) DefaultReference() (pid int, note string) {
	if _, err := os.Readlink(r.path(1, "ns/mnt")); err == nil || !os.IsPermission(err) {
		return 1, ""
	}
	b, fe := r.read(2, "status")
	if fe != nil {
		return 1, ""
	}
	st, err := ParseStatus(b)
	if err != nil || st.Name != "kthreadd" || st.PPid != 0 {
		return 1, ""
	}
	if _, err := os.Readlink(r.path(2, "ns/mnt")); err != nil {
		return 1, ""
	}
	return 2, "PID 1 is unreadable; kthreadd is always in the initial namespaces"
}
