package rootfs

import (
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/mountinfo"
)

// cgroupRoot is where hosts mount their cgroup filesystems.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupHierarchy is one cgroup filesystem the host mounts at or below
// /sys/fs/cgroup.
type cgroupHierarchy struct {
	Mountpoint string // host path, "/sys/fs/cgroup/memory"
	Root       string // the hierarchy directory the mount shows (mountinfo field 4)
	Type       string // "cgroup" (v1) or "cgroup2"
	Options    string // v1 superblock options that name the hierarchy: "memory", "cpu,cpuacct", "xattr,name=systemd"
	Own        string // the cgroup of this process in the hierarchy (/proc/self/cgroup)
}

// readHostCgroups reads the host's cgroup layout from mountinfo and
// /proc/self/cgroup text (proc(5), cgroups(7)).
func readHostCgroups(mountinfoText, selfCgroup []byte) ([]cgroupHierarchy, error) {
	own, err := parseSelfCgroup(selfCgroup)
	if err != nil {
		return nil, err
	}
	// A later mount on the same mount point covers the earlier one.
	byPoint := map[string]cgroupHierarchy{}
	var order []string
	for _, line := range strings.Split(string(mountinfoText), "\n") {
		m, ok := parseMountinfoLine(line)
		if !ok || (m.fstype != "cgroup" && m.fstype != "cgroup2") {
			continue
		}
		if m.point != cgroupRoot && path.Dir(m.point) != cgroupRoot {
			continue
		}
		h := cgroupHierarchy{Mountpoint: m.point, Root: m.root, Type: m.fstype}
		if m.fstype == "cgroup" {
			h.Options = v1Options(m.superOptions)
			h.Own = own[v1Key(h.Options)]
		} else {
			h.Own = own[""]
		}
		if h.Own == "" {
			h.Own = "/"
		}
		if _, seen := byPoint[m.point]; !seen {
			order = append(order, m.point)
		}
		byPoint[m.point] = h
	}
	sort.Strings(order)
	list := make([]cgroupHierarchy, 0, len(order))
	for _, p := range order {
		list = append(list, byPoint[p])
	}
	return list, nil
}

// mountinfoLine is what we use of one line of /proc/PID/mountinfo.
type mountinfoLine struct {
	root, point, fstype, superOptions string
}

// parseMountinfoLine reads one line with the shared parser (proc(5)).
func parseMountinfoLine(line string) (mountinfoLine, bool) {
	e, err := mountinfo.ParseLine(line)
	if err != nil {
		return mountinfoLine{}, false
	}
	return mountinfoLine{root: e.Root, point: e.MountPoint, fstype: e.FSType, superOptions: e.SuperOptions}, true
}

// parseSelfCgroup maps each hierarchy's controller list ("cpu,cpuacct",
// "name=systemd", "" for cgroup2) to this process's cgroup in it.
func parseSelfCgroup(text []byte) (map[string]string, error) {
	own := map[string]string{}
	for _, line := range strings.Split(string(text), "\n") {
		// hierarchy-ID:controller-list:cgroup-path (cgroups(7))
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		own[v1Key(parts[1])] = parts[2]
	}
	if len(own) == 0 {
		return nil, fmt.Errorf("/proc/self/cgroup lists no cgroup")
	}
	return own, nil
}

// v1Options keeps the superblock options that choose a v1 hierarchy: its
// controllers, name=, and the few flags a second mount must repeat.
func v1Options(vfs string) string {
	var keep []string
	for _, o := range strings.Split(vfs, ",") {
		switch {
		case o == "rw", o == "ro", o == "", strings.HasPrefix(o, "release_agent="):
			// release_agent is a host setting a container must never
			// repeat (CVE-2022-0492).
		default:
			keep = append(keep, o)
		}
	}
	return strings.Join(keep, ",")
}

// v1Key is the sorted controller list of a hierarchy, as /proc/self/cgroup
// names it: the options that are controllers or name=.
func v1Key(opts string) string {
	var keys []string
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "none", "nsdelegate", "memory_recursiveprot", "memory_localevents", "favordynmods":
			continue
		}
		keys = append(keys, o)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// cgroupStep is one thing to do to give the container its cgroup mounts.
