package lessons

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/lessons/probe"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
)

// Facts and helpers of lessons 7 to 12 (user, cgroupns, time, limits,
// security, full).

// A step's rows and expectation see only the Evidence, but some evidence is
// gathered by the step's action itself: the cgroup counters the runtime's
// manager reads after a memory hog ran, the owner of a file as the
// container saw it when it made it. Such an Apply records what it measured
// as a note on the running container; the rows read it back through the
// container's host pid, which the Evidence carries (e.Outside.PID). The
// notes go when the lab closes.
var labNotes = struct {
	sync.Mutex
	byPid map[int]map[string]string
	byLab map[*Lab]map[string]any
}{byPid: map[int]map[string]string{}, byLab: map[*Lab]map[string]any{}}

// note records value under key for the lab's running container.
func note(l *Lab, key, value string) {
	pid := l.Pid()
	labNotes.Lock()
	defer labNotes.Unlock()
	m := labNotes.byPid[pid]
	if m == nil {
		m = map[string]string{}
		labNotes.byPid[pid] = m
		l.Defer(func() error {
			labNotes.Lock()
			defer labNotes.Unlock()
			delete(labNotes.byPid, pid)
			return nil
		})
	}
	m[key] = value
}

// noted reads a note of the container the evidence was taken of; "" when
// the step recorded none.
func noted(e *Evidence, key string) string {
	labNotes.Lock()
	defer labNotes.Unlock()
	return labNotes.byPid[e.Outside.PID][key]
}

// RowNote shows a note in the container column and the first line of a
// host probe's output in the host column ("" for none).
func RowNote(label i18n.Text, hostCmd, key string) Row {
	return Row{
		Label: label,
		Host: func(e *Evidence) string {
			if hostCmd == "" {
				return "-"
			}
			return line1(e.Probe(Host, hostCmd).Output)
		},
		Box: func(e *Evidence) string { return dashIfEmpty(noted(e, key)) },
	}
}

// keep stores a value a later step of the same lesson needs (a description
// to come back to); kept reads it.
func keep(l *Lab, key string, v any) {
	labNotes.Lock()
	defer labNotes.Unlock()
	m := labNotes.byLab[l]
	if m == nil {
		m = map[string]any{}
		labNotes.byLab[l] = m
		l.Defer(func() error {
			labNotes.Lock()
			defer labNotes.Unlock()
			delete(labNotes.byLab, l)
			return nil
		})
	}
	m[key] = v
}

func kept(l *Lab, key string) (any, bool) {
	labNotes.Lock()
	defer labNotes.Unlock()
	v, ok := labNotes.byLab[l][key]
	return v, ok
}

func line1(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// boxPath is the path by which the running container reaches path p of the
// lab's root filesystem: p itself once the container has pivoted into it,
// else the rootfs's host path (the container then shares the host's tree).
func boxPath(l *Lab, p string) (string, error) {
	if err := l.Ensure(); err != nil {
		return "", err
	}
	root, err1 := os.Stat(fmt.Sprintf("/proc/%d/root/", l.Pid()))
	lab, err2 := os.Stat(l.Rootfs())
	if err1 == nil && err2 == nil && os.SameFile(root, lab) {
		return p, nil
	}
	return filepath.Join(l.Rootfs(), p), nil
}

// saveDescription keeps the lab's description and options under key, so a
// later step can come back to them with restoreDescription.
func saveDescription(l *Lab, key string) {
	keep(l, key, savedDescription{spec: cloneSpec(l.Spec()), opts: l.opts})
}

type savedDescription struct {
	spec *specs.Spec
	opts sandbox.Options
}

// restoreDescription puts back what saveDescription kept; it reports
// whether there was anything (a step run on its own has nothing saved).
func restoreDescription(l *Lab, key string) bool {
	v, ok := kept(l, key)
	if !ok {
		return false
	}
	d := v.(savedDescription)
	l.Change(func(s *specs.Spec) { *s = *cloneSpec(d.spec) })
	l.Options(func(o *sandbox.Options) { *o = d.opts })
	return true
}

// capsText summarises a capability set: "41 caps", "none".
func capsText(c nsinspect.CapSet) string {
	if len(c.Names) == 0 {
		return "none"
	}
	return strconv.Itoa(len(c.Names)) + " caps"
}

// The rows below read the container from the host (e.Outside) wherever the
// host can see the fact: the container's own view of /proc is its own only
// once it has mounted a /proc of its own (lessons 2 to 4).

// RowCapEff shows the effective capabilities of the host's root and of the
// container's process.
var RowCapEff = Row{
	Label: i18n.T("CapEff", "CapEff"),
	Host:  func(e *Evidence) string { return capsText(e.Host.Status.Caps.Effective) },
	Box:   func(e *Evidence) string { return capsText(e.Outside.Status.Caps.Effective) },
}

// probeID is the probe rowUID reads the container's own uid from.
const probeID = "id"

// rowUID shows the container's uid: as the host sees it, and as the
// container sees itself (id(1), the probeID probe).
var rowUID = Row{
	Label: i18n.T("uid", "uid"),
	Host:  func(e *Evidence) string { return strconv.Itoa(int(e.Outside.Status.UID.Effective)) },
	Box:   func(e *Evidence) string { return dashIfEmpty(idOf(e.Probe(Inside, probeID).Output, "uid")) },
}

// idOf reads "uid" or "gid" from id(1)'s output: "uid=0(root) gid=0(root)".
func idOf(out, which string) string {
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, which+"="); ok {
			n, _, _ := strings.Cut(v, "(")
			return n
		}
	}
	return ""
}

