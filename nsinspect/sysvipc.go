package nsinspect

import (
	"strconv"
	"strings"
)

// IPCObject is one System V IPC object: a shared memory segment, a message
// queue or a semaphore set (sysvipc(7)).
type IPCObject struct {
	Key   int64  `json:"key"`
	ID    int    `json:"id"`
	Perms string `json:"perms"` // octal, as the kernel prints it
	UID   uint32 `json:"uid"`
}

// SysVIPC lists the objects visible inside a process's IPC namespace.
type SysVIPC struct {
	Shm []IPCObject `json:"shm"`
	Msg []IPCObject `json:"msg"`
	Sem []IPCObject `json:"sem"`
	Err *FieldError `json:"error,omitempty"`
}

// Count is the number of objects of every kind.
func (s SysVIPC) Count() int { return len(s.Shm) + len(s.Msg) + len(s.Sem) }

// ParseSysVIPC reads one of /proc/sysvipc/{shm,msg,sem}. Columns are found
// by the header's names, because their order and number differ per file
// and have grown over the years (rss and swap in shm since 2.6.34).
func ParseSysVIPC(b []byte) ([]IPCObject, error) {
	lines := strings.Split(string(b), "\n")
	out := []IPCObject{}
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return out, nil
	}
	col := map[string]int{}
	for i, h := range strings.Fields(lines[0]) {
		col[h] = i
	}
	idCol := -1
	for _, n := range []string{"shmid", "msqid", "semid"} {
		if i, ok := col[n]; ok {
			idCol = i
		}
	}
	keyCol, okKey := col["key"]
	permsCol, okPerms := col["perms"]
	uidCol, okUID := col["uid"]
	if idCol < 0 || !okKey || !okPerms || !okUID {
		return nil, errf("sysvipc header %q lacks key, id, perms or uid", lines[0])
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		need := max(idCol, keyCol, permsCol, uidCol)
		if len(f) <= need {
			return nil, errf("sysvipc line %q: too few fields", line)
		}
		key, err1 := strconv.ParseInt(f[keyCol], 10, 64)
		id, err2 := strconv.Atoi(f[idCol])
		uid, err3 := strconv.ParseUint(f[uidCol], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, errf("sysvipc line %q: bad number", line)
		}
		out = append(out, IPCObject{Key: key, ID: id, Perms: f[permsCol], UID: uint32(uid)})
	}
	return out, nil
}
