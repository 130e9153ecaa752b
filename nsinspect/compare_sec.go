package nsinspect

import (
	"slices"
	"strconv"
)

// capSummary is a short text for a table cell: "all 41", "14", "none".
func capSummary(s CapSet) string {
	switch n := len(s.Names); {
	case n == 0:
		return "none"
	case n >= len(CapNames) && s.Mask()&(1<<uint(len(CapNames))-1) == 1<<uint(len(CapNames))-1:
		return "all " + strconv.Itoa(len(CapNames))
	default:
		return strconv.Itoa(n) + " caps"
	}
}

func capSetOf(p ProcStatus, id string) CapSet {
	switch id {
	case "caps.bounding":
		return p.Caps.Bounding
	case "caps.ambient":
		return p.Caps.Ambient
	}
	return p.Caps.Effective
}

// ownUserNS reports whether the target is provably in a user namespace other
// than the reference's. Unknown counts as not: unknown is never isolated.
func ownUserNS(t, r Snapshot) bool {
	tu, ru := t.Namespace("user"), r.Namespace("user")
	return tu.Known() && ru.Known() && !tu.Same(ru)
}

func checkCaps(id, title string, t, r Snapshot) Check {
	c := Check{ID: id, Category: "capabilities", Title: title}
	if t.Status.Err != nil {
		return unknownCheck(c, "target", t.Status.Err)
	}
	set := capSetOf(t.Status, id)
	c.Target = capSummary(set)
	if r.Status.Err == nil {
		c.Reference = capSummary(capSetOf(r.Status, id))
	}
	var danger, extra []string
	for _, n := range set.Names {
		if _, bad := DangerousCaps[n]; bad {
			danger = append(danger, n)
		} else if !slices.Contains(DockerDefaultCaps, n) {
			extra = append(extra, n)
		}
	}
	namespaced := ownUserNS(t, r)
	switch {
	case len(set.Names) == 0:
		c.Status = Pass
		c.Detail = "empty"
	case len(danger) > 0 && namespaced:
		c.Status = Warn
		c.Detail = "namespaced " + listOrNone(danger) + ": only over its own user namespace's objects (still kernel attack surface)"
	case len(danger) > 0:
		c.Status = Fail
		c.Detail = "host " + listOrNone(danger) + ": in the host's user namespace; " + danger[0] + ": " + DangerousCaps[danger[0]]
		c.Remediation = "drop them (capset(2), or the runtime's cap-drop); Docker's default keeps " + strconv.Itoa(len(DockerDefaultCaps))
		if id == "caps.bounding" && t.Status.NoNewPrivs == 1 {
			c.Status = Warn
			c.Detail = "bounding set keeps " + listOrNone(danger) + "; no_new_privs stops exec from regaining them"
		}
	case len(extra) > 0:
		c.Status = Warn
		c.Detail = "more than Docker's default set: " + listOrNone(extra)
	default:
		c.Status = Pass
		c.Detail = "within Docker's default set: " + listOrNone(set.Names)
	}
	if id == "caps.ambient" && c.Status == Pass && len(set.Names) > 0 {
		c.Status = Warn
		c.Detail = "ambient " + listOrNone(set.Names) + ": they survive execve of any program"
	}
	return c
}

var seccompModes = map[int]string{0: "off", 1: "strict", 2: "filter"}

func seccompText(p ProcStatus) string {
	switch {
	case p.Err != nil || p.Seccomp < 0:
		return "?"
	case p.Seccomp == 2 && p.SeccompFilters >= 0:
		return "filter ×" + strconv.Itoa(p.SeccompFilters)
	}
	return seccompModes[p.Seccomp]
}

func checkSeccomp(t, r Snapshot) Check {
	c := Check{ID: "sec.seccomp", Category: "security", Title: "seccomp"}
	if t.Status.Err != nil {
		return unknownCheck(c, "target", t.Status.Err)
	}
	c.Target, c.Reference = seccompText(t.Status), seccompText(r.Status)
	switch t.Status.Seccomp {
	case -1:
		c.Status, c.Detail = Unknown, "not reported: the kernel has no Seccomp line in /proc/PID/status"
	case 0:
		c.Status = Warn
		c.Detail = "no seccomp filter: every system call reaches the kernel"
		c.Remediation = "install a filter (seccomp(2) SECCOMP_SET_MODE_FILTER), e.g. Docker's default profile"
	case 1:
		c.Status, c.Detail = Pass, "strict mode: only read, write, _exit and sigreturn"
	default:
		c.Status = Pass
		c.Detail = "filtered: system calls pass a BPF filter"
		if t.Status.SeccompFilters >= 0 {
			c.Detail += " (" + strconv.Itoa(t.Status.SeccompFilters) + " installed)"
		}
	}
	return c
}

func checkNNP(t, r Snapshot) Check {
	c := Check{ID: "sec.nnp", Category: "security", Title: "no_new_privs"}
	if t.Status.Err != nil {
		return unknownCheck(c, "target", t.Status.Err)
	}
	flag := func(p ProcStatus) string {
		if p.Err != nil || p.NoNewPrivs < 0 {
			return "?"
		}
		return strconv.Itoa(p.NoNewPrivs)
	}
	c.Target, c.Reference = flag(t.Status), flag(r.Status)
	switch t.Status.NoNewPrivs {
	case -1:
		c.Status, c.Detail = Unknown, "not reported: the kernel has no NoNewPrivs (before Linux 4.10)"
	case 0:
		c.Status = Warn
		c.Detail = "not set: execve of a setuid or file-capability program can still raise privileges"
		c.Remediation = "set prctl(PR_SET_NO_NEW_PRIVS, 1) before exec"
	default:
		c.Status, c.Detail = Pass, "set: execve can never grant more privileges"
	}
	return c
}

func checkLSM(t, r Snapshot) Check {
	c := Check{ID: "sec.lsm", Category: "security", Title: "LSM label (AppArmor, SELinux)"}
	if t.LSM.Err != nil {
		return unknownCheck(c, "target", t.LSM.Err)
	}
	label := func(l LSM) string {
		if l.Err != nil {
			return "?"
		}
		if l.Label == "" {
			return "none"
		}
		return l.Label
	}
	c.Target, c.Reference = label(t.LSM), label(r.LSM)
	switch {
	case t.LSM.Confined():
		c.Status, c.Detail = Pass, "confined by "+t.LSM.Label
	case t.LSM.Label == "" && r.LSM.Err == nil && r.LSM.Label == "":
		c.Status, c.Detail = Skipped, "no LSM: none that labels processes is active on this host"
	default:
		c.Status = Warn
		c.Detail = "unconfined: no mandatory access control policy applies"
		c.Remediation = "run it under an AppArmor profile or SELinux type"
	}
	return c
}
