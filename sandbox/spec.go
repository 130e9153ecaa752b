package sandbox

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/sandbox/rootfs"
	"github.com/stepbox/stepbox/sandbox/security"
)

// Namespaces lists the eight namespace types in the order the course teaches
// them, with the names people type (`--ns uts,pid,mnt,…`).
var Namespaces = []struct {
	Type  specs.LinuxNamespaceType
	Short string
}{
	{specs.UTSNamespace, "uts"},
	{specs.PIDNamespace, "pid"},
	{specs.MountNamespace, "mnt"},
	{specs.IPCNamespace, "ipc"},
	{specs.NetworkNamespace, "net"},
	{specs.UserNamespace, "user"},
	{specs.CgroupNamespace, "cgroup"},
	{specs.TimeNamespace, "time"},
}

// ParseNamespace reads a namespace name: the short name (mnt, net) or the OCI
// name (mount, network).
func ParseNamespace(name string) (specs.LinuxNamespaceType, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, ns := range Namespaces {
		if n == ns.Short || n == string(ns.Type) {
			return ns.Type, nil
		}
	}
	return "", fmt.Errorf("unknown namespace %q: use uts, pid, mnt, ipc, net, user, cgroup or time", name)
}

// ParseNamespaceList reads a comma-separated list; "all" means every type,
// "none" or "" none.
func ParseNamespaceList(list string) ([]specs.LinuxNamespaceType, error) {
	switch strings.TrimSpace(list) {
	case "", "none":
		return nil, nil
	case "all":
		out := make([]specs.LinuxNamespaceType, 0, len(Namespaces))
		for _, ns := range Namespaces {
			out = append(out, ns.Type)
		}
		return out, nil
	}
	var out []specs.LinuxNamespaceType
	for _, name := range strings.Split(list, ",") {
		t, err := ParseNamespace(name)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// ShortName is the name people type for t.
func ShortName(t specs.LinuxNamespaceType) string {
	for _, ns := range Namespaces {
		if ns.Type == t {
			return ns.Short
		}
	}
	return string(t)
}

// DefaultIDMap is where root inside a user namespace lands on the host when no
// mapping is given: an unprivileged range, as with docker's userns-remap and
// the /etc/subuid convention (subuid(5)), so container root is nobody here.
var DefaultIDMap = specs.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536}

// DefaultSpec returns the description `stepbox run` starts from, docker's
// defaults for a container that is not privileged: every namespace but user,
// the docker-like mounts, the masked and read-only paths, docker's
// capabilities, no_new_privs and docker's seccomp profile, and args as the
// process. Lessons change it one feature at a time with the helpers below.
func DefaultSpec(root string, args ...string) *specs.Spec {
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: root},
		Process: &specs.Process{
			Args: args,
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd:          "/",
			User:         specs.User{UID: 0, GID: 0},
			Capabilities: security.SpecCapabilities(security.DefaultCapabilities()),
			Rlimits: []specs.POSIXRlimit{
				// A hard limit the host allows (host-facts.md: nofile 20000).
				{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024},
			},
			NoNewPrivileges: true,
		},
		Hostname: "stepbox",
		Mounts:   rootfs.DefaultMounts(),
		Linux: &specs.Linux{
			MaskedPaths:   rootfs.DefaultMaskedPaths(),
			ReadonlyPaths: rootfs.DefaultReadonlyPaths(),
		},
	}
	for _, ns := range Namespaces {
		if ns.Type != specs.UserNamespace {
			SetNamespace(s, ns.Type, true)
		}
	}
	// The embedded profile is data known to compile; an error here would be
	// a broken build, caught by the tests.
	_ = SetDefaultSeccomp(s)
	return s
}

// SetCapabilities gives the process caps in its bounding, effective and
// permitted sets, as docker does for root; ambient and inheritable stay empty.
func SetCapabilities(s *specs.Spec, caps []string) {
	s.Process.Capabilities = security.SpecCapabilities(caps)
}

// SetDefaultSeccomp gives the process docker's default seccomp profile, as it
// stands for the process's capabilities (moby adds rules for some, such as
// CAP_SYS_ADMIN); call it again after changing them.
func SetDefaultSeccomp(s *specs.Spec) error {
	p, err := security.DefaultProfile(s)
	if err != nil {
		return err
	}
	s.Linux.Seccomp = p
	return nil
}

// HasNamespace reports whether s asks for a new (or joined) namespace of type t.
func HasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// SetNamespace switches namespace t on or off. Switching the user namespace
// on adds the default ID maps when there are none; switching it off removes
// them, as they mean nothing without it.
func SetNamespace(s *specs.Spec, t specs.LinuxNamespaceType, on bool) {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == t })
	if on {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
		slices.SortStableFunc(s.Linux.Namespaces, func(a, b specs.LinuxNamespace) int {
			return nsOrder(a.Type) - nsOrder(b.Type)
		})
	}
	if t == specs.UTSNamespace && !on {
		// A hostname can only be set in a UTS namespace of one's own.
		s.Hostname, s.Domainname = "", ""
	}
	if t == specs.UserNamespace {
		if on && len(s.Linux.UIDMappings) == 0 {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{DefaultIDMap}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{DefaultIDMap}
		}
		if !on {
			s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
		}
	}
	if t == specs.MountNamespace && on && len(s.Mounts) == 0 {
		s.Mounts = rootfs.DefaultMounts()
		s.Linux.MaskedPaths = rootfs.DefaultMaskedPaths()
		s.Linux.ReadonlyPaths = rootfs.DefaultReadonlyPaths()
	}
	if t == specs.MountNamespace && !on {
		// Without a mount namespace there is no root filesystem of our own:
		// the process runs in the host's, and nothing may be mounted.
		s.Mounts = nil
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	}
}

func nsOrder(t specs.LinuxNamespaceType) int {
	for i, ns := range Namespaces {
		if ns.Type == t {
			return i
		}
	}
	return len(Namespaces)
}

// SetNamespaces switches exactly the listed namespaces on.
func SetNamespaces(s *specs.Spec, on []specs.LinuxNamespaceType) {
	for _, ns := range Namespaces {
		SetNamespace(s, ns.Type, slices.Contains(on, ns.Type))
	}
}

// AddBind adds a bind mount of the host path src at dst inside the container.
func AddBind(s *specs.Spec, src, dst string, readonly bool) {
	opts := []string{"rbind", "nosuid", "nodev"}
	if readonly {
		opts = append(opts, "ro")
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts})
}

// AddTmpfs adds a tmpfs at dst.
func AddTmpfs(s *specs.Spec, dst string, options ...string) {
	s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs",
		Options: append([]string{"nosuid", "nodev"}, options...)})
}

// SetTimeOffsets sets the monotonic and boottime offsets of a time namespace
// (time_namespaces(7)); the wall clock cannot be namespaced.
func SetTimeOffsets(s *specs.Spec, monotonicSecs, boottimeSecs int64) {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
		"monotonic": {Secs: monotonicSecs},
		"boottime":  {Secs: boottimeSecs},
	}
}

// AbsRoot is the rootfs as an absolute path; OCI allows a path relative to
// the bundle directory.
func AbsRoot(s *specs.Spec, bundle string) string {
	if s.Root == nil {
		return ""
	}
	if filepath.IsAbs(s.Root.Path) {
		return filepath.Clean(s.Root.Path)
	}
	return filepath.Join(bundle, s.Root.Path)
}
