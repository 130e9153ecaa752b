package nsinspect

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
)

// HostEnv is where ProbeHost looks: the filesystem root (so tests can point
// it at a fixture tree), the effective uid and the environment.
type HostEnv struct {
	Root   string
	EUID   int
	Getenv func(string) string
}

// ControllerHome says where one cgroup controller is mounted.
type ControllerHome struct {
	Name    string `json:"name"`
	Version string `json:"version"` // v1, v2, or none (compiled in, not mounted)
	Mount   string `json:"mount,omitempty"`
}

// CgroupLayout is how the host mounts cgroups.
type CgroupLayout struct {
	Mode        string           `json:"mode"` // v1, v2, hybrid or none
	Unified     string           `json:"unified,omitempty"`
	Controllers []ControllerHome `json:"controllers"`
}

// HostFinding is one line of `stepbox doctor`.
type HostFinding struct {
	ID      string    `json:"id"`
	Status  Status    `json:"status"` // pass, warn or fail
	Needed  bool      `json:"needed"` // stepbox cannot run containers without it
	Value   string    `json:"value"`
	Meaning i18n.Text `json:"meaning"`
}

// Host is what the host offers a container runtime.
type Host struct {
	EUID              int           `json:"euid"`
	Kernel            string        `json:"kernel"`
	Namespaces        []string      `json:"namespaces"` // supported types
	Cgroup            CgroupLayout  `json:"cgroup"`
	MaxUserNS         int           `json:"max_user_namespaces"`                   // -1: unknown
	UnprivUserNSClone int           `json:"unprivileged_userns_clone"`             // -1: no such switch
	AppArmorRestrict  int           `json:"apparmor_restrict_unprivileged_userns"` // -1: no such switch
	Overlay           bool          `json:"overlayfs"`
	Container         []string      `json:"container"` // evidence that we run inside one
	Findings          []HostFinding `json:"findings"`
}

// ProbeHost probes the live host.
func ProbeHost() Host {
	return HostEnv{Root: "/", EUID: os.Geteuid(), Getenv: os.Getenv}.Probe()
}

// Ready reports whether every needed finding passes, with the reasons if not.
func (h Host) Ready() (bool, []HostFinding) {
	var missing []HostFinding
	for _, f := range h.Findings {
		if f.Needed && f.Status == Fail {
			missing = append(missing, f)
		}
	}
	return len(missing) == 0, missing
}

func (e HostEnv) file(p string) string { return filepath.Join(e.Root, p) }

func (e HostEnv) read(p string) (string, bool) {
	b, err := os.ReadFile(e.file(p))
	return strings.TrimSpace(string(b)), err == nil
}

