package lessons

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"

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

// changes lists what differs from prev to cur, found by go-cmp with a
// reporter that keeps each leaf difference; host tells which namespaces are
// the host's.
func changes(prev, cur, host nsinspect.Snapshot) []Change {
	var r reporter
	cmp.Equal(viewOf(prev, host), viewOf(cur, host), cmp.Reporter(&r))
	sort.SliceStable(r.out, func(i, j int) bool { return r.order(r.out[i].What) < r.order(r.out[j].What) })
	return r.out
}

type reporter struct {
	path cmp.Path
	out  []Change
}

func (r *reporter) PushStep(ps cmp.PathStep) { r.path = append(r.path, ps) }
func (r *reporter) PopStep()                 { r.path = r.path[:len(r.path)-1] }

func (r *reporter) Report(res cmp.Result) {
	if res.Equal() {
		return
	}
	before, after := r.path.Last().Values()
	what := ""
	for _, ps := range r.path[1:] {
		switch s := ps.(type) {
		case cmp.StructField:
			what = fieldName(s.Name())
		case cmp.MapIndex:
			what = "ns/" + s.Key().String()
		}
	}
	c := Change{What: what}
	if before.IsValid() {
		c.Before = fmt.Sprint(before.Interface())
	}
	if after.IsValid() {
		c.After = fmt.Sprint(after.Interface())
	}
	r.out = append(r.out, c)
}

var fieldOrder = []string{"ns/", "hostname", "pid", "uid", "uid_map", "mount", "interface", "shm", "cgroup", "capabilities", "seccomp", "no_new_privs"}

func (r *reporter) order(what string) int {
	for i, p := range fieldOrder {
		if strings.HasPrefix(what, p) {
			return i
		}
	}
	return len(fieldOrder)
}

func fieldName(f string) string {
	switch f {
	case "Namespaces":
		return "ns"
	case "Hostname":
		return "hostname"
	case "PID":
		return "pid"
	case "UID":
		return "uid"
	case "UIDMap":
		return "uid_map"
	case "Mounts":
		return "mount"
	case "Interfaces":
		return "interface"
	case "Shm":
		return "shm"
	case "Cgroup":
		return "cgroup"
	case "CapEff":
		return "capabilities"
	case "Seccomp":
		return "seccomp"
	case "NoNewPrivs":
		return "no_new_privs"
	}
	return strings.ToLower(f)
}
