package sandbox

import (
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/sandbox/rootfs"
	"github.com/stepbox/stepbox/sandbox/security"
)

// initConfig is everything the init needs, sent over a pipe (wire.go).
type initConfig struct {
	Spec        *specs.Spec      `json:"spec"`
	Rootfs      string           `json:"rootfs"`
	RootfsMode  rootfs.Mode      `json:"rootfsMode"`
	Init        bool             `json:"init"`
	HostRoot    bool             `json:"hostRoot,omitempty"`
	KeepProp    bool             `json:"keepPropagation,omitempty"`
	Unmapped    bool             `json:"unmapped,omitempty"`
	PreserveFDs int              `json:"preserveFds"`
	Seccomp     *security.Filter `json:"seccomp,omitempty"`
	// Cgroups are the controllers the container has cgroups of, the only
	// hierarchies its /sys/fs/cgroup shows.
	Cgroups []string `json:"cgroups,omitempty"`
	// ParentDeath: the init is a monitor's child, and dies with it
	// (cloneInit); it sets the parent-death signal again once it has
	// taken the payload's identity, which clears it.
	ParentDeath bool `json:"parentDeath,omitempty"`
	// SourceTrees are the init's descriptors of detached copies of the
	// bind sources, one for each of Spec.Mounts (-1: none), for a
	// container with a user namespace (rootfs.Options.SourceTrees).
	SourceTrees []int `json:"sourceTrees,omitempty"`
	// Overlay is the image overlay the init mounts on Rootfs (Options.Image).
	Overlay *rootfs.Overlay `json:"overlay,omitempty"`
}

// cloneFlags are the namespaces the init is born in. The cgroup and time
// namespaces are left to the init itself (see the package comment); a
// namespace to join by path is entered with setns(2) instead.
func (c *initConfig) cloneFlags() uintptr {
	var f uintptr
	for _, ns := range c.Spec.Linux.Namespaces {
		if ns.Path != "" {
			continue
		}
		switch ns.Type {
		case specs.MountNamespace:
			f |= syscall.CLONE_NEWNS
		case specs.UTSNamespace:
			f |= syscall.CLONE_NEWUTS
		case specs.IPCNamespace:
			f |= syscall.CLONE_NEWIPC
		case specs.PIDNamespace:
			f |= syscall.CLONE_NEWPID
		case specs.NetworkNamespace:
			f |= syscall.CLONE_NEWNET
		case specs.UserNamespace:
			f |= syscall.CLONE_NEWUSER
		}
	}
	return f
}

// prepare validates the description and turns it into the init's
// configuration; the seccomp filter is compiled here, in the parent, so a bad
// profile fails before anything exists.
func prepare(s *specs.Spec, o Options) (*initConfig, error) {
	if o.HostRoot {
		if len(s.Mounts) > 0 || !HasNamespace(s, specs.MountNamespace) {
			return nil, invalidf("a host-root container has a mount namespace and no mounts of its own")
		}
	}
	if err := Validate(s, o); err != nil {
		return nil, err
	}
	cfg := &initConfig{Spec: s, Rootfs: AbsRoot(s, o.Bundle), RootfsMode: o.RootfsMode, Init: o.Init,
		HostRoot: o.HostRoot, KeepProp: o.KeepPropagation, Unmapped: o.UnmappedUserNS && HasNamespace(s, specs.UserNamespace)}
	if !HasNamespace(s, specs.PIDNamespace) {
		// Only a namespace's PID 1 needs a stand-in for signals and orphans.
		cfg.Init = false
	}
	if s.Linux.Seccomp != nil {
		f, err := security.Compile(s.Linux.Seccomp)
		if err != nil {
			return nil, invalidf("seccomp: %v", err)
		}
		cfg.Seccomp = f
		// The init gets the compiled filter; the profile, most of the
		// description's bytes, would only cost it decoding time.
		lean := *s
		linux := *s.Linux
		linux.Seccomp = nil
		lean.Linux = &linux
		cfg.Spec = &lean
	}
	return cfg, nil
}
