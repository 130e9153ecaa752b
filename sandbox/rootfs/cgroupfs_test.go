package rootfs

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readFixtureCgroups(t *testing.T, name string) []cgroupHierarchy {
	t.Helper()
	mi, err := os.ReadFile("testdata/cgroup/" + name + ".mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := os.ReadFile("testdata/cgroup/" + name + ".cgroup")
	if err != nil {
		t.Fatal(err)
	}
	h, err := readHostCgroups(mi, sc)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestReadHostCgroups(t *testing.T) {
	got := readFixtureCgroups(t, "v1-comounted")
	want := []cgroupHierarchy{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Type: "cgroup", Options: "cpu,cpuacct", Own: "/system.slice/x.service"},
		{Mountpoint: "/sys/fs/cgroup/memory", Root: "/docker/abc", Type: "cgroup", Options: "memory", Own: "/docker/abc/child"},
		{Mountpoint: "/sys/fs/cgroup/net_cls,net_prio", Root: "/", Type: "cgroup", Options: "net_cls,net_prio", Own: "/"},
		// release_agent is dropped (CVE-2022-0492); /run/other/cgroup is
		// not under /sys/fs/cgroup and is ignored.
		{Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Type: "cgroup", Options: "xattr,name=systemd", Own: "/system.slice/x.service"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readHostCgroups (-want +got):\n%s", diff)
	}
}

func TestPlanCgroups(t *testing.T) {
	for _, tc := range []struct {
		fixture  string
		cgroupNS bool
		want     []cgroupStep
	}{
		{"v2", true, []cgroupStep{{Kind: "cgroup2", Dest: "/sys/fs/cgroup"}}},
		{"v2", false, []cgroupStep{{Kind: "bind", Dest: "/sys/fs/cgroup", Source: "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope"}}},
		{"hybrid", true, []cgroupStep{
			{Kind: "tmpfs", Dest: "/sys/fs/cgroup", Data: "mode=755"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/blkio", Data: "blkio"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/cpu", Data: "cpu"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/cpuacct", Data: "cpuacct"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/cpuset", Data: "cpuset"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/devices", Data: "devices"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/freezer", Data: "freezer"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/memory", Data: "memory"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/pids", Data: "pids"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/systemd", Data: "name=systemd"},
			{Kind: "cgroup2", Dest: "/sys/fs/cgroup/unified"},
		}},
		{"hybrid", false, []cgroupStep{
			{Kind: "tmpfs", Dest: "/sys/fs/cgroup", Data: "mode=755"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/blkio", Source: "/sys/fs/cgroup/blkio"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/cpu", Source: "/sys/fs/cgroup/cpu"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/cpuacct", Source: "/sys/fs/cgroup/cpuacct"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/cpuset", Source: "/sys/fs/cgroup/cpuset"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/devices", Source: "/sys/fs/cgroup/devices"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/freezer", Source: "/sys/fs/cgroup/freezer"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/memory", Source: "/sys/fs/cgroup/memory/tests/abc"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/pids", Source: "/sys/fs/cgroup/pids"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/systemd", Source: "/sys/fs/cgroup/systemd"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/unified", Source: "/sys/fs/cgroup/unified"},
		}},
		{"v1-comounted", true, []cgroupStep{
			{Kind: "tmpfs", Dest: "/sys/fs/cgroup", Data: "mode=755"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/cpu,cpuacct", Data: "cpu,cpuacct"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/memory", Data: "memory"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/net_cls,net_prio", Data: "net_cls,net_prio"},
			{Kind: "cgroup", Dest: "/sys/fs/cgroup/systemd", Data: "xattr,name=systemd"},
			{Kind: "symlink", Dest: "/sys/fs/cgroup/cpu", Source: "cpu,cpuacct"},
			{Kind: "symlink", Dest: "/sys/fs/cgroup/cpuacct", Source: "cpu,cpuacct"},
			{Kind: "symlink", Dest: "/sys/fs/cgroup/net_cls", Source: "net_cls,net_prio"},
			{Kind: "symlink", Dest: "/sys/fs/cgroup/net_prio", Source: "net_cls,net_prio"},
		}},
		{"v1-comounted", false, []cgroupStep{
			{Kind: "tmpfs", Dest: "/sys/fs/cgroup", Data: "mode=755"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/cpu,cpuacct", Source: "/sys/fs/cgroup/cpu,cpuacct/system.slice/x.service"},
			// The host mount shows /docker/abc: the own cgroup is its
			// child there.
			{Kind: "bind", Dest: "/sys/fs/cgroup/memory", Source: "/sys/fs/cgroup/memory/child"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/net_cls,net_prio", Source: "/sys/fs/cgroup/net_cls,net_prio"},
			{Kind: "bind", Dest: "/sys/fs/cgroup/systemd", Source: "/sys/fs/cgroup/systemd/system.slice/x.service"},
			{Kind: "symlink", Dest: "/sys/fs/cgroup/cpu", Source: "cpu,cpuacct"},
			{Kind: "symlink", Dest: "/sys/fs/cgroup/cpuacct", Source: "cpu,cpuacct"},
			{Kind: "symlink", Dest: "/sys/fs/cgroup/net_cls", Source: "net_cls,net_prio"},
			{Kind: "symlink", Dest: "/sys/fs/cgroup/net_prio", Source: "net_cls,net_prio"},
		}},
	} {
		got, err := planCgroups("/sys/fs/cgroup", readFixtureCgroups(t, tc.fixture), tc.cgroupNS)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s, cgroupns=%v (-want +got):\n%s", tc.fixture, tc.cgroupNS, diff)
		}
	}
	if _, err := planCgroups("/sys/fs/cgroup", nil, true); err == nil {
		t.Error("planCgroups with no host cgroups gave no error")
	}
}

func TestRelCgroup(t *testing.T) {
	for _, tc := range [][3]string{
		{"/", "/a/b", "/a/b"},
		{"/docker/abc", "/docker/abc/child", "/child"},
		{"/docker/abc", "/docker/abc", "/"},
		{"/docker/abc", "/docker/abcd", "/"}, // not below the mount's root
		{"/docker/abc", "/elsewhere", "/"},
	} {
		if got := relCgroup(tc[0], tc[1]); got != tc[2] {
			t.Errorf("relCgroup(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestParseMountinfoLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want mountinfoLine
		ok   bool
	}{
		{"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
			mountinfoLine{root: "/mnt1", point: "/mnt2", fstype: "ext3", superOptions: "rw,errors=continue"}, true},
		{"36 35 98:0 / /a\\040b rw shared:3 master:1 propagate_from:2 - tmpfs tmpfs rw,mode=755",
			mountinfoLine{root: "/", point: "/a b", fstype: "tmpfs", superOptions: "rw,mode=755"}, true},
		// A "-" inside a path is not the separator: the separator comes
		// after the sixth field.
		{"40 31 0:37 / /sys/fs/cgroup/a-b rw,relatime - cgroup cgroup rw,name=a-b",
			mountinfoLine{root: "/", point: "/sys/fs/cgroup/a-b", fstype: "cgroup", superOptions: "rw,name=a-b"}, true},
		{"40 31 0:37 / /x\\134y\\011z rw - tmpfs none rw",
			mountinfoLine{root: "/", point: "/x\\y\tz", fstype: "tmpfs", superOptions: "rw"}, true},
		{"garbage", mountinfoLine{}, false},
		{"1 2 3:4 / / rw no separator here at all x", mountinfoLine{}, false},
	} {
		got, ok := parseMountinfoLine(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseMountinfoLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// A container sees only the hierarchies it has cgroups in: one it did not
// join (blkio, name=systemd here) would show the host's tree from its root.
func TestJoinedHierarchies(t *testing.T) {
	host := []cgroupHierarchy{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Type: "cgroup", Options: "cpu,cpuacct"},
		{Mountpoint: "/sys/fs/cgroup/blkio", Type: "cgroup", Options: "blkio"},
		{Mountpoint: "/sys/fs/cgroup/systemd", Type: "cgroup", Options: "xattr,name=systemd"},
		{Mountpoint: "/sys/fs/cgroup/memory", Type: "cgroup", Options: "memory"},
		{Mountpoint: "/sys/fs/cgroup/unified", Type: "cgroup2"},
	}
	var got []string
	for _, h := range joined(host, []string{"cpu", "memory", "unified"}) {
		got = append(got, h.Mountpoint)
	}
	want := []string{"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("joined = %v, want %v", got, want)
	}
	if len(joined(host, nil)) != len(host) {
		t.Error("no list must keep every hierarchy")
	}
}
