package security

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// capabilityNames lists every Linux capability by number, as
// include/uapi/linux/capability.h numbers them (capabilities(7)).
var capabilityNames = [...]string{
	unix.CAP_CHOWN:              "CAP_CHOWN",
	unix.CAP_DAC_OVERRIDE:       "CAP_DAC_OVERRIDE",
	unix.CAP_DAC_READ_SEARCH:    "CAP_DAC_READ_SEARCH",
	unix.CAP_FOWNER:             "CAP_FOWNER",
	unix.CAP_FSETID:             "CAP_FSETID",
	unix.CAP_KILL:               "CAP_KILL",
	unix.CAP_SETGID:             "CAP_SETGID",
	unix.CAP_SETUID:             "CAP_SETUID",
	unix.CAP_SETPCAP:            "CAP_SETPCAP",
	unix.CAP_LINUX_IMMUTABLE:    "CAP_LINUX_IMMUTABLE",
	unix.CAP_NET_BIND_SERVICE:   "CAP_NET_BIND_SERVICE",
	unix.CAP_NET_BROADCAST:      "CAP_NET_BROADCAST",
	unix.CAP_NET_ADMIN:          "CAP_NET_ADMIN",
	unix.CAP_NET_RAW:            "CAP_NET_RAW",
	unix.CAP_IPC_LOCK:           "CAP_IPC_LOCK",
	unix.CAP_IPC_OWNER:          "CAP_IPC_OWNER",
	unix.CAP_SYS_MODULE:         "CAP_SYS_MODULE",
	unix.CAP_SYS_RAWIO:          "CAP_SYS_RAWIO",
	unix.CAP_SYS_CHROOT:         "CAP_SYS_CHROOT",
	unix.CAP_SYS_PTRACE:         "CAP_SYS_PTRACE",
	unix.CAP_SYS_PACCT:          "CAP_SYS_PACCT",
	unix.CAP_SYS_ADMIN:          "CAP_SYS_ADMIN",
	unix.CAP_SYS_BOOT:           "CAP_SYS_BOOT",
	unix.CAP_SYS_NICE:           "CAP_SYS_NICE",
	unix.CAP_SYS_RESOURCE:       "CAP_SYS_RESOURCE",
	unix.CAP_SYS_TIME:           "CAP_SYS_TIME",
	unix.CAP_SYS_TTY_CONFIG:     "CAP_SYS_TTY_CONFIG",
	unix.CAP_MKNOD:              "CAP_MKNOD",
	unix.CAP_LEASE:              "CAP_LEASE",
	unix.CAP_AUDIT_WRITE:        "CAP_AUDIT_WRITE",
	unix.CAP_AUDIT_CONTROL:      "CAP_AUDIT_CONTROL",
	unix.CAP_SETFCAP:            "CAP_SETFCAP",
	unix.CAP_MAC_OVERRIDE:       "CAP_MAC_OVERRIDE",
	unix.CAP_MAC_ADMIN:          "CAP_MAC_ADMIN",
	unix.CAP_SYSLOG:             "CAP_SYSLOG",
	unix.CAP_WAKE_ALARM:         "CAP_WAKE_ALARM",
	unix.CAP_BLOCK_SUSPEND:      "CAP_BLOCK_SUSPEND",
	unix.CAP_AUDIT_READ:         "CAP_AUDIT_READ",
	unix.CAP_PERFMON:            "CAP_PERFMON",
	unix.CAP_BPF:                "CAP_BPF",
	unix.CAP_CHECKPOINT_RESTORE: "CAP_CHECKPOINT_RESTORE",
}

// Capabilities returns the name of every capability this package knows, in
// kernel order (CAP_CHOWN is 0, CAP_CHECKPOINT_RESTORE is 40).
func Capabilities() []string { return slices.Clone(capabilityNames[:]) }

