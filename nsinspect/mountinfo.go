package nsinspect

import (
	"strings"

	"github.com/stepbox/stepbox/internal/mountinfo"
)

// Mount is one line of /proc/PID/mountinfo; see mountinfo.Entry.
type Mount = mountinfo.Entry

// Mounts is a process's mount table.
type Mounts struct {
	Entries []Mount     `json:"entries"`
	Err     *FieldError `json:"error,omitempty"`
}

// ParseMountinfo reads the text of /proc/PID/mountinfo (mountinfo.Parse).
func ParseMountinfo(b []byte) ([]Mount, error) { return mountinfo.Parse(b) }

// UnescapeMountField undoes the kernel's octal escapes (mountinfo.Unescape).
func UnescapeMountField(s string) string { return mountinfo.Unescape(s) }

// At returns the mount that a path resolves through: the last mount (the
// top of a stack) whose mount point is the path or its nearest parent.
func At(mounts []Mount, path string) (Mount, bool) {
	best, bestLen, found := Mount{}, -1, false
	for _, m := range mounts {
		mp := m.MountPoint
		if mp == path || mp == "/" || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/") {
			if len(mp) >= bestLen {
				best, bestLen, found = m, len(mp), true
			}
		}
	}
	return best, found
}

func (r Reader) mounts(pid int) Mounts {
	b, fe := r.read(pid, "mountinfo")
	if fe != nil {
		return Mounts{Err: fe}
	}
	m, err := ParseMountinfo(b)
	if err != nil {
		return Mounts{Err: parseError(r.path(pid, "mountinfo"), err)}
	}
	return Mounts{Entries: m}
}
