package nsinspect

import (
	"strconv"
	"strings"
)

// sharedStatus is what sharing a namespace with the host costs. Sharing mnt,
// pid, net, ipc or uts means seeing and touching the host's objects; sharing
// user means root inside is root outside (other controls may limit it);
// sharing cgroup leaks host paths; no runtime isolates time by default and
// sharing it only means sharing clocks.
var sharedStatus = map[string]Status{
	"mnt": Fail, "pid": Fail, "net": Fail, "ipc": Fail, "uts": Fail,
	"user": Warn, "cgroup": Warn, "time": Warn,
}

var nsMeaning = map[string]string{
	"cgroup": "sees the host's cgroup paths",
	"ipc":    "can reach the host's SysV IPC objects and POSIX message queues",
	"mnt":    "sees and can change the host's mounts",
	"net":    "uses the host's interfaces, ports and firewall",
	"pid":    "sees and can signal the host's processes",
	"time":   "uses the host's monotonic and boot-time clocks",
	"user":   "its uid 0 is the host's uid 0",
	"uts":    "can change the host's hostname",
}

var nsFlag = map[string]string{
	"cgroup": "CLONE_NEWCGROUP", "ipc": "CLONE_NEWIPC", "mnt": "CLONE_NEWNS", "net": "CLONE_NEWNET",
	"pid": "CLONE_NEWPID", "time": "CLONE_NEWTIME", "user": "CLONE_NEWUSER", "uts": "CLONE_NEWUTS",
}

func inodeText(n Namespace) string {
	if !n.Known() {
		return "?"
	}
	return strconv.FormatUint(n.Inode, 10)
}

// baseType maps pid_for_children to pid and time_for_children to time.
func baseType(t string) string { return strings.TrimSuffix(t, "_for_children") }

func checkNamespace(typ string, t, r Snapshot) Check {
	base := baseType(typ)
	c := Check{ID: "ns." + typ, Category: "namespaces", Title: base + " namespace"}
	tn, rn := t.Namespace(typ), r.Namespace(base)
	if typ != base {
		c.Title = base + " namespace of future children"
	}
	c.Target, c.Reference = inodeText(tn), inodeText(rn)
	switch {
	case tn.Err != nil && tn.Err.Missing() && rn.Err != nil && rn.Err.Missing():
		c.Status, c.Target, c.Reference = Skipped, "-", "-"
		c.Detail = "this kernel has no " + base + " namespace"
		return c
	case tn.Err != nil:
		return unknownCheck(c, "target", tn.Err)
	case rn.Err != nil:
		return unknownCheck(c, "reference", rn.Err)
	}
	if typ != base {
		if own := t.Namespace(base); own.Known() && own.Same(tn) {
			c.Status = Skipped
			c.Detail = "same as ns." + base + ": children join the process's own " + base + " namespace"
			return c
		}
	}
	if tn.Same(rn) {
		c.Status = sharedStatus[base]
		c.Detail = "shared: the process " + nsMeaning[base]
		c.Remediation = "start it in a new " + base + " namespace (" + nsFlag[base] + ")"
		return c
	}
	c.Status = Pass
	c.Detail = "isolated: its own " + base + " namespace"
	if typ != base {
		c.Detail = "new for children: they will start in a new " + base + " namespace (after unshare without fork)"
	}
	if base == "time" && !t.Time.Zero() && t.Time.Err == nil {
		var o []string
		for _, off := range t.Time.Offsets {
			o = append(o, off.Clock+" "+strconv.FormatInt(off.Seconds, 10)+"s")
		}
		c.Detail += ", offsets " + strings.Join(o, ", ")
	}
	return c
}

func checkUserNSMap(t, r Snapshot) Check {
	c := Check{ID: "userns.map", Category: "credentials", Title: "uid and gid maps"}
	if t.IDMap.Err != nil {
		return unknownCheck(c, "target", t.IDMap.Err)
	}
	c.Target, c.Reference = FormatIDMap(t.IDMap.UID), FormatIDMap(r.IDMap.UID)
	tu, ru := t.Namespace("user"), r.Namespace("user")
	if fe := firstErr(tu.Err, ru.Err); fe != nil {
		who := "target"
		if tu.Err == nil {
			who = "reference"
		}
		return unknownCheck(c, who, fe)
	}
	if tu.Same(ru) {
		c.Status = Warn
		c.Detail = "no user namespace: its ids are the reference's ids"
		c.Remediation = "map the container's root to an unprivileged host uid (CLONE_NEWUSER, uid_map)"
		return c
	}
	out, mapped := Outside(t.IDMap.UID, 0)
	switch {
	case mapped && out == 0:
		c.Status = Fail
		c.Detail = "root is host root: own user namespace, but uid 0 maps to the host's uid 0, so root inside owns root's files outside"
		c.Remediation = "map uid 0 to an unprivileged range, e.g. 0 100000 65536"
	case mapped:
		c.Status = Pass
		c.Detail = "root is uid " + strconv.FormatUint(uint64(out), 10) + " outside: own user namespace"
	default:
		c.Status = Pass
		c.Detail = "root unmapped: own user namespace, uid 0 is not mapped"
	}
	if t.IDMap.Setgroups != "" {
		c.Detail += "; setgroups " + t.IDMap.Setgroups
	}
	return c
}

func checkUIDRoot(t, r Snapshot) Check {
	c := Check{ID: "uid.root", Category: "credentials", Title: "effective uid on the host"}
	if t.Status.Err != nil {
		return unknownCheck(c, "target", t.Status.Err)
	}
	c.Target = "uid " + strconv.FormatUint(uint64(t.Status.UID.Effective), 10)
	if r.Status.Err == nil {
		c.Reference = "uid " + strconv.FormatUint(uint64(r.Status.UID.Effective), 10)
	}
	if t.Status.UID.Effective == 0 {
		c.Status = Warn
		c.Detail = "root: runs as uid 0 in the reference's view; only capabilities, seccomp and namespaces hold it in"
		c.Remediation = "run as an unprivileged uid, or in a user namespace that maps root elsewhere"
		return c
	}
	c.Status = Pass
	c.Detail = "unprivileged: runs as a uid other than 0"
	return c
}

func checkNSpid(t, r Snapshot) Check {
	c := Check{ID: "pid.nspid", Category: "namespaces", Title: "PID in every PID namespace"}
	if t.Status.Err != nil {
		return unknownCheck(c, "target", t.Status.Err)
	}
	if r.Status.Err != nil {
		return unknownCheck(c, "reference", r.Status.Err)
	}
	c.Target, c.Reference = joinInts(t.Status.NSpid, "→"), joinInts(r.Status.NSpid, "→")
	if len(t.Status.NSpid) == 0 {
		c.Status, c.Detail = Skipped, "not reported: the kernel has no NSpid (before Linux 4.1)"
		return c
	}
	if len(t.Status.NSpid) > len(r.Status.NSpid) {
		c.Status = Pass
		c.Detail = "own PID namespace: PID " + itoa(t.Status.NSpid[0]) + " here is PID " + itoa(t.Status.NSpid[len(t.Status.NSpid)-1]) +
			" inside (" + itoa(len(t.Status.NSpid)) + " levels)"
		return c
	}
	c.Status = Warn
	c.Detail = "no PID namespace: the same PID number as the reference sees it"
	return c
}
