package nsinspect

import (
	"strconv"
	"strings"
)

// IDMapRange is one line of /proc/PID/uid_map or gid_map
// (user_namespaces(7)): Count ids starting at Inside in the process's user
// namespace are ids starting at Outside in the reader's user namespace.
type IDMapRange struct {
	Inside  uint32 `json:"inside"`
	Outside uint32 `json:"outside"`
	Count   uint32 `json:"count"`
}

// IDMapping is a process's uid and gid maps and its setgroups switch.
type IDMapping struct {
	UID       []IDMapRange `json:"uid_map"`
	GID       []IDMapRange `json:"gid_map"`
	Setgroups string       `json:"setgroups,omitempty"` // "allow" or "deny"
	Err       *FieldError  `json:"error,omitempty"`
}

// IdentityMap is the map of the initial user namespace: every id is itself.
// A full identity map is not proof of the initial namespace (systemd's
// PrivateUsers=full makes one), so checks compare namespace inodes instead.
var IdentityMap = []IDMapRange{{Inside: 0, Outside: 0, Count: 4294967295}}

// ParseIDMap reads the text of a uid_map or gid_map.
func ParseIDMap(b []byte) ([]IDMapRange, error) {
	out := []IDMapRange{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, errf("id map line %q: want 3 fields", line)
		}
		var v [3]uint32
		for i := range f {
			n, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, errf("id map line %q: %w", line, err)
			}
			v[i] = uint32(n)
		}
		out = append(out, IDMapRange{Inside: v[0], Outside: v[1], Count: v[2]})
	}
	return out, nil
}

// Outside returns the id outside that inside maps to, and whether it is mapped.
func Outside(m []IDMapRange, inside uint32) (uint32, bool) {
	for _, r := range m {
		if inside >= r.Inside && uint64(inside) < uint64(r.Inside)+uint64(r.Count) {
			return r.Outside + (inside - r.Inside), true
		}
	}
	return 0, false
}

// FormatIDMap writes a map compactly: "0→1000 (1), 1→100000 (65536)".
func FormatIDMap(m []IDMapRange) string {
	if len(m) == 1 && m[0] == IdentityMap[0] {
		return "identity"
	}
	if len(m) == 0 {
		return "unmapped"
	}
	parts := make([]string, len(m))
	for i, r := range m {
		parts[i] = strconv.FormatUint(uint64(r.Inside), 10) + "→" +
			strconv.FormatUint(uint64(r.Outside), 10) + " (" + strconv.FormatUint(uint64(r.Count), 10) + ")"
	}
	return strings.Join(parts, ", ")
}

func (r Reader) idMapping(pid int) IDMapping {
	var m IDMapping
	for _, f := range []struct {
		name string
		dst  *[]IDMapRange
	}{{"uid_map", &m.UID}, {"gid_map", &m.GID}} {
		b, fe := r.read(pid, f.name)
		if fe != nil {
			m.Err = fe
			return m
		}
		ranges, err := ParseIDMap(b)
		if err != nil {
			m.Err = parseError(r.path(pid, f.name), err)
			return m
		}
		*f.dst = ranges
	}
	// setgroups exists since Linux 3.19; its absence is not an error.
	if b, fe := r.read(pid, "setgroups"); fe == nil {
		m.Setgroups = strings.TrimSpace(string(b))
	}
	return m
}