type cgroupStep struct {
	Kind   string // "tmpfs", "cgroup", "cgroup2", "bind" or "symlink"
	Dest   string // inside the container
	Source string // bind: host directory; symlink: link target
	Data   string // mount data
}

// planCgroups decides the container's cgroup mounts at dest from the host's
// layout. With a cgroup namespace the container gets fresh mounts of the
// same hierarchies, which the kernel roots at the namespace's cgroup. Without
// one it gets binds of its own cgroup directories only, so it sees neither
// the host's tree nor other containers' cgroups (what runc does).
//
// A pure cgroup v2 host gives one mount at dest. A v1 or hybrid host gives a
// tmpfs at dest with one mount per hierarchy below it, plus links for
// co-mounted controllers (cpu -> cpu,cpuacct).
func planCgroups(dest string, host []cgroupHierarchy, cgroupNS bool) ([]cgroupStep, error) {
	if len(host) == 0 {
		return nil, fmt.Errorf("the host has no cgroup filesystem mounted at %s", cgroupRoot)
	}
	one := func(h cgroupHierarchy, to string) cgroupStep {
		if !cgroupNS {
			return cgroupStep{Kind: "bind", Dest: to, Source: path.Join(h.Mountpoint, relCgroup(h.Root, h.Own))}
		}
		if h.Type == "cgroup2" {
			return cgroupStep{Kind: "cgroup2", Dest: to}
		}
		return cgroupStep{Kind: "cgroup", Dest: to, Data: h.Options}
	}
	if len(host) == 1 && host[0].Mountpoint == cgroupRoot && host[0].Type == "cgroup2" {
		return []cgroupStep{one(host[0], dest)}, nil
	}
	steps := []cgroupStep{{Kind: "tmpfs", Dest: dest, Data: "mode=755"}}
	names := map[string]bool{}
	for _, h := range host {
		if h.Mountpoint == cgroupRoot {
			continue // a tmpfs, or a v2 mount covered by v1 ones: nothing to repeat
		}
		names[path.Base(h.Mountpoint)] = true
	}
	var links []cgroupStep
	for _, h := range host {
		if h.Mountpoint == cgroupRoot {
			continue
		}
		name := path.Base(h.Mountpoint)
		steps = append(steps, one(h, path.Join(dest, name)))
		if !strings.Contains(name, ",") {
			continue
		}
		for _, c := range strings.Split(name, ",") {
			if !names[c] {
				names[c] = true
				links = append(links, cgroupStep{Kind: "symlink", Dest: path.Join(dest, c), Source: name})
			}
		}
	}
	return append(steps, links...), nil
}

// relCgroup is own as seen inside a mount whose root is mountRoot.
func relCgroup(mountRoot, own string) string {
	if mountRoot == "/" || mountRoot == "" {
		return own
	}
	if rest, ok := strings.CutPrefix(own, mountRoot); ok && (rest == "" || rest[0] == '/') {
		return "/" + strings.TrimPrefix(rest, "/")
	}
	return "/"
}

