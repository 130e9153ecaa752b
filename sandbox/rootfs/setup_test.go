package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stepbox/stepbox/internal/testutil"
)

// defaultOptions is what a container gets from stepbox by default.
func defaultOptions(root string) Options {
	return Options{
		Root:          root,
		Mounts:        DefaultMounts(),
		MaskedPaths:   DefaultMaskedPaths(),
		ReadonlyPaths: DefaultReadonlyPaths(),
	}
}

// containerProbes are the observations every default container must pass.
func containerProbes() []probe {
	return []probe{
		{Op: "read", Path: "/stepbox-test-marker"},
		{Op: "readlink", Path: "/proc/self"},
		{Op: "fstype", Path: "/proc"},
		{Op: "fstype", Path: "/dev"},
		{Op: "fstype", Path: "/dev/pts"},
		{Op: "fstype", Path: "/dev/shm"},
		{Op: "fstype", Path: "/dev/mqueue"},
		{Op: "fstype", Path: "/sys"},
		{Op: "stat", Path: "/dev/null"},
		{Op: "stat", Path: "/dev/zero"},
		{Op: "stat", Path: "/dev/full"},
		{Op: "stat", Path: "/dev/random"},
		{Op: "stat", Path: "/dev/urandom"},
		{Op: "stat", Path: "/dev/tty"},
		{Op: "stat", Path: "/dev/ptmx"},
		{Op: "stat", Path: "/dev/fd"},
		{Op: "stat", Path: "/dev/stdin"},
		{Op: "stat", Path: "/dev/stdout"},
		{Op: "stat", Path: "/dev/stderr"},
		{Op: "stat", Path: "/dev/console"},
		{Op: "stat", Path: "/dev/pts/ptmx"},
		{Op: "stat", Path: "/dev/shm"},
		{Op: "read", Path: "/dev/zero"},
		{Op: "read", Path: "/proc/kcore"},
		{Op: "read", Path: "/proc/keys"},
		{Op: "read", Path: "/proc/timer_list"},
		{Op: "read", Path: "/proc/interrupts"},
		{Op: "ls", Path: "/sys/firmware"},
		{Op: "fstype", Path: "/sys/firmware"},
		{Op: "openw", Path: "/proc/sysrq-trigger"},
		{Op: "openw", Path: "/proc/sys/kernel/panic"},
		{Op: "openw", Path: "/proc/sys/kernel/hostname"},
		{Op: "openw", Path: "/proc/sys/net/ipv4/ip_forward"},
		{Op: "fstype", Path: "/proc/sys"},
		{Op: "create", Path: "/sys/stepbox-x"},
		{Op: "create", Path: "/sys/fs/cgroup/stepbox-x"},
		{Op: "create", Path: "/root/written"},
		{Op: "create", Path: "/dev/shm/written"},
	}
}

// checkContainer asserts what containerProbes must show for a default
// container.
func checkContainer(t *testing.T, rep helperReport) {
	t.Helper()
	if rep.SetupErr != "" || rep.FinalizeErr != "" {
		t.Fatalf("setup: %s; finalize: %s", rep.SetupErr, rep.FinalizeErr)
	}
	if rep.Pid != 1 {
		t.Errorf("helper pid = %d, want 1", rep.Pid)
	}
	want(t, rep, "read", "/stepbox-test-marker", "rootfs\n", "")
	want(t, rep, "readlink", "/proc/self", "1", "")
	want(t, rep, "fstype", "/proc", "proc", "")
	want(t, rep, "fstype", "/dev", "tmpfs", "")
	want(t, rep, "fstype", "/dev/pts", "devpts", "")
	want(t, rep, "fstype", "/dev/shm", "tmpfs", "")
	want(t, rep, "fstype", "/dev/mqueue", "mqueue", "")
	want(t, rep, "fstype", "/sys", "sysfs ro", "")
	for _, d := range []struct{ name, dev string }{{"null", "1:3"}, {"zero", "1:5"}, {"full", "1:7"}, {"random", "1:8"}, {"urandom", "1:9"}, {"tty", "5:0"}} {
		want(t, rep, "stat", "/dev/"+d.name, "c "+d.dev+" 0666", "")
	}
	want(t, rep, "stat", "/dev/ptmx", "l pts/ptmx", "")
	want(t, rep, "stat", "/dev/fd", "l /proc/self/fd", "")
	want(t, rep, "stat", "/dev/stdin", "l /proc/self/fd/0", "")
	want(t, rep, "stat", "/dev/stdout", "l /proc/self/fd/1", "")
	want(t, rep, "stat", "/dev/stderr", "l /proc/self/fd/2", "")
	want(t, rep, "stat", "/dev/console", "f 0666 0", "")
	want(t, rep, "stat", "/dev/pts/ptmx", "c 5:2 0666", "")
	want(t, rep, "stat", "/dev/shm", "d 1777", "")
	want(t, rep, "read", "/dev/zero", strings.Repeat("\x00", 4096), "")
	// Masked files read empty. This kernel has no /proc/kcore and no
	// /proc/sysrq-trigger (CONFIG_PROC_KCORE, CONFIG_MAGIC_SYSRQ off):
	// where the host lacks one, the container must lack it too.
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/interrupts"} {
		if hostHas(p) {
			want(t, rep, "read", p, "", "")
		} else {
			want(t, rep, "read", p, "", "ENOENT")
		}
	}
	want(t, rep, "ls", "/sys/firmware", "", "")
	want(t, rep, "fstype", "/sys/firmware", "tmpfs ro", "")
	if hostHas("/proc/sysrq-trigger") {
		want(t, rep, "openw", "/proc/sysrq-trigger", "", "EROFS")
	} else {
		want(t, rep, "openw", "/proc/sysrq-trigger", "", "ENOENT")
	}
	// In a user namespace the host's sysctls belong to an unmapped owner and
	// permission fails first (EACCES); the read-only mount stands behind it,
	// as the fstype probe of /proc/sys shows.
	for _, p := range []string{"/proc/sys/kernel/panic", "/proc/sys/kernel/hostname", "/proc/sys/net/ipv4/ip_forward"} {
		if got := rep.Results["openw "+p]; !(got.Err == "EROFS" || got.Err == "EACCES" && rep.Options.UserNS) {
			t.Errorf("openw %s = %+v, want EROFS", p, got)
		}
	}
	want(t, rep, "fstype", "/proc/sys", "proc ro", "")
	want(t, rep, "create", "/sys/stepbox-x", "", "EROFS")
	want(t, rep, "create", "/sys/fs/cgroup/stepbox-x", "", "EROFS")
	want(t, rep, "create", "/dev/shm/written", "", "")
}

