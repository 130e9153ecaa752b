package cgroups

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// The v1 and v2 drivers on fake cgroupfs trees: what New, Apply, Set,
// Stats and Destroy write and read, file by file. Unprivileged.

func limits() *specs.LinuxResources {
	return &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](32 << 20), Swap: ptr[int64](64 << 20), Reservation: ptr[int64](16 << 20)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Cpus: "1", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](20)},
	}
}

func TestFakeV1(t *testing.T) {
	l, root := fakeTree(t, "v1")
	before := dirsUnder(t, root)
	r := limits()
	r.Memory.Swappiness = ptr[uint64](10)
	r.Devices = []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
		{Allow: true, Type: "c", Access: "m"},
	}
	m, err := l.New("/stepbox/c1", r)
	if err != nil {
		t.Fatal(err)
	}
	const cg = "/sys/fs/cgroup/"
	want := []string{
		// a v1 cpuset starts empty: the parent New made gets the root's
		// values, the container's own directory the spec's
		"echo 0-3 > " + cg + "cpuset/stepbox/cpuset.cpus",
		"echo 0 > " + cg + "cpuset/stepbox/cpuset.mems",
		"echo 33554432 > " + cg + "memory/stepbox/c1/memory.limit_in_bytes",
		"echo 67108864 > " + cg + "memory/stepbox/c1/memory.memsw.limit_in_bytes",
		"echo 16777216 > " + cg + "memory/stepbox/c1/memory.soft_limit_in_bytes",
		"echo 10 > " + cg + "memory/stepbox/c1/memory.swappiness",
		"echo 512 > " + cg + "cpu,cpuacct/stepbox/c1/cpu.shares",
		"echo 100000 > " + cg + "cpu,cpuacct/stepbox/c1/cpu.cfs_period_us",
		"echo 50000 > " + cg + "cpu,cpuacct/stepbox/c1/cpu.cfs_quota_us",
		"echo 1 > " + cg + "cpuset/stepbox/c1/cpuset.cpus",
		"echo 0 > " + cg + "cpuset/stepbox/c1/cpuset.mems",
		"echo 20 > " + cg + "pids/stepbox/c1/pids.max",
		"echo a > " + cg + "devices/stepbox/c1/devices.deny",
		"echo 'c 1:3 rwm' > " + cg + "devices/stepbox/c1/devices.allow",
		"echo 'c *:* m' > " + cg + "devices/stepbox/c1/devices.allow",
	}
	if d := cmp.Diff(want, shown(root, m.Writes())); d != "" {
		t.Fatalf("New wrote (-want +got):\n%s", d)
	}
	wantPaths := map[string]string{
		"cpu": cg + "cpu,cpuacct/stepbox/c1", "cpuacct": cg + "cpu,cpuacct/stepbox/c1", "cpuset": cg + "cpuset/stepbox/c1",
		"memory": cg + "memory/stepbox/c1", "pids": cg + "pids/stepbox/c1", "freezer": cg + "freezer/stepbox/c1",
		"devices": cg + "devices/stepbox/c1",
	}
	got := m.Paths()
	for k, v := range got {
		got[k] = strings.TrimPrefix(v, root)
	}
	if d := cmp.Diff(wantPaths, got); d != "" {
		t.Errorf("Paths (-want +got):\n%s", d)
	}

	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"cpu,cpuacct", "cpuset", "memory", "pids", "freezer", "devices"} {
		if got := contents(t, root+cg+c+"/stepbox/c1/cgroup.procs"); got != "4242" {
			t.Errorf("%s cgroup.procs = %q", c, got)
		}
	}

	// Raising memory+swap above the current memory limit goes first ...
	n := len(m.Writes())
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](128 << 20), Swap: ptr[int64](256 << 20)}}); err != nil {
		t.Fatal(err)
	}
	// ... lowering it below the current memory limit goes second.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](16 << 20), Swap: ptr[int64](24 << 20)}}); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"echo 268435456 > " + cg + "memory/stepbox/c1/memory.memsw.limit_in_bytes",
		"echo 134217728 > " + cg + "memory/stepbox/c1/memory.limit_in_bytes",
		"echo 16777216 > " + cg + "memory/stepbox/c1/memory.limit_in_bytes",
		"echo 25165824 > " + cg + "memory/stepbox/c1/memory.memsw.limit_in_bytes",
	}
	if d := cmp.Diff(want, shown(root, m.Writes()[n:])); d != "" {
		t.Errorf("Set wrote (-want +got):\n%s", d)
	}

	// Stats reads the v1 files.
	c1 := root + cg + "memory/stepbox/c1/"
	mustWrite(t, c1+"memory.usage_in_bytes", "1048576\n")
	mustWrite(t, c1+"memory.max_usage_in_bytes", "2097152\n")
	mustWrite(t, c1+"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
	mustWrite(t, c1+"memory.failcnt", "5\n")
	cpu := root + cg + "cpu,cpuacct/stepbox/c1/"
	mustWrite(t, cpu+"cpu.stat", "nr_periods 10\nnr_throttled 4\nthrottled_time 123456789\nnr_bursts 0\nburst_time 0\n")
	mustWrite(t, cpu+"cpuacct.usage", "2000000000\n")
	mustWrite(t, cpu+"cpuacct.usage_user", "1500000000\n")
	mustWrite(t, cpu+"cpuacct.usage_sys", "500000000\n")
	pids := root + cg + "pids/stepbox/c1/"
	mustWrite(t, pids+"pids.current", "3\n")
	mustWrite(t, pids+"pids.peak", "20\n")
	mustWrite(t, pids+"pids.events", "max 2\n")
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	wantStats := &Stats{
		Memory: MemoryStats{Usage: 1 << 20, Peak: 2 << 20, Limit: 16 << 20, OOMKills: 1, Events: map[string]uint64{"max": 5, "oom_kill": 1, "under_oom": 0}},
		CPU:    CPUStats{Usage: 2 * time.Second, User: 1500 * time.Millisecond, System: 500 * time.Millisecond, Periods: 10, Throttled: 4, ThrottledTime: 123456789},
		Pids:   PidsStats{Current: 3, Peak: 20, Limit: 20, MaxEvents: 2},
	}
	if d := cmp.Diff(wantStats, st); d != "" {
		t.Errorf("Stats (-want +got):\n%s", d)
	}

	// A manager rebuilt from the paths removes the same directories, and
	// the parent New made, and nothing else.
	m2, err := l.Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(m.Paths(), m2.Paths()); d != "" {
		t.Errorf("Load(Paths()).Paths() (-want +got):\n%s", d)
	}
	if err := m2.Destroy(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, dirsUnder(t, root)); d != "" {
		t.Errorf("after Destroy (-before +after):\n%s", d)
	}
	if err := m2.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestFakeV2(t *testing.T) {
	l, root := fakeTree(t, "v2")
	const cg = "/sys/fs/cgroup"
	// /stepbox exists already (another container's parent), with the
	// effective cpuset the kernel shows in every cgroup2 directory.
	mustWrite(t, root+cg+"/stepbox/cgroup.subtree_control", "")
	mustWrite(t, root+cg+"/stepbox/cpuset.cpus.effective", "0-3\n")
	mustWrite(t, root+cg+"/stepbox/cpuset.mems.effective", "0\n")
	before := dirsUnder(t, root)

	m, err := l.New("/stepbox/c1", limits())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		// controllers are enabled top down before they appear below
		"echo '+cpu +cpuset +memory +pids' > " + cg + "/cgroup.subtree_control",
		"echo '+cpu +cpuset +memory +pids' > " + cg + "/stepbox/cgroup.subtree_control",
		"echo 33554432 > " + cg + "/stepbox/c1/memory.max",
		// OCI swap is memory+swap, memory.swap.max is swap alone
		"echo 33554432 > " + cg + "/stepbox/c1/memory.swap.max",
		"echo 16777216 > " + cg + "/stepbox/c1/memory.low",
		"echo 59 > " + cg + "/stepbox/c1/cpu.weight",
		"echo '50000 100000' > " + cg + "/stepbox/c1/cpu.max",
		"echo 1 > " + cg + "/stepbox/c1/cpuset.cpus",
		"echo 0 > " + cg + "/stepbox/c1/cpuset.mems",
		"echo 20 > " + cg + "/stepbox/c1/pids.max",
	}
	if d := cmp.Diff(want, shown(root, m.Writes())); d != "" {
		t.Fatalf("New wrote (-want +got):\n%s", d)
	}
	if got := m.Paths(); len(got) != 1 || got[Unified] != root+cg+"/stepbox/c1" {
		t.Errorf("Paths = %v", got)
	}
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, root+cg+"/stepbox/c1/cgroup.procs"); got != "4242" {
		t.Errorf("cgroup.procs = %q", got)
	}

	// Set with only a period keeps the quota; with only a quota of -1 keeps
	// the period; swap -1 is "max".
	n := len(m.Writes())
	for _, r := range []*specs.LinuxResources{
		{CPU: &specs.LinuxCPU{Period: ptr[uint64](200000)}},
		{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1)}},
		{Memory: &specs.LinuxMemory{Swap: ptr[int64](-1)}, Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}},
	} {
		if err := m.Set(r); err != nil {
			t.Fatal(err)
		}
	}
	want = []string{
		"echo '50000 200000' > " + cg + "/stepbox/c1/cpu.max",
		"echo max > " + cg + "/stepbox/c1/cpu.max",
		"echo max > " + cg + "/stepbox/c1/memory.swap.max",
		"echo max > " + cg + "/stepbox/c1/pids.max",
	}
	if d := cmp.Diff(want, shown(root, m.Writes()[n:])); d != "" {
		t.Errorf("Set wrote (-want +got):\n%s", d)
	}

	c1 := root + cg + "/stepbox/c1/"
	mustWrite(t, c1+"memory.current", "1048576\n")
	mustWrite(t, c1+"memory.peak", "2097152\n")
	mustWrite(t, c1+"memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
	mustWrite(t, c1+"cpu.stat", "usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 123456\nnr_bursts 0\nburst_usec 0\n")
	mustWrite(t, c1+"pids.current", "3\n")
	mustWrite(t, c1+"pids.peak", "20\n")
	mustWrite(t, c1+"pids.events", "max 2\n")
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	wantStats := &Stats{
		Memory: MemoryStats{Usage: 1 << 20, Peak: 2 << 20, Limit: 32 << 20, OOMKills: 1, Events: map[string]uint64{"low": 0, "high": 0, "max": 3, "oom": 1, "oom_kill": 1, "oom_group_kill": 0}},
		CPU:    CPUStats{Usage: 2 * time.Second, User: 1500 * time.Millisecond, System: 500 * time.Millisecond, Periods: 10, Throttled: 4, ThrottledTime: 123456 * time.Microsecond},
		Pids:   PidsStats{Current: 3, Peak: 20, Limit: -1, MaxEvents: 2},
	}
	if d := cmp.Diff(wantStats, st); d != "" {
		t.Errorf("Stats (-want +got):\n%s", d)
	}

	// Kill of an empty cgroup writes nothing.
	mustWrite(t, c1+"cgroup.events", "populated 0\nfrozen 0\n")
	n = len(m.Writes())
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if ws := m.Writes()[n:]; len(ws) != 0 {
		t.Errorf("Kill of an empty cgroup wrote %v", ws)
	}

	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	// /stepbox had no other child left, so it went too, like rmdir -p.
	wantAfter := []string{}
	for _, d := range before {
		if d != cg+"/stepbox" {
			wantAfter = append(wantAfter, d)
		}
	}
	if d := cmp.Diff(wantAfter, dirsUnder(t, root)); d != "" {
		t.Errorf("after Destroy (-want +got):\n%s", d)
	}
}

