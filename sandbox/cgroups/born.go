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
		err, stuck := startHere(m, cmd)
		if !stuck {
			runtime.UnlockOSThread()
		}
		// Else still in the container's cgroups: the goroutine ends
		// locked, and Go ends the thread with it.
		done <- err
	}()
	return <-done
}

// StartInHere is StartIn from the calling thread itself, which must be
// locked to its goroutine (runtime.LockOSThread): cmd's process is then
// that thread's child, which matters for a parent-death signal
// (prctl(2) PR_SET_PDEATHSIG), sent when the parent thread ends, not the
// parent process. If the thread cannot move back out of the container's
// cgroups it says so; the caller must not go on as if outside.
func StartInHere(m Manager, cmd *exec.Cmd) error {
	if f, err := m.FD(); err == nil {
		defer f.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(f.Fd())
	}
	err, _ := startHere(m, cmd)
	return err
}

// startHere starts cmd from the calling, locked thread moved into m's v1
// cgroups for the clone. stuck reports a thread that could not move back.
func startHere(m Manager, cmd *exec.Cmd) (err error, stuck bool) {
	leave, err := m.JoinThread()
	if err != nil {
		err = fmt.Errorf("join cgroup: %w", err)
	} else {
		err = cmd.Start()
	}
	if leave != nil {
		if lerr := leave(); lerr != nil {
			return errors.Join(err, lerr), true
		}
	}
	return err, false
}
