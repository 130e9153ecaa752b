// Package procstat reads the fields of /proc/PID/stat that stepbox needs
// (proc(5)): what a process is, its parent, its state and its start time.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat is a process's /proc/PID/stat, the fields stepbox reads.
type Stat struct {
	Comm  string // field 2, without its parentheses
	State string // field 3: R, S, D, Z, …
	PPID  int    // field 4
	// StartTime is field 22, clock ticks after boot: with the pid it names
	// one process, since a pid alone can be reused.
	StartTime uint64
}

// Read reads /proc/PID/stat.
func Read(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return Parse(pid, string(b))
}

// Parse reads the text of /proc/PID/stat. The command name may hold
// spaces and parentheses: it ends at the last ')'.
func Parse(pid int, s string) (Stat, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return Stat{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return Stat{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Stat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return Stat{Comm: s[open+1 : end], State: f[0], PPID: ppid, StartTime: start}, nil
}