func TestFakeV2RefusesWhatV2CannotDo(t *testing.T) {
	l, root := fakeTree(t, "v2")
	before := dirsUnder(t, root)
	for _, c := range []struct {
		r    *specs.LinuxResources
		want string
	}{
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](10)}}, "memory swappiness: cgroup v2 has no per-cgroup swappiness: not supported by stepbox"},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: ptr(true)}}, "disabling the OOM killer: cgroup v2 has no memory.oom_control: not supported by stepbox"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](1000)}}, "realtime cpu time: cgroup v2 has no cpu.rt_runtime_us: not supported by stepbox"},
	} {
		_, err := l.New("/stepbox/c1", c.r)
		if err == nil || err.Error() != c.want || !errors.Is(err, ErrUnsupported) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
	if d := cmp.Diff(before, dirsUnder(t, root)); d != "" {
		t.Errorf("failed New left (-before +after):\n%s", d)
	}
}

func TestFakeHybrid(t *testing.T) {
	l, root := fakeTree(t, "hybrid")
	before := dirsUnder(t, root)
	m, err := l.New("/stepbox/c1", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](20)}})
	if err != nil {
		t.Fatal(err)
	}
	const cg = "/sys/fs/cgroup/"
	// the cgroup2 directory is made bare: no controller of ours lives
	// there, so no cgroup.subtree_control is written
	want := []string{
		"echo 0-3 > " + cg + "cpuset/stepbox/cpuset.cpus",
		"echo 0 > " + cg + "cpuset/stepbox/cpuset.mems",
		"echo 0-3 > " + cg + "cpuset/stepbox/c1/cpuset.cpus",
		"echo 0 > " + cg + "cpuset/stepbox/c1/cpuset.mems",
		"echo 20 > " + cg + "pids/stepbox/c1/pids.max",
	}
	if d := cmp.Diff(want, shown(root, m.Writes())); d != "" {
		t.Fatalf("New wrote (-want +got):\n%s", d)
	}
	if _, err := os.Stat(root + cg + "unified/stepbox/c1"); err != nil {
		t.Fatalf("no cgroup2 directory: %v", err)
	}
	// With cgroup.kill the cgroup2 directory kills and counts CPU time:
	// no freezer, no cpuacct.
	if d := cmp.Diff([]string{"cpu", "cpuset", "devices", "memory", "pids", Unified}, sortedKeys(m.Paths())); d != "" {
		t.Errorf("joined (-want +got):\n%s", d)
	}
	if got := strings.TrimPrefix(m.Paths()[Unified], root); got != cg+"unified/stepbox/c1" {
		t.Errorf("Paths()[unified] = %s", got)
	}
	if err := m.Apply(7); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, root+cg+"unified/stepbox/c1/cgroup.procs"); got != "7" {
		t.Errorf("unified cgroup.procs = %q", got)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, dirsUnder(t, root)); d != "" {
		t.Errorf("after Destroy (-before +after):\n%s", d)
	}
}

