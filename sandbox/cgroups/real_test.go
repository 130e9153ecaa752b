package cgroups

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stepbox/stepbox/internal/testutil"
)

// Tests on the real kernel, as root. They run on whatever layout the machine
// has: hybrid on the build machines, pure v2 inside the v2vm machine
// (TestV2RealInQemu runs them there), v1 elsewhere. Each one that kills
// runs once per way of killing the machine offers.

// expectModeEnv names the layout the real tests must find (TestV2RealInQemu
// sets it to v2), so a test meant for v2 cannot pass on something else.
const expectModeEnv = "STEPBOX_EXPECT_CGROUP"

func realLayout(t *testing.T) *Layout {
	t.Helper()
	testutil.RequiresRoot(t)
	l, err := HostLayout()
	if err != nil {
		t.Fatal(err)
	}
	if want := os.Getenv(expectModeEnv); want != "" && l.Mode.String() != want {
		t.Fatalf("cgroup layout is %s, want %s (%s)", l.Mode, want, expectModeEnv)
	}
	return l
}

// killVariants are the host layout and variants of it that drive the other
// ways of killing the machine has: the v1 freezer alone (a hybrid host seen
// as v1, without its cgroup2 mount), and v2's cgroup.freeze (a v2 host
// pretending cgroup.kill is missing, as before Linux 5.14).
func killVariants(t *testing.T) map[string]*Layout {
	l := realLayout(t)
	out := map[string]*Layout{}
	switch {
	case l.Unified != nil && l.Mode == V2:
		out["v2 cgroup.kill"] = l
		noKill := *l
		noKill.hasKill = false
		out["v2 cgroup.freeze"] = &noKill
	case l.Unified != nil:
		out[l.Mode.String()+" cgroup.kill"] = l
	default:
		out["v1 freezer"] = l
	}
	if l.Mode == Hybrid && l.V1Hierarchy("freezer") != nil {
		v1 := *l
		v1.Unified, v1.Mode = nil, V1
		out["v1 freezer"] = &v1
	}
	return out
}

var testSeq int

// newReal makes a cgroup for the test under /stepbox and destroys it when
// the test ends, checking that every directory is gone.
func newReal(t *testing.T, l *Layout, r *specs.LinuxResources) Manager {
	t.Helper()
	testSeq++
	name := strings.NewReplacer("/", "-", " ", "-", ".", "-").Replace(t.Name())
	m, err := l.New(fmt.Sprintf("/stepbox/test-%d-%d-%s", os.Getpid(), testSeq, name), r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		assertGone(t, m)
	})
	return m
}

func assertGone(t *testing.T, m Manager) {
	t.Helper()
	for k, dir := range m.Paths() {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s directory %s still there (%v)", k, dir, err)
		}
	}
}

// readBack checks that every limit the manager wrote reads back as written.
// Write-only and transformed files are skipped.
func readBack(t *testing.T, m Manager) {
	t.Helper()
	last := map[string]string{}
	var order []string
	for _, w := range m.Writes() {
		if _, ok := last[w.File]; !ok {
			order = append(order, w.File)
		}
		last[w.File] = w.Value
	}
	for _, file := range order {
		switch file[strings.LastIndexByte(file, '/')+1:] {
		case "cgroup.procs", "cgroup.subtree_control", "devices.allow", "devices.deny", "cgroup.kill", "cgroup.freeze", "freezer.state":
			continue
		}
		got, err := readFile(file)
		if err != nil {
			t.Errorf("read back %s: %v", file, err)
			continue
		}
		if strings.TrimSpace(got) != last[file] {
			t.Errorf("%s reads %q, written %q", file, strings.TrimSpace(got), last[file])
		}
	}
}

func TestRealLayoutIsExpected(t *testing.T) {
	l := realLayout(t)
	t.Logf("layout %s; v1 hierarchies %d; cgroup2 %v", l.Mode, len(l.V1), l.Unified != nil)
}