func (e HostEnv) readInt(p string) int {
	s, ok := e.read(p)
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// Probe reads the host below e.Root.
func (e HostEnv) Probe() Host {
	h := Host{EUID: e.EUID, Namespaces: []string{}, Container: []string{}}
	h.Kernel, _ = e.read("proc/sys/kernel/osrelease")
	if ents, err := os.ReadDir(e.file("proc/self/ns")); err == nil {
		for _, ent := range ents {
			if slices.Contains(KernelNamespaces, ent.Name()) {
				h.Namespaces = append(h.Namespaces, ent.Name())
			}
		}
	}
	h.Cgroup = e.cgroupLayout()
	h.MaxUserNS = e.readInt("proc/sys/user/max_user_namespaces")
	h.UnprivUserNSClone = e.readInt("proc/sys/kernel/unprivileged_userns_clone")
	h.AppArmorRestrict = e.readInt("proc/sys/kernel/apparmor_restrict_unprivileged_userns")
	if fs, ok := e.read("proc/filesystems"); ok {
		for _, line := range strings.Split(fs, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == "overlay" {
				h.Overlay = true
			}
		}
	}
	h.Container = e.containerHints()
	h.Findings = h.findings()
	return h
}

func (e HostEnv) cgroupLayout() CgroupLayout {
	l := CgroupLayout{Controllers: []ControllerHome{}}
	known := []string{}
	if s, ok := e.read("proc/cgroups"); ok {
		for _, line := range strings.Split(s, "\n") {
			f := strings.Fields(line)
			if len(f) == 4 && !strings.HasPrefix(f[0], "#") && f[3] == "1" {
				known = append(known, f[0])
			}
		}
	}
	home := map[string]ControllerHome{}
	v1 := false
	b, err := os.ReadFile(e.file("proc/self/mountinfo"))
	var ms []Mount
	if err == nil {
		ms, _ = ParseMountinfo(b)
	}
	for _, m := range ms {
		switch m.FSType {
		case "cgroup":
			for _, o := range strings.Split(m.SuperOptions, ",") {
				if slices.Contains(known, o) {
					home[o] = ControllerHome{Name: o, Version: "v1", Mount: m.MountPoint}
					v1 = true
				}
			}
		case "cgroup2":
			if l.Unified == "" {
				l.Unified = m.MountPoint
			}
			if s, ok := e.read(filepath.Join(m.MountPoint, "cgroup.controllers")); ok {
				for _, c := range strings.Fields(s) {
					home[c] = ControllerHome{Name: c, Version: "v2", Mount: m.MountPoint}
				}
			}
		}
	}
	switch {
	case v1 && l.Unified != "":
		l.Mode = "hybrid"
	case v1:
		l.Mode = "v1"
	case l.Unified != "":
		l.Mode = "v2"
	default:
		l.Mode = "none"
	}
	for _, c := range known {
		h, ok := home[c]
		if !ok {
			h = ControllerHome{Name: c, Version: "none"}
		}
		l.Controllers = append(l.Controllers, h)
	}
	for c, h := range home { // v2-only controllers such as misc
		if !slices.Contains(known, c) {
			l.Controllers = append(l.Controllers, h)
		}
	}
	slices.SortFunc(l.Controllers, func(a, b ControllerHome) int { return strings.Compare(a.Name, b.Name) })
	return l
}

// containerHints collects evidence that this process runs inside a
// container or a compatibility layer.
func (e HostEnv) containerHints() []string {
	var out []string
	if _, err := os.Stat(e.file(".dockerenv")); err == nil {
		out = append(out, "docker (/.dockerenv)")
	}
	if _, err := os.Stat(e.file("run/.containerenv")); err == nil {
		out = append(out, "podman (/run/.containerenv)")
	}
	if e.Getenv != nil && e.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		out = append(out, "kubernetes (KUBERNETES_SERVICE_HOST)")
	}
	if s, ok := e.read("proc/1/cgroup"); ok {
		for _, w := range []string{"docker", "kubepods", "containerd", "libpod", "lxc", "garden"} {
			if strings.Contains(s, w) {
				out = append(out, w+" (in /proc/1/cgroup)")
				break
			}
		}
	}
	if v, ok := e.read("proc/version"); ok && (strings.Contains(strings.ToLower(v), "microsoft") || strings.Contains(v, "WSL")) {
		out = append(out, "WSL (/proc/version)")
	}
	for typ, what := range map[string]string{"pid": "a PID namespace that is not the host's", "user": "a user namespace that is not the host's"} {
		link, err := os.Readlink(e.file("proc/self/ns/" + typ))
		if err != nil {
			continue
		}
		if _, ino, err := ParseNSLink(link); err == nil && ino != InitInodes[typ] {
			out = append(out, what+" ("+typ+":["+strconv.FormatUint(ino, 10)+"])")
		}
	}
	slices.Sort(out)
	return out
}

