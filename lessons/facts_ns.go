package lessons

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// Facts for the namespace lessons (pid, mount, rootfs, ipc, net). Where a
// fact can be read from the host, these rows read the container's process
// from the host (e.Outside): in the pid lesson the container still reads the
// host's /proc, where its own pid, 1, names the host's first process, so
// what it reports about "itself" through /proc is not about itself.

// nsSame reports whether two namespace links of a snapshot name the same
// namespace (pid and pid_for_children, say).
func nsSame(s nsinspect.Snapshot, a, b string) bool {
	x, y := s.Namespace(a), s.Namespace(b)
	return x.Err == nil && y.Err == nil && x.Inode == y.Inode
}

// probeText is a probe's output without surrounding space.
func probeText(e *Evidence, w Where, cmd string) string {
	return strings.TrimSpace(e.Probe(w, cmd).Output)
}

// probeLine is line n (0-based) of a probe's output, trimmed; "" when the
// output is shorter.
func probeLine(e *Evidence, w Where, cmd string, n int) string {
	lines := strings.Split(strings.TrimSpace(e.Probe(w, cmd).Output), "\n")
	if n >= len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[n])
}

// probeOK reports whether a probe ran and exited 0.
func probeOK(e *Evidence, w Where, cmd string) bool { return e.Probe(w, cmd).Code == 0 }

// procFacts reads two facts of the /proc a process sees: what its process
// 1 is, and how many processes it lists.
const procFacts = "cat /proc/1/comm; ls /proc | grep -c '^[0-9]'"

// rowProc1 and rowProcs show procFacts on each side.
var (
	rowProc1 = rowProbeLine(i18n.T("/proc/1/comm", "/proc/1/comm"), procFacts, 0)
	rowProcs = rowProbeLine(i18n.T("processes in /proc", "/proc의 프로세스 수"), procFacts, 1)
)

// rowProbeLine shows line n of the same probe run on the host and inside.
func rowProbeLine(label i18n.Text, cmd string, n int) Row {
	return Row{
		Label: label,
		Host:  func(e *Evidence) string { return probeLine(e, Host, cmd, n) },
		Box:   func(e *Evidence) string { return probeLine(e, Inside, cmd, n) },
	}
}

// rootMount is the mount at "/" of a snapshot's table: the last one
// listed, since later mounts stack on top of earlier ones.
func rootMount(s nsinspect.Snapshot) (nsinspect.Mount, bool) {
	var m nsinspect.Mount
	found := false
	for _, x := range s.Mounts.Entries {
		if x.MountPoint == "/" {
			m, found = x, true
		}
	}
	return m, found
}

// propagation names a mount's propagation as mountinfo's optional fields
// say it (mount_namespaces(7)): shared:N, master:N, both, or private.
func propagation(m nsinspect.Mount) string {
	var p []string
	if m.Shared != 0 {
		p = append(p, fmt.Sprintf("shared:%d", m.Shared))
	}
	if m.Master != 0 {
		p = append(p, fmt.Sprintf("master:%d", m.Master))
	}
	if m.Unbindable {
		p = append(p, "unbindable")
	}
	if len(p) == 0 {
		return "private"
	}
	return strings.Join(p, " ")
}

// rowRootPropagation shows the propagation of "/" on each side, the
// container's read from the host.
var rowRootPropagation = Row{
	Label: i18n.T("propagation of /", "/의 전파 방식"),
	Host:  func(e *Evidence) string { return rootPropagation(e.Host) },
	Box:   func(e *Evidence) string { return rootPropagation(e.Outside) },
}

func rootPropagation(s nsinspect.Snapshot) string {
	m, ok := rootMount(s)
	if !ok {
		return "?"
	}
	return propagation(m)
}

