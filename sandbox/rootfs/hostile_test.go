package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stepbox/stepbox/internal/testutil"
)

// A hostile rootfs tries to turn the runtime's mounts and file creation into
// changes of the host (CVE-2021-30465, CVE-2019-19921, CVE-2023-27561,
// CVE-2024-45310). Every case must either land inside the root or fail with a
// clear error, and leave the host's files and mount table as they were.

// hostEtcProbe is a name no host has in /etc; the tests check it never
// appears there.
const hostEtcProbe = "/etc/stepbox-rootfs-hostile-test"

func hostileRootfs(t *testing.T, links map[string]string) string {
	t.Helper()
	root := testRootfs(t, false)
	for name, target := range links {
		p := filepath.Join(root, name)
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func checkHostEtc(t *testing.T) {
	t.Helper()
	if hostHas(hostEtcProbe) {
		os.Remove(hostEtcProbe)
		t.Errorf("the container made %s on the host", hostEtcProbe)
	}
}

func TestHostileAbsoluteSymlinkToHostEtc(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	defer checkHostEtc(t)
	root := hostileRootfs(t, map[string]string{"etc": "/etc"})
	src := filepath.Join(t.TempDir(), "src")
	testutil.WriteFile(t, src, "container data\n")
	o := defaultOptions(root)
	o.Mounts = append(o.Mounts, specs.Mount{Destination: hostEtcProbe, Type: "bind", Source: src})
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o})
	// Resolved in the root, /etc -> /etc points at itself: a loop, refused.
	if !strings.Contains(rep.SetupErr, "bind "+src+" on "+root+hostEtcProbe+": openat2 "+hostEtcProbe+": too many levels of symbolic links") {
		t.Errorf("Setup error = %q, want the bind refused for the link loop", rep.SetupErr)
	}
	leaks.Check(t, time.Second)
}

func TestHostileAbsoluteSymlinkToHostDirectory(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	host, check := sentinel(t)
	root := hostileRootfs(t, map[string]string{"data": host})
	// Inside the root the link leads to <root><host>; make it exist there,
	// as a hostile image would, to see where the mounts go.
	if err := os.MkdirAll(filepath.Join(root, host), 0o755); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "f"), "container data\n")
	o := defaultOptions(root)
	o.Mounts = append(o.Mounts,
		specs.Mount{Destination: "/data/sub", Type: "bind", Source: src},
		specs.Mount{Destination: "/data/sentinel", Type: "bind", Source: filepath.Join(src, "f")},
	)
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Probes: []probe{
		{Op: "read", Path: "/data/sub/f"},
		{Op: "read", Path: "/data/sentinel"},
		{Op: "read", Path: host + "/sentinel"},
	}})
	if rep.SetupErr != "" || rep.FinalizeErr != "" {
		t.Fatalf("setup: %s; finalize: %s", rep.SetupErr, rep.FinalizeErr)
	}
	// The link resolved inside the root: both mounts landed under
	// <root><host>, made there, and the host directory is untouched.
	want(t, rep, "read", "/data/sub/f", "container data\n", "")
	want(t, rep, "read", "/data/sentinel", "container data\n", "")
	want(t, rep, "read", host+"/sentinel", "container data\n", "")
	if !hostHas(filepath.Join(root, host, "sub")) {
		t.Errorf("the mount target was not made inside the root at %s", filepath.Join(root, host, "sub"))
	}
	check()
	leaks.Check(t, time.Second)
}

// Where the link leads to nothing inside the root, the mount target is not
// made through it.
func TestHostileAbsoluteSymlinkToMissing(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	host, check := sentinel(t)
	root := hostileRootfs(t, map[string]string{"data": host})
	o := defaultOptions(root)
	o.Mounts = append(o.Mounts, specs.Mount{Destination: "/data/sub", Type: "bind", Source: t.TempDir()})
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o})
	if !strings.Contains(rep.SetupErr, "on "+root+"/data/sub: openat2 "+root+"/data: not a directory") {
		t.Errorf("Setup error = %q, want the dangling link refused", rep.SetupErr)
	}
	check()
	leaks.Check(t, time.Second)
}

func TestHostileRelativeSymlinkClimbingOut(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	defer checkHostEtc(t)
	root := hostileRootfs(t, map[string]string{"data": "../../../../../../../../etc"})
	src := filepath.Join(t.TempDir(), "src")
	testutil.WriteFile(t, src, "container data\n")
	o := defaultOptions(root)
	o.Mounts = append(o.Mounts, specs.Mount{Destination: "/data/" + filepath.Base(hostEtcProbe), Type: "bind", Source: src})
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Probes: []probe{{Op: "read", Path: hostEtcProbe}}})
	if rep.SetupErr != "" || rep.FinalizeErr != "" {
		t.Fatalf("setup: %s; finalize: %s", rep.SetupErr, rep.FinalizeErr)
	}
	// ".." stops at the root: the bind landed on the rootfs's own /etc.
	want(t, rep, "read", hostEtcProbe, "container data\n", "")
	if !hostHas(filepath.Join(root, hostEtcProbe)) {
		t.Error("the bind target was not made in the rootfs's /etc")
	}
	leaks.Check(t, time.Second)
}