// rowUIDMap and rowGIDMap show the host's own map beside the container's
// (read by the host: a map reads the same from the parent namespace).
var rowUIDMap = Row{
	Label: i18n.T("uid_map", "uid_map"),
	Host:  func(e *Evidence) string { return idMap(e.Host.IDMap.UID) },
	Box:   func(e *Evidence) string { return idMap(e.Outside.IDMap.UID) },
}

var rowGIDMap = Row{
	Label: i18n.T("gid_map", "gid_map"),
	Host:  func(e *Evidence) string { return idMap(e.Host.IDMap.GID) },
	Box:   func(e *Evidence) string { return idMap(e.Outside.IDMap.GID) },
}

// RowSetgroups shows /proc/PID/setgroups.
var RowSetgroups = Row{
	Label: i18n.T("setgroups", "setgroups"),
	Host:  func(e *Evidence) string { return dashIfEmpty(e.Host.IDMap.Setgroups) },
	Box:   func(e *Evidence) string { return dashIfEmpty(e.Outside.IDMap.Setgroups) },
}

// outsideRoot is the host uid that uid 0 of the container is, from the
// container's uid_map; ok is false when root is not mapped.
func outsideRoot(e *Evidence) (uint32, bool) {
	if len(e.Outside.IDMap.UID) == 0 {
		return 0, false
	}
	return nsinspect.Outside(e.Outside.IDMap.UID, 0)
}

// failed reports whether a probe ran and failed (its exit code is not 0).
func failed(p ProbeResult) bool { return p.Code > 0 }

// refusedWith reports whether a stepbox probe ran and the kernel refused its
// call with errno (its name: "EPERM").
func refusedWith(p ProbeResult, errno string) bool {
	return p.Code > 0 && probe.Errno(p.Output) == errno
}

// succeeded reports whether a probe ran and exited 0.
func succeeded(p ProbeResult) bool { return p.Code == 0 }

// rowCgroupSeen shows the container's cgroup as the host names it beside
// the name the container itself reads in /proc/self/cgroup (nsinspect
// reads it from inside the container's cgroup namespace).
var rowCgroupSeen = Row{
	Label: i18n.T("cgroup", "cgroup"),
	Host:  func(e *Evidence) string { return cgroupPath(e.Outside.Cgroups.Entries) },
	Box:   func(e *Evidence) string { return cgroupPath(e.Outside.Cgroups.Inside) },
}

// cgroupMountRoot is the root (mountinfo field 4) of the cgroup filesystem
// that holds the memory controller, or of the cgroup2 one on a pure v2
// host: the cgroup the mount shows, named from the reader's cgroup
// namespace. "" when nothing is mounted.
func cgroupMountRoot(s nsinspect.Snapshot) string {
	v2 := ""
	for _, m := range s.Mounts.Entries {
		switch {
		case m.FSType == "cgroup" && slices.Contains(strings.Split(m.SuperOptions, ","), "memory"):
			return m.Root
		case m.FSType == "cgroup2" && v2 == "":
			v2 = m.Root
		}
	}
	return v2
}

// timeNSWorks reports whether the lab's agent, a Go program and so
// threaded, can run in a time namespace on this kernel (Debian 12's Linux
// 6.1 refuses it any thread). Where it cannot, `stepbox run` leaves the time
// namespace out, and so do the lessons after the time lesson.
func timeNSWorks(l *Lab) bool {
	ok, err := sandbox.TimeNamespaceThreadsWork(l.paths)
	return ok || err != nil
}

// errNoTimeNS stops the time lesson where the kernel cannot run its agent
// in a time namespace, with what to do instead of a Go runtime's crash.
var errNoTimeNS = hint.With(errors.New("this kernel refuses threads to a process in a time namespace (Linux 6.1 does), and the lesson's agent is a threaded Go program"),
	"'stepbox doctor' says so too; the time lesson needs a newer kernel (6.18 works), and the later lessons go on without a time namespace, as 'stepbox run' does here")