// sharedWithHost lists the peer groups that the container's mounts share
// with the host's: a mount in one of them propagates mounts and unmounts
// both ways.
func sharedWithHost(e *Evidence) []int {
	host := map[int]bool{}
	for _, m := range e.Host.Mounts.Entries {
		if m.Shared != 0 {
			host[m.Shared] = true
		}
	}
	var out []int
	seen := map[int]bool{}
	for _, m := range e.Outside.Mounts.Entries {
		if m.Shared != 0 && host[m.Shared] && !seen[m.Shared] {
			out = append(out, m.Shared)
			seen[m.Shared] = true
		}
	}
	return out
}

// rowMountsOutside shows how many mounts each side has, the container's
// read from the host (/proc/PID/mountinfo), which is right even while the
// container still reads the host's /proc.
var rowMountsOutside = Row{
	Label: i18n.T("mounts", "마운트 수"),
	Host:  func(e *Evidence) string { return strconv.Itoa(len(e.Host.Mounts.Entries)) },
	Box:   func(e *Evidence) string { return strconv.Itoa(len(e.Outside.Mounts.Entries)) },
}

// mountBySource finds a mount of a given source (the name given to
// mount(8) for a tmpfs) at point.
func mountBySource(s nsinspect.Snapshot, point, source string) bool {
	for _, m := range s.Mounts.Entries {
		if m.MountPoint == point && m.Source == source {
			return true
		}
	}
	return false
}

// rowMountSource shows what is mounted at point on each side: its file
// system type and source, or "-".
func rowMountSource(point string) Row {
	at := func(s nsinspect.Snapshot) string {
		out := "-"
		for _, m := range s.Mounts.Entries {
			if m.MountPoint == point {
				out = m.FSType + " " + m.Source
			}
		}
		return out
	}
	return Row{
		Label: i18n.T("mounted at "+point, point+"에 마운트"),
		Host:  func(e *Evidence) string { return at(e.Host) },
		Box:   func(e *Evidence) string { return at(e.Outside) },
	}
}

// rowRoot shows each side's root directory as dev:inode of /proc/PID/root.
var rowRoot = Row{
	Label: i18n.T("root directory", "루트 디렉터리"),
	Host:  func(e *Evidence) string { return rootText(e.Host.Root) },
	Box:   func(e *Evidence) string { return rootText(e.Outside.Root) },
}

func rootText(r nsinspect.RootDir) string {
	if !r.Known() {
		return "?"
	}
	return fmt.Sprintf("dev %d:%d inode %d", unix.Major(r.Dev), unix.Minor(r.Dev), r.Inode)
}

// sameRoot reports whether the container's root is the host's.
func sameRoot(e *Evidence) bool {
	return e.Host.Root.Known() && e.Outside.Root.Known() &&
		e.Host.Root.Dev == e.Outside.Root.Dev && e.Host.Root.Inode == e.Outside.Root.Inode
}

// rowPeerGroups counts the mounts that are in one of the host's peer
// groups: on the host every shared mount, in the container those that
// would carry a mount across.
var rowPeerGroups = Row{
	Label: i18n.T("mounts in a host peer group", "호스트 피어 그룹의 마운트"),
	Host: func(e *Evidence) string {
		n := 0
		for _, m := range e.Host.Mounts.Entries {
			if m.Shared != 0 {
				n++
			}
		}
		return strconv.Itoa(n)
	},
	Box: func(e *Evidence) string {
		groups := map[int]bool{}
		for _, g := range sharedWithHost(e) {
			groups[g] = true
		}
		n := 0
		for _, m := range e.Outside.Mounts.Entries {
			if groups[m.Shared] {
				n++
			}
		}
		return strconv.Itoa(n)
	},
}

// insideOK runs cmd inside the container and fails unless it exits 0: a
// step's Apply uses it, so that a change that did not happen stops the
// lesson with what the command said.
func insideOK(l *Lab, cmd string) (Output, error) {
	out, err := l.Inside(cmd)
	if err != nil {
		return out, err
	}
	if out.Code != 0 {
		return out, fmt.Errorf("%s: exit %d: %s", cmd, out.Code, strings.TrimSpace(out.Output))
	}
	return out, nil
}