func TestHostileDanglingSymlinkTarget(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	defer checkHostEtc(t)
	root := hostileRootfs(t, map[string]string{"data/x": hostEtcProbe})
	src := filepath.Join(t.TempDir(), "src")
	testutil.WriteFile(t, src, "container data\n")
	o := defaultOptions(root)
	o.Mounts = append(o.Mounts, specs.Mount{Destination: "/data/x", Type: "bind", Source: src})
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Probes: []probe{
		{Op: "read", Path: "/data/x"},
		{Op: "read", Path: hostEtcProbe},
	}})
	if rep.SetupErr != "" || rep.FinalizeErr != "" {
		t.Fatalf("setup: %s; finalize: %s", rep.SetupErr, rep.FinalizeErr)
	}
	// The link is followed inside the root: its target is made in the
	// rootfs's /etc, and the bind lands there, where the container finds it
	// through the link.
	want(t, rep, "read", "/data/x", "container data\n", "")
	want(t, rep, "read", hostEtcProbe, "container data\n", "")
	if !hostHas(filepath.Join(root, hostEtcProbe)) {
		t.Error("the link's target was not made inside the rootfs")
	}
	leaks.Check(t, time.Second)
}

// Images ship /etc/resolv.conf as a link into /run, which is empty until
// the container runs: a bind onto it must follow the link (inside the root)
// and make the file there.
func TestBindOntoDanglingResolvConf(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := hostileRootfs(t, map[string]string{"etc/resolv.conf": "../run/systemd/resolve/stub-resolv.conf"})
	src := filepath.Join(t.TempDir(), "resolv.conf")
	testutil.WriteFile(t, src, "nameserver 127.0.0.53\n")
	o := defaultOptions(root)
	o.Mounts = append(o.Mounts, specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: src, Options: []string{"bind", "ro"}})
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Probes: []probe{
		{Op: "read", Path: "/etc/resolv.conf"},
		{Op: "stat", Path: "/etc/resolv.conf"},
	}})
	if rep.SetupErr != "" || rep.FinalizeErr != "" {
		t.Fatalf("setup: %s; finalize: %s", rep.SetupErr, rep.FinalizeErr)
	}
	want(t, rep, "read", "/etc/resolv.conf", "nameserver 127.0.0.53\n", "")
	want(t, rep, "stat", "/etc/resolv.conf", "l ../run/systemd/resolve/stub-resolv.conf", "")
	leaks.Check(t, time.Second)
}

func TestHostileProcSymlink(t *testing.T) {
	testutil.RequiresRoot(t)
	for name, target := range map[string]string{"absolute": "/sys", "relative": "../../../..", "in root": "tmp"} {
		t.Run(name, func(t *testing.T) {
			leaks := testutil.Snapshot()
			root := hostileRootfs(t, map[string]string{"proc": target})
			rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: defaultOptions(root)})
			if !strings.Contains(rep.SetupErr, "mount proc on "+root+"/proc: the target is a symlink, not a directory: refused") {
				t.Errorf("Setup error = %q, want /proc as a symlink refused", rep.SetupErr)
			}
			leaks.Check(t, time.Second)
		})
	}
}

func TestHostileDevSymlink(t *testing.T) {
	testutil.RequiresRoot(t)
	host, check := sentinel(t)
	for name, tc := range map[string]struct {
		target, err string
		inRoot      bool // make the link's target exist inside the root
	}{
		// /dev -> /dev resolves to itself inside the root: a loop.
		"host dev": {"/dev", "mount tmpfs on ROOT/dev: openat2 /dev: too many levels of symbolic links", false},
		// Resolved inside the root the tmpfs lands at <root><host> (made
		// there if missing), not at /dev: the devices are refused rather
		// than made elsewhere.
		"host dir missing": {host, "ROOT/dev resolves to " + host + ": refused", false},
		"host dir in root": {host, "ROOT/dev resolves to " + host + ": refused", true},
	} {
		t.Run(name, func(t *testing.T) {
			leaks := testutil.Snapshot()
			root := hostileRootfs(t, map[string]string{"dev": tc.target})
			if tc.inRoot {
				if err := os.MkdirAll(filepath.Join(root, tc.target), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: defaultOptions(root)})
			if wantErr := strings.ReplaceAll(tc.err, "ROOT", root); !strings.Contains(rep.SetupErr, wantErr) {
				t.Errorf("Setup error = %q, want %q", rep.SetupErr, wantErr)
			}
			leaks.Check(t, time.Second)
		})
	}
	check()
	if st, err := os.Stat("/dev/null"); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("the host's /dev/null: %v %v", st, err)
	}
}

// CVE-2025-31133: a container that swaps /dev/null for a link to a procfs
// file must not get that file bound over the masked paths.
func TestHostileDevNullSwappedBeforeMasking(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: defaultOptions(root), Sabotage: "devnull-symlink"})
	if !strings.Contains(rep.FinalizeErr, "/dev/null is a symlink, not the null device") {
		t.Errorf("Finalize error = %q, want the swapped /dev/null refused", rep.FinalizeErr)
	}
	leaks.Check(t, time.Second)
}

// CVE-2025-52565: /dev/console swapped for a link before the console bind.
func TestHostileConsoleSwapped(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: defaultOptions(root), Sabotage: "console-symlink", Console: true,
		Probes: []probe{{Op: "stat", Path: "/dev/console"}}})
	if !strings.Contains(rep.ConsoleErr, "bind console: /dev/console is a symlink, not the empty file Setup made: refused") {
		t.Errorf("BindConsole error = %q, want the swapped /dev/console refused", rep.ConsoleErr)
	}
	want(t, rep, "stat", "/dev/console", "l /proc/sysrq-trigger", "")
	leaks.Check(t, time.Second)
}