func TestRealLimitsAndApply(t *testing.T) {
	l := realLayout(t)
	r := limits()
	r.CPU.Cpus = "0"
	m := newReal(t, l, r)
	readBack(t, m)
	var files []string
	for _, w := range m.Writes() {
		files = append(files, w.File[strings.LastIndexByte(w.File, '/')+1:]+"="+w.Value)
	}
	if l.V1Hierarchy("memory") != nil {
		for _, want := range []string{"memory.limit_in_bytes=33554432", "memory.memsw.limit_in_bytes=67108864", "cpu.shares=512", "cpu.cfs_quota_us=50000", "pids.max=20"} {
			if !slices.Contains(files, want) {
				t.Errorf("no write %s in %v", want, files)
			}
		}
	} else {
		for _, want := range []string{"memory.max=33554432", "memory.swap.max=33554432", "cpu.weight=59", "cpu.max=50000 100000", "pids.max=20"} {
			if !slices.Contains(files, want) {
				t.Errorf("no write %s in %v", want, files)
			}
		}
	}

	h := startHelper(t, "sleep")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	// /proc/PID/cgroup, the kernel's own word, names the container's
	// cgroup in every hierarchy the manager uses.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", h.pid()))
	if err != nil {
		t.Fatal(err)
	}
	rel := m.Paths()
	for k, dir := range rel {
		hier := l.Unified
		if k != Unified {
			hier = l.V1Hierarchy(k)
		}
		want := strings.TrimPrefix(dir, hier.Dir)
		if !strings.Contains(string(b), ":"+want+"\n") {
			t.Errorf("/proc/%d/cgroup does not name %s for %s:\n%s", h.pid(), want, k, b)
		}
	}
	pids, err := m.Procs()
	if err != nil || !slices.Equal(pids, []int{h.pid()}) {
		t.Errorf("Procs = %v, %v; want [%d]", pids, err, h.pid())
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// a Go program has several threads, each a task
	if st.Pids.Current < 1 || st.Pids.Limit != 20 || st.Memory.Limit != 32<<20 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestRealOOMKill(t *testing.T) {
	l := realLayout(t)
	m := newReal(t, l, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 << 20), Swap: ptr[int64](32 << 20)}})
	h := startHelper(t, "hog")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	h.release(t)
	err := h.wait(t, 60*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hog ended with %v, want killed by SIGKILL; output:\n%s", err, h.out.String())
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.OOMKills != 1 {
		t.Errorf("OOMKills = %d, want 1 (%+v)", st.Memory.OOMKills, st.Memory)
	}
	if st.Memory.Peak < 16<<20 || st.Memory.Peak > 33<<20 {
		t.Errorf("peak %d, want near the 32 MiB limit", st.Memory.Peak)
	}
	t.Logf("memory stats after the OOM kill: %+v", st.Memory)
}

func TestRealPidsCeiling(t *testing.T) {
	l := realLayout(t)
	m := newReal(t, l, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](20)}})
	// 40 background sleeps: the 20th task is the last the kernel allows,
	// and the shell stops at the first fork refused.
	h := startShell(t, `read x; i=0; while [ $i -lt 40 ]; do sleep 1000 >/dev/null 2>&1 & i=$((i+1)); done; echo all 40 started; exec sleep 1000`)
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	h.release(t)
	_ = h.wait(t, 30*time.Second)
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.MaxEvents < 1 || st.Pids.Current > 20 || (st.Pids.Peak != 0 && st.Pids.Peak != 20) {
		t.Errorf("pids stats %+v: want a refused fork, at most 20 tasks, a peak of 20; shell said:\n%s", st.Pids, h.out.String())
	}
	if strings.Contains(h.out.String(), "all 40 started") {
		t.Errorf("the shell started 40 processes under pids.max 20")
	}
	t.Logf("pids stats: %+v; the shell said: %s", st.Pids, strings.TrimSpace(h.out.String()))
}

func TestRealCPUThrottle(t *testing.T) {
	l := realLayout(t)
	m := newReal(t, l, &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](20000), Period: ptr[uint64](100000)}})
	// 300 ms of CPU under 20 ms per 100 ms: 15 periods' quota, so about
	// 1.4 s at least (the last quota is spent at the start of its period,
	// and the first period may be partly gone when the spinner starts),
	// throttled. The floor leaves the clock some slack.
	h := startHelper(t, "spin", "STEPBOX_CGROUPS_SPIN=300ms")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	before, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	h.release(t)
	if err := h.wait(t, 30*time.Second); err != nil {
		t.Fatalf("spin: %v\n%s", err, h.out.String())
	}
	wall := time.Since(start)
	after, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	share := float64(after.CPU.Usage-before.CPU.Usage) / float64(wall)
	t.Logf("used %.3f of a CPU over %s; %d of %d periods throttled, %s waiting", share, wall.Round(time.Millisecond),
		after.CPU.Throttled, after.CPU.Periods, after.CPU.ThrottledTime.Round(time.Millisecond))
	// The ceiling is the point; below it, a shared and busy machine may
	// give the spinner less than its quota (seen: 0.099 with 5 of 11
	// periods throttled), so the floor only proves it ran and was counted.
	if wall < 1200*time.Millisecond {
		t.Errorf("300 ms of CPU under --cpus 0.2 took only %s", wall.Round(time.Millisecond))
	}
	if share < 0.02 || share > 0.3 {
		t.Errorf("used %.3f of a CPU under --cpus 0.2, want 0.02 to 0.3", share)
	}
	if after.CPU.Throttled == 0 {
		t.Errorf("never throttled: %+v", after.CPU)
	}
}

