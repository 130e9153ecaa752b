package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/sandbox/cgroups"
)

// warmCgroupMigration starts, in the background, the wait that the first
// cgroup migration of a quiet spell must pay, so that it overlaps the work
// of starting the init instead of following it.
//
// Writing a pid to cgroup.procs takes the kernel's global
// cgroup_threadgroup_rwsem for writing (kernel/cgroup/cgroup.c,
// cgroup_attach_lock). That percpu rwsem switches readers to its slow path
// with rcu_sync, so the first writer after a quiet spell waits a whole RCU
// grace period: 7 to 20 ms on the build machines, more than everything
// else in a container's start. Writers that follow within the next grace
// period do not wait. Moving ourselves into the cgroup we are already in is
// a no-op that pays that wait early, while the runtime copies its binary and
// the init starts; the real migration of the init then costs microseconds.
// The write holds cgroup_mutex through its wait, so it must come after the
// container's mkdirs, which take that mutex too.
// On a pure cgroup v2 host the init is born in its cgroup (CLONE_INTO_CGROUP)
// and nothing migrates, so nothing is done.
func warmCgroupMigration() {
	l, err := cgroups.HostLayout()
	if err != nil || l.Mode == cgroups.V2 || l.Fake() {
		return
	}
	own, err := l.Own()
	if err != nil {
		return
	}
	var dir string
	switch {
	case l.Unified != nil:
		dir = filepath.Join(l.Unified.Dir, strings.TrimPrefix(own[cgroups.Unified], l.Unified.Root))
	case len(l.V1) > 0 && len(l.V1[0].Controllers) > 0:
		h := l.V1[0]
		dir = filepath.Join(h.Dir, strings.TrimPrefix(own[h.Controllers[0]], h.Root))
	default:
		return
	}
	go func() {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
	}()
}
