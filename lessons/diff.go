package lessons

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/nsinspect"
)

// view is the part of a snapshot a learner follows from step to step; the
// difference of two views is what "changed since the last step" lists.
type view struct {
	Namespaces map[string]string // "own" or "host's"
	Hostname   string
	PID        string
	UID        string
	UIDMap     string
	Mounts     []string
	Interfaces []string
	Shm        []string
	Cgroup     string
	CapEff     string
	Seccomp    string
	NoNewPrivs string
}

// viewOf reduces s to what a learner follows. A namespace is told as the
// container's own or the host's, not by inode: a restarted container gets
// new inodes for the same isolation, and that is not a change worth a line.
func viewOf(s, host nsinspect.Snapshot) view {
	v := view{Namespaces: map[string]string{}}
	for _, n := range s.Namespaces {
		if n.Err == nil && !strings.HasSuffix(n.Type, "_for_children") {
			v.Namespaces[n.Type] = "own"
			if h := host.Namespace(n.Type); h.Err == nil && h.Inode == n.Inode {
				v.Namespaces[n.Type] = "host's"
			}
		}
	}
	v.Hostname = s.UTS.Hostname
	// The host pid changes with every restart of the container; only the
	// pid inside a namespace of its own is worth following. NSpid alone
	// cannot tell: read through the container's own /proc it has one
	// number too, its own.
	v.PID = "(the host's)"
	if n := s.Namespace("pid"); n.Err == nil && n.Inode != nsinspect.InitInodes["pid"] {
		v.PID = last(s.Status.NSpid)
	}
	v.UID = strconv.Itoa(int(s.Status.UID.Effective))
	v.UIDMap = idMap(s.IDMap.UID)
	for _, m := range s.Mounts.Entries {
		v.Mounts = append(v.Mounts, m.MountPoint+" ("+m.FSType+")")
	}
	sort.Strings(v.Mounts)
	for _, i := range s.Network.Interfaces {
		v.Interfaces = append(v.Interfaces, ifaces(nsinspect.Snapshot{Network: nsinspect.Network{Interfaces: []nsinspect.Interface{i}}}))
	}
	for _, o := range s.IPC.Shm {
		v.Shm = append(v.Shm, strconv.Itoa(o.ID))
	}
	v.Cgroup = cgroupPath(s.Cgroups.Entries)
	v.CapEff = strconv.Itoa(len(s.Status.Caps.Effective.Names)) + " capabilities"
	v.Seccomp = strconv.Itoa(s.Status.Seccomp)
	v.NoNewPrivs = strconv.Itoa(s.Status.NoNewPrivs)
	return v
}

// Change is one difference between two steps.
type Change struct {
	What   string `json:"what"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

func (c Change) String() string {
	switch {
	case c.Before == "":
		return "+ " + c.What + " " + c.After
	case c.After == "":
		return "- " + c.What + " " + c.Before
	}
	return c.What + "  " + c.Before + " → " + c.After
}

// changes lists what differs from prev to cur, in the order a lesson meets
// them; host tells which namespaces are the host's. Written out rather than
// found by go-cmp's reflection: every stepbox command paid go-cmp's
// package initialisation (its regular expressions), half a millisecond of
// each container's start, for this one use (DESIGN.md, "Start latency").
func changes(prev, cur, host nsinspect.Snapshot) []Change {
	a, b := viewOf(prev, host), viewOf(cur, host)
	var out []Change
	both := maps.Clone(a.Namespaces)
	maps.Copy(both, b.Namespaces)
	for _, k := range slices.Sorted(maps.Keys(both)) {
		out = changed(out, "ns/"+k, a.Namespaces[k], b.Namespaces[k])
	}
	out = changed(out, "hostname", a.Hostname, b.Hostname)
	out = changed(out, "pid", a.PID, b.PID)
	out = changed(out, "uid", a.UID, b.UID)
	out = changed(out, "uid_map", a.UIDMap, b.UIDMap)
	out = changedList(out, "mount", a.Mounts, b.Mounts)
	out = changedList(out, "interface", a.Interfaces, b.Interfaces)
	out = changedList(out, "shm", a.Shm, b.Shm)
	out = changed(out, "cgroup", a.Cgroup, b.Cgroup)
	out = changed(out, "capabilities", a.CapEff, b.CapEff)
	out = changed(out, "seccomp", a.Seccomp, b.Seccomp)
	return changed(out, "no_new_privs", a.NoNewPrivs, b.NoNewPrivs)
}

// changed adds what went from before to after ("" is absent).
func changed(out []Change, what, before, after string) []Change {
	if before == after {
		return out
	}
	return append(out, Change{What: what, Before: before, After: after})
}

// changedList adds each entry of before that after lacks ("- …") and each
// of after that before lacks ("+ …"), in their order.
func changedList(out []Change, what string, before, after []string) []Change {
	for _, e := range lacking(before, after) {
		out = append(out, Change{What: what, Before: e})
	}
	for _, e := range lacking(after, before) {
		out = append(out, Change{What: what, After: e})
	}
	return out
}

// lacking returns the entries of list that other lacks, counted: a list
// holds an entry more than once when, say, two mounts share a mount point.
func lacking(list, other []string) []string {
	count := map[string]int{}
	for _, e := range other {
		count[e]++
	}
	var out []string
	for _, e := range list {
		if count[e] > 0 {
			count[e]--
			continue
		}
		out = append(out, e)
	}
	return out
}