// forkLoop is three shells forking sleeps as fast as they can, under a pids
// limit high enough that they are still forking when Kill comes.
const forkLoop = `read x; for i in 1 2 3; do (while :; do sleep 1000 >/dev/null 2>&1 & done) >/dev/null 2>&1 & done; wait`

func TestRealKillWhileForking(t *testing.T) {
	for name, l := range killVariants(t) {
		t.Run(name, func(t *testing.T) {
			m := newReal(t, l, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](1000)}})
			h := startShell(t, forkLoop)
			if err := m.Apply(h.pid()); err != nil {
				t.Fatal(err)
			}
			h.release(t)
			waitForTasks(t, m, 50)
			start := time.Now()
			if err := m.Kill(); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			pids, err := m.Procs()
			if err != nil || len(pids) != 0 {
				t.Fatalf("after Kill: Procs = %v, %v", pids, err)
			}
			st, err := m.Stats()
			if err != nil {
				t.Fatal(err)
			}
			// pids.current still counts the dead until their parent (here
			// the test, their subreaper) reaps them: they are zombies.
			t.Logf("killed a fork loop of %d tasks in %s", st.Pids.Current, took.Round(time.Microsecond))
			var kills []string
			for _, w := range m.Writes() {
				if strings.HasSuffix(w.File, "cgroup.kill") || strings.HasSuffix(w.File, "freezer.state") || strings.HasSuffix(w.File, "cgroup.freeze") {
					kills = append(kills, w.String())
				}
			}
			t.Logf("kill writes: %v", kills)
			if len(kills) == 0 {
				t.Error("Kill wrote neither cgroup.kill nor a freezer file")
			}
		})
	}
}

func waitForTasks(t *testing.T, m Manager, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Pids.Current >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d tasks after 20s", st.Pids.Current)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRealDestroyWithProcessesInside(t *testing.T) {
	for name, l := range killVariants(t) {
		t.Run(name, func(t *testing.T) {
			testSeq++
			m, err := l.New(fmt.Sprintf("/stepbox/test-%d-%d-destroy", os.Getpid(), testSeq), &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](1000)}})
			if err != nil {
				t.Fatal(err)
			}
			// The test destroys it itself; this is for when it fails
			// first (Destroy twice is fine, the test checks it).
			t.Cleanup(func() { m.Destroy() })
			h := startShell(t, forkLoop)
			if err := m.Apply(h.pid()); err != nil {
				t.Fatal(err)
			}
			h.release(t)
			waitForTasks(t, m, 20)
			start := time.Now()
			if err := m.Destroy(); err != nil {
				t.Fatal(err)
			}
			t.Logf("Destroy with processes inside took %s", time.Since(start).Round(time.Microsecond))
			assertGone(t, m)
			err = h.wait(t, 10*time.Second)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Errorf("shell ended with %v, want SIGKILL", err)
			}
			if err := m.Destroy(); err != nil {
				t.Errorf("second Destroy: %v", err)
			}
		})
	}
}

func TestRealNewFailureRemovesEverything(t *testing.T) {
	l := realLayout(t)
	p := fmt.Sprintf("/stepbox/test-%d-fail", os.Getpid())
	var r *specs.LinuxResources
	var want string
	if l.Unified != nil {
		// The kernel refuses a depth that is not a number (EINVAL): a write that
		// fails after every directory was made.
		r = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](20)}, Unified: map[string]string{"cgroup.max.depth": "deep"}}
		want = "write " + l.Unified.Dir + p + "/cgroup.max.depth = deep: invalid argument"
	} else {
		r = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4095"}}
		want = `cpuset cpus "4095": 4095 not available`
	}
	m, err := l.New(p, r)
	if err == nil {
		m.Destroy()
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	for _, h := range append(slices.Clone(l.V1), l.Unified) {
		if h == nil {
			continue
		}
		if _, err := os.Stat(h.Dir + p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s%s left behind", h.Dir, p)
		}
	}
}

func TestRealCpusetNotAvailable(t *testing.T) {
	l := realLayout(t)
	p := fmt.Sprintf("/stepbox/test-%d-cpuset", os.Getpid())
	cpus := fmt.Sprint(runtime.NumCPU() + 3)
	m, err := l.New(p, &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: cpus}})
	if err == nil {
		m.Destroy()
	}
	if err == nil || !strings.Contains(err.Error(), cpus+" not available to this cgroup") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("%v", err)
}

