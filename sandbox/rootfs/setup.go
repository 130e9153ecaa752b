package rootfs

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Setup makes the container's filesystem and enters it. It must run in the
// container's init, in a new mount namespace, while the process still sees
// the host's root. On return "/" is the rootfs and the working directory is
// "/"; chdir and pivot_root apply to every thread, because Go's threads share
// one fs_struct (clone(2) CLONE_FS).
//
// The steps, in order:
//
//  1. "/" is made rprivate (rslave for a "slave" propagation), so no mount
//     made here propagates to the host (mount_namespaces(7)).
//  2. Root is bind-mounted onto itself: pivot_root(2) needs new_root to be a
//     mount point.
//  3. Every mount of o.Mounts is mounted in order, its target resolved inside
//     the root.
//  4. Unless /dev is a bind mount, /dev gets the default devices and
//     o.Devices, the /dev/fd, /dev/std* and /dev/ptmx links, and an empty
//     /dev/console for BindConsole.
//  5. The root is entered with pivot_root(2), the old root detached (or with
//     chroot(2) in Chroot mode).
//
// Sysctls and the hostname come next (the runtime's job), then Finalize,
// which also gives "/" a shared or unbindable propagation.
func Setup(o *Options) error {
	if !filepath.IsAbs(o.Root) {
		return fmt.Errorf("rootfs %q: not an absolute path", o.Root)
	}
	prop, err := parsePropagation(o.Propagation)
	if err != nil {
		return err
	}
	plan, err := parseMounts(o.Mounts)
	if err != nil {
		return err
	}
	for i := range plan {
		if i < len(o.SourceTrees) && o.SourceTrees[i] >= 0 && plan[i].opts.IsBind() {
			plan[i].tree, plan[i].hasTree = o.SourceTrees[i], true
		}
	}
	// mknod(2) and mkdir(2) must make exactly the modes asked for.
	old := unix.Umask(0)
	defer unix.Umask(old)

	// Step 1. A "slave" root keeps receiving the host's mounts, so it starts
	// as rslave; everything else starts rprivate, and shared or unbindable
	// comes last in Finalize: pivot_root(2) refuses a shared root (EINVAL),
	// and the read-only paths are binds, which an unbindable tree refuses.
	first := uintptr(unix.MS_PRIVATE | unix.MS_REC)
	if prop&unix.MS_SLAVE != 0 {
		first = unix.MS_SLAVE | unix.MS_REC
	}
	if err := unix.Mount("", "/", "", first, ""); err != nil {
		return fmt.Errorf("make / %s: %w", propagationName(first), err)
	}
	// Step 2.
	if err := unix.Mount(o.Root, o.Root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", o.Root, err)
	}
	r, err := openRoot(o.Root)
	if err != nil {
		return err
	}
	defer r.close()
	step("root")

	// Step 3.
	s := &setup{o: o, r: r}
	for i := range plan {
		if err := s.mount(&plan[i]); err != nil {
			return err
		}
		step(plan[i].dest)
	}
	// Step 4.
	if needsDev(plan) {
		if err := s.makeDev(); err != nil {
			return err
		}
		step("devices")
	}
	if o.BeforeEnter != nil {
		if err := o.BeforeEnter(); err != nil {
			return err
		}
	}
	// Step 5.
	if err := enter(r, o.Mode); err != nil {
		return err
	}
	step(o.Mode.String())
	if needsDev(plan) {
		return reopenDevNull()
	}
	return nil
}

// stepDone, when set (by the benchmark), is told when each step of Setup and
// Finalize ends.
var stepDone func(step string)

func step(name string) {
	if stepDone != nil {
		stepDone(name)
	}
}

// setup carries what the steps of Setup share.
type setup struct {
	o       *Options
	r       *root
	cgroups *[]cgroupHierarchy // the host's cgroup layout, read once when a cgroup mount needs it
}

// mountPlan is one OCI mount, checked and parsed.
type mountPlan struct {
	specs.Mount
	dest string // cleaned absolute destination inside the container
	opts MountOptions
	// tree is a detached copy of a bind's source (Options.SourceTrees),
	// when hasTree.
	tree    int
	hasTree bool
}

// what names the mount in messages: "bind /src" or "mount tmpfs".
func (m *mountPlan) what() string {
	if m.opts.IsBind() {
		return "bind " + m.Source
	}
	return "mount " + m.Type
}

// parseMounts checks every mount before anything is mounted, so a bad option
// in the tenth mount does not leave nine made.
func parseMounts(mounts []specs.Mount) ([]mountPlan, error) {
	plan := make([]mountPlan, len(mounts))
	for i, m := range mounts {
		dest := path.Clean("/" + m.Destination)
		if m.Destination == "" || dest == "/" {
			return nil, fmt.Errorf("mount %s on %q: the destination must be a path below /", m.Type, m.Destination)
		}
		opts, err := ParseMountOptions(m.Options)
		if err != nil {
			return nil, fmt.Errorf("mount %s on %s: %w", m.Type, dest, err)
		}
		if m.Type == "bind" {
			opts.Flags |= unix.MS_BIND
		}
		if opts.Flags&unix.MS_REMOUNT != 0 {
			return nil, fmt.Errorf("mount %s on %s: remount is not a way to make a mount", m.Type, dest)
		}
		if opts.IsBind() && !filepath.IsAbs(m.Source) {
			return nil, fmt.Errorf("bind %q on %s: the source must be an absolute host path", m.Source, dest)
		}
		plan[i] = mountPlan{Mount: m, dest: dest, opts: opts}
	}
	return plan, nil
}

