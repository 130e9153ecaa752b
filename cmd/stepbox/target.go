package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
)

// targetPID is the process inspect and verify look at: a PID, or a
// container stepbox runs, named as everywhere else (its name, id or a
// unique id prefix). A number is a PID when such a process exists, else an
// id prefix. A container's process is its payload: with the minimal init
// (run's default) that is the init's child, as the init itself keeps the
// host's time namespace and lives only to forward signals.
func targetPID(g *globals, arg string) (int, error) {
	if pid, err := strconv.Atoi(arg); err == nil {
		if pid <= 0 {
			return 0, usagef("invalid PID %q: a PID is a positive number", arg)
		}
		if _, err := os.Stat("/proc/" + arg); err == nil {
			return pid, nil
		}
	}
	c, err := sandbox.Find(runPaths(g), arg)
	if err != nil {
		if errors.Is(err, sandbox.ErrNoContainer) {
			if _, nerr := strconv.Atoi(arg); nerr == nil {
				return 0, hint.With(fmt.Errorf("process %s does not exist, and no container is named so", arg),
					"list processes with ps -e, containers with 'stepbox ps'")
			}
			return 0, hint.With(fmt.Errorf("no such process or container: %s", arg),
				"give a PID, or a container's name or id ('stepbox ps')")
		}
		return 0, err
	}
	st := c.State()
	if st.Status != sandbox.Running {
		return 0, hint.With(stateError{fmt.Sprintf("container %s is not running", st.DisplayName())},
			"start it first with 'stepbox start "+st.DisplayName()+"'")
	}
	if pid := st.PayloadPid(); pid > 0 {
		return pid, nil
	}
	return st.Pid, nil
}