func TestRealSetOnRunningContainer(t *testing.T) {
	l := realLayout(t)
	m := newReal(t, l, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](64 << 20)}, Pids: &specs.LinuxPids{Limit: ptr[int64](100)}})
	h := startHelper(t, "hold")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	h.release(t)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(h.out.String(), "ready"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("helper not ready: %s", h.out.String())
		}
	}
	// 16 MiB are in use: a 4 MiB limit is refused when asked to check.
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4 << 20), Swap: ptr[int64](4 << 20), CheckBeforeUpdate: ptr(true)}})
	if err == nil || !strings.Contains(err.Error(), "is below the current usage") {
		t.Fatalf("limit below usage: err = %v", err)
	}
	t.Logf("%v", err)
	n := len(m.Writes())
	if err := m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](128 << 20), Swap: ptr[int64](256 << 20)},
		CPU:    &specs.LinuxCPU{Quota: ptr[int64](30000), Period: ptr[uint64](100000)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](50)},
	}); err != nil {
		t.Fatal(err)
	}
	readBack(t, m)
	for _, w := range m.Writes()[n:] {
		t.Log(w)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Limit != 128<<20 || st.Pids.Limit != 50 || st.Memory.Usage < 8<<20 {
		t.Errorf("after Set: %+v", st)
	}
}

func TestRealLoad(t *testing.T) {
	l := realLayout(t)
	m := newReal(t, l, nil)
	loaded, err := l.Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "sleep")
	if err := loaded.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	if pids, err := m.Procs(); err != nil || !slices.Equal(pids, []int{h.pid()}) {
		t.Errorf("Procs of the original = %v, %v", pids, err)
	}
	if err := loaded.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m)
}

// TestRealBornInCgroup starts a process that is in the container's cgroup
// in every hierarchy from birth, without Apply (StartIn): cloned by a
// thread that moved itself into the v1 hierarchies (JoinThread), with
// clone3 CLONE_INTO_CGROUP for the cgroup2 one. No thread of ours stays
// there.
func TestRealBornInCgroup(t *testing.T) {
	l := realLayout(t)
	m := newReal(t, l, nil)
	fd, err := m.FD()
	if fd != nil {
		fd.Close()
	}
	if (err == nil) != (l.Unified != nil) {
		t.Fatalf("FD on a host with cgroup2 %v: %v", l.Unified != nil, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=sleep")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	h := startBy(t, cmd, func() error { return StartIn(m, cmd) })
	// No thread of ours stayed in the container's cgroups (v1 lists threads
	// in tasks).
	for c, dir := range m.Paths() {
		if c == Unified {
			continue
		}
		b, err := os.ReadFile(dir + "/tasks")
		if err != nil {
			t.Fatal(err)
		}
		for _, tid := range strings.Fields(string(b)) {
			if _, err := os.Stat("/proc/self/task/" + tid); err == nil {
				t.Errorf("%s: thread %s of ours is still in %s", c, tid, dir)
			}
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", h.pid()))
	if err != nil {
		t.Fatal(err)
	}
	own, err := parseOwn("cgroup", b)
	if err != nil {
		t.Fatal(err)
	}
	for c, dir := range m.Paths() {
		h := l.Unified
		if c != Unified {
			h = l.V1Hierarchy(c)
		}
		if got := path.Join(h.Dir, strings.TrimPrefix(own[c], h.Root)); got != dir {
			t.Errorf("%s: the process is in %s, want %s", c, got, dir)
		}
	}
	if pids, err := m.Procs(); err != nil || !slices.Equal(pids, []int{h.pid()}) {
		t.Errorf("Procs = %v, %v; want only the process", pids, err)
	}
}

// TestRealDeviceRules lets a process in the cgroup open /dev/null and not
// /dev/zero: through v1's devices.allow and devices.deny, or the eBPF
// program on cgroup v2 (and on a hybrid host seen without its v1 devices
// hierarchy, where the program goes to the bare cgroup2 directory).
func TestRealDeviceRules(t *testing.T) {
	l := realLayout(t)
	variants := map[string]*Layout{l.Mode.String(): l}
	if l.Mode == Hybrid && l.V1Hierarchy("devices") != nil {
		bpf := *l
		bpf.V1 = slices.DeleteFunc(slices.Clone(l.V1), func(h *Hierarchy) bool { return h.Has("devices") })
		variants["hybrid with eBPF"] = &bpf
	}
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rw"},
	}
	for name, l := range variants {
		t.Run(name, func(t *testing.T) {
			m := newReal(t, l, &specs.LinuxResources{Devices: rules})
			h := startShell(t, `read x; if echo > /dev/null; then echo null-ok; fi; if head -c 1 /dev/zero > /dev/null; then echo zero-ok; else echo zero-denied; fi`)
			if err := m.Apply(h.pid()); err != nil {
				t.Fatal(err)
			}
			h.release(t)
			if err := h.wait(t, 10*time.Second); err != nil {
				t.Fatalf("shell: %v\n%s", err, h.out.String())
			}
			out := h.out.String()
			if !strings.Contains(out, "null-ok") || !strings.Contains(out, "zero-denied") {
				t.Errorf("want /dev/null allowed and /dev/zero denied; the shell said:\n%s", out)
			}
			t.Logf("the shell said: %s", strings.Join(strings.Fields(out), " "))
		})
	}
}
