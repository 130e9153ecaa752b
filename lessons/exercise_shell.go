package lessons

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/mountinfo"
	"github.com/stepbox/stepbox/sandbox"
)

// RunSession is the body of the hidden `stepbox exercise session DIR`: the
// session's own process, inside the throwaway namespaces StartExercise made
// (UTS, IPC, network, mount, cgroup). It makes the namespaces a place to
// work in, opens the learner's shell on a terminal of its own, and when the
// shell ends removes whatever was made from it. It returns the shell's exit
// code.
func RunSession(dir string, stdin, stdout *os.File) (int, error) {
	s, err := LoadSession(dir)
	if err != nil {
		return 0, err
	}
	ex, err := FindExercise(s.Exercise)
	if err != nil {
		return 0, err
	}
	// Orphans of the learner's processes come back to us, so the checks
	// find them, and so does the cleanup.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("become the exercise's subreaper: %w", err)
	}
	if s.CgroupMounts, err = remountCgroups(); err != nil {
		return 0, err
	}
	if _, v1 := s.CgroupMounts["memory"]; !v1 && s.CgroupMounts[""] != "" {
		if err := leaveRootFree(s.CgroupMounts[""]); err != nil {
			return 0, err
		}
		s.CgroupSelf = "/shell"
	}
	// ip netns add makes a file in /run/netns: ours, not the host's.
	if err := os.MkdirAll("/run/netns", 0o755); err == nil {
		_ = unix.Mount("tmpfs", "/run/netns", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755,size=1m")
	}
	s.Pid, s.Start = os.Getpid(), startTime(os.Getpid())
	if err := s.save(); err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	banner(stdout, ex, s.Lang)

	master, peer, err := sandbox.OpenPTY()
	if err != nil {
		return 0, err
	}
	ptm := os.NewFile(uintptr(master), "pty")
	defer ptm.Close()
	slave := os.NewFile(uintptr(peer), "pty-peer")
	if term.IsTerminal(int(stdin.Fd())) {
		if ws, err := unix.IoctlGetWinsize(int(stdin.Fd()), unix.TIOCGWINSZ); err == nil {
			_ = unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, ws)
		}
	}
	shell := "/bin/sh"
	args := []string{"sh", "-i"}
	if _, err := os.Stat("/bin/bash"); err == nil {
		shell, args = "/bin/bash", []string{"bash", "--norc", "--noprofile", "-i"}
	}
	cmd := &exec.Cmd{Path: shell, Args: args, Env: s.shellEnv(self, ex), Dir: sessionWorkdir(),
		Stdin: slave, Stdout: slave, Stderr: slave,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGHUP, unix.SIGINT, unix.SIGWINCH)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		slave.Close()
		return 0, fmt.Errorf("start %s: %w", shell, err)
	}
	slave.Close()
	shellPid := cmd.Process.Pid
	_ = cmd.Process.Release() // reaped below, with every orphan

	var restore func()
	if term.IsTerminal(int(stdin.Fd())) {
		if st, err := term.MakeRaw(int(stdin.Fd())); err == nil {
			restore = func() { _ = term.Restore(int(stdin.Fd()), st) }
		}
	}
	done := make(chan int, 1)
	go pumpSession(stdin, stdout, ptm, shellPid, done)
	code, ended := -1, false
	var hungUp time.Time
	end := func() {
		if hungUp.IsZero() {
			hangUp(shellPid)
			hungUp = time.Now()
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for !ended {
		select {
		case sig := <-sigs:
			switch sig {
			case unix.SIGWINCH:
				if ws, err := unix.IoctlGetWinsize(int(stdin.Fd()), unix.TIOCGWINSZ); err == nil {
					_ = unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, ws)
				}
			case unix.SIGTERM, unix.SIGHUP, unix.SIGINT:
				end()
			}
		case <-done:
			end()
		case <-tick.C:
			// A shell that ignores the hang-up is killed.
			if !hungUp.IsZero() && time.Since(hungUp) > 3*time.Second {
				_ = unix.Kill(shellPid, unix.SIGKILL)
			}
		}
		if c, ok := reapChildren(shellPid); ok {
			code, ended = c, true
		}
	}
	cleanupSession(s)
	drain(ptm, stdout)
	if restore != nil {
		restore()
	}
	return code, nil
}