// CapabilityNumber returns the kernel's number of a capability given by its
// canonical name ("CAP_SYS_ADMIN" is 21).
func CapabilityNumber(name string) (int, bool) {
	for i, n := range capabilityNames {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// NormalizeCapability turns "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" into
// "CAP_NET_ADMIN". An unknown name is an error: a typo in --cap-drop must not
// leave the capability in place (runc and crun accept unknown names).
func NormalizeCapability(name string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	if _, ok := CapabilityNumber(c); !ok {
		return "", hint.With(fmt.Errorf("unknown capability %q", name),
			"see capabilities(7) for the names, e.g. NET_ADMIN or CAP_NET_ADMIN")
	}
	return c, nil
}

// DefaultCapabilities is docker's set for a container that is not
// privileged (moby/moby oci/caps/defaults.go): 14 capabilities, enough for a
// root payload to own files, bind low ports, switch users and kill its own
// processes, but not to mount, load modules, trace or change the clock.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}

// LastCap is the highest capability the running kernel knows, from
// /proc/sys/kernel/cap_last_cap (40 since Linux 5.9). Without /proc it is
// found by asking prctl(2) PR_CAPBSET_READ, which fails with EINVAL past it.
func LastCap() int { return lastCap() }

var lastCap = sync.OnceValue(func() int {
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n < 64 {
			return n
		}
	}
	lo, hi := 0, 63 // the answer is the largest c with PR_CAPBSET_READ(c) valid
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(mid), 0, 0, 0); err == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
})

// inBoundingSet reports whether the calling thread's bounding set holds cap.
func inBoundingSet(c int) bool {
	r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
	return err == nil && r == 1
}

// AllCapabilities is what --privileged gets: every capability that both the
// kernel knows and the runtime itself still holds in its bounding set. A
// capability the runtime lacks cannot be given to a child (capabilities(7):
// the bounding set only ever shrinks), so it is left out rather than
// failing the start; on a host whose supervisor dropped CAP_SYS_RESOURCE the
// privileged container simply does not have it. Asking for such a
// capability by name is an error (CheckCapabilities).
func AllCapabilities() []string {
	var out []string
	for c := 0; c <= min(LastCap(), len(capabilityNames)-1); c++ {
		if inBoundingSet(c) {
			out = append(out, capabilityNames[c])
		}
	}
	return out
}

// Merge applies --cap-add and --cap-drop to base with docker's rules
// (moby/moby oci/caps/utils.go TweakCapabilities):
//
//   - ALL in add: every available capability (AllCapabilities) except those
//     in drop; base is ignored, and an ALL in drop too does not matter.
//   - ALL in drop (and not in add): exactly the capabilities in add.
//   - otherwise: base without drop, then add.
//
// Names are normalized (case, CAP_ prefix) and an unknown one is an error.
// The result has no duplicates and is in kernel order.
func Merge(base, add, drop []string) ([]string, error) {
	addAll, adds, err := normalizeList(add)
	if err != nil {
		return nil, fmt.Errorf("--cap-add: %w", err)
	}
	dropAll, drops, err := normalizeList(drop)
	if err != nil {
		return nil, fmt.Errorf("--cap-drop: %w", err)
	}
	_, bases, err := normalizeList(base)
	if err != nil {
		return nil, err
	}
	var keep []string
	switch {
	case addAll:
		keep = AllCapabilities()
	case dropAll:
		keep = nil
	default:
		keep = bases
	}
	var set uint64
	for _, c := range keep {
		set |= capBit(c)
	}
	switch {
	case addAll:
		// All but drop; a name in add too is asked for explicitly, so it
		// stays even when the runtime lacks it and CheckCapabilities says so.
		for _, c := range adds {
			set |= capBit(c)
		}
		for _, c := range drops {
			set &^= capBit(c)
		}
	default:
		for _, c := range drops {
			set &^= capBit(c)
		}
		for _, c := range adds {
			set |= capBit(c)
		}
	}
	return maskNames(set), nil
}

// normalizeList normalizes names and reports whether "ALL" was among them.
func normalizeList(names []string) (all bool, out []string, err error) {
	for _, n := range names {
		if strings.EqualFold(strings.TrimSpace(n), "ALL") {
			all = true
			continue
		}
		c, err := NormalizeCapability(n)
		if err != nil {
			return false, nil, err
		}
		out = append(out, c)
	}
	return all, out, nil
}

