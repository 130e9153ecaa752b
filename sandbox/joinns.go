package sandbox

import (
	"fmt"
	"os/exec"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/cgroups"
)

// Joining an existing mount or pid namespace by path (linux.namespaces[]
// with a path). The init cannot do these itself: it is a Go program, with
// threads, and setns(2) refuses a mount namespace to a thread that shares
// its filesystem attributes with others (EINVAL), while a pid namespace
// applies only to the children of the thread that joins. So the parent
// joins them on one locked thread, which first takes a private copy of its
// filesystem attributes (unshare(2) CLONE_FS), and clones the init from
// that thread: the init is born in them. The thread is never unlocked, so
// Go ends it instead of reusing it in someone else's namespaces. A user
// namespace cannot be joined this way (setns(2) wants a single-threaded
// caller), and is refused by Validate.

// parentJoins are the namespaces the parent's clone thread joins, in the
// order setns(2) needs: mount first (it changes what the path of the next
// resolves to only if relative; the paths are absolute), then pid.
var parentJoins = []struct {
	t    specs.LinuxNamespaceType
	flag int
}{{specs.MountNamespace, unix.CLONE_NEWNS}, {specs.PIDNamespace, unix.CLONE_NEWPID}}

// joinsInParent reports whether the spec names a mount or pid namespace
// by path.
func joinsInParent(s *specs.Spec) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Path != "" && (ns.Type == specs.MountNamespace || ns.Type == specs.PIDNamespace) {
			return true
		}
	}
	return false
}

// startJoined clones the init from a locked thread that has joined the
// spec's mount and pid namespaces given by path.
func startJoined(s *specs.Spec, cg cgroups.Manager, cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		done <- func() error {
			for _, j := range parentJoins {
				for _, ns := range s.Linux.Namespaces {
					if ns.Type != j.t || ns.Path == "" {
						continue
					}
					if j.t == specs.MountNamespace {
						if err := unix.Unshare(unix.CLONE_FS); err != nil {
							return fmt.Errorf("unshare CLONE_FS to join %s: %w", ns.Path, err)
						}
					}
					fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
					if err != nil {
						return fmt.Errorf("open %s namespace %s: %w", ns.Type, ns.Path, err)
					}
					err = unix.Setns(fd, j.flag)
					unix.Close(fd)
					if err != nil {
						return fmt.Errorf("setns %s %s: %w", ns.Type, ns.Path, err)
					}
				}
			}
			return cgroups.StartInHere(cg, cmd)
		}()
	}()
	return <-done
}
