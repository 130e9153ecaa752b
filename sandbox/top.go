package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcessInfo is one process of a container, as the host sees it and as the
// container does.
type ProcessInfo struct {
	Pid  int `json:"pid"`  // the host's
	PPid int `json:"ppid"` // the host's
	// CPid is its pid in the container's pid namespace, the last field of
	// NSpid in /proc/PID/status (proc(5)); 0 when unknown.
	CPid int    `json:"containerPid,omitempty"`
	UID  int    `json:"uid"` // the host's real uid
	Args string `json:"command"`
}

// Processes lists every process in the container's cgroups: those that
// left its init's tree by double fork too.
func (c *Container) Processes() ([]ProcessInfo, error) {
	st := c.State()
	if st.Status != Running && st.Status != Created {
		return nil, &kindError{fmt.Sprintf("container %s is not running", st.DisplayName()), ErrWrongState}
	}
	cg := c.findCgroups()
	if cg == nil {
		return nil, fmt.Errorf("container %s has no cgroups recorded", st.DisplayName())
	}
	pids, err := cg.Procs()
	if err != nil {
		return nil, readErr("cgroup.procs", err)
	}
	var out []ProcessInfo
	for _, pid := range pids {
		p := ProcessInfo{Pid: pid, UID: -1}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue // exited meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			switch k {
			case "PPid":
				p.PPid, _ = strconv.Atoi(f[0])
			case "Uid":
				p.UID, _ = strconv.Atoi(f[0])
			case "NSpid":
				p.CPid, _ = strconv.Atoi(f[len(f)-1])
			case "Name":
				p.Args = "[" + f[0] + "]"
			}
		}
		if cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && len(cmd) > 0 {
			p.Args = string(bytes.ReplaceAll(bytes.TrimRight(cmd, "\x00"), []byte{0}, []byte{' '}))
		}
		out = append(out, p)
	}
	return out, nil
}

// NamespaceInodes reads the inode of each of pid's namespaces, by type
// (cgroup, ipc, mnt, net, pid, time, user, uts), from /proc/PID/ns; those
// it may not read are left out.
func NamespaceInodes(pid int) map[string]uint64 {
	out := map[string]uint64{}
	for _, t := range []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"} {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, t))
		if err != nil {
			continue
		}
		// "net:[4026531840]"
		if i := strings.IndexByte(link, '['); i >= 0 {
			if n, err := strconv.ParseUint(strings.TrimSuffix(link[i+1:], "]"), 10, 64); err == nil {
				out[t] = n
			}
		}
	}
	return out
}

// PayloadPid is the host pid of the container's payload: its init's oldest
// child when the init is the minimal init (Options.Init), which lives only
// to forward signals and reap and keeps the host's time namespace, else
// the init itself; 0 when there is none (the container is not running).
func (s State) PayloadPid() int {
	if s.Pid <= 0 || !s.Init {
		return s.Pid
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.Pid, s.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	child, _ := strconv.Atoi(f[0])
	return child
}