// mountCgroup gives the container its /sys/fs/cgroup (see planCgroups).
func (s *setup) mountCgroup(m *mountPlan) error {
	fail := func(err error) error {
		return fmt.Errorf("mount cgroup on %s: %w", s.r.display(m.dest), err)
	}
	if s.o.CgroupNS {
		// A pure cgroup v2 host needs one fresh cgroup2 mount, and
		// statfs(2) tells that without reading the mount table.
		var sfs unix.Statfs_t
		if unix.Statfs(cgroupRoot, &sfs) == nil && sfs.Type == unix.CGROUP2_SUPER_MAGIC {
			v2 := &mountPlan{Mount: m.Mount, dest: m.dest}
			v2.Source, v2.Type, v2.opts.Flags = "cgroup2", "cgroup2", m.opts.Flags&^(unix.MS_BIND|unix.MS_REC)
			return s.mountFresh(v2, v2.opts.Flags, "")
		}
	}
	if s.cgroups == nil {
		host, err := readHostCgroupFiles()
		if err != nil {
			return fail(err)
		}
		s.cgroups = &host
	}
	steps, err := planCgroups(m.dest, joined(*s.cgroups, s.o.CgroupControllers), s.o.CgroupNS)
	if err != nil {
		return fail(err)
	}
	flags := m.opts.Flags &^ (unix.MS_BIND | unix.MS_REC)
	sub := func(st cgroupStep) *mountPlan {
		p := &mountPlan{Mount: m.Mount, dest: st.Dest}
		p.Source, p.Type, p.opts.Flags = st.Kind, st.Kind, flags
		if st.Kind == "bind" {
			p.Source, p.opts.Flags = st.Source, flags|unix.MS_BIND
		}
		return p
	}
	if steps[0].Kind != "tmpfs" {
		// A pure v2 host: one mount.
		if steps[0].Kind == "bind" {
			return s.mountBind(sub(steps[0]))
		}
		return s.mountFresh(sub(steps[0]), flags, steps[0].Data)
	}
	// A tmpfs with one directory per hierarchy. The tmpfs is new and
	// empty, so its entries are made and opened by name relative to its
	// root, with no lookup that a link could divert.
	tmpfs := sub(steps[0])
	if err := s.mountFresh(tmpfs, flags&^unix.MS_RDONLY, steps[0].Data); err != nil {
		return err
	}
	dir, err := s.r.open(m.dest)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(dir)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(dir, &sfs); err != nil || sfs.Type != unix.TMPFS_MAGIC {
		return fail(fmt.Errorf("the tmpfs just mounted is not there (%v)", err))
	}
	for _, st := range steps[1:] {
		name := path.Base(st.Dest)
		if st.Kind == "symlink" {
			if err := unix.Symlinkat(st.Source, dir, name); err != nil {
				return fail(fmt.Errorf("symlink %s -> %s: %w", name, st.Source, err))
			}
			continue
		}
		if err := unix.Mkdirat(dir, name, 0o755); err != nil {
			return fail(fmt.Errorf("mkdir %s: %w", name, err))
		}
		h, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(fmt.Errorf("open %s: %w", name, err))
		}
		p := sub(st)
		if st.Kind == "bind" {
			set, clear := p.opts.bindAttrs()
			err = s.r.bindOn(h, p.dest, -1, p.Source, false, bindAttrs{set: set, clear: clear})
		} else if err = unix.Mount(st.Kind, fdPath(h), st.Kind, flags, st.Data); err != nil {
			// No need to check where it landed: nothing but us can reach
			// this new tmpfs.
			err = fmt.Errorf("mount %s on %s: %w", st.Kind, s.r.display(p.dest), err)
		}
		unix.Close(h)
		if err != nil {
			return err
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		if err := setAttr(dir, unix.MOUNT_ATTR_RDONLY, 0, false); err != nil {
			return fail(fmt.Errorf("make the tmpfs read-only: %w", err))
		}
	}
	return nil
}

// joined keeps the hierarchies in which the container has a cgroup of its
// own (controllers nil: all of them).
func joined(host []cgroupHierarchy, controllers []string) []cgroupHierarchy {
	if controllers == nil {
		return host
	}
	var out []cgroupHierarchy
	for _, h := range host {
		keep := false
		if h.Type == "cgroup2" {
			keep = slices.Contains(controllers, "unified")
		}
		for _, c := range strings.Split(h.Options, ",") {
			keep = keep || slices.Contains(controllers, c)
		}
		if keep {
			out = append(out, h)
		}
	}
	return out
}

// readHostCgroupFiles reads the host's cgroup layout as this process sees it.
func readHostCgroupFiles() ([]cgroupHierarchy, error) {
	mi, err := readProcFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	sc, err := readProcFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	return readHostCgroups(mi, sc)
}

// readProcFile reads a /proc file with few read(2) calls: procfs makes the
// text anew for every read, and os.ReadFile's small first reads cost a
// mountinfo three times as much.
func readProcFile(name string) ([]byte, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 32<<10)
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
}
