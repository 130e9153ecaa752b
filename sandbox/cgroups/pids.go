package cgroups

import (
	"errors"
	"strconv"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The pids controller: OCI linux.resources.pids.limit is pids.max in v1 and
// v2 alike; a limit of 0 or less means none ("max"). The kernel counts
// tasks, so every thread takes one (Documentation/admin-guide/cgroup-v1/pids.rst).

func (m *manager) setPids(p *specs.LinuxPids, fresh bool) error {
	if p == nil || p.Limit == nil {
		return nil
	}
	dir := m.v1("pids")
	if dir == "" {
		dir = m.v2("pids")
	}
	if dir == "" {
		return errors.New("pids limit: the host mounts no pids controller")
	}
	v := "max"
	if *p.Limit > 0 {
		v = strconv.FormatInt(*p.Limit, 10)
	} else if fresh {
		return nil // a new cgroup has no limit already
	}
	return m.write(dir, "pids.max", v)
}

// PidsStats are the pids controller's counters.
type PidsStats struct {
	// Current is the number of tasks (threads) in the cgroup now.
	Current int64 `json:"current"`
	// Peak is the most there ever were (pids.peak, Linux 6.1 and later).
	Peak int64 `json:"peak"`
	// Limit is pids.max, -1 for none.
	Limit int64 `json:"limit"`
	// MaxEvents counts forks refused because of the limit (pids.events max).
	MaxEvents uint64 `json:"maxEvents"`
}

func (m *manager) pidsStats(s *PidsStats) error {
	dir := m.v1("pids")
	if dir == "" {
		dir = m.v2("pids")
	}
	if dir == "" {
		return nil
	}
	var err error
	if s.Current, err = readInt(dir + "/pids.current"); err != nil {
		return err
	}
	if s.Peak, err = readInt(dir + "/pids.peak"); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if s.Limit, err = readInt(dir + "/pids.max"); err != nil {
		return err
	}
	ev, err := readKeyed(dir + "/pids.events")
	if err != nil {
		return err
	}
	s.MaxEvents = ev["max"]
	return nil
}
