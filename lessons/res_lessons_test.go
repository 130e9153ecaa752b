package lessons

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// resLessons are lessons 7 to 12.
var resLessons = []string{"user", "cgroupns", "time", "limits", "security", "full"}

// A learner may start lessons 7 to 12 at any step (--from N): the steps
// before are applied without being shown, and the step still passes. Their
// steps hand state to each other (a description to come back to, notes
// keyed by the running container), which this proves survives.
func TestResLessonsFromEveryStep(t *testing.T) {
	bin, rootfs := fixture(t, builtinfs.SourceBusybox)
	for i, l := range Catalogue() {
		if !contains(resLessons, l.ID) {
			continue
		}
		for from := 2; from <= len(l.Steps); from++ {
			t.Run(l.ID+"/from-"+strconv.Itoa(from), func(t *testing.T) {
				var out bytes.Buffer
				r := &Runner{Lang: i18n.English, Out: &out, Auto: true, Number: i, From: from,
					Lab: LabConfig{Paths: sandbox.DefaultPaths(t.TempDir()), Rootfs: rootfs, Self: bin}}
				res, err := r.Run(context.Background(), l)
				if err != nil {
					t.Fatalf("%v\n%s", err, out.String())
				}
				if !res.Passed || len(res.Steps) != len(l.Steps)-from+1 {
					t.Errorf("from step %d: passed=%v, %d steps shown:\n%s", from, res.Passed, len(res.Steps), out.String())
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestParseBusyLoop(t *testing.T) {
	// The limits lesson's busy loop: 0.30 s of wall clock, 60 ms on a CPU.
	share, ok := parseBusyLoop("wall 100.10 100.40 ran_ns 60000000\n")
	if !ok || share < 0.199 || share > 0.201 {
		t.Errorf("parseBusyLoop = %v %v, want 0.2", share, ok)
	}
	for _, bad := range []string{"", "wall 1 2 ran_ns", "wall 2 1 ran_ns 5", "wall x 2 ran_ns 5", "real 0m 0.50s"} {
		if _, ok := parseBusyLoop(bad); ok {
			t.Errorf("parseBusyLoop(%q) parsed", bad)
		}
	}
}

func TestProbeReaders(t *testing.T) {
	if got := idOf("uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)", "uid"); got != "65534" {
		t.Errorf("idOf uid = %q", got)
	}
	if got := idOf("uid=0 gid=0", "gid"); got != "0" {
		t.Errorf("idOf gid = %q", got)
	}
	for _, c := range []struct {
		p    ProbeResult
		want string
	}{
		{ProbeResult{Code: 0, Output: "PING 127.0.0.1: 56 data bytes\n"}, "ok"},
		{ProbeResult{Code: 1, Output: "PING 127.0.0.1 (127.0.0.1): 56 data bytes\nping: permission denied (are you root?)\n"}, "permission denied (are you root?)"},
		{ProbeResult{Code: 1, Output: "unshare: unshare(0x10000000): Operation not permitted\n"}, "Operation not permitted"},
		{ProbeResult{Code: 2}, "exit 2"},
		{ProbeResult{Code: 1, Output: "mount(\"none\", \"/tmp\", \"tmpfs\", 0, NULL) = -1 EPERM (Operation not permitted)\n"}, "EPERM"},
	} {
		if got := exitText(c.p); got != c.want {
			t.Errorf("exitText(%q) = %q, want %q", c.p.Output, got, c.want)
		}
	}
	if v, ok := seconds(ProbeResult{Output: "3124.11 4152.69\n"}); !ok || v != 3124.11 {
		t.Errorf("seconds = %v %v", v, ok)
	}
	if _, ok := seconds(ProbeResult{Code: 1, Output: "3124.11"}); ok {
		t.Error("seconds of a failed probe")
	}
	if v, ok := cpuShare("0.20 CPU"); !ok || v != 0.2 {
		t.Errorf("cpuShare = %v %v", v, ok)
	}
	refusal := "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = -1 EPERM (Operation not permitted)\n"
	if !refusedWith(ProbeResult{Code: 2, Output: refusal}, "EPERM") ||
		refusedWith(ProbeResult{Code: 2, Output: refusal}, "EACCES") ||
		refusedWith(ProbeResult{Code: 1, Output: "hostname: sethostname: Operation not permitted"}, "EPERM") ||
		refusedWith(ProbeResult{Code: 0, Output: "sethostname(\"box\", 3) = 0\n"}, "EPERM") {
		t.Error("refusedWith")
	}
}

// The cgroup mount root that lesson 8 shows is the memory controller's on
// a v1 or hybrid host, the cgroup2 mount's on a pure v2 host.
func TestCgroupMountRoot(t *testing.T) {
	hybrid := nsinspect.Snapshot{Mounts: nsinspect.Mounts{Entries: []nsinspect.Mount{
		{MountPoint: "/sys/fs/cgroup", FSType: "tmpfs", Root: "/"},
		{MountPoint: "/sys/fs/cgroup/unified", FSType: "cgroup2", Root: "/stepbox/x"},
		{MountPoint: "/sys/fs/cgroup/systemd", FSType: "cgroup", Root: "/", SuperOptions: "rw,xattr,name=systemd"},
		{MountPoint: "/sys/fs/cgroup/memory", FSType: "cgroup", Root: "/stepbox/x", SuperOptions: "rw,memory"},
	}}}
	if got := cgroupMountRoot(hybrid); got != "/stepbox/x" {
		t.Errorf("hybrid: %q", got)
	}
	v2 := nsinspect.Snapshot{Mounts: nsinspect.Mounts{Entries: []nsinspect.Mount{
		{MountPoint: "/sys/fs/cgroup", FSType: "cgroup2", Root: "/"},
	}}}
	if got := cgroupMountRoot(v2); got != "/" {
		t.Errorf("v2: %q", got)
	}
	if got := cgroupMountRoot(nsinspect.Snapshot{}); got != "" {
		t.Errorf("none: %q", got)
	}
}
