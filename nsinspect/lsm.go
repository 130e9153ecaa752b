package nsinspect

import (
	"strings"
)

// LSM is the security-module label of a process: an AppArmor profile or an
// SELinux context. Label is "" when no LSM that labels processes is active.
type LSM struct {
	Label  string      `json:"label"`
	Module string      `json:"module,omitempty"` // "apparmor" when attr/apparmor answered
	Err    *FieldError `json:"error,omitempty"`
}

// Confined reports whether the label names a policy: AppArmor says
// "unconfined", and an SELinux unconfined_t or spc_t domain confines nothing.
func (l LSM) Confined() bool {
	if l.Label == "" || strings.HasPrefix(l.Label, "unconfined") {
		return false
	}
	return !strings.Contains(l.Label, ":unconfined_t:") && !strings.Contains(l.Label, ":spc_t:")
}

// ParseLSMLabel trims the kernel's trailing newline and NUL from attr/current.
func ParseLSMLabel(b []byte) string {
	return strings.TrimRight(string(b), "\x00\n ")
}

func (r Reader) lsm(pid int) LSM {
	// attr/apparmor/current (Linux 5.8) names AppArmor's view even when
	// another LSM owns attr/current; EINVAL or ENOENT means "not loaded".
	if b, fe := r.read(pid, "attr/apparmor/current"); fe == nil {
		return LSM{Label: ParseLSMLabel(b), Module: "apparmor"}
	}
	b, fe := r.read(pid, "attr/current")
	switch {
	case fe == nil:
		return LSM{Label: ParseLSMLabel(b)}
	case fe.Errno == "EINVAL" || fe.Missing():
		return LSM{}
	}
	return LSM{Err: fe}
}
