package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	want(t, rep, "openw", "/proc/sys/kernel/panic", "", "EROFS")
	want(t, rep, "openw", "/proc/sys/kernel/hostname", "", "EROFS")
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