// needsDev reports whether Setup fills /dev: not when /dev is a bind mount of
// something the caller prepared (runc's needsSetupDev).
func needsDev(plan []mountPlan) bool {
	for _, m := range plan {
		if m.dest == "/dev" && m.opts.IsBind() {
			return false
		}
	}
	return true
}

// parsePropagation turns linux.rootfsPropagation into mount(2) flags. The
// spec names shared, slave, private and unbindable; runc also accepts the
// r-prefixed forms, and so do we. Empty means rprivate.
func parsePropagation(p string) (uintptr, error) {
	if p == "" {
		return unix.MS_PRIVATE | unix.MS_REC, nil
	}
	if f, ok := propagationOptions[p]; ok {
		return f, nil
	}
	return 0, fmt.Errorf("rootfs propagation %q: want shared, slave, private or unbindable", p)
}

func propagationName(f uintptr) string {
	for name, v := range propagationOptions {
		if v == f {
			return name
		}
	}
	return fmt.Sprintf("propagation %#x", f)
}

// mount mounts one planned mount inside the root.
func (s *setup) mount(m *mountPlan) error {
	switch {
	case m.opts.IsBind():
		return s.mountBind(m)
	case m.Type == "proc":
		return s.mountProc(m)
	case m.Type == "sysfs":
		return s.mountSysfs(m)
	case m.Type == "cgroup":
		return s.mountCgroup(m)
	case m.Type == "tmpfs":
		return s.mountTmpfs(m)
	default:
		return s.mountFresh(m, m.opts.Flags, m.opts.Data)
	}
}

// target resolves a mount's destination inside the root, making the
// directory (or, for a file bind, the empty file) if it is missing, and
// refuses destinations inside /proc (see checkProcDest).
func (s *setup) target(m *mountPlan, file bool) (int, error) {
	var h int
	var err error
	if file {
		h, err = s.r.openFile(m.dest)
	} else {
		h, err = s.r.openDir(m.dest)
	}
	if err != nil {
		if s.o.UserNS && errors.Is(err, unix.EACCES) {
			err = fmt.Errorf("%w (%s)", err, UserNSOwnership)
		}
		return -1, fmt.Errorf("%s on %s: %w", m.what(), s.r.display(m.dest), err)
	}
	at, ok := s.r.where(h)
	if !ok {
		unix.Close(h)
		return -1, fmt.Errorf("%s on %s: the target resolved outside the root (%s)", m.what(), s.r.display(m.dest), at)
	}
	if err := checkProcDest(at, m); err != nil {
		unix.Close(h)
		return -1, err
	}
	return h, nil
}

// UserNSOwnership explains a missing mount target or working directory
// that the container's root could not make: in a user namespace it is not
// the owner of a root filesystem that the host's root made, like the
// built-in one.
const UserNSOwnership = "in a user namespace the container's root does not own a root filesystem made by the host's root: use a directory that exists in it, such as /mnt, or a --rootfs owned by the mapped uid"

// mountFresh mounts a new filesystem instance (devpts, mqueue, cgroup2, …)
// with the flags given, then applies the propagation and recursive options.
func (s *setup) mountFresh(m *mountPlan, flags uintptr, data string) error {
	h, err := s.target(m, false)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	if err := s.r.mountOn(h, m.dest, m.Source, m.Type, flags, data); err != nil {
		return err
	}
	return s.after(m, h, m.recursiveAttrs())
}

// recursiveAttrs are the attributes the recursive options ask for.
func (m *mountPlan) recursiveAttrs() bindAttrs {
	return bindAttrs{recursiveSet: m.opts.RecursiveSet, recursiveClear: m.opts.RecursiveClear}
}

// after applies what needs the new mount itself rather than the directory
// under it: attribute changes and the propagation options.
func (s *setup) after(m *mountPlan, covered int, a bindAttrs) error {
	if a.none() && len(m.opts.Propagation) == 0 {
		return nil
	}
	h, err := s.r.mountRoot(m.dest, covered)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	if a.set != 0 || a.clear != 0 {
		if err := setAttr(h, a.set, a.clear, false); err != nil {
			return fmt.Errorf("set mount attributes of %s: %w", s.r.display(m.dest), err)
		}
	}
	if a.recursiveSet != 0 || a.recursiveClear != 0 {
		if err := setAttr(h, a.recursiveSet, a.recursiveClear, true); err != nil {
			return fmt.Errorf("set recursive mount attributes of %s: %w", s.r.display(m.dest), err)
		}
	}
	for _, p := range m.opts.Propagation {
		if err := unix.Mount("", fdPath(h), "", p, ""); err != nil {
			return fmt.Errorf("make %s %s: %w", s.r.display(m.dest), propagationName(p), err)
		}
	}
	return nil
}

