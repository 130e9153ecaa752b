package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/stepbox/stepbox/internal/mountinfo"
)

// Mode is how a host lays its cgroups out.
type Mode int

const (
	// V1 has one cgroup v1 hierarchy per controller (or per group of
	// co-mounted controllers) and no cgroup2 mount.
	V1 Mode = iota + 1
	// V2 has the single cgroup2 hierarchy (usually at /sys/fs/cgroup) and no
	// v1 hierarchy with a controller.
	V2
	// Hybrid has v1 hierarchies for the controllers and a cgroup2 mount
	// (usually /sys/fs/cgroup/unified) that owns the controllers v1 did not
	// take, often none at all.
	Hybrid
)

func (m Mode) String() string {
	switch m {
	case V1:
		return "v1"
	case V2:
		return "v2"
	case Hybrid:
		return "hybrid"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Hierarchy is one mounted cgroup hierarchy.
type Hierarchy struct {
	// Version is 1 for a "cgroup" mount, 2 for "cgroup2".
	Version int
	// Dir is where the hierarchy is mounted (on a fake tree: under its root).
	Dir string
	// Root is the cgroup the mount shows at Dir, the fourth field of
	// mountinfo: "/" unless the mount is a bind of a subtree or was made in a
	// cgroup namespace.
	Root string
	// Controllers are the controllers the hierarchy owns: the v1 mount's
	// options (cpu, cpuacct, …) or cgroup2's cgroup.controllers at Dir.
	Controllers []string
	// Name is a v1 named hierarchy without controllers ("systemd" for
	// name=systemd).
	Name string
}

// Has reports whether controller lives in this hierarchy.
func (h *Hierarchy) Has(controller string) bool { return slices.Contains(h.Controllers, controller) }

// Layout is the host's cgroup layout: which controller lives in which
// hierarchy. Detect it once with HostLayout (or DetectLayout for a fake tree)
// and make managers from it.
type Layout struct {
	Mode Mode
	// V1 holds the v1 hierarchies that have controllers, in mountinfo order.
	// Named hierarchies without controllers (name=systemd) are not here.
	V1 []*Hierarchy
	// Unified is the cgroup2 mount, nil on a V1 host.
	Unified *Hierarchy

	// root is "" for the real machine, or the directory a fake tree lives
	// in: then files are created on write and removed before rmdir.
	root string
	// hasKill says the kernel has cgroup.kill (Linux 5.14). Tests clear
	// it to drive the freezer fallback on a kernel that has it.
	hasKill bool
}

// V1Hierarchy returns the v1 hierarchy that owns controller, or nil.
func (l *Layout) V1Hierarchy(controller string) *Hierarchy {
	for _, h := range l.V1 {
		if h.Has(controller) {
			return h
		}
	}
	return nil
}

// InV2 reports whether controller lives in the cgroup2 hierarchy.
func (l *Layout) InV2(controller string) bool {
	return l.V1Hierarchy(controller) == nil && l.Unified != nil && l.Unified.Has(controller)
}

// SwapAccounting reports whether the kernel can limit memory plus swap. On
// v1 memory.memsw.limit_in_bytes exists only with swap accounting (the
// swapaccount=1 boot option on older kernels); cgroup v2 accounts swap
// whenever the kernel has swap at all (memory.swap.max in every non-root
// cgroup).
func (l *Layout) SwapAccounting() bool {
	if h := l.V1Hierarchy("memory"); h != nil {
		return exists(filepath.Join(l.root, h.Dir, "memory.memsw.limit_in_bytes"))
	}
	return l.Unified != nil && l.Unified.Has("memory")
}

// Fake reports whether the layout describes a fake tree (see DetectLayout).
func (l *Layout) Fake() bool { return l.root != "" }

var (
	hostOnce   sync.Once
	hostLayout *Layout
	hostErr    error
)

// HostLayout detects the machine's layout once and returns it every time
// after: mounts of cgroupfs do not change under a running runtime, and a
// container start should not pay for reading mountinfo.
func HostLayout() (*Layout, error) {
	hostOnce.Do(func() { hostLayout, hostErr = DetectLayout("") })
	return hostLayout, hostErr
}

// DetectLayout reads root/proc/self/mountinfo and, for the cgroup2 mount, its
// cgroup.controllers. root "" (or "/") is the real machine; any other root is a
// fake tree made by a test: mount points in its mountinfo are taken relative
// to root, and managers made from the layout create the files they write
// (cgroupfs files always exist; a plain directory's do not).
func DetectLayout(root string) (*Layout, error) {
	if root == "/" {
		root = ""
	}
	mi := filepath.Join(root, "/proc/self/mountinfo")
	b, err := os.ReadFile(mi)
	if err != nil {
		return nil, fmt.Errorf("detect cgroup layout: %w", err)
	}
	mounts, err := parseMountinfo(b)
	if err != nil {
		return nil, fmt.Errorf("detect cgroup layout: %s: %w", mi, err)
	}
	l := &Layout{root: root, hasKill: kernelAtLeast(root, 5, 14)}
	seen := map[string]bool{} // a hierarchy mounted twice is used once
	for _, m := range mounts {
		switch m.fstype {
		case "cgroup":
			h := &Hierarchy{Version: 1, Dir: filepath.Join(root, m.point), Root: m.root}
			for _, o := range strings.Split(m.super, ",") {
				if n, ok := strings.CutPrefix(o, "name="); ok {
					h.Name = n
				} else if isV1Controller(o) {
					h.Controllers = append(h.Controllers, o)
				}
			}
			key := strings.Join(h.Controllers, ",")
			if len(h.Controllers) == 0 || seen[key] {
				continue
			}
			seen[key] = true
			l.V1 = append(l.V1, h)
		case "cgroup2":
			if l.Unified != nil {
				continue
			}
			h := &Hierarchy{Version: 2, Dir: filepath.Join(root, m.point), Root: m.root}
			c, err := os.ReadFile(filepath.Join(h.Dir, "cgroup.controllers"))
			if err != nil {
				return nil, fmt.Errorf("detect cgroup layout: %w", err)
			}
			h.Controllers = strings.Fields(string(c))
			l.Unified = h
		}
	}
	switch {
	case len(l.V1) > 0 && l.Unified != nil:
		l.Mode = Hybrid
	case len(l.V1) > 0:
		l.Mode = V1
	case l.Unified != nil:
		l.Mode = V2
	default:
		return nil, fmt.Errorf("detect cgroup layout: no cgroup or cgroup2 filesystem in %s", mi)
	}
	return l, nil
}

// kernelAtLeast reads the kernel release (root/proc/sys/kernel/osrelease,
// what uname -r shows) and compares it with major.minor. An unreadable one
// counts as old.
func kernelAtLeast(root string, major, minor int) bool {
	b, err := os.ReadFile(filepath.Join(root, "/proc/sys/kernel/osrelease"))
	if err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(string(b), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// isV1Controller tells a controller from the other options of a v1 cgroup
// mount (cgroups(7) "Mounting v1 controllers"; the kernel's
// cgroup1_parse_param).
func isV1Controller(opt string) bool {
	switch opt {
	case "", "rw", "ro", "none", "all", "noprefix", "clone_children", "xattr",
		"cpuset_v2_mode", "favordynmods", "nofavordynmods":
		return false
	}
	return !strings.Contains(opt, "=")
}

type mount struct {
	root, point, fstype, super string
}

// parseMountinfo reads the cgroup and cgroup2 mounts of a mountinfo file
// (proc(5)).
func parseMountinfo(b []byte) ([]mount, error) {
	entries, err := mountinfo.Parse(b)
	if err != nil {
		return nil, err
	}
	var out []mount
	for _, e := range entries {
		if e.FSType == "cgroup" || e.FSType == "cgroup2" {
			out = append(out, mount{root: e.Root, point: e.MountPoint, fstype: e.FSType, super: e.SuperOptions})
		}
	}
	return out, nil
}

// Own returns the caller's own cgroup in every hierarchy, from
// /proc/self/cgroup (cgroups(7)): a v1 controller (or "name=systemd") maps
// to its path, and "unified" to the cgroup2 path.
func (l *Layout) Own() (map[string]string, error) {
	p := filepath.Join(l.root, "/proc/self/cgroup")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return parseOwn(p, b)
}

// parseOwn reads a /proc/PID/cgroup file (cgroups(7)): each controller's
// cgroup path, and the cgroup2 one under Unified.
func parseOwn(p string, b []byte) (map[string]string, error) {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", p, line)
		}
		ctrls, cg, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", p, line)
		}
		if id == "0" && ctrls == "" {
			out[Unified] = cg
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			out[c] = cg
		}
	}
	return out, nil
}

// Unified is the key of the cgroup2 directory in Paths.
const Unified = "unified"

// inMount is own, a cgroup as /proc/PID/cgroup names it (from the
// hierarchy's real root), as a path below h's mount, which may show only a
// subtree of the hierarchy (Root).
func inMount(h *Hierarchy, own string) (string, error) {
	rel, ok := strings.CutPrefix(own, h.Root)
	if h.Root == "/" {
		rel, ok = own, true
	}
	if !ok || own == "" {
		return "", fmt.Errorf("own cgroup %q is not under the mount of %s (root %s)", own, h.Dir, h.Root)
	}
	return rel, nil
}

// dirFor turns a container's cgroup path into the directory in hierarchy h.
// An absolute path is taken from the hierarchy's root as this mount shows it;
// a relative one (allowed by the OCI runtime spec, config-linux.md "Cgroups
// path") is put below the caller's own cgroup, own being that cgroup as
// /proc/self/cgroup names it.
func dirFor(h *Hierarchy, p, own string) (string, error) {
	if p == "" {
		return "", errors.New("empty cgroup path")
	}
	if !path.IsAbs(p) {
		rel, err := inMount(h, own)
		if err != nil {
			return "", fmt.Errorf("relative cgroup path %q: %w", p, err)
		}
		p = path.Join("/", rel, p)
	}
	clean := path.Clean("/" + p)
	if clean == "/" {
		return "", fmt.Errorf("cgroup path %q is the hierarchy's root", p)
	}
	return h.Dir + clean, nil
}