// banner shows the exercise before the shell's first prompt.
func banner(w io.Writer, ex *Exercise, lang i18n.Lang) {
	title := fmt.Sprintf("%s %s · %s", wExercise.In(lang), ex.ID(), ex.Title.In(lang))
	fmt.Fprintf(w, "\n%s\n%s\n\n%s\n\n%s\n\n", rule(title, WidthNormal), wrap(ex.Task.In(lang), WidthNormal-2, ""),
		wrap(wExShellIn.In(lang), WidthNormal-2, ""), wExKeys.In(lang))
}

// shellEnv is the learner's environment: this process's, with the
// session's names, stepbox first in the PATH, and a prompt that says
// where the shell is.
func (s *Session) shellEnv(self string, ex *Exercise) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PS1", "PROMPT_COMMAND", "HISTFILE", "ENV", "BASH_ENV", "STEPBOX_ROOT", "ROOTFS":
			return true
		}
		return strings.HasPrefix(k, "STEPBOX_CG_")
	})
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	env = append(env,
		"PATH="+filepath.Dir(self)+":"+path+":/usr/sbin:/sbin",
		EnvExerciseSession+"="+s.dir,
		EnvExercise+"="+ex.ID(),
		"STEPBOX_ROOT="+s.Root,
		"PS1=["+ex.ID()+"] \\w # ",
		"HISTFILE=",
		"STEPBOX_CG_MEMORY="+s.cgroupMount("memory"),
		"STEPBOX_CG_PIDS="+s.cgroupMount("pids"),
	)
	if s.Rootfs != "" {
		env = append(env, "ROOTFS="+s.Rootfs)
	}
	return env
}

// sessionWorkdir is where the shell starts: the learner's working
// directory, or / when it is not reachable.
func sessionWorkdir() string {
	if wd, err := os.Getwd(); err == nil {
		return wd
	}
	return "/"
}

// remountCgroups mounts every cgroup hierarchy again over itself. Inside
// the session's cgroup namespace a new mount shows the namespace's root, the
// session's own cgroup, as its top: what the learner makes there lands
// below the session's cgroup, and goes with it. It returns the mount point
// of each controller ("" for cgroup2).
func remountCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	entries, err := mountinfo.Parse(b)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	seen := map[string]bool{}
	for _, e := range entries {
		if (e.FSType != "cgroup" && e.FSType != "cgroup2") || seen[e.MountPoint] {
			continue
		}
		seen[e.MountPoint] = true
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		var data []string
		if e.FSType == "cgroup" {
			for _, o := range strings.Split(e.SuperOptions, ",") {
				if o != "rw" && o != "ro" && !strings.HasPrefix(o, "release_agent=") {
					data = append(data, o)
				}
			}
		}
		// The kernel refuses a file system's second mount on the very
		// point it is mounted at (EBUSY): the old one goes first, from
		// this mount namespace only.
		if err := unix.Unmount(e.MountPoint, unix.MNT_DETACH); err != nil {
			return nil, fmt.Errorf("unmount the cgroup hierarchy at %s: %w", e.MountPoint, err)
		}
		if err := unix.Mount(e.FSType, e.MountPoint, e.FSType, flags, strings.Join(data, ",")); err != nil {
			return nil, fmt.Errorf("mount the cgroup hierarchy at %s again: %w", e.MountPoint, err)
		}
		if e.FSType == "cgroup2" {
			if _, ok := out[""]; !ok {
				out[""] = e.MountPoint
			}
			continue
		}
		for _, o := range data {
			out[o] = e.MountPoint
		}
	}
	return out, nil
}

