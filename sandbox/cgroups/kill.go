package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// killTimeout bounds how long Kill and Destroy wait for the processes of a
// cgroup to die and its directories to go.
const killTimeout = 10 * time.Second

func (m *manager) Kill() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	deadline := time.Now().Add(killTimeout)
	var errs []error
	if err := m.killUnified(deadline); err != nil {
		errs = append(errs, err)
	}
	if m.layout.Mode != V2 || !m.layout.hasKill {
		// v1 hierarchies have no cgroup.kill. On a hybrid host the cgroup2
		// directory tracked every process Apply moved or StartIn started,
		// and their children, but a process moved out of it by someone else
		// is still found here.
		if err := m.freezeKill(deadline); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killUnified kills everything in the cgroup2 directory with one write to
// cgroup.kill, which SIGKILLs every process of the subtree and keeps killing
// the ones forked meanwhile (Linux 5.14, cgroup-v2.rst "cgroup.kill"). It works
// in a bare cgroup2 directory of a hybrid host too, no controller needed.
// Then it waits for cgroup.events to say "populated 0".
func (m *manager) killUnified(deadline time.Time) error {
	if m.unified == "" || !m.layout.hasKill {
		return nil
	}
	populated, err := isPopulated(m.unified)
	if err != nil || !populated {
		return nil // a directory already gone holds nothing
	}
	if err := m.write(m.unified, "cgroup.kill", "1"); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // a kernel before 5.14: freezeKill does it
		}
		return err
	}
	return waitUnpopulated(m.unified, deadline)
}

// isPopulated reads "populated" from a cgroup2 directory's cgroup.events: 1
// while a process is in it or below it.
func isPopulated(dir string) (bool, error) {
	s, err := readFile(dir + "/cgroup.events")
	if err != nil {
		return false, err
	}
	return strings.Contains(s, "populated 1"), nil
}

// waitUnpopulated waits for "populated 0" in dir/cgroup.events. The kernel
// wakes poll(2) with POLLPRI when the file changes (cgroup-v2.rst "cgroup.events"),
// so there is no sleeping; the poll is cut at 50 ms anyway, in case a change
// came between the read and the poll.
func waitUnpopulated(dir string, deadline time.Time) error {
	p := dir + "/cgroup.events"
	fd, err := openRetry(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 256)
	for {
		n, err := unix.Pread(fd, buf, 0)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if n > 0 && !strings.Contains(string(buf[:n]), "populated 1") {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			pids, _ := procsTree(dir)
			return fmt.Errorf("kill: %d processes still in %s after %s: %v", len(pids), dir, killTimeout, pids)
		}
		wait := min(left, 50*time.Millisecond)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		if _, err := unix.Poll(fds, int(wait/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return fmt.Errorf("poll %s: %w", p, err)
		}
	}
}

// freezeKill kills every process in every directory where there is no
// cgroup.kill: it freezes the cgroup (v1 freezer.state FROZEN, or v2
// cgroup.freeze 1), so no process can fork between being listed and being
// killed, sends SIGKILL to each process in cgroup.procs, and thaws it, which
// lets the killed processes die. It repeats until no process is left, in
// case one was moved in meanwhile, and gives up at deadline.
// Without a freezer it kills in a loop, which a fast fork loop could outrun
// for a while; the deadline bounds that.
func (m *manager) freezeKill(deadline time.Time) error {
	for {
		pids, err := m.procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kill: %d processes still in the cgroup after %s: %v", len(pids), killTimeout, pids)
		}
		frozen, err := m.freeze(true, deadline)
		if err != nil {
			return err
		}
		if frozen {
			// Listed again now that nothing can fork.
			if pids, err = m.procs(); err != nil {
				_, _ = m.freeze(false, deadline)
				return err
			}
		}
		for _, pid := range pids {
			if pid == os.Getpid() {
				// A thread of ours that JoinThread could not move back:
				// v1 lists its process. Killing it would kill the caller.
				continue
			}
			// ESRCH: it died meanwhile (a frozen process cannot exit, so
			// its pid cannot have been reused).
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if frozen {
			if _, err := m.freeze(false, deadline); err != nil {
				return err
			}
		}
		// Every process listed has SIGKILL pending and can fork no more;
		// give them time to exit before looking for any that came in
		// meanwhile.
		if err := m.waitEmpty(deadline); err != nil {
			return err
		}
	}
}

// waitEmpty waits until no process is left, at most 200 ms (then the caller
// looks again at what is left), polling with growing pauses as v1 offers no
// notification; on v2 cgroup.events wakes poll(2).
func (m *manager) waitEmpty(deadline time.Time) error {
	if m.unified != "" && m.layout.Mode == V2 {
		return waitUnpopulated(m.unified, deadline)
	}
	until := time.Now().Add(200 * time.Millisecond)
	for delay := 50 * time.Microsecond; time.Now().Before(until); delay = min(2*delay, 10*time.Millisecond) {
		time.Sleep(delay)
		pids, err := m.procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
	}
	return nil
}

// freeze freezes (or thaws) the cgroup with the v1 freezer, or with v2's
// cgroup.freeze, and waits until the kernel reports it done. It reports
// false when there is no freezer. A freeze that does not finish in 100 ms
// (a task in uninterruptible sleep) is left as it is: the SIGKILL still
// reaches every task, which dies when thawed.
func (m *manager) freeze(on bool, deadline time.Time) (bool, error) {
	var dir, file, value, stateFile, done string
	switch {
	case m.v1("freezer") != "":
		dir, file, stateFile = m.v1("freezer"), "freezer.state", "freezer.state"
		value, done = "THAWED", "THAWED"
		if on {
			value, done = "FROZEN", "FROZEN"
		}
	case m.unified != "" && m.layout.Mode == V2:
		dir, file, stateFile = m.unified, "cgroup.freeze", "cgroup.events"
		value, done = "0", "frozen 0"
		if on {
			value, done = "1", "frozen 1"
		}
	default:
		return false, nil
	}
	if err := m.write(dir, file, value); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil // gone, or a kernel before 5.2 (cgroup.freeze)
		}
		return false, err
	}
	until := time.Now().Add(100 * time.Millisecond)
	if deadline.Before(until) {
		until = deadline
	}
	for delay := 50 * time.Microsecond; time.Now().Before(until); delay = min(2*delay, 5*time.Millisecond) {
		s, err := readFile(dir + "/" + stateFile)
		if err != nil || strings.Contains(s, done) {
			break
		}
		time.Sleep(delay)
	}
	return true, nil
}

