package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// execTarget is what the exec stage needs of the container's init to enter
// it (package nsenter's fields).
type execTarget struct {
	pidfd *os.File
	// flags are the CLONE_NEW* namespaces in which the init differs from
	// us: setns(2) refuses to "join" our own user namespace (EINVAL).
	flags int
	// time is the init's time_for_children when it differs from our time
	// namespace: the minimal init lives outside the namespace it made for
	// its payload (unshareTime).
	time *os.File
	// root is the init's root directory, where a container entered with
	// chroot(2) keeps it (RootfsMode).
	root     *os.File
	unmapped bool
}

// execNamespaces are the namespaces the pidfd enters, by their /proc names.
var execNamespaces = []struct {
	name string
	flag int
}{
	{"user", unix.CLONE_NEWUSER}, {"mnt", unix.CLONE_NEWNS}, {"pid", unix.CLONE_NEWPID},
	{"net", unix.CLONE_NEWNET}, {"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS},
	{"cgroup", unix.CLONE_NEWCGROUP},
}

// openTarget opens what the stage needs of the init pid, which must be the
// process that started at start (proc(5) stat field 22).
func openTarget(pid int, start uint64) (_ *execTarget, err error) {
	gone := func() error {
		return fmt.Errorf("its init (pid %d) is not running: %w", pid, ErrWrongState)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, gone()
	}
	t := &execTarget{pidfd: os.NewFile(uintptr(fd), "pidfd")}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	// The pidfd names the process that had pid when it was opened; if that
	// one still runs now, with the recorded start time, it is the init.
	if !processAlive(pid, start) {
		return nil, gone()
	}
	proc := "/proc/" + strconv.Itoa(pid)
	for _, ns := range execNamespaces {
		same, err := sameNamespace(proc+"/ns/"+ns.name, "/proc/self/ns/"+ns.name)
		if err != nil {
			return nil, err
		}
		if !same {
			t.flags |= ns.flag
		}
	}
	same, err := sameNamespace(proc+"/ns/time_for_children", "/proc/self/ns/time")
	if err != nil {
		return nil, err
	}
	if !same {
		if t.time, err = os.Open(proc + "/ns/time_for_children"); err != nil {
			return nil, fmt.Errorf("open the init's time namespace: %w", err)
		}
	}
	if t.root, err = os.OpenFile(proc+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("open the init's root: %w", err)
	}
	if t.flags&unix.CLONE_NEWUSER != 0 {
		b, err := os.ReadFile(proc + "/uid_map")
		if err != nil {
			return nil, fmt.Errorf("read the init's uid map: %w", err)
		}
		t.unmapped = strings.TrimSpace(string(b)) == ""
	}
	// The files above were opened by pid: they are the init's if it has
	// not exited since (a pidfd polls readable once its process exits).
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n > 0 {
		return nil, gone()
	}
	return t, nil
}

// sameNamespace compares two /proc/PID/ns files; a kernel without that
// kind of namespace has neither, and both count as the same.
func sameNamespace(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	errA, errB := unix.Stat(a, &sa), unix.Stat(b, &sb)
	if errors.Is(errA, unix.ENOENT) && errors.Is(errB, unix.ENOENT) {
		return true, nil
	}
	if errA != nil {
		return false, fmt.Errorf("stat %s: %w", a, errA)
	}
	if errB != nil {
		return false, fmt.Errorf("stat %s: %w", b, errB)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

func (t *execTarget) close() {
	for _, f := range []*os.File{t.pidfd, t.time, t.root} {
		if f != nil {
			f.Close()
		}
	}
}
