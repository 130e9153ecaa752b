package lessons

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// The facts a step can show, host beside container. Each reads the
// Evidence; the host column comes from the runner's own process, the
// container column from the container's view of itself.

// RowNS shows a namespace's inode (namespaces(7): equal inodes, same
// namespace).
func RowNS(typ string) Row {
	return Row{
		Label: i18n.T("ns/"+typ+" inode", "ns/"+typ+" 아이노드"),
		Host:  func(e *Evidence) string { return nsText(e.Host, typ) },
		Box:   func(e *Evidence) string { return nsText(e.Outside, typ) },
	}
}

func nsText(s nsinspect.Snapshot, typ string) string {
	n := s.Namespace(typ)
	if n.Err != nil {
		return "?"
	}
	return strconv.FormatUint(n.Inode, 10)
}

// Isolated reports whether the container has its own namespace of typ.
func (e *Evidence) Isolated(typ string) bool {
	h, b := e.Host.Namespace(typ), e.Outside.Namespace(typ)
	return h.Err == nil && b.Err == nil && h.Inode != b.Inode
}

// RowHostname shows the hostname each side sees.
var RowHostname = Row{
	Label: i18n.T("hostname", "호스트 이름"),
	Host:  func(e *Evidence) string { return e.Host.UTS.Hostname },
	Box:   func(e *Evidence) string { return e.Inside.UTS.Hostname },
}

// RowPID shows the container's process id on each side (NSpid in
// /proc/PID/status: one number per nested pid namespace).
var RowPID = Row{
	Label: i18n.T("pid of the container", "컨테이너 프로세스 PID"),
	Host:  func(e *Evidence) string { return first(e.Outside.Status.NSpid) },
	Box:   func(e *Evidence) string { return last(e.Outside.Status.NSpid) },
}

func first(p []int) string {
	if len(p) == 0 {
		return "?"
	}
	return strconv.Itoa(p[0])
}

func last(p []int) string {
	if len(p) == 0 {
		return "?"
	}
	return strconv.Itoa(p[len(p)-1])
}

// RowUser shows the effective uid: inside, and as the host sees it.
var RowUser = Row{
	Label: i18n.T("uid", "uid"),
	Host:  func(e *Evidence) string { return strconv.Itoa(int(e.Outside.Status.UID.Effective)) },
	Box:   func(e *Evidence) string { return strconv.Itoa(int(e.Inside.Status.UID.Effective)) },
}

// RowUIDMap shows /proc/PID/uid_map.
var RowUIDMap = Row{
	Label: i18n.T("uid_map", "uid_map"),
	Host:  func(e *Evidence) string { return idMap(e.Host.IDMap.UID) },
	Box:   func(e *Evidence) string { return idMap(e.Inside.IDMap.UID) },
}

func idMap(r []nsinspect.IDMapRange) string {
	var parts []string
	for _, x := range r {
		parts = append(parts, fmt.Sprintf("%d %d %d", x.Inside, x.Outside, x.Count))
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, "; ")
}

// RowMounts shows how many mounts each side has.
var RowMounts = Row{
	Label: i18n.T("mounts", "마운트 수"),
	Host:  func(e *Evidence) string { return strconv.Itoa(len(e.Host.Mounts.Entries)) },
	Box:   func(e *Evidence) string { return strconv.Itoa(len(e.Inside.Mounts.Entries)) },
}

// HasMount reports whether s has a mount at point.
func HasMount(s nsinspect.Snapshot, point string) bool {
	for _, m := range s.Mounts.Entries {
		if m.MountPoint == point {
			return true
		}
	}
	return false
}

// RowMountAt shows whether something is mounted at point on each side.
func RowMountAt(point string) Row {
	yesno := func(s nsinspect.Snapshot) string {
		for _, m := range s.Mounts.Entries {
			if m.MountPoint == point {
				return m.FSType
			}
		}
		return "-"
	}
	return Row{
		Label: i18n.T("mounted at "+point, point+" 마운트"),
		Host:  func(e *Evidence) string { return yesno(e.Host) },
		Box:   func(e *Evidence) string { return yesno(e.Inside) },
	}
}

// RowInterfaces lists network interfaces with their state.
var RowInterfaces = Row{
	Label: i18n.T("interfaces", "네트워크 인터페이스"),
	Host:  func(e *Evidence) string { return ifaces(e.Host) },
	Box:   func(e *Evidence) string { return ifaces(e.Inside) },
}

func ifaces(s nsinspect.Snapshot) string {
	var out []string
	for _, i := range s.Network.Interfaces {
		state := "down"
		if slices.Contains(i.Flags, "UP") || slices.Contains(i.Flags, "up") {
			state = "up"
		}
		out = append(out, i.Name+" "+state)
	}
	if s.Network.Err != nil {
		return "?"
	}
	return strings.Join(out, ", ")
}

// RowShm lists the System V shared memory segments visible on each side.
var RowShm = Row{
	Label: i18n.T("SysV shm ids", "SysV 공유 메모리 id"),
	Host:  func(e *Evidence) string { return shm(e.Host) },
	Box:   func(e *Evidence) string { return shm(e.Inside) },
}

func shm(s nsinspect.Snapshot) string {
	if s.IPC.Err != nil {
		return "?"
	}
	var ids []string
	for _, o := range s.IPC.Shm {
		ids = append(ids, strconv.Itoa(o.ID))
	}
	if len(ids) == 0 {
		return "(none)"
	}
	return strings.Join(ids, ", ")
}

// RowCgroup shows the container's cgroup path: as the host sees it (its
// /proc/PID/cgroup) and as the container sees it.
var RowCgroup = Row{
	Label: i18n.T("cgroup", "cgroup"),
	Host:  func(e *Evidence) string { return cgroupPath(e.Outside.Cgroups.Entries) },
	Box:   func(e *Evidence) string { return cgroupPath(e.Inside.Cgroups.Entries) },
}

// cgroupPath prefers the v2 line (hierarchy 0), else the memory one.
func cgroupPath(es []nsinspect.CgroupEntry) string {
	for _, c := range es {
		if c.Hierarchy == 0 {
			return c.Path
		}
	}
	for _, c := range es {
		if slices.Contains(c.Controllers, "memory") {
			return c.Path
		}
	}
	if len(es) > 0 {
		return es[0].Path
	}
	return "?"
}

// RowProbe shows the first line of a probe's output on each side.
func RowProbe(label i18n.Text, hostCmd, insideCmd string) Row {
	firstLine := func(p ProbeResult) string {
		l, _, _ := strings.Cut(strings.TrimSpace(p.Output), "\n")
		return l
	}
	return Row{
		Label: label,
		Host:  func(e *Evidence) string { return firstLine(e.Probe(Host, hostCmd)) },
		Box:   func(e *Evidence) string { return firstLine(e.Probe(Inside, insideCmd)) },
	}
}
