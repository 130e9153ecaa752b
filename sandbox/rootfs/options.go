package rootfs

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mode says how Setup enters the root.
type Mode int

const (
	// PivotRoot swaps the root mount with pivot_root(2) and detaches the old
	// one, so nothing of the host's tree stays reachable. It is the default
	// and the only safe choice.
	PivotRoot Mode = iota
	// Chroot only changes the process's root directory with chroot(2). The
	// host's mounts stay in the mount namespace, and a process that keeps
	// CAP_SYS_CHROOT can climb out (chroot into a subdirectory, then walk ".."
	// from a directory left outside it). It exists for the lesson that shows
	// this breakout; never use it for a real container.
	Chroot
)

// String names the mode as the lessons print it.
func (m Mode) String() string {
	switch m {
	case PivotRoot:
		return "pivot_root"
	case Chroot:
		return "chroot"
	}
	return "unknown"
}

// Options describe the container's filesystem. The fields follow the OCI
// runtime spec (root, mounts, linux.devices, linux.maskedPaths,
// linux.readonlyPaths, linux.rootfsPropagation).
type Options struct {
	// Root is the absolute path of the root filesystem on the host.
	Root string
	// Readonly makes "/" read-only in Finalize (OCI root.readonly).
	Readonly bool
	// Mounts are mounted in order, inside Root.
	Mounts []specs.Mount
	// Devices are made in addition to the default set (null, zero, full,
	// random, urandom, tty).
	Devices []specs.LinuxDevice
	// MaskedPaths are hidden in Finalize: /dev/null is bound over files, an
	// empty read-only tmpfs over directories. Missing paths are skipped.
	MaskedPaths []string
	// ReadonlyPaths are bound onto themselves and made read-only in Finalize.
	// Missing paths are skipped.
	ReadonlyPaths []string
	// Propagation is the propagation of the container's "/" (OCI
	// linux.rootfsPropagation: shared, slave, private, unbindable, or their
	// r-prefixed forms). Empty means rprivate: nothing mounted in the
	// container reaches the host, and nothing mounted on the host reaches it.
	Propagation string
	// UserNS says the process is in a new user namespace, where mknod(2) is
	// refused: device nodes are bind-mounted from the host instead, and sysfs
	// falls back to a read-only bind of the host's /sys when the network
	// namespace is not the container's own.
	UserNS bool
	// CgroupNS says the process is in a new cgroup namespace: "cgroup" mounts
	// then get fresh cgroup filesystems rooted at the container's cgroup.
	// Without it they get read-only binds of the container's own cgroup
	// directories from the host.
	CgroupNS bool
	// CgroupControllers names the controllers the container has cgroups
	// of ("memory", "pids", …, and "unified" for its cgroup2 directory).
	// Only those hierarchies appear under /sys/fs/cgroup: one it did not
	// join would show the host's tree from its root. Nil shows all the
	// host mounts.
	CgroupControllers []string
	// Mode picks pivot_root(2) (default) or chroot(2).
	Mode Mode
	// SourceTrees, when set, has one entry for each of Mounts: for a bind,
	// a descriptor of a detached copy of its source (open_tree(2)
	// OPEN_TREE_CLONE), made by the runtime on the host, to be attached
	// instead of the source path; -1 for the others. In a user namespace
	// the path may lie below a directory that the container's root cannot
	// search (root's own /root, mode 0700), where a bind by path fails.
	SourceTrees []int
	// BeforeEnter, when set, runs once the mounts and devices are made,
	// before the root is entered: the runtime-spec's prestart,
	// createRuntime and createContainer hooks run then (config.md).
	BeforeEnter func() error `json:"-"`
}
