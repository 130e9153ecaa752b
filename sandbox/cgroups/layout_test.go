package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetectLayout(t *testing.T) {
	type want struct {
		mode    Mode
		v1      map[string]string // controller → mount point below the root
		unified string
		uctrl   string
	}
	for name, w := range map[string]want{
		"hybrid": {Hybrid, map[string]string{
			"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct", "cpuset": "/sys/fs/cgroup/cpuset",
			"memory": "/sys/fs/cgroup/memory", "devices": "/sys/fs/cgroup/devices", "freezer": "/sys/fs/cgroup/freezer",
			"blkio": "/sys/fs/cgroup/blkio", "pids": "/sys/fs/cgroup/pids",
		}, "/sys/fs/cgroup/unified", "hugetlb"},
		"v1": {V1, map[string]string{
			"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "cpuset": "/sys/fs/cgroup/cpuset",
			"memory": "/sys/fs/cgroup/memory", "devices": "/sys/fs/cgroup/devices", "freezer": "/sys/fs/cgroup/freezer",
			"blkio": "/sys/fs/cgroup/blkio", "pids": "/sys/fs/cgroup/pids", "net_cls": "/sys/fs/cgroup/net_cls,net_prio",
			"net_prio": "/sys/fs/cgroup/net_cls,net_prio", "hugetlb": "/sys/fs/cgroup/hugetlb", "perf_event": "/sys/fs/cgroup/perf_event",
		}, "", ""},
		"v2": {V2, map[string]string{}, "/sys/fs/cgroup", "cpuset cpu io memory hugetlb pids rdma misc"},
		"container": {Hybrid, map[string]string{
			"memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu and acct", "cpuacct": "/sys/fs/cgroup/cpu and acct",
		}, "/sys/fs/cgroup/unified", ""},
	} {
		t.Run(name, func(t *testing.T) {
			l, root := fakeTree(t, name)
			if l.Mode != w.mode {
				t.Errorf("mode %s, want %s", l.Mode, w.mode)
			}
			got := map[string]string{}
			for _, h := range l.V1 {
				for _, c := range h.Controllers {
					got[c] = strings.TrimPrefix(h.Dir, root)
				}
			}
			if d := cmp.Diff(w.v1, got); d != "" {
				t.Errorf("v1 hierarchies (-want +got):\n%s", d)
			}
			if w.unified == "" {
				if l.Unified != nil {
					t.Errorf("unified %+v, want none", l.Unified)
				}
				return
			}
			if l.Unified == nil || strings.TrimPrefix(l.Unified.Dir, root) != w.unified {
				t.Fatalf("unified %+v, want at %s", l.Unified, w.unified)
			}
			if got := strings.Join(l.Unified.Controllers, " "); got != w.uctrl {
				t.Errorf("unified controllers %q, want %q", got, w.uctrl)
			}
			for _, c := range strings.Fields(w.uctrl) {
				if !l.InV2(c) {
					t.Errorf("InV2(%s) = false", c)
				}
			}
		})
	}
}

func TestDetectLayoutNamedHierarchyIgnored(t *testing.T) {
	l, _ := fakeTree(t, "v1")
	for _, h := range l.V1 {
		if h.Name != "" {
			t.Errorf("named hierarchy %+v listed", h)
		}
	}
}

func TestDetectLayoutNoCgroups(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "proc/self/mountinfo"), "22 28 0:21 / /proc rw - proc proc rw\n")
	_, err := DetectLayout(root)
	if err == nil || !strings.Contains(err.Error(), "no cgroup or cgroup2 filesystem") {
		t.Fatalf("err = %v", err)
	}
}

func TestOwnAndRelativePaths(t *testing.T) {
	l, root := fakeTree(t, "container")
	own, err := l.Own()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"memory": "/docker/abc/app", "cpu": "/docker/abc", "cpuacct": "/docker/abc", Unified: "/docker/abc"}
	if d := cmp.Diff(want, own); d != "" {
		t.Fatalf("Own (-want +got):\n%s", d)
	}
	mem := l.V1Hierarchy("memory")
	if mem.Root != "/docker/abc" {
		t.Fatalf("memory mount root %q", mem.Root)
	}
	for _, c := range []struct{ path, own, want string }{
		{"/stepbox/x", own["memory"], "/sys/fs/cgroup/memory/stepbox/x"},
		// relative: below the caller's own cgroup as the mount shows it
		{"stepbox/x", own["memory"], "/sys/fs/cgroup/memory/app/stepbox/x"},
		{"/../../etc/x", "", "/sys/fs/cgroup/memory/etc/x"},
	} {
		got, err := dirFor(mem, c.path, c.own)
		if err != nil {
			t.Errorf("dirFor(%q): %v", c.path, err)
			continue
		}
		if got = strings.TrimPrefix(got, root); got != c.want {
			t.Errorf("dirFor(%q) = %s, want %s", c.path, got, c.want)
		}
	}
	if _, err := dirFor(mem, "x", "/elsewhere"); err == nil {
		t.Error("relative path from a cgroup outside the mount: no error")
	}
	if _, err := dirFor(mem, "/", ""); err == nil {
		t.Error("the hierarchy root itself: no error")
	}
}

func TestHostLayout(t *testing.T) {
	l, err := HostLayout()
	if err != nil {
		t.Fatal(err)
	}
	if l.Fake() {
		t.Error("the host layout says it is fake")
	}
	t.Logf("host cgroup layout: %s", l.Mode)
}

func TestSwapAccounting(t *testing.T) {
	l, root := fakeTree(t, "v1")
	mem := l.V1Hierarchy("memory")
	file := filepath.Join(root, mem.Dir, "memory.memsw.limit_in_bytes")
	mustWrite(t, file, "9223372036854771712\n")
	if !l.SwapAccounting() {
		t.Error("v1 with memory.memsw.limit_in_bytes: no swap accounting")
	}
	os.Remove(file)
	if l.SwapAccounting() {
		t.Error("v1 without memory.memsw.limit_in_bytes: swap accounting")
	}
}
