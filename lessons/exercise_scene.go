package lessons

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/procstat"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
)

// Scene is what a check sees: the exercise's host and everything the
// learner made from its shell, read live from the kernel.
//
// The learner's processes are the descendants of the session's process,
// which is the exercise's host (its namespaces are the host's, as the
// learner sees it) and a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER):
// an orphan, a daemon that forked twice, a detached container's monitor
// all come back under it, so nothing the learner starts falls out of the
// tree, whatever namespaces, session or cgroup it moved to. Containers are
// those under the session's own --root; cgroups those below the session's
// cgroup, which is the root of its cgroup namespace.
type Scene struct {
	Session *Session
	// Host is the exercise's host: the session's own process.
	Host nsinspect.Snapshot
	// Procs are the learner's processes, oldest first; the check itself
	// is not among them.
	Procs []*Proc
}

// Proc is one of the learner's processes.
type Proc struct {
	PID, PPID int
	Comm      string
	Args      []string
	snap      *nsinspect.Snapshot
}

// Scene reads the session's state now.
func (s *Session) Scene() (*Scene, error) {
	if !s.Alive() {
		return nil, fmt.Errorf("exercise %s: its shell is gone", s.Exercise)
	}
	host, err := nsinspect.Take(s.Pid)
	if err != nil {
		return nil, fmt.Errorf("read the exercise's host: %w", err)
	}
	sc := &Scene{Session: s, Host: host}
	self := os.Getpid()
	children := map[int][]int{}
	procs := map[int]*Proc{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, state, comm, ok := procStat(pid)
		if !ok || state == "Z" || state == "X" {
			continue
		}
		children[ppid] = append(children[ppid], pid)
		procs[pid] = &Proc{PID: pid, PPID: ppid, Comm: comm}
	}
	queue := []int{s.Pid}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			queue = append(queue, c)
			if c != self {
				p := procs[c]
				if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c)); err == nil {
					p.Args = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
				}
				sc.Procs = append(sc.Procs, p)
			}
		}
	}
	slices.SortFunc(sc.Procs, func(a, b *Proc) int { return a.PID - b.PID })
	return sc, nil
}

// procStat reads a process's parent, state and name from /proc/PID/stat.
func procStat(pid int) (ppid int, state, comm string, ok bool) {
	st, err := procstat.Read(pid)
	return st.PPID, st.State, st.Comm, err == nil
}

// Snapshot is the inspector's view of the process, read once.
func (p *Proc) Snapshot() nsinspect.Snapshot {
	if p.snap == nil {
		s, err := nsinspect.Take(p.PID)
		if err != nil {
			s = nsinspect.Snapshot{PID: p.PID}
		}
		p.snap = &s
	}
	return *p.snap
}

// String names the process for the learner: "sleep (pid 1234)".
func (p *Proc) String() string { return fmt.Sprintf("%s (pid %d)", p.Comm, p.PID) }

// NS is the process's namespace of typ.
func (p *Proc) NS(typ string) nsinspect.Namespace { return p.Snapshot().Namespace(typ) }

// Own reports whether p has a namespace of typ other than the host's.
func (s *Scene) Own(p *Proc, typ string) bool {
	h, b := s.Host.Namespace(typ), p.NS(typ)
	return h.Known() && b.Known() && !h.Same(b)
}

// Where lists the learner's processes for which f holds.
func (s *Scene) Where(f func(p *Proc) bool) []*Proc {
	var out []*Proc
	for _, p := range s.Procs {
		if f(p) {
			out = append(out, p)
		}
	}
	return out
}

// Shells are not what an exercise asks to leave running; a check that
// finds nothing else names them apart.
func isShell(p *Proc) bool {
	switch p.Comm {
	case "sh", "bash", "dash", "ash", "zsh", "busybox":
		return true
	}
	return false
}

// Path is a path in the exercise host's file tree, as this process can
// reach it wherever it runs: through the host's /proc/PID/root.
func (s *Scene) Path(p string) string {
	return filepath.Join(fmt.Sprintf("/proc/%d/root", s.Session.Pid), p)
}

// In is a path in p's own file tree, seen through /proc/PID/root.
func (p *Proc) In(path string) string {
	return filepath.Join(fmt.Sprintf("/proc/%d/root", p.PID), path)
}

