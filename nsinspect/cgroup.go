package nsinspect

import (
	"strconv"
	"strings"
)

// CgroupEntry is one line of /proc/PID/cgroup: "hierarchy:controllers:path".
// Hierarchy 0 with no controllers is the cgroup v2 (unified) line.
type CgroupEntry struct {
	Hierarchy   int      `json:"hierarchy"`
	Controllers []string `json:"controllers"`
	Path        string   `json:"path"`
}

// V2 reports whether the line is the unified hierarchy's.
func (e CgroupEntry) V2() bool { return e.Hierarchy == 0 && len(e.Controllers) == 0 }

// Cgroups is a process's cgroup membership, as the host sees it and as the
// process itself sees it (paths relative to its own cgroup namespace root).
type Cgroups struct {
	Entries []CgroupEntry `json:"entries"`
	Err     *FieldError   `json:"error,omitempty"`
	// Inside is /proc/PID/cgroup read from within the target's cgroup
	// namespace: what the process itself can learn about its place.
	Inside    []CgroupEntry `json:"inside"`
	InsideErr *FieldError   `json:"inside_error,omitempty"`
}

// ParseCgroup reads the text of /proc/PID/cgroup (cgroups(7)). The path
// is everything after the second colon: it may itself hold colons.
func ParseCgroup(b []byte) ([]CgroupEntry, error) {
	out := []CgroupEntry{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, errf("cgroup line %q: want hierarchy:controllers:path", line)
		}
		h, err := strconv.Atoi(f[0])
		if err != nil || h < 0 {
			return nil, errf("cgroup line %q: bad hierarchy id", line)
		}
		e := CgroupEntry{Hierarchy: h, Controllers: []string{}, Path: f[2]}
		if f[1] != "" {
			e.Controllers = strings.Split(f[1], ",")
		}
		out = append(out, e)
	}
	return out, nil
}

func (r Reader) cgroups(pid int) Cgroups {
	b, fe := r.read(pid, "cgroup")
	if fe != nil {
		return Cgroups{Err: fe}
	}
	e, err := ParseCgroup(b)
	if err != nil {
		return Cgroups{Err: parseError(r.path(pid, "cgroup"), err)}
	}
	return Cgroups{Entries: e}
}