// mountBind binds a host path into the root, with the per-mount flags and
// recursive attributes its options ask for (see bindOn), then its
// propagation.
func (s *setup) mountBind(m *mountPlan) error {
	var st unix.Stat_t
	var err error
	if m.hasTree {
		err = unix.Fstat(m.tree, &st)
	} else {
		err = unix.Stat(m.Source, &st)
	}
	if err != nil {
		return fmt.Errorf("bind %s on %s: %w", m.Source, s.r.display(m.dest), err)
	}
	h, err := s.target(m, st.Mode&unix.S_IFMT != unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	set, clear := m.opts.bindAttrs()
	a := m.recursiveAttrs()
	a.set, a.clear = set, clear
	if m.hasTree {
		err = s.r.attachOn(h, m.dest, m.tree, m.Source, a)
	} else {
		err = s.r.bindOn(h, m.dest, -1, m.Source, m.opts.Flags&unix.MS_REC != 0, a)
	}
	if err != nil {
		return err
	}
	return s.after(m, h, bindAttrs{})
}

// mountProc mounts procfs. Its target must be a real directory: a rootfs
// whose /proc is a symlink could otherwise redirect it, and every later
// masked or read-only path under /proc with it (runc's checkProcMount;
// runc mask.bats "prohibit symlink /proc").
func (s *setup) mountProc(m *mountPlan) error {
	h, err := s.r.openNoFollow(m.dest)
	if errors.Is(err, unix.ENOENT) {
		h, err = s.r.mkdirAll(m.dest)
	}
	if err != nil {
		return fmt.Errorf("mount proc on %s: %w", s.r.display(m.dest), err)
	}
	defer unix.Close(h)
	var st unix.Stat_t
	if err := unix.Fstat(h, &st); err != nil {
		return fmt.Errorf("mount proc on %s: %w", s.r.display(m.dest), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("mount proc on %s: the target is %s, not a directory: refused", s.r.display(m.dest), fileKind(st.Mode))
	}
	if at, ok := s.r.where(h); !ok || at != m.dest {
		return fmt.Errorf("mount proc on %s: the target resolves to %s: refused", s.r.display(m.dest), at)
	}
	if err := s.r.mountOn(h, m.dest, m.Source, "proc", m.opts.Flags, m.opts.Data); err != nil {
		return err
	}
	return s.after(m, h, m.recursiveAttrs())
}

// mountSysfs mounts sysfs. A sysfs instance belongs to the network namespace
// of whoever mounts it, and the kernel lets a user namespace mount one only
// for a network namespace it owns; otherwise the host's /sys is bound,
// recursively read-only, as runc does.
func (s *setup) mountSysfs(m *mountPlan) error {
	h, err := s.target(m, false)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	err = s.r.mountOn(h, m.dest, m.Source, "sysfs", m.opts.Flags, m.opts.Data)
	if err == nil {
		return s.after(m, h, m.recursiveAttrs())
	}
	if !s.o.UserNS || !errors.Is(err, unix.EPERM) {
		return err
	}
	set, _ := m.opts.bindAttrs()
	a := m.recursiveAttrs()
	a.recursiveSet |= set | unix.MOUNT_ATTR_RDONLY
	if err := s.r.bindOn(h, m.dest, -1, "/sys", true, a); err != nil {
		return fmt.Errorf("sysfs refused in this user namespace, and the fallback failed: %w", err)
	}
	return s.after(m, h, bindAttrs{})
}

// mountTmpfs mounts a tmpfs. Without mode= a tmpfs root is 1777; like runc
// we give it the mode of the directory it covers instead, so a rootfs's 0755
// /run stays 0755.
func (s *setup) mountTmpfs(m *mountPlan) error {
	if m.opts.CopyUp {
		return s.mountTmpfsCopyUp(m)
	}
	data := m.opts.Data
	flags := m.opts.Flags
	if m.dest == "/dev" {
		// Devices are made in it after the mounts; a read-only /dev becomes
		// read-only in Finalize (runc's finalizeRootfs).
		flags &^= unix.MS_RDONLY
	}
	if hasData(data, "mode") {
		return s.mountFresh(m, flags, data)
	}
	h, err := s.target(m, false)
	if err != nil {
		return err
	}
	defer unix.Close(h)
	var st unix.Stat_t
	if err := unix.Fstat(h, &st); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", s.r.display(m.dest), err)
	}
	mode := fmt.Sprintf("mode=%o", st.Mode&07777)
	if data == "" {
		data = mode
	} else {
		data += "," + mode
	}
	if err := s.r.mountOn(h, m.dest, m.Source, "tmpfs", flags, data); err != nil {
		return err
	}
	return s.after(m, h, m.recursiveAttrs())
}

func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return "a symlink"
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFIFO:
		return "a fifo"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "an unknown kind of file"
}
