package cgroups

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// freezeTimeout bounds how long Freeze waits for every task to stop (a task
// in uninterruptible sleep freezes only when it wakes).
const freezeTimeout = 5 * time.Second

// ErrNoFreezer is Freeze's error where the container has no freezer: no
// cgroup2 directory (or a kernel before 5.2) and no v1 freezer cgroup.
var ErrNoFreezer = errors.New("the container has no cgroup freezer")

// Freeze stops every process of the container where it stands (frozen
// true) or lets them go on (false), as docker pause and unpause do, and
// waits until the kernel says it is done. It uses the cgroup2 directory's
// cgroup.freeze wherever the container has one (cgroup-v2.rst, "Core
// interface files"; a bare cgroup2 directory of a hybrid host has it too,
// no controller needed), else the v1 freezer's freezer.state
// (freezer-subsystem.rst). A freeze that does not finish in time is undone
// and reported.
func (m *manager) Freeze(frozen bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var dir, file, value, stateFile, done string
	switch {
	case m.unified != "" && exists(m.unified+"/cgroup.freeze"):
		dir, file, stateFile = m.unified, "cgroup.freeze", "cgroup.events"
		value, done = "0", "frozen 0"
		if frozen {
			value, done = "1", "frozen 1"
		}
	case m.v1("freezer") != "":
		dir, file, stateFile = m.v1("freezer"), "freezer.state", "freezer.state"
		value, done = "THAWED", "THAWED"
		if frozen {
			value, done = "FROZEN", "FROZEN"
		}
	default:
		return ErrNoFreezer
	}
	if err := m.write(dir, file, value); err != nil {
		return err
	}
	deadline := time.Now().Add(freezeTimeout)
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		s, err := readFile(dir + "/" + stateFile)
		if err != nil {
			return fmt.Errorf("read %s/%s: %w", dir, stateFile, err)
		}
		if hasLine(s, done) {
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(delay)
	}
	if frozen {
		// Not left half frozen.
		_ = m.write(dir, file, map[string]string{"cgroup.freeze": "0", "freezer.state": "THAWED"}[file])
	}
	return fmt.Errorf("%s %s: the kernel did not finish in %v (a process in uninterruptible sleep?)", dir, file, freezeTimeout)
}

// hasLine reports whether s has line (cgroup.events is "key value" lines;
// freezer.state one word).
func hasLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
