package rootfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
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
func readHostCgroups(mountinfoText, selfCgroup io.Reader) ([]cgroupHierarchy, error) {
	mounts, err := mountinfo.GetMountsFromReader(mountinfoText, func(i *mountinfo.Info) (skip, stop bool) {
		if i.FSType != "cgroup" && i.FSType != "cgroup2" {
			return true, false
		}
		return i.Mountpoint != cgroupRoot && path.Dir(i.Mountpoint) != cgroupRoot, false
	})
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	own, err := parseSelfCgroup(selfCgroup)
	if err != nil {
		return nil, err
	}
	// A later mount on the same mount point covers the earlier one.
	byPoint := map[string]cgroupHierarchy{}
	for _, m := range mounts {
		h := cgroupHierarchy{Mountpoint: m.Mountpoint, Root: m.Root, Type: m.FSType}
		if m.FSType == "cgroup" {
			h.Options = v1Options(m.VFSOptions)
			h.Own = own[v1Key(h.Options)]
		} else {
			h.Own = own[""]
		}
		if h.Own == "" {
			h.Own = "/"
		}
		byPoint[m.Mountpoint] = h
	}
	list := make([]cgroupHierarchy, 0, len(byPoint))
	for _, h := range byPoint {
		list = append(list, h)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Mountpoint < list[j].Mountpoint })
	return list, nil
}

// parseSelfCgroup maps each hierarchy's controller list ("cpu,cpuacct",
// "name=systemd", "" for cgroup2) to this process's cgroup in it.
func parseSelfCgroup(r io.Reader) (map[string]string, error) {
	own := map[string]string{}
	s := bufio.NewScanner(r)
	for s.Scan() {
		// hierarchy-ID:controller-list:cgroup-path (cgroups(7))
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		own[v1Key(parts[1])] = parts[2]
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
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
	if s.cgroups == nil {
		mi, err := os.Open("/proc/self/mountinfo")
		if err != nil {
			return fmt.Errorf("mount cgroup on %s: %w", s.r.display(m.dest), err)
		}
		defer mi.Close()
		sc, err := os.Open("/proc/self/cgroup")
		if err != nil {
			return fmt.Errorf("mount cgroup on %s: %w", s.r.display(m.dest), err)
		}
		defer sc.Close()
		host, err := readHostCgroups(mi, sc)
		if err != nil {
			return fmt.Errorf("mount cgroup on %s: %w", s.r.display(m.dest), err)
		}
		s.cgroups = &host
	}
	steps, err := planCgroups(m.dest, *s.cgroups, s.o.CgroupNS)
	if err != nil {
		return fmt.Errorf("mount cgroup on %s: %w", s.r.display(m.dest), err)
	}
	flags := m.opts.Flags &^ unix.MS_BIND &^ unix.MS_REC
	var tmpfs *mountPlan
	for _, st := range steps {
		sub := mountPlan{Mount: m.Mount, dest: st.Dest}
		sub.Source, sub.Type = st.Kind, st.Kind
		sub.opts.Flags = flags
		var err error
		switch st.Kind {
		case "tmpfs":
			// Read-only only once the directories for the hierarchies
			// are made in it.
			tmpfs = &sub
			err = s.mountFresh(&sub, flags&^unix.MS_RDONLY, st.Data)
		case "cgroup", "cgroup2":
			err = s.mountFresh(&sub, flags, st.Data)
		case "bind":
			sub.Source = st.Source
			sub.opts.Flags |= unix.MS_BIND
			err = s.mountBind(&sub)
		case "symlink":
			err = s.symlink(st.Source, st.Dest)
		}
		if err != nil {
			return err
		}
	}
	if tmpfs != nil && flags&unix.MS_RDONLY != 0 {
		h, err := s.r.open(tmpfs.dest)
		if err != nil {
			return fmt.Errorf("reopen %s: %w", s.r.display(tmpfs.dest), err)
		}
		defer h.Close()
		if err := setAttr(h, unix.MOUNT_ATTR_RDONLY, 0, false); err != nil {
			return fmt.Errorf("make %s read-only: %w", s.r.display(tmpfs.dest), err)
		}
	}
	return nil
}

// symlink makes the link p -> target inside the root; an existing entry is
// left alone (a rootfs or an earlier mount may have made it).
func (s *setup) symlink(target, p string) error {
	dir, err := s.r.openDir(path.Dir(p))
	if err != nil {
		return fmt.Errorf("symlink %s: %w", s.r.display(p), err)
	}
	defer dir.Close()
	if err := unix.Symlinkat(target, int(dir.Fd()), path.Base(p)); err != nil && err != unix.EEXIST {
		return fmt.Errorf("symlink %s -> %s: %w", s.r.display(p), target, err)
	}
	return nil
}
