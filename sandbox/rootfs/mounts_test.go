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

func TestSetupBindMounts(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, classic := range []bool{false, true} {
		name := "mount_setattr"
		if classic {
			name = "mount(2) only"
		}
		t.Run(name, func(t *testing.T) { testBindMounts(t, classic) })
	}
}

func testBindMounts(t *testing.T, classic bool) {
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	roDir, rwDir := t.TempDir(), t.TempDir()
	testutil.WriteFile(t, filepath.Join(roDir, "a"), "from the host\n")
	file := filepath.Join(t.TempDir(), "file")
	testutil.WriteFile(t, file, "one file\n")
	o := defaultOptions(root)
	o.Mounts = append(o.Mounts,
		specs.Mount{Destination: "/data/ro", Type: "bind", Source: roDir, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/data/deep/rw", Type: "bind", Source: rwDir, Options: []string{"rbind", "rw", "nosuid", "nodev", "noexec"}},
		specs.Mount{Destination: "/etc/bound", Source: file, Options: []string{"bind", "ro"}},
	)
	if !classic {
		// Recursive attributes exist only with mount_setattr(2).
		o.Mounts = append(o.Mounts, specs.Mount{Destination: "/data/private", Type: "bind", Source: rwDir, Options: []string{"rbind", "rro", "rshared"}})
	}
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, MountSyscall: classic, Probes: append(containerProbes(),
		probe{Op: "read", Path: "/data/ro/a"},
		probe{Op: "create", Path: "/data/ro/b", Data: "x"},
		probe{Op: "flags", Path: "/data/ro"},
		probe{Op: "create", Path: "/data/deep/rw/made-inside", Data: "hello host\n"},
		probe{Op: "flags", Path: "/data/deep/rw"},
		probe{Op: "read", Path: "/etc/bound"},
		probe{Op: "openw", Path: "/etc/bound"},
		probe{Op: "flags", Path: "/data/private"},
		probe{Op: "mountinfo", Path: "/data/private"},
		probe{Op: "mountinfo", Path: "/data/ro"},
	)})
	checkContainer(t, rep)
	want(t, rep, "read", "/data/ro/a", "from the host\n", "")
	want(t, rep, "create", "/data/ro/b", "", "EROFS")
	want(t, rep, "flags", "/data/ro", "ro", "")
	want(t, rep, "create", "/data/deep/rw/made-inside", "", "")
	want(t, rep, "flags", "/data/deep/rw", "nosuid,nodev,noexec", "")
	want(t, rep, "read", "/etc/bound", "one file\n", "")
	want(t, rep, "openw", "/etc/bound", "", "EROFS")
	if !classic {
		want(t, rep, "flags", "/data/private", "ro", "")
		want(t, rep, "mountinfo", "/data/private", "shared", "")
	}
	want(t, rep, "mountinfo", "/data/ro", "", "")
	if b, err := os.ReadFile(filepath.Join(rwDir, "made-inside")); err != nil || string(b) != "hello host\n" {
		t.Errorf("a write through the rw bind did not reach the host: %q %v", b, err)
	}
	// The targets were made inside the rootfs, empty.
	if st, err := os.Stat(filepath.Join(root, "etc/bound")); err != nil || st.Size() != 0 {
		t.Errorf("bind target file in the rootfs: %v %v", st, err)
	}
	leaks.Check(t, time.Second)
}

func TestSetupTmpfsAndDevices(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	testutil.WriteFile(t, filepath.Join(root, "etc/hostname"), "image\n")
	if err := os.Lchown(filepath.Join(root, "etc/hostname"), 1000, 1001); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "etc/hostname"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "run"), 0o750); err != nil {
		t.Fatal(err)
	}
	o := defaultOptions(root)
	mode := os.FileMode(0o600)
	uid, gid := uint32(1000), uint32(5)
	o.Devices = []specs.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode, UID: &uid, GID: &gid},
		{Path: "/opt/dev/null2", Type: "c", Major: 1, Minor: 3},
		{Path: "/dev/net/tun", Type: "c", Major: 10, Minor: 200},
	}
	o.Mounts = append(o.Mounts,
		specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
		specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=0700", "size=1m"}},
		specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "nosuid"}},
	)
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Probes: append(containerProbes(),
		probe{Op: "stat", Path: "/run"},
		probe{Op: "fstype", Path: "/run"},
		probe{Op: "stat", Path: "/scratch"},
		probe{Op: "stat", Path: "/dev/fuse"},
		probe{Op: "stat", Path: "/opt/dev/null2"},
		probe{Op: "stat", Path: "/dev/net/tun"},
		probe{Op: "fstype", Path: "/etc"},
		probe{Op: "read", Path: "/etc/hostname"},
		probe{Op: "owner", Path: "/etc/hostname"},
		probe{Op: "stat", Path: "/etc/hostname"},
		probe{Op: "stat", Path: "/etc"},
		probe{Op: "read", Path: "/etc/passwd"},
		probe{Op: "create", Path: "/etc/made-inside", Data: "x"},
	)})
	checkContainer(t, rep)
	want(t, rep, "stat", "/run", "d 0750", "")
	want(t, rep, "fstype", "/run", "tmpfs", "")
	want(t, rep, "stat", "/scratch", "d 0700", "")
	want(t, rep, "stat", "/dev/fuse", "c 10:229 0600", "")
	want(t, rep, "stat", "/opt/dev/null2", "c 1:3 0666", "")
	want(t, rep, "stat", "/dev/net/tun", "c 10:200 0666", "")
	want(t, rep, "fstype", "/etc", "tmpfs", "")
	want(t, rep, "read", "/etc/hostname", "image\n", "")
	want(t, rep, "owner", "/etc/hostname", "1000:1001", "")
	want(t, rep, "stat", "/etc/hostname", "f 0640 6", "")
	want(t, rep, "stat", "/etc", "d 0755", "")
	want(t, rep, "read", "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", "")
	want(t, rep, "create", "/etc/made-inside", "", "")
	if hostHas(filepath.Join(root, "etc/made-inside")) {
		t.Error("a write to the tmpcopyup tmpfs reached the rootfs")
	}
	leaks.Check(t, time.Second)
}