// procs lists the processes of every directory and their descendants.
func (m *manager) procs() ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, dir := range m.dirs {
		pids, err := procsTree(dir)
		if err != nil {
			return nil, err
		}
		for _, p := range pids {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func (m *manager) Destroy() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	deadline := time.Now().Add(killTimeout)
	var errs []error
	if err := m.killUnified(deadline); err != nil {
		errs = append(errs, err)
	}
	for _, dir := range m.dirs {
		if err := m.removeDir(dir, deadline); err != nil {
			errs = append(errs, err)
		}
	}
	m.prune()
	return errors.Join(errs...)
}

// removeDir removes dir and the cgroups below it. On the usual path the
// container's processes are gone and that is one rmdir(2). When the kernel
// says EBUSY, something is still inside: it kills what is there (on v1 or
// without cgroup.kill) and tries again, waiting a little longer each time
// for the kernel to finish the exits.
func (m *manager) removeDir(dir string, deadline time.Time) error {
	delay := 100 * time.Microsecond
	for {
		err := removeTree(dir, m.layout.Fake())
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return err
		}
		if time.Now().After(deadline) {
			pids, _ := procsTree(dir)
			return fmt.Errorf("%w (processes still inside after %s: %v)", err, killTimeout, pids)
		}
		if err := m.freezeKill(deadline); err != nil {
			return err
		}
		if removeTree(dir, m.layout.Fake()) == nil {
			return nil
		}
		time.Sleep(delay)
		delay = min(2*delay, 20*time.Millisecond)
	}
}

// removeTree removes dir, first the cgroups below it, deepest first (a
// cgroup with children cannot be removed: EBUSY).
func removeTree(dir string, fake bool) error {
	err := rmdir(dir, fake)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	subs, _ := subdirs(dir)
	if len(subs) == 0 {
		return fmt.Errorf("rmdir %s: %w", dir, unix.EBUSY)
	}
	for _, s := range subs {
		if err := removeTree(s, fake); err != nil {
			return err
		}
	}
	if err := rmdir(dir, fake); err != nil {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	return nil
}

// prune removes the parents of the container's directories that are left
// empty, up to the hierarchy's root, like rmdir -p: /stepbox after the last
// container. A parent that still has a child cgroup or a process is busy
// and stays, and so does everything above it. (A cgroup path pointed under a
// parent a user made and wants kept is removed with the last container in
// it; its settings applied only to its children, and there are none left.)
func (m *manager) prune() {
	for _, dir := range m.dirs {
		h := m.hierarchyOf(dir)
		if h == nil {
			continue
		}
		for p := filepath.Dir(dir); strings.HasPrefix(p, h.Dir+"/"); p = filepath.Dir(p) {
			if m.layout.Fake() {
				if subs, _ := subdirs(p); len(subs) > 0 {
					break
				}
			}
			if err := rmdir(p, m.layout.Fake()); err != nil {
				break
			}
		}
	}
}
