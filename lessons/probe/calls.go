package probe

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Mount mounts a file system of type fstype from source on target and, when
// that worked, takes it away again (mount(2), umount2(2)): what a process
// may mount is the question, not leaving the mount behind.
func Mount(w io.Writer, fstype, source, target string) int {
	err := unix.Mount(source, target, fstype, 0, "")
	Call(w, "mount", fmt.Sprintf("%s, %s, %s, 0, NULL", Quote(source), Quote(target), Quote(fstype)), 0, err)
	if err != nil {
		return Refused
	}
	err = unix.Unmount(target, 0)
	Call(w, "umount2", Quote(target)+", 0", 0, err)
	return exit(err)
}

// Sethostname sets the UTS namespace's hostname (sethostname(2)); an empty
// name sets the one it has, which changes nothing but asks the kernel all
// the same.
func Sethostname(w io.Writer, name string) int {
	if name == "" {
		var err error
		if name, err = os.Hostname(); err != nil {
			fmt.Fprintf(w, "hostname: %v\n", err)
			return Usage
		}
	}
	err := unix.Sethostname([]byte(name))
	Call(w, "sethostname", fmt.Sprintf("%s, %d", Quote(name), len(name)), 0, err)
	return exit(err)
}

// Unshare makes a child in new namespaces of the kinds named ("user",
// "net", …) with unshare(2) and lets it exit: a Go program has threads, and
// the kernel refuses unshare(CLONE_NEWUSER) to a threaded caller, so the call
// is made in a child, between fork and exec, as unshare(1) makes it in
// itself.
func Unshare(w io.Writer, kinds []string) int {
	var flags uintptr
	for _, k := range kinds {
		f, ok := cloneFlags[k]
		if !ok {
			fmt.Fprintf(w, "unshare: unknown namespace %q (one of user, mnt, uts, ipc, net, pid, cgroup)\n", k)
			return Usage
		}
		flags |= f
	}
	prog, args, err := smallestProgram()
	if err != nil {
		fmt.Fprintf(w, "unshare: %v\n", err)
		return Usage
	}
	pid, err := syscall.ForkExec(prog, args, &syscall.ProcAttr{
		Sys: &syscall.SysProcAttr{Unshareflags: flags},
	})
	Call(w, "unshare", flagNames(kinds), 0, err)
	if err != nil {
		return Refused
	}
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, 0, nil)
	return OK
}

// smallestProgram is what the child of Unshare runs to exit at once: a
// shell, one task, where there is one; else stepbox itself. A Go program
// starts several threads, and every one counts against a pids limit: the
// lessons keep lesson 10's 20 with a fifth of a CPU, under which Go
// starts more threads than usual, and a stepbox started there beside the
// agent and this probe once found no room (clone(2), EAGAIN).
func smallestProgram() (string, []string, error) {
	for _, sh := range []string{"/bin/sh", "/usr/bin/sh"} {
		if unix.Access(sh, unix.X_OK) == nil {
			return sh, []string{"sh", "-c", "exit 0"}, nil
		}
	}
	self, err := os.Executable()
	return self, []string{"stepbox", "--version"}, err
}

var cloneFlags = map[string]uintptr{
	"user": unix.CLONE_NEWUSER, "mnt": unix.CLONE_NEWNS, "uts": unix.CLONE_NEWUTS, "ipc": unix.CLONE_NEWIPC,
	"net": unix.CLONE_NEWNET, "pid": unix.CLONE_NEWPID, "cgroup": unix.CLONE_NEWCGROUP,
}

// cloneName is the flag's name after CLONE_NEW.
func cloneName(kind string) string {
	if kind == "mnt" {
		return "NS"
	}
	return strings.ToUpper(kind)
}

func flagNames(kinds []string) string {
	var out []string
	for _, k := range kinds {
		out = append(out, "CLONE_NEW"+cloneName(k))
	}
	return strings.Join(out, "|")
}

// Nice asks for a new nice value for the calling process (setpriority(2)
// PRIO_PROCESS): a lower value than it has needs CAP_SYS_NICE in the
// initial user namespace.
func Nice(w io.Writer, value int) int {
	err := unix.Setpriority(unix.PRIO_PROCESS, 0, value)
	Call(w, "setpriority", fmt.Sprintf("PRIO_PROCESS, 0, %d", value), 0, err)
	return exit(err)
}

// Setgroups sets the supplementary groups of the calling thread to gids
// (setgroups(2)), refused in a user namespace whose setgroups file says
// deny. The raw call acts on this thread alone, which is what is asked:
// whether the kernel allows it at all.
func Setgroups(w io.Writer, gids []int) int {
	list := make([]uint32, len(gids))
	var text []string
	for i, g := range gids {
		list[i] = uint32(g)
		text = append(text, strconv.Itoa(g))
	}
	var p unsafe.Pointer
	if len(list) > 0 {
		p = unsafe.Pointer(&list[0])
	}
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(list)), uintptr(p), 0)
	var err error
	if e != 0 {
		err = e
	}
	Call(w, "setgroups", fmt.Sprintf("%d, [%s]", len(list), strings.Join(text, ", ")), 0, err)
	return exit(err)
}

// Write writes text to file in one write(2), as `echo TEXT > FILE` would
// but with the kernel's errno: proc and cgroup files answer writes they
// refuse with an errno of their own choosing.
func Write(w io.Writer, file, text string) int {
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	Call(w, "openat", fmt.Sprintf("AT_FDCWD, %s, O_WRONLY", Quote(file)), fd, err)
	if err != nil {
		return Refused
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, []byte(text))
	Call(w, "write", fmt.Sprintf("%d, %s, %d", fd, Quote(text), len(text)), n, err)
	return exit(err)
}

// As runs argv as uid and gid with no supplementary groups, as setpriv(1)
// --reuid --regid --clear-groups does: setgroups(2), setresgid(2),
// setresuid(2), then execve(2). It returns only when one of them failed.
func As(w io.Writer, uid, gid int, argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintln(w, "as: no command")
		return Usage
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		fmt.Fprintf(w, "as: %s: give the command's path\n", path)
		return Usage
	}
	// The ids change for this thread alone (raw calls, no runtime help),
	// and this thread makes the execve: the process image it replaces is
	// gone with its other threads.
	runtime.LockOSThread()
	unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0)
	for _, c := range []struct {
		name string
		nr   uintptr
		id   int
	}{{"setresgid", unix.SYS_SETRESGID, gid}, {"setresuid", unix.SYS_SETRESUID, uid}} {
		_, _, e := unix.RawSyscall(c.nr, uintptr(c.id), uintptr(c.id), uintptr(c.id))
		var err error
		if e != 0 {
			err = e
		}
		Call(w, c.name, fmt.Sprintf("%d, %d, %d", c.id, c.id, c.id), 0, err)
		if err != nil {
			return Refused
		}
	}
	if f, ok := w.(*os.File); ok {
		f.Sync()
	}
	err := unix.Exec(path, argv, os.Environ())
	Call(w, "execve", Quote(path), 0, err)
	return Refused
}
