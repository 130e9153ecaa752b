package nsinspect

import (
	"strconv"
)

// CapNames are the capabilities of capabilities(7) by bit number, up to
// CAP_CHECKPOINT_RESTORE (40, Linux 5.9). A bit past the table is named
// CAP_<n>, so a newer kernel's capability is shown, not dropped.
var CapNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// DangerousCaps are the capabilities that defeat container isolation when
// held in the host's user namespace, each with the reason.
var DangerousCaps = map[string]string{
	"CAP_SYS_ADMIN":          "mount, setns, bpf, and most of the kernel's admin calls",
	"CAP_SYS_MODULE":         "loads kernel modules: code in the kernel",
	"CAP_SYS_PTRACE":         "traces and reads other processes' memory",
	"CAP_SYS_RAWIO":          "raw I/O ports and /dev/mem",
	"CAP_DAC_READ_SEARCH":    "open_by_handle_at reads host files (the 'shocker' escape)",
	"CAP_NET_ADMIN":          "reconfigures network interfaces, routes and firewall",
	"CAP_BPF":                "loads BPF programs",
	"CAP_PERFMON":            "perf events and BPF tracing of the whole system",
	"CAP_SYS_BOOT":           "reboots the machine, kexec",
	"CAP_SYS_TIME":           "sets the system clock for everyone",
	"CAP_MAC_ADMIN":          "changes the LSM policy",
	"CAP_MAC_OVERRIDE":       "bypasses the LSM policy",
	"CAP_SYSLOG":             "reads kernel addresses from the log",
	"CAP_CHECKPOINT_RESTORE": "sets PIDs and reads other processes' state",
}

// DockerDefaultCaps is the set Docker and containerd grant a container by
// default (moby's oci/caps/defaults.go): more than this is a choice someone made.
var DockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// CapName is the name of capability bit n.
func CapName(n int) string {
	if n >= 0 && n < len(CapNames) {
		return CapNames[n]
	}
	return "CAP_" + strconv.Itoa(n)
}

// CapSet is one capability set as /proc/PID/status shows it.
type CapSet struct {
	Hex   string   `json:"hex"`   // the kernel's 16 hex digits
	Names []string `json:"names"` // decoded, in bit order
}

// Mask returns the set as bits; an unparsable Hex is the empty set.
func (c CapSet) Mask() uint64 {
	m, _ := strconv.ParseUint(c.Hex, 16, 64)
	return m
}

// Has reports whether the set holds the named capability.
func (c CapSet) Has(name string) bool {
	for _, n := range c.Names {
		if n == name {
			return true
		}
	}
	return false
}

// ParseCapSet decodes a hex mask such as "000001ffffffffff".
func ParseCapSet(hex string) (CapSet, error) {
	m, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return CapSet{}, errf("capability mask %q: %w", hex, err)
	}
	return CapSetOf(m), nil
}

// CapSetOf builds a set from bits.
func CapSetOf(m uint64) CapSet {
	s := CapSet{Hex: strconv.FormatUint(m, 16), Names: []string{}}
	for len(s.Hex) < 16 {
		s.Hex = "0" + s.Hex
	}
	for bit := 0; bit < 64; bit++ {
		if m&(1<<uint(bit)) != 0 {
			s.Names = append(s.Names, CapName(bit))
		}
	}
	return s
}