// Before Linux 5.14 there is no cgroup.kill: a hybrid host joins the v1
// freezer to kill, and cpuacct for CPU time.
func TestFakeHybridOldKernel(t *testing.T) {
	l, _ := fakeTreeKernel(t, "hybrid", "5.10.0-28-amd64")
	m, err := l.New("/stepbox/c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Destroy()
	want := []string{"cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", Unified}
	if d := cmp.Diff(want, sortedKeys(m.Paths())); d != "" {
		t.Errorf("joined (-want +got):\n%s", d)
	}
}

func TestKernelAtLeast(t *testing.T) {
	for rel, want := range map[string]bool{"5.14.0": true, "5.13.19": false, "6.1.0-56-amd64": true, "4.19.0": false, "10.0": true, "": false, "x": false} {
		root := t.TempDir()
		mustWrite(t, root+"/proc/sys/kernel/osrelease", rel+"\n")
		if got := kernelAtLeast(root, 5, 14); got != want {
			t.Errorf("kernelAtLeast(%q, 5.14) = %v", rel, got)
		}
	}
}

// A failed write undoes everything New made, in every hierarchy, and only
// that; the error names the file and the value.
func TestFakeNewFailureRemovesEverything(t *testing.T) {
	l, root := fakeTree(t, "hybrid")
	// pids/stepbox/c1 is there already (another container's?) and its
	// pids.max is a directory, so writing it fails with EISDIR.
	bad := root + "/sys/fs/cgroup/pids/stepbox/c1/pids.max"
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	before := dirsUnder(t, root)
	_, err := l.New("/stepbox/c1", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](20)}})
	want := "write " + bad + " = 20: is a directory"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	var we *WriteError
	if !errors.As(err, &we) || we.Value != "20" {
		t.Errorf("not a *WriteError with the value: %#v", err)
	}
	if d := cmp.Diff(before, dirsUnder(t, root)); d != "" {
		t.Errorf("failed New left, or removed what it had not made (-before +after):\n%s", d)
	}
}

