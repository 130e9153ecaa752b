package testutil

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/mountinfo"
	"github.com/stepbox/stepbox/internal/procstat"
)

// Kernel objects the leak checker looks at. Each is a set of strings, so a
// before/after difference names exactly what was left.
type objects struct {
	mounts    map[string]bool // "mountpoint fstype source" of the caller's mount namespace
	cgroups   map[string]bool // directories under /sys/fs/cgroup, every hierarchy
	netns     map[string]bool // network namespaces held by a bind mount or /run/netns
	links     map[string]bool // network interfaces of the caller's network namespace
	bridges   map[string]bool // the bridges among them (network create, stepbox's networks)
	processes map[string]bool // descendants left alive (we are their subreaper)
	proxies   map[string]bool // port proxies (stepbox-proxy) anywhere below us
	// What `network create --nat` changes, which no test may change on the
	// host: ip_forward's value, and nftables tables named stepbox-*.
	forwarding map[string]bool
	nat        map[string]bool
}

// Main runs a test package and fails it when a mount, cgroup, network
// namespace, link or process made during the run survives it. Use it in
// TestMain of every package that makes kernel objects:
//
//	func TestMain(m *testing.M) { testutil.Main(m) }
//
// The process becomes a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), so
// a process that escaped by double fork is reparented to the test binary and
// found, instead of vanishing under PID 1.
//
// cleanup functions run after the tests and before the check: fixtures the
// whole package shared (a root filesystem, say) are removed there.
func Main(m *testing.M, cleanup ...func()) {
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	before := snapshot()
	code := m.Run()
	for _, f := range cleanup {
		f()
	}
	if leaks := waitForLeaks(before, 5*time.Second); len(leaks) > 0 {
		fmt.Fprintln(os.Stderr, "LEAK CHECK FAILED: this package left kernel objects behind:")
		for _, l := range leaks {
			fmt.Fprintln(os.Stderr, "  "+l)
		}
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Leaks compares the objects now with a snapshot taken by Snapshot; tests that
// want to prove one operation is clean (not only the whole package) use it.
type Leaks struct{ before objects }

// Snapshot records the kernel objects present now.
func Snapshot() *Leaks { return &Leaks{before: snapshot()} }

// Check fails t when anything made since the snapshot is still there after
// waiting up to timeout for asynchronous teardown (cgroup removal, netns exit).
func (l *Leaks) Check(t testing.TB, timeout time.Duration) {
	t.Helper()
	if leaks := waitForLeaks(l.before, timeout); len(leaks) > 0 {
		t.Errorf("left behind:\n  %s", strings.Join(leaks, "\n  "))
	}
}

func waitForLeaks(before objects, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		reapZombies()
		leaks := diff(before, snapshot())
		if len(leaks) == 0 || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func snapshot() objects {
	return objects{
		mounts:     mounts(),
		cgroups:    cgroups(),
		netns:      heldNetns(),
		links:      links(),
		bridges:    bridges(),
		processes:  children(),
		proxies:    proxies(),
		forwarding: forwarding(),
		nat:        natTables(),
	}
}

func diff(before, after objects) []string {
	var out []string
	add := func(kind string, b, a map[string]bool) {
		var l []string
		for k := range a {
			if !b[k] {
				l = append(l, kind+": "+k)
			}
		}
		sort.Strings(l)
		out = append(out, l...)
	}
	add("mount", before.mounts, after.mounts)
	add("cgroup", before.cgroups, after.cgroups)
	add("network namespace", before.netns, after.netns)
	add("bridge", before.bridges, after.bridges)
	add("link", before.links, after.links)
	add("process", before.processes, after.processes)
	add("port proxy", before.proxies, after.proxies)
	add("sysctl changed", before.forwarding, after.forwarding)
	add("nftables table", before.nat, after.nat)
	return out
}

func mounts() map[string]bool {
	set := map[string]bool{}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return set
	}
	entries, err := mountinfo.Parse(b)
	if err != nil {
		return set
	}
	for _, e := range entries {
		set[e.MountPoint+" "+e.FSType+" "+e.Source] = true
	}
	return set
}

func cgroups() map[string]bool {
	set := map[string]bool{}
	self, _ := os.ReadFile("/proc/self/cgroup")
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	others := othersCgroups(self, mi)
	_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			// cgroupfs has no symlinks or nested filesystems beyond the
			// hierarchies themselves; a depth bound keeps the walk cheap.
			if strings.Count(p, "/") > 9 {
				return fs.SkipDir
			}
			if others(p) {
				return fs.SkipDir
			}
			set[p] = true
		}
		return nil
	})
	return set
}

