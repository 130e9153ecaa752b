package rootfs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []string
		want MountOptions
	}{
		{"empty", nil, MountOptions{}},
		{"runc proc", []string{"nosuid", "noexec", "nodev"},
			MountOptions{Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV}},
		{"dev tmpfs data", []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			MountOptions{Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"}},
		{"devpts data keeps order", []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			MountOptions{Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"}},
		{"later wins: ro then rw", []string{"ro", "rw"},
			MountOptions{Cleared: unix.MS_RDONLY}},
		{"later wins: rw then ro", []string{"rw", "ro"},
			MountOptions{Flags: unix.MS_RDONLY}},
		{"clearing options", []string{"suid", "dev", "exec", "async", "atime", "diratime", "norelatime", "nostrictatime", "nomand", "symfollow", "loud", "noiversion", "nolazytime"},
			MountOptions{Cleared: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_SYNCHRONOUS | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_MANDLOCK | unix.MS_NOSYMFOLLOW | unix.MS_SILENT | unix.MS_I_VERSION | unix.MS_LAZYTIME}},
		{"setting options", []string{"sync", "dirsync", "mand", "noatime", "nodiratime", "relatime", "iversion", "lazytime", "silent", "nosymfollow", "defaults"},
			MountOptions{Flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_MANDLOCK | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_I_VERSION | unix.MS_LAZYTIME | unix.MS_SILENT | unix.MS_NOSYMFOLLOW}},
		{"bind", []string{"bind", "ro"},
			MountOptions{Flags: unix.MS_BIND | unix.MS_RDONLY}},
		{"rbind with propagation in order", []string{"rbind", "rprivate", "shared", "rslave", "unbindable", "private", "rshared", "slave", "runbindable"},
			MountOptions{Flags: unix.MS_BIND | unix.MS_REC, Propagation: []uintptr{
				unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SLAVE | unix.MS_REC, unix.MS_UNBINDABLE,
				unix.MS_PRIVATE, unix.MS_SHARED | unix.MS_REC, unix.MS_SLAVE, unix.MS_UNBINDABLE | unix.MS_REC}}},
		{"recursive flags", []string{"rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow"},
			MountOptions{Flags: unix.MS_BIND | unix.MS_REC,
				RecursiveSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{"recursive clears", []string{"rro", "rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"},
			MountOptions{RecursiveClear: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{"recursive atime is one field", []string{"rnoatime", "rstrictatime"},
			MountOptions{RecursiveSet: unix.MOUNT_ATTR_STRICTATIME, RecursiveClear: unix.MOUNT_ATTR__ATIME}},
		{"recursive atime back to relatime", []string{"rnoatime", "ratime"},
			MountOptions{RecursiveSet: unix.MOUNT_ATTR_RELATIME, RecursiveClear: unix.MOUNT_ATTR__ATIME}},
		{"tmpcopyup", []string{"tmpcopyup", "mode=700"},
			MountOptions{CopyUp: true, Data: "mode=700"}},
		{"unknown goes to data", []string{"lowerdir=/a", "upperdir=/b", "workdir=/c", "userxattr"},
			MountOptions{Data: "lowerdir=/a,upperdir=/b,workdir=/c,userxattr"}},
		{"remount is a flag", []string{"remount"},
			MountOptions{Flags: unix.MS_REMOUNT}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMountOptions(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseMountOptions(%q) (-want +got):\n%s", tc.opts, diff)
			}
		})
	}
}

func TestParseMountOptionsRefusesIdmap(t *testing.T) {
	for _, o := range []string{"idmap", "ridmap"} {
		_, err := ParseMountOptions([]string{"rbind", o})
		if err == nil || !strings.Contains(err.Error(), o) {
			t.Errorf("%s: err = %v, want a refusal naming it", o, err)
		}
	}
}

func TestBindAttrs(t *testing.T) {
	for _, tc := range []struct {
		opts       []string
		set, clear uint64
	}{
		{[]string{"bind"}, 0, 0},
		{[]string{"rbind", "ro"}, unix.MOUNT_ATTR_RDONLY, 0},
		{[]string{"bind", "rw", "nosuid", "nodev", "noexec"}, unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC, unix.MOUNT_ATTR_RDONLY},
		{[]string{"bind", "noatime"}, unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME},
		{[]string{"bind", "strictatime"}, unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
		{[]string{"bind", "atime"}, unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
		// Superblock flags have no per-mount form: a bind leaves them be.
		{[]string{"bind", "sync", "lazytime"}, 0, 0},
	} {
		o, err := ParseMountOptions(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		set, clear := o.bindAttrs()
		if set != tc.set || clear != tc.clear {
			t.Errorf("%q: bindAttrs = %#x, %#x; want %#x, %#x", tc.opts, set, clear, tc.set, tc.clear)
		}
	}
}

func TestParseMounts(t *testing.T) {
	plan, err := parseMounts([]specs.Mount{
		{Destination: "data//x/../y/", Type: "bind", Source: "/srv"},
		{Destination: "/z", Type: "none", Source: "/srv", Options: []string{"rbind"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if plan[0].dest != "/data/y" || !plan[0].opts.IsBind() {
		t.Errorf("relative destination: %+v", plan[0])
	}
	if !plan[1].opts.IsBind() || plan[1].opts.Flags&unix.MS_REC == 0 {
		t.Errorf("rbind option makes a recursive bind whatever the type: %+v", plan[1])
	}
	for _, tc := range []struct {
		m    specs.Mount
		want string
	}{
		{specs.Mount{Destination: "/", Type: "tmpfs"}, "destination must be a path below /"},
		{specs.Mount{Destination: "/..", Type: "tmpfs"}, "destination must be a path below /"},
		{specs.Mount{Destination: "", Type: "tmpfs"}, "destination must be a path below /"},
		{specs.Mount{Destination: "/x", Type: "bind", Source: "relative/dir"}, "source must be an absolute host path"},
		{specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"remount"}}, "remount"},
		{specs.Mount{Destination: "/x", Type: "bind", Source: "/x", Options: []string{"idmap"}}, "id-mapped"},
	} {
		_, err := parseMounts([]specs.Mount{tc.m})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.m, err, tc.want)
		}
	}
}

func TestParsePropagation(t *testing.T) {
	for in, want := range map[string]uintptr{
		"":           unix.MS_PRIVATE | unix.MS_REC,
		"private":    unix.MS_PRIVATE,
		"rslave":     unix.MS_SLAVE | unix.MS_REC,
		"shared":     unix.MS_SHARED,
		"unbindable": unix.MS_UNBINDABLE,
	} {
		got, err := parsePropagation(in)
		if err != nil || got != want {
			t.Errorf("parsePropagation(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	if _, err := parsePropagation("sideways"); err == nil {
		t.Error("parsePropagation accepted nonsense")
	}
}

func TestCheckProcDest(t *testing.T) {
	bind := &mountPlan{Mount: specs.Mount{Source: "/var/lib/lxcfs/proc/meminfo"}, opts: MountOptions{Flags: unix.MS_BIND}}
	tmpfs := &mountPlan{Mount: specs.Mount{Type: "tmpfs"}}
	for _, tc := range []struct {
		at string
		m  *mountPlan
		ok bool
	}{
		{"/proc/meminfo", bind, true},
		{"/proc/net/dev", bind, true},
		{"/proc/meminfo", tmpfs, false},
		{"/proc", bind, false},
		{"/proc/self/attr/exec", bind, false},
		{"/proc/sys/kernel/core_pattern", bind, false},
		{"/procfoo", tmpfs, true},
		{"/etc", bind, true},
	} {
		err := checkProcDest(tc.at, tc.m)
		if (err == nil) != tc.ok {
			t.Errorf("checkProcDest(%s, %s) = %v, want ok=%v", tc.at, tc.m.Type, err, tc.ok)
		}
	}
}