// SpecCapabilities is the OCI description of a capability list the way
// docker writes it: bounding, effective and permitted hold the list;
// inheritable stays empty (CVE-2022-24769: a non-empty inheritable set let a
// binary with inheritable file capabilities gain them), and so does ambient.
func SpecCapabilities(caps []string) *specs.LinuxCapabilities {
	return &specs.LinuxCapabilities{
		Bounding:  slices.Clone(caps),
		Effective: slices.Clone(caps),
		Permitted: slices.Clone(caps),
	}
}

func capBit(canonical string) uint64 {
	n, _ := CapabilityNumber(canonical)
	return 1 << n
}

func maskNames(m uint64) []string {
	var out []string
	for i, n := range capabilityNames {
		if m&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// capSets is a LinuxCapabilities as bit masks.
type capSets struct {
	bounding, effective, inheritable, permitted, ambient uint64
}

// parseCapSets turns the five name lists into masks; an unknown name is an
// error naming the set it is in.
func parseCapSets(c *specs.LinuxCapabilities) (capSets, error) {
	var s capSets
	for _, set := range []struct {
		name  string
		list  []string
		field *uint64
	}{
		{"bounding", c.Bounding, &s.bounding},
		{"effective", c.Effective, &s.effective},
		{"inheritable", c.Inheritable, &s.inheritable},
		{"permitted", c.Permitted, &s.permitted},
		{"ambient", c.Ambient, &s.ambient},
	} {
		for _, n := range set.list {
			c, err := NormalizeCapability(n)
			if err != nil {
				return capSets{}, fmt.Errorf("%s capabilities: %w", set.name, err)
			}
			*set.field |= capBit(c)
		}
	}
	return s, nil
}

// CheckCapabilities tells, before anything starts, whether caps can be
// given here: every name known, known to this kernel, held in the runtime's
// own bounding set, and the sets consistent with the kernel's rules
// (capabilities(7), capset(2)):
//
//   - effective must be within permitted;
//   - inheritable must be within bounding (capset refuses anything else);
//   - ambient must be within both permitted and inheritable.
//
// Finalize runs the same check; calling it early turns a failed container
// start into one clear line.
func CheckCapabilities(caps *specs.LinuxCapabilities) error {
	if caps == nil {
		return nil
	}
	s, err := parseCapSets(caps)
	if err != nil {
		return err
	}
	return s.check()
}

func (s capSets) check() error {
	all := s.bounding | s.effective | s.inheritable | s.permitted | s.ambient
	last := LastCap()
	for c := range capabilityNames {
		if all&(1<<c) == 0 {
			continue
		}
		if c > last {
			return hint.With(fmt.Errorf("capability %s is unknown to this kernel (its last is %d)", capabilityNames[c], last),
				"drop it with --cap-drop, or run on a newer kernel")
		}
		if !inBoundingSet(c) {
			return hint.With(fmt.Errorf("capability %s is not in the runtime's own bounding set, so no child can have it", capabilityNames[c]),
				"drop it with --cap-drop "+strings.TrimPrefix(capabilityNames[c], "CAP_")+"; whatever started stepbox took it away")
		}
	}
	if d := s.effective &^ s.permitted; d != 0 {
		return fmt.Errorf("effective capabilities %s are not permitted", strings.Join(maskNames(d), ","))
	}
	if d := s.inheritable &^ s.bounding; d != 0 {
		return fmt.Errorf("inheritable capabilities %s are not in the bounding set", strings.Join(maskNames(d), ","))
	}
	if d := s.ambient &^ (s.permitted & s.inheritable); d != 0 {
		return hint.With(fmt.Errorf("ambient capabilities %s are not both permitted and inheritable", strings.Join(maskNames(d), ",")),
			"capabilities(7): a capability can be ambient only if it is in the permitted and the inheritable set")
	}
	return nil
}