// Cgroup is p's cgroup in the hierarchy of controller (or "" for cgroup2),
// relative to the exercise's own cgroup: "/" for the session's, "/box"
// below it. /proc/PID/cgroup names cgroups from the reader's cgroup
// namespace, and a check may run inside the session or outside it, so both
// the process's and the session's are read here and the one is taken off
// the other.
func (s *Scene) Cgroup(pid int, controller string) (string, bool) {
	mine, _, ok1 := cgroupOf(pid, controller)
	root, v2, ok2 := cgroupOf(s.Session.Pid, controller)
	if !ok1 || !ok2 {
		return "", false
	}
	if self := s.Session.CgroupSelf; v2 && self != "" {
		// The session's process moved below the exercise's cgroup
		// (leaveRootFree): the exercise's cgroup is above it.
		root = strings.TrimSuffix(root, self)
		if root == "" {
			root = "/"
		}
	}
	return below(mine, root)
}

// below is path p relative to root, as an absolute path ("/" for root
// itself); ok is false when p is not root or below it.
func below(p, root string) (string, bool) {
	if root == "/" {
		return p, true
	}
	if p == root {
		return "/", true
	}
	rel, ok := strings.CutPrefix(p, root+"/")
	return "/" + rel, ok
}

// cgroupOf reads pid's line of controller in /proc/PID/cgroup; v2 says it
// is cgroup2's line.
func cgroupOf(pid int, controller string) (path string, v2, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", false, false
	}
	entries, err := nsinspect.ParseCgroup(b)
	if err != nil {
		return "", false, false
	}
	for _, e := range entries {
		if controller == "" && e.V2() || controller != "" && slices.Contains(e.Controllers, controller) {
			return e.Path, e.V2(), true
		}
	}
	if controller != "" {
		// A controller on cgroup2 (a pure v2 host).
		return cgroupOf(pid, "")
	}
	return "", false, false
}

// CgroupDir is the directory of a cgroup relative to the exercise's own
// (Cgroup's answer) in the hierarchy of controller, as a path this process
// can open: below the session's own mount of that hierarchy.
func (s *Scene) CgroupDir(controller, rel string) string {
	return filepath.Join(s.Path(s.Session.cgroupMount(controller)), rel)
}

// CgroupFile reads a file of a cgroup, trimmed; ok is false when it cannot.
func (s *Scene) CgroupFile(controller, rel, file string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(s.CgroupDir(controller, rel), file))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// Cgroups lists the cgroups below the exercise's own in the hierarchy of
// controller (relative, "/box"), deepest last.
func (s *Scene) Cgroups(controller string) []string {
	base := s.CgroupDir(controller, "/")
	var out []string
	_ = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == base {
			return nil
		}
		out = append(out, strings.TrimPrefix(p, base))
		return nil
	})
	return out
}

// Containers are the containers under the exercise's --root.
func (s *Scene) Containers() []sandbox.State {
	states, _ := sandbox.List(sandbox.DefaultPaths(s.Session.Root))
	return states
}

// statOf is the device and inode of p, following links.
func statOf(p string) (dev, ino uint64, ok bool) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, 0, false
	}
	return st.Dev, st.Ino, true
}

// tf is a text made of two formats with the same arguments.
func tf(en, ko string, a ...any) i18n.Text {
	return i18n.T(fmt.Sprintf(en, a...), fmt.Sprintf(ko, a...))
}

// names lists processes for a message.
func names(ps []*Proc) string {
	var out []string
	for i, p := range ps {
		if i == 3 {
			out = append(out, fmt.Sprintf("… (%d)", len(ps)))
			break
		}
		out = append(out, p.String())
	}
	return strings.Join(out, ", ")
}

// Workers are the learner's processes that are not shells: what a task
// asks to leave running.
func (s *Scene) Workers() []*Proc {
	return s.Where(func(p *Proc) bool { return !isShell(p) })
}

// nothing is the ✗ of a check that found none of what it looks for: how
// many processes of the learner run, what is missing, and a first hint.
func nothing(s *Scene, key string, missing, hint i18n.Text) Verdict {
	return Verdict{Key: key,
		Seen:  []i18n.Text{tf("%d of your processes run besides the check: %s", "검사 말고 내 프로세스 %d개가 돌고 있습니다: %s", len(s.Procs), dashIfEmpty(names(s.Procs)))},
		Wrong: missing, Hint: hint}
}