func TestSetupDefaultContainer(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	host, check := sentinel(t)
	o := defaultOptions(root)
	probes := append(containerProbes(), probe{Op: "stat", Path: host}, probe{Op: "stat", Path: root})
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Probes: probes})
	checkContainer(t, rep)
	// The host's files are out of reach: neither a host directory nor the
	// rootfs's own host path exists inside.
	want(t, rep, "stat", host, "", "ENOENT")
	want(t, rep, "stat", root, "", "ENOENT")
	want(t, rep, "create", "/root/written", "", "")
	if b, err := os.ReadFile(filepath.Join(root, "root/written")); err != nil || len(b) != 0 {
		t.Errorf("a file written in the container is not in the rootfs: %q %v", b, err)
	}
	check()
	leaks.Check(t, time.Second)
	t.Logf("mounts inside: %s", strings.Join(rep.Mounts, "; "))
}

func hostHas(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestSetupUserNamespace(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, true)
	o := defaultOptions(root)
	// A target three directories deep, made by pathrs-lite in the user
	// namespace.
	src := t.TempDir()
	testutil.WriteFile(t, src+"/f", "deep\n")
	openPath(t, src)
	o.Mounts = append(o.Mounts, specs.Mount{Destination: "/a/b/c", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	probes := append(containerProbes(), probe{Op: "read", Path: "/a/b/c/f"}, probe{Op: "read", Path: "/proc/self/uid_map"})
	rep, _ := runHelper(t, nsConfig{userns: true}, helperConfig{Options: o, Probes: probes})
	checkContainer(t, rep)
	want(t, rep, "read", "/proc/self/uid_map", "         0     100000      65536\n", "")
	want(t, rep, "read", "/a/b/c/f", "deep\n", "")
	// The container's root owns its network namespace's sysctls: only the
	// read-only mount refuses the write.
	want(t, rep, "openw", "/proc/sys/net/ipv4/ip_forward", "", "EROFS")
	// The file made inside belongs on the host to the mapped root.
	want(t, rep, "create", "/root/written", "", "")
	var st os.FileInfo
	st, err := os.Stat(filepath.Join(root, "root/written"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != mappedRoot {
		t.Errorf("file made by container root is owned by %d on the host, want %d", uid, mappedRoot)
	}
	leaks.Check(t, time.Second)
}

// Without its own network namespace a user namespace cannot mount sysfs; the
// host's /sys is bound read-only instead.
func TestSetupUserNamespaceWithoutNetNS(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, true)
	rep, _ := runHelper(t, nsConfig{userns: true, noNetNS: true}, helperConfig{
		Options: defaultOptions(root),
		Probes:  append(containerProbes(), probe{Op: "ls", Path: "/sys/class/net"}, probe{Op: "fstype", Path: "/sys/kernel"}),
	})
	checkContainer(t, rep)
	if got := rep.Results["ls /sys/class/net"].Out; !strings.Contains(got, "lo") {
		t.Errorf("/sys/class/net = %q, want the host's interfaces", got)
	}
	leaks.Check(t, time.Second)
}

func TestSetupCgroupNamespace(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	rep, _ := runHelper(t, nsConfig{cgroupNS: true}, helperConfig{
		Options: defaultOptions(root),
		Probes: append(containerProbes(),
			probe{Op: "ls", Path: "/sys/fs/cgroup"},
			probe{Op: "read", Path: "/proc/self/cgroup"},
			probe{Op: "fstype", Path: "/sys/fs/cgroup"},
			probe{Op: "fstype", Path: "/sys/fs/cgroup/memory"},
			probe{Op: "fstype", Path: "/sys/fs/cgroup/unified"},
		),
	})
	checkContainer(t, rep)
	checkCgroupMounts(t, rep)
	for _, line := range strings.Split(strings.TrimSpace(rep.Results["read /proc/self/cgroup"].Out), "\n") {
		if !strings.HasSuffix(line, ":/") {
			t.Errorf("in its cgroup namespace the container sees %q, want its cgroup as /", line)
		}
	}
	leaks.Check(t, time.Second)
}

func TestSetupCgroupNamespaceInUserNamespace(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, true)
	rep, _ := runHelper(t, nsConfig{cgroupNS: true, userns: true}, helperConfig{
		Options: defaultOptions(root),
		Probes: append(containerProbes(),
			probe{Op: "ls", Path: "/sys/fs/cgroup"},
			probe{Op: "fstype", Path: "/sys/fs/cgroup"},
			probe{Op: "fstype", Path: "/sys/fs/cgroup/memory"},
			probe{Op: "fstype", Path: "/sys/fs/cgroup/unified"},
		),
	})
	checkContainer(t, rep)
	checkCgroupMounts(t, rep)
	leaks.Check(t, time.Second)
}

// checkCgroupMounts checks /sys/fs/cgroup against the host's layout: the same
// hierarchies, read-only.
func checkCgroupMounts(t *testing.T, rep helperReport) {
	t.Helper()
	host, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range host {
		names = append(names, e.Name())
	}
	got := rep.Results["ls /sys/fs/cgroup"].Out
	if hostHas("/sys/fs/cgroup/memory") {
		if got != strings.Join(names, " ") {
			t.Errorf("/sys/fs/cgroup = %q, want the host's hierarchies %q", got, names)
		}
		want(t, rep, "fstype", "/sys/fs/cgroup", "tmpfs ro", "")
		want(t, rep, "fstype", "/sys/fs/cgroup/memory", "cgroup ro", "")
	}
	if hostHas("/sys/fs/cgroup/unified") {
		want(t, rep, "fstype", "/sys/fs/cgroup/unified", "cgroup2 ro", "")
	}
}

func TestSetupHostCgroupsAreOwnOnly(t *testing.T) {
	testutil.RequiresRoot(t)
	if !hostHas("/sys/fs/cgroup/memory") {
		t.Skip("needs a v1 memory hierarchy")
	}
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	rep, _ := runHelper(t, nsConfig{}, helperConfig{
		Options: defaultOptions(root),
		Probes: append(containerProbes(),
			probe{Op: "ls", Path: "/sys/fs/cgroup"},
			probe{Op: "ls", Path: "/sys/fs/cgroup/pids"},
			probe{Op: "fstype", Path: "/sys/fs/cgroup"},
			probe{Op: "fstype", Path: "/sys/fs/cgroup/memory"},
			probe{Op: "fstype", Path: "/sys/fs/cgroup/unified"},
		),
	})
	checkContainer(t, rep)
	checkCgroupMounts(t, rep)
	// Without a cgroup namespace the container gets its own cgroup of each
	// hierarchy, not the host's tree: the pids hierarchy's root lists every
	// child cgroup of the host, the container's own directory does not.
	hostRoot, _ := os.ReadDir("/sys/fs/cgroup/pids")
	var dirs int
	for _, e := range hostRoot {
		if e.IsDir() {
			dirs++
		}
	}
	if own := readOwnCgroup(t, "pids"); own == "/" && dirs > 0 {
		t.Logf("the test runs in the root pids cgroup; the bind shows the host root")
	} else if got := rep.Results["ls /sys/fs/cgroup/pids"].Out; strings.Contains(got, "stepbox") {
		t.Errorf("the container sees other cgroups: %s", got)
	}
	leaks.Check(t, time.Second)
}

func readOwnCgroup(t *testing.T, controller string) string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && f[1] == controller {
			return f[2]
		}
	}
	return ""
}

// Most hosts today mount only cgroup2 at /sys/fs/cgroup: the container gets
// a fresh cgroup2 mount in its cgroup namespace, or a bind of its own cgroup
// without one.
func TestSetupPureCgroupV2Host(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, ns := range []nsConfig{{cgroupNS: true}, {}, {cgroupNS: true, userns: true}} {
		t.Run(fmt.Sprintf("cgroupns=%v,userns=%v", ns.cgroupNS, ns.userns), func(t *testing.T) {
			leaks := testutil.Snapshot()
			root := testRootfs(t, ns.userns)
			rep, _ := runHelper(t, ns, helperConfig{Options: defaultOptions(root), PureV2: true, Probes: append(containerProbes(),
				probe{Op: "fstype", Path: "/sys/fs/cgroup"},
				probe{Op: "stat", Path: "/sys/fs/cgroup/cgroup.procs"},
			)})
			checkContainer(t, rep)
			want(t, rep, "fstype", "/sys/fs/cgroup", "cgroup2 ro", "")
			want(t, rep, "stat", "/sys/fs/cgroup/cgroup.procs", "f 0644 0", "")
			leaks.Check(t, time.Second)
		})
	}
}
