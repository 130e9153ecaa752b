package cgroups

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// freezeTimeout bounds how long Pause waits for every task to stop.
const freezeTimeout = 5 * time.Second

// freezer returns where the cgroup is frozen: the v1 freezer hierarchy when
// the container joined it, else its cgroup2 directory, whose cgroup.freeze
// (Linux 5.2) needs no controller, so it serves on a hybrid host too.
func (m *manager) freezer() (dir, file, events string, on, off, frozen string, ok bool) {
	if d := m.v1("freezer"); d != "" {
		return d, "freezer.state", "freezer.state", "FROZEN", "THAWED", "FROZEN", true
	}
	if m.unified != "" && m.has(m.unified, "cgroup.freeze") {
		return m.unified, "cgroup.freeze", "cgroup.events", "1", "0", "frozen 1", true
	}
	return "", "", "", "", "", "", false
}

// Pause freezes every process of the cgroup (runc pause) and waits until
// the kernel says they all are.
func (m *manager) Pause() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, file, events, on, off, frozen, ok := m.freezer()
	if !ok {
		return errors.New("pause: the container has no freezer (no v1 freezer cgroup, no cgroup.freeze)")
	}
	if err := m.write(dir, file, on); err != nil {
		return err
	}
	deadline := time.Now().Add(freezeTimeout)
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		s, err := readFile(dir + "/" + events)
		if err != nil {
			return err
		}
		if strings.Contains(s, frozen) {
			return nil
		}
		if time.Now().After(deadline) {
			// A task stuck in the kernel: leave nothing half frozen.
			_ = m.write(dir, file, off)
			return fmt.Errorf("pause: %s/%s still says %q after %v", dir, events, strings.TrimSpace(s), freezeTimeout)
		}
		time.Sleep(delay)
	}
}

// Resume thaws the cgroup (runc resume).
func (m *manager) Resume() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, file, _, _, off, _, ok := m.freezer()
	if !ok {
		return errors.New("resume: the container has no freezer")
	}
	return m.write(dir, file, off)
}

// Paused reports whether the cgroup is frozen.
func (m *manager) Paused() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, file, events, _, _, frozen, ok := m.freezer()
	if !ok {
		return false, nil
	}
	_ = file
	s, err := readFile(dir + "/" + events)
	if err != nil {
		return false, err
	}
	return strings.Contains(s, frozen), nil
}
