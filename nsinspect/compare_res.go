package nsinspect

import (
	"strconv"
	"strings"
)

// mainCgroup picks the path that best names where a process is limited: the
// v2 line on a pure v2 host, else the v1 memory controller's (on a hybrid
// host the v2 side often has no controllers at all).
func mainCgroup(es []CgroupEntry) string {
	v2, mem := "", ""
	for _, e := range es {
		if e.V2() {
			v2 = e.Path
		}
		for _, c := range e.Controllers {
			if c == "memory" {
				mem = e.Path
			}
		}
	}
	if mem != "" && (v2 == "" || v2 == "/") {
		return mem
	}
	return v2
}

func checkCgroupPath(t, r Snapshot) Check {
	c := Check{ID: "cgroup.path", Category: "resources", Title: "cgroup membership"}
	if t.Cgroups.Err != nil {
		return unknownCheck(c, "target", t.Cgroups.Err)
	}
	if r.Cgroups.Err != nil {
		return unknownCheck(c, "reference", r.Cgroups.Err)
	}
	c.Target, c.Reference = mainCgroup(t.Cgroups.Entries), mainCgroup(r.Cgroups.Entries)
	refPath := map[int]string{}
	for _, e := range r.Cgroups.Entries {
		refPath[e.Hierarchy] = e.Path
	}
	var own []string
	for _, e := range t.Cgroups.Entries {
		if p, ok := refPath[e.Hierarchy]; ok && p != e.Path {
			name := strings.Join(e.Controllers, ",")
			if e.V2() {
				name = "v2"
			}
			own = append(own, name)
		}
	}
	if len(own) == 0 {
		c.Status = Warn
		c.Detail = "same cgroups: as the reference, so no memory, CPU or pids limit of its own"
		c.Remediation = "put it in a cgroup of its own with memory.max and pids.max (v2) or the v1 equivalents"
		return c
	}
	c.Status = Pass
	c.Detail = "own cgroup: in " + strings.Join(own, "; ")
	return c
}

func checkCgroupNS(t, r Snapshot) Check {
	c := Check{ID: "cgroup.ns", Category: "resources", Title: "cgroup paths seen from inside"}
	if t.Cgroups.InsideErr != nil {
		return unknownCheck(c, "target", t.Cgroups.InsideErr)
	}
	if t.Cgroups.Err != nil {
		return unknownCheck(c, "target", t.Cgroups.Err)
	}
	c.Target, c.Reference = mainCgroup(t.Cgroups.Inside), mainCgroup(t.Cgroups.Entries)
	var leaked []string
	for i, e := range t.Cgroups.Inside {
		if i < len(t.Cgroups.Entries) && e.Path != "/" && e.Path == t.Cgroups.Entries[i].Path {
			leaked = append(leaked, e.Path)
		}
	}
	tn, rn := t.Namespace("cgroup"), r.Namespace("cgroup")
	switch {
	case len(leaked) > 0:
		c.Status = Warn
		c.Detail = "host path visible: the process can read its host cgroup path " + leaked[0]
		c.Remediation = "start it in a new cgroup namespace (CLONE_NEWCGROUP) after joining its cgroup"
	case tn.Known() && rn.Known() && !tn.Same(rn):
		c.Status, c.Detail = Pass, "hidden: its cgroup namespace root hides the host's hierarchy"
	default:
		c.Status, c.Detail = Warn, "shared: the reference's cgroup namespace (at the root, so nothing leaks now)"
	}
	return c
}

func checkHostname(t, r Snapshot) Check {
	c := Check{ID: "uts.hostname", Category: "namespaces", Title: "hostname inside"}
	if t.UTS.Err != nil {
		return unknownCheck(c, "target", t.UTS.Err)
	}
	if r.UTS.Err != nil {
		return unknownCheck(c, "reference", r.UTS.Err)
	}
	c.Target, c.Reference = t.UTS.Hostname, r.UTS.Hostname
	if t.Namespace("uts").Same(r.Namespace("uts")) {
		c.Status, c.Detail = Warn, "host's hostname: sethostname(2) inside renames the host"
		return c
	}
	c.Status = Pass
	if t.UTS.Hostname == r.UTS.Hostname {
		c.Detail = "host's name kept: own UTS namespace, still carrying the host's name"
	} else {
		c.Detail = "own name: own UTS namespace with its own name"
	}
	return c
}

func ifaceText(n Network) string {
	if len(n.Interfaces) == 0 {
		return "none"
	}
	var s []string
	for _, i := range n.Interfaces {
		st := "up"
		if !i.Up {
			st = "down"
		}
		s = append(s, i.Name+"("+st+")")
	}
	return strings.Join(s, " ")
}

func checkInterfaces(t, r Snapshot) Check {
	c := Check{ID: "net.ifaces", Category: "network", Title: "network interfaces inside"}
	if t.Network.Err != nil {
		return unknownCheck(c, "target", t.Network.Err)
	}
	c.Target = ifaceText(t.Network)
	c.Reference = "?"
	if r.Network.Err == nil {
		c.Reference = ifaceText(r.Network)
	}
	if t.Namespace("net").Same(r.Namespace("net")) {
		c.Status = Warn
		c.Detail = "host's interfaces: it can bind the host's ports and reach everything the host reaches"
		return c
	}
	c.Status = Pass
	if t.Network.OnlyLoopback() {
		c.Detail = "no network: own network namespace with loopback only"
		return c
	}
	var a []string
	for _, i := range t.Network.Interfaces {
		if !i.Loopback {
			a = append(a, i.Name+" "+strings.Join(i.Addrs, " "))
		}
	}
	c.Detail = "own network: " + strings.Join(a, "; ")
	return c
}

func checkSysVIPC(t, r Snapshot) Check {
	c := Check{ID: "ipc.sysv", Category: "ipc", Title: "SysV IPC objects visible"}
	if t.IPC.Err != nil {
		return unknownCheck(c, "target", t.IPC.Err)
	}
	count := func(s SysVIPC) string {
		return strconv.Itoa(len(s.Shm)) + " shm " + strconv.Itoa(len(s.Msg)) + " msg " + strconv.Itoa(len(s.Sem)) + " sem"
	}
	c.Target, c.Reference = count(t.IPC), "?"
	if r.IPC.Err == nil {
		c.Reference = count(r.IPC)
	}
	if t.Namespace("ipc").Same(r.Namespace("ipc")) {
		c.Status = Warn
		c.Detail = "host's objects: it sees the host's SysV objects (" + strconv.Itoa(t.IPC.Count()) + " now) and can attach to its shared memory"
		return c
	}
	c.Status = Pass
	c.Detail = "own IPC namespace: " + strconv.Itoa(t.IPC.Count()) + " objects of its own"
	return c
}
