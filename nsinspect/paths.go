package nsinspect

import (
	"errors"

	"golang.org/x/sys/unix"
)

// MaskedPaths are the paths runc masks by default
// (libcontainer/specconv/example.go) plus moby's powercap addition (moby
// PR #49560): each leaks host information or an attack surface.
var MaskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	"/proc/sched_debug", "/proc/scsi", "/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// ReadonlyPaths are the paths runc mounts read-only by default: writing
// them changes the host kernel's settings for everyone.
var ReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// PathState says whether a path exists in the process's own view of the
// filesystem (looked up through /proc/PID/root, so through its mounts).
type PathState struct {
	Path   string      `json:"path"`
	Exists bool        `json:"exists"`
	Err    *FieldError `json:"error,omitempty"`
}

// Paths records which of MaskedPaths and ReadonlyPaths exist for the
// process: a path that does not exist needs no mask. Unknown ones count as
// existing.
type Paths struct {
	States []PathState `json:"states"` // MaskedPaths then ReadonlyPaths
}

// Exists reports whether path exists, or may exist because it could not be
// looked up.
func (p Paths) Exists(path string) bool {
	for _, s := range p.States {
		if s.Path == path {
			return s.Exists || s.Err != nil
		}
	}
	return true
}

func (r Reader) paths(pid int) Paths {
	var out Paths
	root := r.path(pid, "root")
	for _, list := range [][]string{MaskedPaths, ReadonlyPaths} {
		for _, p := range list {
			st := PathState{Path: p}
			var s unix.Stat_t
			err := unix.Lstat(root+p, &s)
			switch {
			case err == nil:
				st.Exists = true
			case errors.Is(err, unix.ENOENT):
			default:
				st.Err = newFieldError("lstat", root+p, err)
			}
			out.States = append(out.States, st)
		}
	}
	return out
}