// leaveRootFree moves the session into a cgroup of its own, shell, below
// the exercise's cgroup, and lets the controllers the exercises need reach
// the exercise's cgroups: on cgroup v2 a cgroup with processes cannot hand
// controllers to its children (the "no internal processes" rule), so the
// learner's box could not be given a limit beside a shell in the root.
func leaveRootFree(unified string) error {
	shell := filepath.Join(unified, "shell")
	if err := os.Mkdir(shell, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("make the exercise shell's cgroup: %w", err)
	}
	if err := os.WriteFile(filepath.Join(shell, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return fmt.Errorf("move the exercise's shell into %s: %w", shell, err)
	}
	have, err := os.ReadFile(filepath.Join(unified, "cgroup.controllers"))
	if err != nil {
		return err
	}
	var enable []string
	for _, c := range []string{"cpu", "memory", "pids"} {
		if slices.Contains(strings.Fields(string(have)), c) {
			enable = append(enable, "+"+c)
		}
	}
	if len(enable) == 0 {
		return nil
	}
	if err := os.WriteFile(filepath.Join(unified, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0); err != nil {
		return fmt.Errorf("give %s to the exercise's cgroups: %w", strings.Join(enable, " "), err)
	}
	return nil
}

// pumpSession copies the learner's keys to the shell's terminal and what
// it shows back, until the learner's terminal goes (done is then told). A
// standard input that is not a terminal ends with an end of file typed to
// the shell (^D), as if the learner had, and again every second: a shell
// whose line editor was busy when the first came (busybox's ash) reads
// the next at its prompt.
func pumpSession(in *os.File, out *os.File, master *os.File, shellPid int, done chan<- int) {
	buf := make([]byte, 4096)
	fds := []unix.PollFd{{Fd: int32(in.Fd()), Events: unix.POLLIN}, {Fd: int32(master.Fd()), Events: unix.POLLIN}}
	isTerm := term.IsTerminal(int(in.Fd()))
	var eof time.Time
	for {
		if _, err := unix.Poll(fds, 200); err != nil && err != unix.EINTR {
			done <- 1
			return
		}
		if fds[1].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0 {
			n, err := unix.Read(int(master.Fd()), buf)
			if n > 0 {
				writeAll(int(out.Fd()), buf[:n])
			}
			if n <= 0 && err != unix.EAGAIN && err != unix.EINTR {
				done <- 0 // nothing holds the terminal any more
				return
			}
		}
		if fds[0].Fd >= 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0 {
			n, err := unix.Read(int(in.Fd()), buf)
			if n > 0 {
				writeAll(int(master.Fd()), buf[:n])
			} else if err != unix.EAGAIN && err != unix.EINTR {
				if isTerm {
					done <- 1 // the terminal hung up
					return
				}
				fds[0].Fd = -1
				eof = time.Now().Add(-time.Hour)
			}
		}
		if !eof.IsZero() && time.Since(eof) >= time.Second {
			writeAll(int(master.Fd()), []byte{4})
			eof = time.Now()
		}
	}
}

// drain shows what the shell's terminal still holds, without waiting.
func drain(master, out *os.File) {
	_ = unix.SetNonblock(int(master.Fd()), true)
	buf := make([]byte, 4096)
	for i := 0; i < 64; i++ {
		n, _ := unix.Read(int(master.Fd()), buf)
		if n <= 0 {
			return
		}
		writeAll(int(out.Fd()), buf[:n])
	}
}

// hangUp ends the shell as a closed terminal would: SIGHUP to its process
// group (it leads its session), which passes it on to its jobs.
func hangUp(pid int) {
	_ = unix.Kill(-pid, unix.SIGHUP)
	_ = unix.Kill(pid, unix.SIGCONT)
}

// reapChildren collects every child of ours that has ended (the shell,
// and the orphans given to us); ok says the shell was one of them, with
// its exit code.
func reapChildren(shellPid int) (code int, ok bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return code, ok
		}
		if pid == shellPid {
			ok = true
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	}
}

// cleanupSession removes what the learner made: the containers under the
// session's --root (through the runtime, which removes their cgroups and
// records), every process left (killed until none forks again), and every
// cgroup below the session's own.
func cleanupSession(s *Session) {
	paths := sandbox.DefaultPaths(s.Root)
	if states, err := sandbox.List(paths); err == nil {
		for _, st := range states {
			if c, err := sandbox.Load(paths, st.ID); err == nil {
				_ = c.Remove(true)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		left := descendants(os.Getpid())
		if len(left) == 0 {
			break
		}
		for _, pid := range left {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
		reapChildren(0)
	}
	removeCgroupsBelow(s)
}

// descendants lists the living processes below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, _, ok := procStat(p); ok && state != "Z" {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
		queue = queue[1:]
	}
	return out
}

// removeCgroupsBelow removes the cgroups made below the session's own, in
// every hierarchy, deepest first (a cgroup with children cannot go). Their
// processes are gone, but a cgroup may stay busy for a moment after its
// last one exits, so each is tried for a while.
func removeCgroupsBelow(s *Session) {
	var dirs []string
	for key, mount := range s.CgroupMounts {
		own := ""
		if key == "" && s.CgroupSelf != "" {
			own = filepath.Join(mount, s.CgroupSelf) // ours, until we exit
		}
		_ = filepath.WalkDir(mount, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && p != mount && p != own {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	dirs = slices.Compact(dirs)
	for _, d := range dirs {
		for i := 0; i < 100; i++ {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
