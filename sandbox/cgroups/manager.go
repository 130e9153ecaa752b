package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Manager drives the cgroup of one container in every hierarchy the host
// uses for it. See the package documentation for what each method writes.
type Manager interface {
	// Apply moves process pid (all its threads) into the container's cgroup
	// in every hierarchy, by writing it to each cgroup.procs.
	Apply(pid int) error
	// Set applies resources, on a new cgroup or a running container's.
	Set(r *specs.LinuxResources) error
	// Paths maps each controller ("memory", "cpu", …) and "unified" to the
	// container's absolute directory; Load takes it back.
	Paths() map[string]string
	// Stats reads usage and limit counters.
	Stats() (*Stats, error)
	// Procs lists every process in the cgroup and its descendants, in all
	// hierarchies, sorted.
	Procs() ([]int, error)
	// Kill sends SIGKILL to every process inside, even one forking as it is
	// killed, and waits until none is left.
	Kill() error
	// Destroy kills what is inside and removes every directory, children
	// first, then the parents that are left empty. Calling it again, or on
	// a cgroup already gone, is not an error.
	Destroy() error
	// Writes lists every file the manager wrote, with the value, in order:
	// "a limit is a write to a file".
	Writes() []Write
	// FD opens the cgroup2 directory for clone3(2) CLONE_INTO_CGROUP (Go's
	// syscall.SysProcAttr UseCgroupFD and CgroupFD); the caller closes it.
	// On a V2 host a child cloned with it is born in the container's
	// cgroup, which replaces Apply; on a hybrid host it places the child in
	// the cgroup2 part, and JoinThread does the v1 hierarchies. On a pure v1
	// host it fails.
	FD() (*os.File, error)
	// JoinThread moves the calling thread alone into the container's
	// cgroup in every v1 hierarchy, by writing 0 to each tasks file, so
	// that a child it then clones is born there (a child starts in its
	// parent thread's cgroups). Unlike Apply it takes no global lock and
	// never waits for an RCU grace period (see "Cost" in the package
	// documentation). The caller must be locked to its OS thread
	// (runtime.LockOSThread) until leave has moved the thread back where
	// it was, the same way; if leave fails, the caller must keep the
	// thread locked so that Go ends it with the goroutine. Nothing is done
	// on a V2 host.
	JoinThread() (leave func() error, err error)
	// Layout is the host layout the manager was made for.
	Layout() *Layout
	// Pause freezes every process inside (the v1 freezer, or cgroup2's
	// cgroup.freeze), Resume thaws them, Paused says which (freeze.go).
	Pause() error
	Resume() error
	Paused() (bool, error)
}

// Write is one value written to one cgroup file.
type Write struct {
	File  string `json:"file"`
	Value string `json:"value"`
}

// String shows the write as the shell command that would do the same.
func (w Write) String() string {
	v := w.Value
	if v == "" || strings.ContainsAny(v, " \t\n'\"$\\*?") {
		v = "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
	}
	return "echo " + v + " > " + w.File
}

// v1Controllers are the v1 hierarchies a container joins. blkio is not among
// them: stepbox sets no block I/O limits (it refuses the blockIO section), so
// a blkio directory would be a mkdir and an rmdir per container for nothing.
// net_cls, net_prio, perf_event, hugetlb, rdma and misc are joined neither:
// nothing stepbox sets lives there, except hugetlb, which is joined when the
// spec asks for hugepage limits. name=systemd belongs to systemd.
// freezer is joined for Kill, cpuacct for CPU usage, devices for the device
// allow-list. On a hybrid host with cgroup.kill (Linux 5.14) the bare
// cgroup2 directory does the work of two of them: its cgroup.kill kills,
// and its cpu.stat counts CPU time (usage_usec is kept for every cgroup2
// directory, controller or not). There freezer and cpuacct are not joined.
var v1Controllers = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices"}

// v2Controllers are enabled (cgroup.subtree_control) above a container's
// cgroup2 directory when they live in the cgroup2 hierarchy. io, rdma and
// misc are not: stepbox sets none of their limits.
var v2Controllers = []string{"cpu", "cpuset", "memory", "pids"}

type manager struct {
	mu     sync.Mutex
	layout *Layout
	// paths maps controller (and "unified") to directory; co-mounted v1
	// controllers (cpu,cpuacct) share one.
	paths map[string]string
	// dirs are the distinct directories, v1 ones first, cgroup2 last.
	dirs []string
	// unified is the cgroup2 directory, "" on a V1 host.
	unified string
	writes  []Write
	// made lists the directories create made, parents before children, so
	// a failed New removes exactly those: a cgroup that was there already
	// (another container's, with processes) is not New's to remove.
	made []string
	// parentCpus and parentMems are the v1 cpuset parent's values, read once
	// when the directory is made, to validate a cpuset against.
	parentCpus, parentMems string
}

