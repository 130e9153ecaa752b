package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/hint"
)

// Validate checks a description, with the options it will run with, before
// anything is made, so that a mistake costs one clear line and leaves nothing
// behind.
func Validate(s *specs.Spec, o Options) error {
	bundle := o.Bundle
	if s == nil {
		return invalidf("no description")
	}
	if err := checkVersion(s.Version); err != nil {
		return err
	}
	if s.Process == nil || len(s.Process.Args) == 0 || s.Process.Args[0] == "" {
		return hint.With(invalidf("no command to run"), "give the command after '--', e.g. stepbox run -- sh")
	}
	if s.Process.Cwd == "" || !filepath.IsAbs(s.Process.Cwd) {
		return invalidf("working directory %q is not an absolute path", s.Process.Cwd)
	}
	if s.Linux == nil {
		return invalidf("no linux section")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		if nsOrder(ns.Type) == len(Namespaces) {
			return invalidf("unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return invalidf("namespace %q listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			switch ns.Type {
			case specs.NetworkNamespace, specs.UTSNamespace, specs.IPCNamespace, specs.CgroupNamespace, specs.TimeNamespace,
				specs.MountNamespace, specs.PIDNamespace, // mount and pid by the parent (joinns.go)
				specs.UserNamespace: // by a stage before Go (joinuserns.go)
				if _, err := os.Stat(ns.Path); err != nil {
					return invalidf("namespace %s path: %v", ns.Type, err)
				}
			default:
				return invalidf("joining an existing %s namespace (%s) is not supported", ns.Type, ns.Path)
			}
		}
	}
	userns := seen[specs.UserNamespace]
	if joinedUserNS(s) != "" {
		// config-linux.md: mappings MUST NOT be given with a path; the
		// joined namespace's own apply.
		if len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0 {
			return invalidf("linux.uidMappings and gidMappings must not be set when the user namespace is joined by path (%s): its own maps apply", joinedUserNS(s))
		}
		if o.UnmappedUserNS {
			return invalidf("an unmapped user namespace cannot be joined by path")
		}
	} else if userns && !o.UnmappedUserNS && (len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0) {
		return invalidf("a user namespace needs uid and gid mappings")
	}
	if !userns && (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) {
		return invalidf("uid/gid mappings given without a user namespace")
	}
	if s.Hostname != "" && !seen[specs.UTSNamespace] {
		return hint.With(invalidf("a hostname needs a UTS namespace"), "add uts to --ns, or drop --hostname")
	}
	if len(s.Linux.TimeOffsets) > 0 && !seen[specs.TimeNamespace] {
		return invalidf("time offsets need a time namespace")
	}
	for clock := range s.Linux.TimeOffsets {
		if clock != "monotonic" && clock != "boottime" {
			return invalidf("time offset for clock %q: only monotonic and boottime can be offset (time_namespaces(7))", clock)
		}
	}
	if seen[specs.MountNamespace] && !o.HostRoot {
		root := AbsRoot(s, bundle)
		if root == "" {
			return invalidf("no root filesystem")
		}
		st, err := os.Stat(root)
		if o.Image != nil && errors.Is(err, fs.ErrNotExist) {
			// Made in the image store while the container is created
			// (imagefs.Plan and Make): it exists before the init mounts.
			err, st = nil, nil
		}
		switch {
		case st == nil && err == nil:
		case errors.Is(err, fs.ErrNotExist):
			return hint.With(fmt.Errorf("root filesystem %s does not exist", root),
				"give a directory with --rootfs, or omit it to use the built-in one")
		case err != nil:
			return fmt.Errorf("root filesystem %s: %w", root, err)
		case !st.IsDir():
			return hint.With(fmt.Errorf("root filesystem %s is not a directory", root),
				"--rootfs takes a directory holding the container's files")
		}
		for _, m := range s.Mounts {
			if !filepath.IsAbs(m.Destination) {
				return invalidf("mount destination %q is not an absolute path", m.Destination)
			}
			if isBind(m) {
				src := m.Source
				if !filepath.IsAbs(src) {
					src = filepath.Join(bundle, src)
				}
				if _, err := os.Stat(src); err != nil {
					return hint.With(fmt.Errorf("bind mount source %s: %w", m.Source, unwrapPathErr(err)),
						"-v takes an existing host path: HOST:CONTAINER[:ro]")
				}
			}
		}
	} else if len(s.Mounts) > 0 {
		return invalidf("mounts need a mount namespace")
	}
	for key := range s.Linux.Sysctl {
		if err := checkSysctl(key, seen); err != nil {
			return err
		}
	}
	return nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func isBind(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// checkVersion accepts the runtime-spec versions whose meaning stepbox
// implements: 1.0.x to 1.3.x.
func checkVersion(v string) error {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil || major != 1 || minor > 3 {
		return hint.With(invalidf("ociVersion %q is not supported", v), "stepbox runs runtime-spec 1.0.x to 1.3.x")
	}
	return nil
}

// checkSysctl allows only sysctls that belong to a namespace the container
// has, so that writing one cannot change the host (runc's validator rules;
// sysctl(8), ipc_namespaces(7), network_namespaces(7)).
func checkSysctl(key string, ns map[specs.LinuxNamespaceType]bool) error {
	ipc := []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
	switch {
	case slices.Contains(ipc, key) || strings.HasPrefix(key, "fs.mqueue."):
		if ns[specs.IPCNamespace] {
			return nil
		}
		return invalidf("sysctl %s needs an IPC namespace", key)
	case strings.HasPrefix(key, "net."):
		if ns[specs.NetworkNamespace] {
			return nil
		}
		return invalidf("sysctl %s needs a network namespace", key)
	case key == "kernel.hostname" || key == "kernel.domainname":
		return invalidf("sysctl %s: set hostname/domainname in the description instead", key)
	}
	return invalidf("sysctl %s is not namespaced: it would change the host", key)
}
