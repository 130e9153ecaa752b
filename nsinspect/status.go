package nsinspect

import (
	"strconv"
	"strings"
)

// IDs are the four ids of a credential line of /proc/PID/status, as seen from
// the reader's user namespace (unmapped ids show as the overflow id 65534).
type IDs struct {
	Real      uint32 `json:"real"`
	Effective uint32 `json:"effective"`
	Saved     uint32 `json:"saved"`
	FS        uint32 `json:"fs"`
}

// Caps are the five capability sets of a process (capabilities(7)).
type Caps struct {
	Inheritable CapSet `json:"inheritable"`
	Permitted   CapSet `json:"permitted"`
	Effective   CapSet `json:"effective"`
	Bounding    CapSet `json:"bounding"`
	Ambient     CapSet `json:"ambient"`
}

// ProcStatus holds what the isolation checks need from /proc/PID/status.
// Numbers the kernel does not print (an older kernel) are -1.
type ProcStatus struct {
	Name           string      `json:"name"`
	State          string      `json:"state"`
	PPid           int         `json:"ppid"`
	UID            IDs         `json:"uid"`
	GID            IDs         `json:"gid"`
	Groups         []uint32    `json:"groups"`
	NStgid         []int       `json:"nstgid"` // outermost (the reader's) PID namespace first
	NSpid          []int       `json:"nspid"`
	Caps           Caps        `json:"caps"`
	NoNewPrivs     int         `json:"no_new_privs"`    // Linux 4.10
	Seccomp        int         `json:"seccomp"`         // 0 off, 1 strict, 2 filter
	SeccompFilters int         `json:"seccomp_filters"` // Linux 5.9
	Kthread        int         `json:"kthread"`         // 1 for a kernel thread (Linux 6.5)
	Err            *FieldError `json:"error,omitempty"`
}

// ParseStatus reads the text of /proc/PID/status.
func ParseStatus(b []byte) (ProcStatus, error) {
	s := ProcStatus{PPid: -1, NoNewPrivs: -1, Seccomp: -1, SeccompFilters: -1, Kthread: -1,
		Groups: []uint32{}, NStgid: []int{}, NSpid: []int{}}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Name":
			// The kernel escapes \n and \\ in comm (proc_task_name).
			s.Name = val
		case "State":
			s.State = val
		case "PPid":
			s.PPid, err = strconv.Atoi(val)
		case "Uid":
			s.UID, err = parseIDs(val)
		case "Gid":
			s.GID, err = parseIDs(val)
		case "Groups":
			for _, f := range strings.Fields(val) {
				var n uint64
				if n, err = strconv.ParseUint(f, 10, 32); err != nil {
					break
				}
				s.Groups = append(s.Groups, uint32(n))
			}
		case "NStgid":
			s.NStgid, err = parseInts(val)
		case "NSpid":
			s.NSpid, err = parseInts(val)
		case "CapInh":
			s.Caps.Inheritable, err = ParseCapSet(val)
		case "CapPrm":
			s.Caps.Permitted, err = ParseCapSet(val)
		case "CapEff":
			s.Caps.Effective, err = ParseCapSet(val)
		case "CapBnd":
			s.Caps.Bounding, err = ParseCapSet(val)
		case "CapAmb":
			s.Caps.Ambient, err = ParseCapSet(val)
		case "NoNewPrivs":
			s.NoNewPrivs, err = strconv.Atoi(val)
		case "Seccomp":
			s.Seccomp, err = strconv.Atoi(val)
		case "Seccomp_filters":
			s.SeccompFilters, err = strconv.Atoi(val)
		case "Kthread":
			s.Kthread, err = strconv.Atoi(val)
		default:
			continue
		}
		if err != nil {
			return ProcStatus{}, errf("status field %s: %w", key, err)
		}
		seen[key] = true
	}
	for _, k := range []string{"Name", "Uid", "Gid", "CapEff", "CapBnd"} {
		if !seen[k] {
			return ProcStatus{}, errf("status has no %s line", k)
		}
	}
	return s, nil
}

func parseIDs(val string) (IDs, error) {
	f := strings.Fields(val)
	if len(f) != 4 {
		return IDs{}, errf("want 4 ids, got %q", val)
	}
	var v [4]uint32
	for i := range f {
		n, err := strconv.ParseUint(f[i], 10, 32)
		if err != nil {
			return IDs{}, err
		}
		v[i] = uint32(n)
	}
	return IDs{Real: v[0], Effective: v[1], Saved: v[2], FS: v[3]}, nil
}

func parseInts(val string) ([]int, error) {
	out := []int{}
	for _, f := range strings.Fields(val) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (r Reader) status(pid int) ProcStatus {
	b, fe := r.read(pid, "status")
	if fe != nil {
		return ProcStatus{Err: fe}
	}
	s, err := ParseStatus(b)
	if err != nil {
		return ProcStatus{Err: parseError(r.path(pid, "status"), err)}
	}
	return s
}
