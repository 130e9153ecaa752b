package nsinspect

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// Snapshot is everything nsinspect reads about one process. Each part carries
// its own error (Err): a part that could not be read is never mistaken for
// an isolated one. The struct is plain and deterministic (slices in a fixed
// or sorted order, no maps, no timestamps), so two snapshots can be diffed
// with go-cmp and compared with ==-like tools.
type Snapshot struct {
	PID        int         `json:"pid"`
	Namespaces []Namespace `json:"namespaces"` // in NamespaceTypes order
	IDMap      IDMapping   `json:"id_map"`
	Status     ProcStatus  `json:"status"`
	LSM        LSM         `json:"lsm"`
	Cgroups    Cgroups     `json:"cgroups"`
	Root       RootDir     `json:"root"`
	Mounts     Mounts      `json:"mounts"`
	Paths      Paths       `json:"paths"` // existence of masked and read-only paths
	UTS        UTS         `json:"uts"`
	Network    Network     `json:"network"`
	IPC        SysVIPC     `json:"ipc"`
	Time       TimeOffsets `json:"time_offsets"`
}

// Take reads a Snapshot of pid from the live /proc. The error is non-nil
// only when the process does not exist (ErrNoProcess); everything else that
// fails is recorded in the part it concerns.
//
// Take needs root (CAP_SYS_PTRACE to read another user's namespaces, root
// and maps; CAP_SYS_ADMIN to join its UTS, IPC, network and cgroup
// namespaces); without it the parts it cannot read carry EACCES or EPERM.
func Take(pid int) (Snapshot, error) { return Live.Take(pid) }

// Take reads a Snapshot of pid from r's proc tree.
func (r Reader) Take(pid int) (Snapshot, error) {
	if pid <= 0 {
		return Snapshot{}, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
	}
	dir := r.path(pid, "")
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Snapshot{}, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
		}
		return Snapshot{}, fmt.Errorf("stat %s: %w", dir, err)
	}
	s := Snapshot{
		PID:        pid,
		Namespaces: r.namespaces(pid),
		IDMap:      r.idMapping(pid),
		Status:     r.status(pid),
		LSM:        r.lsm(pid),
		Cgroups:    r.cgroups(pid),
		Root:       r.rootDir(pid),
		Mounts:     r.mounts(pid),
		Paths:      r.paths(pid),
		Time:       r.timeOffsets(pid),
	}
	r.readInside(pid, &s)
	return s, nil
}

// Namespace returns the snapshot's namespace of a type; a type the snapshot
// lacks comes back with an error.
func (s Snapshot) Namespace(typ string) Namespace {
	for _, n := range s.Namespaces {
		if n.Type == typ {
			return n
		}
	}
	return Namespace{Type: typ, Err: &FieldError{Op: "readlink", Path: "/proc/" + strconv.Itoa(s.PID) + "/ns/" + typ, Errno: "ENOENT", Msg: "not in snapshot"}}
}

// Errors lists every part that could not be read, in a fixed order.
func (s Snapshot) Errors() []*FieldError {
	var out []*FieldError
	for _, n := range s.Namespaces {
		if n.Err != nil {
			out = append(out, n.Err)
		}
	}
	for _, fe := range []*FieldError{s.IDMap.Err, s.Status.Err, s.LSM.Err, s.Cgroups.Err,
		s.Cgroups.InsideErr, s.Root.Err, s.Mounts.Err, s.UTS.Err, s.Network.Err, s.IPC.Err, s.Time.Err} {
		if fe != nil {
			out = append(out, fe)
		}
	}
	return out
}