func TestFakeCpusetNotInParent(t *testing.T) {
	l, root := fakeTree(t, "v1")
	before := dirsUnder(t, root)
	_, err := l.New("/stepbox/c1", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "2-5"}})
	want := `cpuset cpus "2-5": 4,5 not available to this cgroup (` + root + `/sys/fs/cgroup/cpuset/stepbox/cpuset.cpus is "0-3")`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if d := cmp.Diff(before, dirsUnder(t, root)); d != "" {
		t.Errorf("failed New left (-before +after):\n%s", d)
	}
}

func TestFakeLoadRefusesPathsOutsideHierarchies(t *testing.T) {
	l, root := fakeTree(t, "hybrid")
	for _, paths := range []map[string]string{
		{"memory": "/etc"},
		{"memory": root + "/sys/fs/cgroup/memory"},
		{"memory": root + "/sys/fs/cgroup/memory/../../../../etc"},
		{"net_cls": root + "/sys/fs/cgroup/net_cls/x"},
		{},
	} {
		if _, err := l.Load(paths); err == nil {
			t.Errorf("Load(%v): no error", paths)
		}
	}
}

func TestWriteString(t *testing.T) {
	for w, want := range map[Write]string{
		{File: "/f", Value: "20"}:           "echo 20 > /f",
		{File: "/f", Value: "50000 100000"}: "echo '50000 100000' > /f",
		{File: "/f", Value: "c *:* m"}:      "echo 'c *:* m' > /f",
		{File: "/f", Value: ""}:             "echo '' > /f",
	} {
		if got := w.String(); got != want {
			t.Errorf("%#v.String() = %s, want %s", w, got, want)
		}
	}
}

// A second container starting while the first has made the shared /stepbox
// but not yet filled its cpuset finds an empty parent: it fills it from the
// root rather than copy the emptiness (which makes joining fail with
// ENOSPC on a real v1 cpuset).
func TestFakeCpusetParentMadeButNotFilled(t *testing.T) {
	l, root := fakeTree(t, "v1")
	const cg = "/sys/fs/cgroup/"
	parent := root + cg + "cpuset/stepbox"
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, parent+"/cpuset.cpus", "")
	mustWrite(t, parent+"/cpuset.mems", "")
	m, err := l.New("/stepbox/c2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(t, parent+"/cpuset.cpus"); got != "0-3" {
		t.Errorf("parent cpuset.cpus = %q, want 0-3", got)
	}
	if got := contents(t, parent+"/c2/cpuset.cpus"); got != "0-3" {
		t.Errorf("container cpuset.cpus = %q, want 0-3", got)
	}
	if got := contents(t, parent+"/c2/cpuset.mems"); got != "0" {
		t.Errorf("container cpuset.mems = %q, want 0", got)
	}
	_ = m
}