// New makes the cgroup at path (the OCI linux.cgroupsPath, e.g.
// "/stepbox/<id>", absolute from each hierarchy's root, or relative to the
// caller's own cgroup) in every hierarchy the host layout uses, and applies r
// (nil: no limits). On any failure it removes everything it made and returns
// an error naming the file and the value.
func New(path string, r *specs.LinuxResources) (Manager, error) {
	l, err := HostLayout()
	if err != nil {
		return nil, err
	}
	return l.New(path, r)
}

// Load rebuilds a manager from the Paths of one made earlier (a state file),
// on the host layout. The directories need not exist any more.
func Load(paths map[string]string) (Manager, error) {
	l, err := HostLayout()
	if err != nil {
		return nil, err
	}
	return l.Load(paths)
}

// New is the package's New on layout l.
func (l *Layout) New(p string, r *specs.LinuxResources) (Manager, error) {
	if err := Validate(r); err != nil {
		return nil, err
	}
	m, err := l.placed(p, r)
	if err != nil {
		return nil, err
	}
	if err := m.create(r); err != nil {
		if uerr := m.undo(); uerr != nil {
			err = fmt.Errorf("%w (and removing what was made: %v)", err, uerr)
		}
		return nil, err
	}
	return m, nil
}

// Find returns a manager for the directories New(p, r) makes, without
// making them: a container whose record lost its cgroup paths (its
// creator died before writing them) is still found and removed.
func Find(p string, r *specs.LinuxResources) (Manager, error) {
	l, err := HostLayout()
	if err != nil {
		return nil, err
	}
	return l.placed(p, r)
}

// placed is a manager whose directories are worked out, not yet made.
func (l *Layout) placed(p string, r *specs.LinuxResources) (*manager, error) {
	var own map[string]string
	if !path.IsAbs(p) {
		var err error
		if own, err = l.Own(); err != nil {
			return nil, fmt.Errorf("cgroup path %q is relative: %w", p, err)
		}
	}
	m := &manager{layout: l, paths: map[string]string{}}
	for _, c := range l.joined(r) {
		h := l.V1Hierarchy(c)
		dir, err := dirFor(h, p, own[c])
		if err != nil {
			return nil, err
		}
		m.paths[c] = dir
		if !slices.Contains(m.dirs, dir) {
			m.dirs = append(m.dirs, dir)
		}
	}
	if l.Unified != nil {
		dir, err := dirFor(l.Unified, p, own[Unified])
		if err != nil {
			return nil, err
		}
		m.paths[Unified] = dir
		m.unified = dir
		m.dirs = append(m.dirs, dir)
	}
	return m, nil
}

// undo removes the directories a failed create made, children first. No
// process was put in them yet, so there is nothing to kill.
func (m *manager) undo() error {
	var errs []error
	for i := len(m.made) - 1; i >= 0; i-- {
		if err := rmdir(m.made[i], m.layout.Fake()); err != nil {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", m.made[i], err))
		}
	}
	return errors.Join(errs...)
}

// joined lists the v1 controllers a container with resources r joins, of
// those the host mounts.
func (l *Layout) joined(r *specs.LinuxResources) []string {
	var out []string
	for _, c := range v1Controllers {
		if l.V1Hierarchy(c) == nil {
			continue
		}
		if (c == "freezer" || c == "cpuacct") && l.Mode == Hybrid && l.hasKill {
			continue
		}
		out = append(out, c)
	}
	if r != nil && len(r.HugepageLimits) > 0 && l.V1Hierarchy("hugetlb") != nil {
		out = append(out, "hugetlb")
	}
	return out
}

// Load is the package's Load on layout l.
func (l *Layout) Load(paths map[string]string) (Manager, error) {
	if len(paths) == 0 {
		return nil, errors.New("load cgroup: no paths")
	}
	m := &manager{layout: l, paths: map[string]string{}}
	for _, k := range sortedKeys(paths) {
		dir := filepath.Clean(paths[k])
		// A state file names directories that Destroy will kill in and
		// remove: accept only ones inside the hierarchy they claim to be.
		var h *Hierarchy
		if k == Unified {
			h = l.Unified
		} else {
			h = l.V1Hierarchy(k)
		}
		if h == nil {
			return nil, fmt.Errorf("load cgroup: %s: no such hierarchy on this host (%s)", k, l.Mode)
		}
		if !strings.HasPrefix(dir, h.Dir+"/") {
			return nil, fmt.Errorf("load cgroup: %s path %s is not inside %s", k, dir, h.Dir)
		}
		m.paths[k] = dir
		if k == Unified {
			m.unified = dir
			continue
		}
		if !slices.Contains(m.dirs, dir) {
			m.dirs = append(m.dirs, dir)
		}
	}
	if m.unified != "" {
		m.dirs = append(m.dirs, m.unified)
	}
	return m, nil
}

