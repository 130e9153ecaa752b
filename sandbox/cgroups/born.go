package cgroups

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
)

// StartIn starts cmd already inside m's cgroup in every hierarchy, so that
// nothing has to be migrated afterwards. Moving a running process (Apply, a
// write to cgroup.procs) takes the kernel's global cgroup_threadgroup_rwsem
// for writing, and the first writer after a quiet spell waits a whole RCU
// grace period for it: 7 to 20 ms on the build machines. Instead cmd is
// cloned from a thread that JoinThread moved alone into the v1 hierarchies
// (which skips that lock) and that moves back afterwards, locked to its
// goroutine meanwhile so that nothing else runs there; clone3(2)
// CLONE_INTO_CGROUP (FD) places it in the cgroup2 one. cmd.SysProcAttr
// must be set.
func StartIn(m Manager, cmd *exec.Cmd) error {
	if f, err := m.FD(); err == nil {
		defer f.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(f.Fd())
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		leave, err := m.JoinThread()
		if err != nil {
			err = fmt.Errorf("join cgroup: %w", err)
		} else {
			err = cmd.Start()
		}
		if leave != nil {
			if lerr := leave(); lerr != nil {
				// Still in the container's cgroups: the goroutine ends
				// locked, and Go ends the thread with it.
				done <- errors.Join(err, lerr)
				return
			}
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}
