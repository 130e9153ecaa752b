package nsinspect

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
)

func finding(t *testing.T, h Host, id string) HostFinding {
	t.Helper()
	for _, f := range h.Findings {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no finding %s in %+v", id, h.Findings)
	return HostFinding{}
}

// A pure cgroup v2 host seen from inside a Kubernetes pod under WSL, with no
// overlayfs, user namespaces switched off, and no time namespace, probed as
// an ordinary user.
func TestProbeHostFixture(t *testing.T) {
	env := map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1"}
	h := HostEnv{Root: "testdata/host-v2", EUID: 1000, Getenv: func(k string) string { return env[k] }}.Probe()
	if h.Kernel != "5.15.90.1-microsoft-standard-WSL2" || h.Overlay || h.MaxUserNS != 0 || h.AppArmorRestrict != 1 || h.UnprivUserNSClone != -1 {
		t.Errorf("host = %+v", h)
	}
	if h.Cgroup.Mode != "v2" || h.Cgroup.Unified != "/sys/fs/cgroup" {
		t.Errorf("cgroup layout = %+v", h.Cgroup)
	}
	homes := map[string]string{}
	for _, c := range h.Cgroup.Controllers {
		homes[c.Name] = c.Version
	}
	if homes["memory"] != "v2" || homes["pids"] != "v2" || homes["net_cls"] != "none" || homes["misc"] != "v2" {
		t.Errorf("controllers = %v", homes)
	}
	if !slices.Equal(h.Namespaces, []string{"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"}) {
		t.Errorf("namespaces = %v", h.Namespaces)
	}
	want := []string{
		"WSL (/proc/version)",
		"a PID namespace that is not the host's (pid:[4026532504])",
		"docker (/.dockerenv)",
		"kubepods (in /proc/1/cgroup)",
		"kubernetes (KUBERNETES_SERVICE_HOST)",
	}
	if !slices.Equal(h.Container, want) {
		t.Errorf("container hints = %q", h.Container)
	}
	ready, missing := h.Ready()
	var ids []string
	for _, f := range missing {
		ids = append(ids, f.ID)
	}
	if ready || !slices.Equal(ids, []string{"root", "overlayfs"}) {
		t.Errorf("ready %v, missing %v", ready, ids)
	}
	if f := finding(t, h, "ns.time"); f.Status != Warn || f.Needed {
		t.Errorf("ns.time = %+v", f)
	}
	if f := finding(t, h, "cgroup.layout"); f.Status != Pass || f.Value != "v2 (cpu=v2 memory=v2 pids=v2)" {
		t.Errorf("cgroup.layout = %+v", f)
	}
	for _, id := range []string{"userns.max", "userns.apparmor", "container"} {
		if f := finding(t, h, id); f.Status != Warn {
			t.Errorf("%s = %+v", id, f)
		}
	}
	for _, f := range h.Findings {
		if m := f.Meaning.Missing(); len(m) > 0 {
			t.Errorf("%s has no text in %v", f.ID, m)
		}
	}
}

func TestProbeHostLive(t *testing.T) {
	testutil.RequiresRoot(t)
	h := ProbeHost()
	if len(h.Namespaces) < 7 || h.Kernel == "" || !slices.Contains([]string{"v1", "v2", "hybrid"}, h.Cgroup.Mode) {
		t.Errorf("host = %+v", h)
	}
	// The layout agrees with the kernel's own list of mounts.
	b, _ := os.ReadFile("/proc/self/mountinfo")
	v1, v2 := strings.Contains(string(b), " - cgroup "), strings.Contains(string(b), " - cgroup2 ")
	want := map[[2]bool]string{{true, true}: "hybrid", {true, false}: "v1", {false, true}: "v2"}[[2]bool{v1, v2}]
	if h.Cgroup.Mode != want {
		t.Errorf("mode %s, mountinfo says %s", h.Cgroup.Mode, want)
	}
	if ready, missing := h.Ready(); !ready {
		t.Logf("this host lacks: %+v", missing)
	}
}

func TestListNamespacesLive(t *testing.T) {
	testutil.RequiresRoot(t)
	l, err := ListNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	self := take(t, os.Getpid())
	for _, typ := range KernelNamespaces {
		ns := self.Namespace(typ)
		found := false
		for _, e := range l.Namespaces {
			if e.Inode == ns.Inode && e.Type == typ && e.NProcs >= 1 && e.PID > 0 && e.PID <= os.Getpid() && e.User != "" && e.Command != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("our %s namespace %d is not listed", typ, ns.Inode)
		}
	}
	if l.Processes < 2 {
		t.Errorf("looked at %d processes", l.Processes)
	}
}