func (m *manager) Layout() *Layout { return m.layout }

func (m *manager) Paths() map[string]string {
	out := make(map[string]string, len(m.paths))
	for k, v := range m.paths {
		out[k] = v
	}
	return out
}

func (m *manager) Writes() []Write {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.writes)
}

// v1 returns the v1 directory of controller, or "".
func (m *manager) v1(controller string) string {
	if controller == Unified {
		return ""
	}
	return m.paths[controller]
}

// v2 returns the cgroup2 directory when controller lives there, or "".
func (m *manager) v2(controller string) string {
	if m.unified != "" && m.paths[controller] == "" && m.layout.InV2(controller) {
		return m.unified
	}
	return ""
}

// write writes value to dir/file and records it. The error names the file
// and the value: "write …/memory.limit_in_bytes = 12: invalid argument".
func (m *manager) write(dir, file, value string) error {
	p := dir + "/" + file
	if err := writeFile(p, value, m.layout.Fake()); err != nil {
		return &WriteError{File: p, Value: value, Err: err}
	}
	m.writes = append(m.writes, Write{File: p, Value: value})
	return nil
}

// WriteError is a failed write to a cgroup file.
type WriteError struct {
	File, Value string
	Err         error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("write %s = %s: %v", e.File, e.Value, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// has reports whether dir/file exists: whether the kernel offers a feature
// (swap accounting, a hugepage size). On a fake tree everything is offered.
func (m *manager) has(dir, file string) bool {
	return m.layout.Fake() || exists(dir+"/"+file)
}

func (m *manager) read(dir, file string) (string, error) {
	s, err := readFile(dir + "/" + file)
	if err != nil {
		return "", fmt.Errorf("read %s/%s: %w", dir, file, err)
	}
	return strings.TrimSpace(s), nil
}

// create makes the directories and applies r.
func (m *manager) create(r *specs.LinuxResources) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, dir := range m.dirs {
		if dir == m.unified {
			continue
		}
		made, err := m.mkdirAll(dir, m.hierarchyOf(dir))
		m.made = append(m.made, made...)
		if err != nil {
			return err
		}
		if dir == m.v1("cpuset") {
			if err := m.initCpuset(made, r); err != nil {
				return err
			}
		}
	}
	if m.unified != "" {
		if err := m.createUnified(r); err != nil {
			return err
		}
	}
	return m.set(r, true)
}

// hierarchyOf returns the hierarchy dir is in: the one mounted deepest above
// it, should one mount sit below another's.
func (m *manager) hierarchyOf(dir string) *Hierarchy {
	var best *Hierarchy
	for _, h := range append(slices.Clone(m.layout.V1), m.layout.Unified) {
		if h != nil && strings.HasPrefix(dir, h.Dir+"/") && (best == nil || len(h.Dir) > len(best.Dir)) {
			best = h
		}
	}
	return best
}

// mkdirAll makes dir and the missing ancestors below the hierarchy's mount,
// and returns those it made, top first. It tries the leaf first: on the
// usual path the parent is there and that is one mkdir(2).
func (m *manager) mkdirAll(dir string, h *Hierarchy) ([]string, error) {
	// Another container's Destroy may remove an empty parent between our
	// mkdir of it and of its child (ENOENT): try again a few times.
	for try := 0; ; try++ {
		made, err := mkdir(dir)
		if err == nil {
			if made {
				return []string{dir}, nil
			}
			return nil, nil
		}
		if !errors.Is(err, unix.ENOENT) || try == 3 {
			return nil, err
		}
		var out []string
		rel := strings.TrimPrefix(dir, h.Dir)
		cur := h.Dir
		parts := strings.Split(strings.Trim(rel, "/"), "/")
		for _, part := range parts[:len(parts)-1] {
			cur += "/" + part
			made, err := mkdir(cur)
			if err != nil && !errors.Is(err, unix.ENOENT) {
				return out, err
			}
			if made {
				out = append(out, cur)
			}
		}
		made, err = mkdir(dir)
		if err == nil {
			if made {
				out = append(out, dir)
			}
			return out, nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return out, err
		}
	}
}

// createUnified makes the cgroup2 directory. On a V2 host the controllers
// the container uses must be enabled in every ancestor's
// cgroup.subtree_control, top down, before they show in the leaf
// (cgroup-v2.rst "Enabling and Disabling"). Writing a controller that is
// already enabled is a no-op, so no ancestor is read first. On a hybrid host
// the cgroup2 hierarchy usually owns no controller the container needs: the
// directory is made anyway, bare, because cgroup.kill, cgroup.events and
// cgroup.procs work there and track every process of the container.
func (m *manager) createUnified(r *specs.LinuxResources) error {
	h := m.layout.Unified
	var want []string
	for _, c := range v2Controllers {
		if m.layout.InV2(c) {
			want = append(want, "+"+c)
		}
	}
	if r != nil && len(r.HugepageLimits) > 0 && m.layout.InV2("hugetlb") {
		want = append(want, "+hugetlb")
	}
	if r != nil {
		for _, k := range sortedKeys(r.Unified) {
			if c, _, ok := strings.Cut(k, "."); ok && m.layout.InV2(c) && !slices.Contains(want, "+"+c) {
				want = append(want, "+"+c)
			}
		}
	}
	if len(want) == 0 {
		made, err := m.mkdirAll(m.unified, h)
		m.made = append(m.made, made...)
		return err
	}
	enable := strings.Join(want, " ")
	cur := h.Dir
	parts := strings.Split(strings.Trim(strings.TrimPrefix(m.unified, h.Dir), "/"), "/")
	for i, part := range parts {
		if err := m.write(cur, "cgroup.subtree_control", enable); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("%w (cgroup v2 lets a cgroup with processes in it have no child with controllers: choose a cgroup path outside it)", err)
			}
			return err
		}
		cur += "/" + part
		if i == len(parts)-1 {
			break
		}
		made, err := mkdir(cur)
		if err != nil {
			return err
		}
		if made {
			m.made = append(m.made, cur)
		}
	}
	made, err := m.mkdirAll(m.unified, h)
	m.made = append(m.made, made...)
	return err
}