// othersCgroups returns a test for the cgroup directories that belong to
// other commands on the host. Where whatever started the tests gives each
// command a cgroup of its own below a common parent (the build machines put
// each in memory:/process_api/ID; systemd puts sessions side by side), a
// command someone else starts while a package runs gets a new sibling of
// ours: not the package's doing, and no leak. Our own cgroup and what is
// below it count, and so does everything outside that parent (stepbox makes
// its cgroups at /stepbox/ID of each hierarchy). self is /proc/self/cgroup,
// mountinfo /proc/self/mountinfo.
func othersCgroups(self, mountinfoData []byte) func(dir string) bool {
	type sib struct{ parent, own string }
	var sibs []sib
	entries, _ := mountinfo.Parse(mountinfoData)
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		// hierarchy-ID:controller-list:cgroup-path (cgroups(7))
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || path.Dir(f[2]) == "/" || f[2] == "/" {
			continue // a top-level cgroup's siblings are everyone's, stepbox's too
		}
		for _, e := range entries {
			if !mountsHierarchy(e, f[1]) || (e.Root != "/" && !strings.HasPrefix(f[2], e.Root+"/")) {
				continue
			}
			own := path.Join(e.MountPoint, strings.TrimPrefix(f[2], strings.TrimSuffix(e.Root, "/")))
			sibs = append(sibs, sib{parent: path.Dir(own), own: own})
		}
	}
	return func(dir string) bool {
		for _, s := range sibs {
			if strings.HasPrefix(dir, s.parent+"/") && dir != s.own && !strings.HasPrefix(dir, s.own+"/") {
				return true
			}
		}
		return false
	}
}

// mountsHierarchy reports whether e mounts the hierarchy whose controllers
// /proc/self/cgroup lists as ctrls ("memory", "cpu,cpuacct",
// "name=systemd"; empty for cgroup2).
func mountsHierarchy(e mountinfo.Entry, ctrls string) bool {
	if ctrls == "" {
		return e.FSType == "cgroup2"
	}
	if e.FSType != "cgroup" {
		return false
	}
	opts := strings.Split(e.SuperOptions, ",")
	for _, c := range strings.Split(ctrls, ",") {
		if !slices.Contains(opts, c) {
			return false
		}
	}
	return true
}

// heldNetns lists network namespaces kept alive without a process: bind
// mounts of nsfs files (ip netns add) and entries in /run/netns.
func heldNetns() map[string]bool {
	set := map[string]bool{}
	for m := range mounts() {
		if f := strings.Fields(m); len(f) == 3 && f[1] == "nsfs" {
			set["nsfs mount at "+f[0]] = true
		}
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			set["/run/netns/"+e.Name()] = true
		}
	}
	return set
}

// links lists the interfaces but bridges, which bridges lists.
func links() map[string]bool {
	set := map[string]bool{}
	if ents, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			if !isBridge(e.Name()) {
				set[e.Name()] = true
			}
		}
	}
	return set
}

// bridges lists the bridges, each with the ports it has (a veth left on a
// bridge names its container's leak).
func bridges() map[string]bool {
	set := map[string]bool{}
	if ents, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			if isBridge(e.Name()) {
				set[e.Name()] = true
			}
		}
	}
	return set
}

// forwarding is net.ipv4.ip_forward as "ip_forward=V", which a test may
// change only in a network namespace of its own.
func forwarding() map[string]bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return map[string]bool{}
	}
	return map[string]bool{"net.ipv4.ip_forward=" + strings.TrimSpace(string(b)): true}
}

// natTables lists the nftables tables named stepbox-* (network create
// --nat's), through netlink as stepbox makes them.
func natTables() map[string]bool {
	set := map[string]bool{}
	c, err := nftables.New()
	if err != nil {
		return set
	}
	ts, err := c.ListTables()
	if err != nil {
		return set
	}
	for _, t := range ts {
		if strings.HasPrefix(t.Name, "stepbox-") {
			set[t.Name] = true
		}
	}
	return set
}

// isBridge: a bridge has a bridge/ directory in sysfs (the kernel's
// sysfs-class-net documentation).
func isBridge(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name, "bridge"))
	return err == nil
}

// proxies lists the port proxies (stepbox-proxy) among our descendants,
// however deep: one under a live monitor is its child, not ours.
func proxies() map[string]bool {
	set := map[string]bool{}
	self := os.Getpid()
	parent := map[int]int{}
	var found []child
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, comm, ok := stat(pid); ok {
			parent[pid] = ppid
			if comm == "stepbox-proxy" && state != "Z" {
				found = append(found, child{pid, state, comm})
			}
		}
	}
	for _, p := range found {
		for up, n := parent[p.pid], 0; up > 1 && n < 64; up, n = parent[up], n+1 {
			if up == self {
				set[fmt.Sprintf("pid %d (%s)", p.pid, p.comm)] = true
				break
			}
		}
	}
	return set
}

// children lists this process's living children: anything started by a
// test (or reparented to us) that still runs.
func children() map[string]bool {
	set := map[string]bool{}
	for _, c := range ourChildren() {
		if c.state != "Z" {
			set[fmt.Sprintf("pid %d (%s)", c.pid, c.comm)] = true
		}
	}
	return set
}

// reapZombies collects exited children reparented to us, so an orphan that has
// already died is not reported as alive; one still running is.
func reapZombies() {
	for _, c := range ourChildren() {
		if c.state == "Z" {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(c.pid, &ws, unix.WNOHANG, nil)
		}
	}
}

type child struct {
	pid         int
	state, comm string
}

// ourChildren scans /proc for the processes whose parent we are.
func ourChildren() []child {
	var out []child
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, comm, ok := stat(pid); ok && ppid == self {
			out = append(out, child{pid, state, comm})
		}
	}
	return out
}

func stat(pid int) (ppid int, state, comm string, ok bool) {
	st, err := procstat.Read(pid)
	return st.PPID, st.State, st.Comm, err == nil
}