func TestSetupReadonlyRoot(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	o := defaultOptions(root)
	o.Readonly = true
	o.Mounts[1].Options = append(o.Mounts[1].Options, "ro") // a read-only /dev, made so only after its nodes
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Probes: append(containerProbes(),
		probe{Op: "create", Path: "/tmp/x"},
		probe{Op: "create", Path: "/dev/x"},
		probe{Op: "flags", Path: "/"},
	)})
	// The default probes expect a writable /root.
	want(t, rep, "create", "/root/written", "", "EROFS")
	want(t, rep, "create", "/tmp/x", "", "EROFS")
	want(t, rep, "create", "/dev/x", "", "EROFS")
	want(t, rep, "flags", "/", "ro", "")
	want(t, rep, "fstype", "/dev", "tmpfs ro", "")
	// What remains must be as in any container.
	rep.Results["create /root/written"] = probeResult{}
	rep.Results["fstype /dev"] = probeResult{Out: "tmpfs"}
	checkContainer(t, rep)
	leaks.Check(t, time.Second)
}

func TestSetupErrorsNameOperationAndPath(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	for _, tc := range []struct {
		name  string
		edit  func(o *Options)
		setup string // wanted substring of Setup's error
	}{
		{"missing bind source", func(o *Options) {
			o.Mounts = append(o.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/nonexistent-stepbox-source"})
		}, "bind /nonexistent-stepbox-source on " + root + "/data: no such file or directory"},
		{"bad filesystem type", func(o *Options) {
			o.Mounts = append(o.Mounts, specs.Mount{Destination: "/x", Type: "nosuchfs", Source: "none"})
		}, "mount nosuchfs on " + root + "/x: no such device"},
		{"mount inside /proc", func(o *Options) {
			o.Mounts = append(o.Mounts, specs.Mount{Destination: "/proc/sys/kernel/core_pattern", Type: "bind", Source: "/etc/hostname"})
		}, "is inside /proc"},
		{"device in the way", func(o *Options) {
			testutil.WriteFile(t, filepath.Join(root, "opt/dev/zero"), "")
			o.Mounts = o.Mounts[:1]
			o.Devices = []specs.LinuxDevice{{Path: "/opt/dev/zero", Type: "c", Major: 1, Minor: 5}}
		}, "a regular file is already there"},
		{"bad propagation", func(o *Options) { o.Propagation = "sideways" }, `rootfs propagation "sideways"`},
		{"relative root", func(o *Options) { o.Root = "rootfs" }, `rootfs "rootfs": not an absolute path`},
		{"missing root", func(o *Options) { o.Root = root + "-missing" }, "bind rootfs " + root + "-missing onto itself: no such file or directory"},
		{"root is a file", func(o *Options) { o.Root = root + "/stepbox-test-marker" }, "open rootfs " + root + "/stepbox-test-marker: not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := defaultOptions(root)
			tc.edit(&o)
			rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o})
			if !strings.Contains(rep.SetupErr, tc.setup) {
				t.Errorf("Setup error = %q, want it to contain %q", rep.SetupErr, tc.setup)
			}
		})
	}
	leaks.Check(t, time.Second)
}

// The console bind: the pty peer from the container's own devpts lands on
// /dev/console.
func TestBindConsole(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, false)
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: defaultOptions(root), Console: true,
		Probes: []probe{{Op: "stat", Path: "/dev/console"}, {Op: "fstype", Path: "/dev/console"}}})
	if rep.ConsoleErr != "" || rep.SetupErr != "" || rep.FinalizeErr != "" {
		t.Fatalf("console: %s; setup: %s; finalize: %s", rep.ConsoleErr, rep.SetupErr, rep.FinalizeErr)
	}
	if got := rep.Results["stat /dev/console"].Out; !strings.HasPrefix(got, "c 136:") {
		t.Errorf("/dev/console = %q, want the pty (character 136:N)", got)
	}
	want(t, rep, "fstype", "/dev/console", "devpts", "")
	leaks.Check(t, time.Second)
}

// Without mount_setattr(2), read-only is a bind remount that must repeat the
// flags the kernel locked on mounts inherited from the host (user_namespaces
// (7): MNT_LOCK_*); statfs(2) tells them.
func TestSetupMountSyscallOnlyInUserNamespace(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	root := testRootfs(t, true)
	o := defaultOptions(root)
	o.Readonly = true
	ro := t.TempDir()
	openPath(t, ro)
	o.Mounts = append(o.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: ro, Options: []string{"bind", "ro", "nosuid"}})
	rep, _ := runHelper(t, nsConfig{userns: true}, helperConfig{Options: o, MountSyscall: true, Probes: append(containerProbes(),
		probe{Op: "flags", Path: "/"},
		probe{Op: "flags", Path: "/data"},
	)})
	want(t, rep, "create", "/root/written", "", "EROFS")
	want(t, rep, "flags", "/data", "ro,nosuid", "")
	if got := rep.Results["flags /"].Out; !strings.HasPrefix(got, "ro") {
		t.Errorf("flags of / = %q, want read-only", got)
	}
	rep.Results["create /root/written"] = probeResult{}
	checkContainer(t, rep)
	leaks.Check(t, time.Second)
}
