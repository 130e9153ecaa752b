package nsinspect

import (
	"strconv"
	"strings"
)

// ClockOffset is one line of /proc/PID/timens_offsets (time_namespaces(7)):
// how far the namespace's clock is from the host's.
type ClockOffset struct {
	Clock       string `json:"clock"` // monotonic or boottime
	Seconds     int64  `json:"seconds"`
	Nanoseconds int64  `json:"nanoseconds"`
}

// TimeOffsets are a process's time-namespace offsets.
type TimeOffsets struct {
	Offsets []ClockOffset `json:"offsets"`
	Err     *FieldError   `json:"error,omitempty"`
}

// Zero reports whether every offset is zero (the host's clocks).
func (t TimeOffsets) Zero() bool {
	for _, o := range t.Offsets {
		if o.Seconds != 0 || o.Nanoseconds != 0 {
			return false
		}
	}
	return true
}

// ParseTimeOffsets reads the text of timens_offsets. The kernel writes the
// clock by name; it also accepts the clock id (1 monotonic, 7 boottime).
func ParseTimeOffsets(b []byte) ([]ClockOffset, error) {
	out := []ClockOffset{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, errf("timens_offsets line %q: want clock secs nanosecs", line)
		}
		clock := f[0]
		switch clock {
		case "1":
			clock = "monotonic"
		case "7":
			clock = "boottime"
		}
		s, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, errf("timens_offsets line %q: %w", line, err)
		}
		ns, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, errf("timens_offsets line %q: %w", line, err)
		}
		out = append(out, ClockOffset{Clock: clock, Seconds: s, Nanoseconds: ns})
	}
	return out, nil
}

func (r Reader) timeOffsets(pid int) TimeOffsets {
	b, fe := r.read(pid, "timens_offsets")
	if fe != nil {
		return TimeOffsets{Err: fe}
	}
	o, err := ParseTimeOffsets(b)
	if err != nil {
		return TimeOffsets{Err: parseError(r.path(pid, "timens_offsets"), err)}
	}
	return TimeOffsets{Offsets: o}
}