func (h Host) findings() []HostFinding {
	var out []HostFinding
	add := func(id string, st Status, needed bool, value string, en, ko string) {
		out = append(out, HostFinding{ID: id, Status: st, Needed: needed, Value: value, Meaning: i18n.T(en, ko)})
	}
	if h.EUID == 0 {
		add("root", Pass, true, "uid 0", "running as root: stepbox can make every kind of namespace, mount and cgroup",
			"root로 실행 중: stepbox가 모든 종류의 네임스페이스, 마운트, cgroup을 만들 수 있습니다")
	} else {
		add("root", Fail, true, "uid "+strconv.Itoa(h.EUID), "not root: containers and lessons need root (run with sudo); inspect still works on your own processes",
			"root가 아님: 컨테이너와 레슨에는 root가 필요합니다(sudo로 실행). inspect는 내 프로세스에 대해서는 동작합니다")
	}
	add("kernel", Pass, false, h.Kernel, "kernel release", "커널 버전")
	for _, typ := range KernelNamespaces {
		needed := slices.Contains([]string{"ipc", "mnt", "net", "pid", "uts"}, typ)
		if slices.Contains(h.Namespaces, typ) {
			add("ns."+typ, Pass, needed, "supported", "the kernel has "+typ+" namespaces", "커널이 "+typ+" 네임스페이스를 지원합니다")
			continue
		}
		st := Warn
		if needed {
			st = Fail
		}
		add("ns."+typ, st, needed, "missing", "the kernel lacks "+typ+" namespaces: lessons that need them are skipped",
			"커널에 "+typ+" 네임스페이스가 없습니다: 이를 쓰는 레슨은 건너뜁니다")
	}
	cg := h.Cgroup
	var where []string
	usable := true
	for _, want := range []string{"cpu", "memory", "pids"} {
		found := false
		for _, c := range cg.Controllers {
			if c.Name == want && c.Version != "none" {
				where = append(where, want+"="+c.Version)
				found = true
			}
		}
		if !found {
			where = append(where, want+"=none")
			usable = false
		}
	}
	value := cg.Mode + " (" + strings.Join(where, " ") + ")"
	switch {
	case usable && cg.Mode == "hybrid":
		add("cgroup.layout", Pass, true, value, "hybrid cgroups: stepbox puts limits in the v1 hierarchies, where the controllers live",
			"하이브리드 cgroup: 컨트롤러가 있는 v1 계층에 제한을 겁니다")
	case usable:
		add("cgroup.layout", Pass, true, value, "cgroup "+cg.Mode+": memory, CPU and process limits work",
			"cgroup "+cg.Mode+": 메모리, CPU, 프로세스 수 제한이 동작합니다")
	default:
		add("cgroup.layout", Fail, true, value, "no usable cgroup controllers for cpu, memory and pids: resource limits cannot be set",
			"cpu, memory, pids 컨트롤러를 쓸 수 없습니다: 자원 제한을 걸 수 없습니다")
	}
	switch {
	case h.MaxUserNS == 0:
		add("userns.max", Warn, false, "0", "user namespaces are switched off (user.max_user_namespaces=0): the user-namespace lesson is skipped",
			"사용자 네임스페이스가 꺼져 있습니다(user.max_user_namespaces=0): 해당 레슨은 건너뜁니다")
	case h.MaxUserNS > 0:
		add("userns.max", Pass, false, strconv.Itoa(h.MaxUserNS), "user namespaces allowed", "사용자 네임스페이스를 만들 수 있습니다")
	}
	if h.UnprivUserNSClone == 0 {
		add("userns.unprivileged", Warn, false, "0", "kernel.unprivileged_userns_clone=0: only root may make user namespaces (stepbox runs as root, so this is fine)",
			"kernel.unprivileged_userns_clone=0: root만 사용자 네임스페이스를 만들 수 있습니다(stepbox는 root로 실행하므로 괜찮습니다)")
	}
	if h.AppArmorRestrict == 1 {
		add("userns.apparmor", Warn, false, "1", "kernel.apparmor_restrict_unprivileged_userns=1: unprivileged user namespaces get no capabilities (root is not affected)",
			"kernel.apparmor_restrict_unprivileged_userns=1: 일반 사용자의 사용자 네임스페이스는 권한이 없습니다(root는 영향 없음)")
	}
	if h.Overlay {
		add("overlayfs", Pass, true, "available", "overlayfs: image layers can be stacked without copying", "overlayfs: 이미지 레이어를 복사 없이 쌓을 수 있습니다")
	} else {
		add("overlayfs", Fail, true, "missing", "no overlayfs in /proc/filesystems: try modprobe overlay", "/proc/filesystems에 overlayfs가 없습니다: modprobe overlay를 해 보세요")
	}
	if len(h.Container) == 0 {
		add("container", Pass, false, "no", "stepbox runs on the host itself, not inside a container", "stepbox가 컨테이너 안이 아니라 호스트에서 실행 중입니다")
	} else {
		add("container", Warn, false, strings.Join(h.Container, "; "), "stepbox itself runs inside a container: what it calls the host is that container, and some namespaces may be refused",
			"stepbox가 컨테이너 안에서 실행 중입니다: 호스트라고 보이는 것은 그 컨테이너이고, 일부 네임스페이스는 거부될 수 있습니다")
	}
	return out
}
