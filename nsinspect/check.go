package nsinspect

import (
	"strconv"
	"strings"
)

// Status is the outcome of one check.
type Status string

// The statuses, from best to worst. Unknown is never a pass: it means the
// inspector could not read what the check needs (usually permission).
const (
	Pass    Status = "pass"
	Warn    Status = "warn"
	Fail    Status = "fail"
	Unknown Status = "unknown"
	Skipped Status = "skipped"
)

// Statuses lists every status in report order.
var Statuses = []Status{Pass, Warn, Fail, Unknown, Skipped}

// Check is one finding of Compare: the target's value against the
// reference's, and what it means.
type Check struct {
	ID          string `json:"id"`       // stable: ns.uts, caps.effective, ...
	Category    string `json:"category"` // namespaces, credentials, capabilities, security, filesystem, resources, network, ipc
	Title       string `json:"title"`
	Status      Status `json:"status"`
	Target      string `json:"target"`    // the target's value, short
	Reference   string `json:"reference"` // the reference's value, short
	Note        string `json:"note"`      // the first clause of Detail, for a table cell
	Detail      string `json:"detail"`    // one sentence: what was seen and what it means
	Remediation string `json:"remediation,omitempty"`
}

// CheckIDs lists every ID Compare emits, in its order.
var CheckIDs = func() []string {
	ids := []string{}
	for _, t := range NamespaceTypes {
		ids = append(ids, "ns."+t)
	}
	return append(ids, "userns.map", "uid.root", "pid.nspid",
		"caps.effective", "caps.bounding", "caps.ambient",
		"sec.seccomp", "sec.nnp", "sec.lsm",
		"root.pivot", "mnt.propagation", "mnt.sensitive", "proc.masked", "proc.readonly",
		"cgroup.ns", "cgroup.path", "uts.hostname", "net.ifaces", "ipc.sysv")
}()

// unknownCheck fills c as unknown because of fe, on the side named who.
func unknownCheck(c Check, who string, fe *FieldError) Check {
	c.Status = Unknown
	if c.Target == "" {
		c.Target = "?"
	}
	if c.Reference == "" {
		c.Reference = "?"
	}
	c.Detail = "unreadable" + errnoSuffix(fe) + ": the " + who + "'s " + fe.Path + ": " + errText(fe)
	if fe.Denied() {
		c.Remediation = "run stepbox as root: reading another process's namespaces needs CAP_SYS_PTRACE, entering them CAP_SYS_ADMIN"
	}
	return c
}

func errnoSuffix(fe *FieldError) string {
	if fe.Errno == "" {
		return ""
	}
	return " (" + fe.Errno + ")"
}

// noteOf is the first clause of a detail: up to its first ": " or "; ".
func noteOf(detail string) string {
	cut := len(detail)
	for _, sep := range []string{": ", "; "} {
		if i := strings.Index(detail, sep); i >= 0 && i < cut {
			cut = i
		}
	}
	return detail[:cut]
}

func errText(fe *FieldError) string {
	if fe.Errno != "" {
		return fe.Errno + " (" + fe.Msg + ")"
	}
	return fe.Msg
}

// firstErr returns the first non-nil error.
func firstErr(errs ...*FieldError) *FieldError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = itoa(n)
	}
	return strings.Join(s, sep)
}

// listOrNone joins names, or says "none".
func listOrNone(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, ", ")
}

// Compare judges target against reference (usually the host: PID 1, or
// kthreadd when PID 1 cannot be read) and returns one Check per ID of
// CheckIDs, in that order. It reads nothing: all it needs is in the
// snapshots, so it is deterministic and testable on fixtures.
func Compare(target, reference Snapshot) []Check {
	var out []Check
	for _, t := range NamespaceTypes {
		out = append(out, checkNamespace(t, target, reference))
	}
	out = append(out,
		checkUserNSMap(target, reference),
		checkUIDRoot(target, reference),
		checkNSpid(target, reference),
		checkCaps("caps.effective", "effective capabilities", target, reference),
		checkCaps("caps.bounding", "bounding set", target, reference),
		checkCaps("caps.ambient", "ambient capabilities", target, reference),
		checkSeccomp(target, reference),
		checkNNP(target, reference),
		checkLSM(target, reference),
		checkRootPivot(target, reference),
		checkPropagation(target, reference),
		checkSensitiveMounts(target, reference),
		checkMasked(target, reference),
		checkReadonly(target, reference),
		checkCgroupNS(target, reference),
		checkCgroupPath(target, reference),
		checkHostname(target, reference),
		checkInterfaces(target, reference),
		checkSysVIPC(target, reference),
	)
	for i := range out {
		out[i].Note = noteOf(out[i].Detail)
	}
	return out
}