func (m *manager) Apply(pid int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := strconv.Itoa(pid)
	for _, dir := range m.dirs {
		if err := m.write(dir, "cgroup.procs", v); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("%w (process %d is gone)", err, pid)
			}
			return err
		}
	}
	return nil
}

func (m *manager) Set(r *specs.LinuxResources) error {
	if err := Validate(r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set(r, false)
}

func (m *manager) JoinThread() (func() error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var join []string
	for _, dir := range m.dirs {
		if dir != m.unified {
			join = append(join, dir)
		}
	}
	if len(join) == 0 || m.layout.Fake() {
		return func() error { return nil }, nil
	}
	back, err := m.threadDirs()
	if err != nil {
		return nil, err
	}
	leave := func() error {
		var errs []error
		for _, dir := range back {
			if err := writeFile(dir+"/tasks", "0", false); err != nil {
				errs = append(errs, fmt.Errorf("move thread back to %s: %w", dir, err))
			}
		}
		return errors.Join(errs...)
	}
	for _, dir := range join {
		// "0" is the writer itself (cgroups(7)); a thread moving itself
		// through tasks skips cgroup_threadgroup_rwsem
		// (kernel/cgroup/cgroup.c, cgroup_procs_write_start).
		if err := m.write(dir, "tasks", "0"); err != nil {
			return leave, err
		}
	}
	return leave, nil
}

// threadDirs are the calling thread's own directories in the v1
// hierarchies the container uses, from /proc/thread-self/cgroup.
func (m *manager) threadDirs() ([]string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	own, err := parseOwn("/proc/thread-self/cgroup", b)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, c := range sortedKeys(m.paths) {
		h := m.layout.V1Hierarchy(c)
		if c == Unified || h == nil {
			continue
		}
		rel, err := inMount(h, own[c])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		dir := path.Join(h.Dir, rel)
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	return dirs, nil
}

func (m *manager) FD() (*os.File, error) {
	if m.unified == "" {
		return nil, fmt.Errorf("clone into cgroup: needs a cgroup2 hierarchy, this host is %s", m.layout.Mode)
	}
	fd, err := unix.Open(m.unified, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", m.unified, err)
	}
	return os.NewFile(uintptr(fd), m.unified), nil
}

func (m *manager) Procs() ([]int, error) {
	pids, err := m.procs()
	slices.Sort(pids)
	return pids, err
}

// procsTree lists the processes of dir and of every cgroup below it. A
// directory that does not exist holds none.
func procsTree(dir string) ([]int, error) {
	pids, err := readPids(dir + "/cgroup.procs")
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	subs, err := subdirs(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return pids, err
	}
	for _, s := range subs {
		p, err := procsTree(s)
		if err != nil {
			return pids, err
		}
		pids = append(pids, p...)
	}
	return pids, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
