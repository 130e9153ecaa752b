package nsinspect

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// UTS is what a process sees as its host and domain name: the uname(2) of
// its own UTS namespace. /proc/sys/kernel/hostname would show the reader's.
type UTS struct {
	Hostname   string      `json:"hostname"`
	Domainname string      `json:"domainname"`
	Err        *FieldError `json:"error,omitempty"`
}

// insider is one fact that only a member of a namespace can read, and the
// namespace to join to read it.
type insider struct {
	typ  string // ns/ entry name
	flag int    // CLONE_NEW* for setns(2)
	read func() *FieldError
}

// readInside fills the parts of s that must be read from inside the target's
// UTS, IPC, network and cgroup namespaces. It joins them with setns(2) on one
// OS thread locked to a fresh goroutine. Only these four are joined: a
// multi-threaded process may not setns into a mount or user namespace
// (setns(2), EINVAL), and none is needed for them.
//
// The thread is never unlocked after a successful setns: when the goroutine
// ends, the Go runtime ends a locked thread instead of returning it to the
// pool, so no other goroutine ever runs in a foreign namespace.
func (r Reader) readInside(pid int, s *Snapshot) {
	list := []insider{
		{"uts", unix.CLONE_NEWUTS, func() *FieldError {
			var u unix.Utsname
			if err := unix.Uname(&u); err != nil {
				return newFieldError("uname", "", err)
			}
			s.UTS.Hostname = unix.ByteSliceToString(u.Nodename[:])
			s.UTS.Domainname = unix.ByteSliceToString(u.Domainname[:])
			return nil
		}},
		{"ipc", unix.CLONE_NEWIPC, func() *FieldError {
			// /proc/sysvipc/* list the IPC namespace of the thread that
			// opens them (ipc/util.c sysvipc_proc_open), not of the mount.
			for _, f := range []struct {
				name string
				dst  *[]IPCObject
			}{{"shm", &s.IPC.Shm}, {"msg", &s.IPC.Msg}, {"sem", &s.IPC.Sem}} {
				p := "/proc/sysvipc/" + f.name
				b, err := os.ReadFile(p)
				if err != nil {
					return newFieldError("read", p, err)
				}
				objs, err := ParseSysVIPC(b)
				if err != nil {
					return parseError(p, err)
				}
				*f.dst = objs
			}
			return nil
		}},
		{"net", unix.CLONE_NEWNET, func() *FieldError {
			ifs, err := dumpInterfaces()
			if err != nil {
				return newFieldError("netlink", "", err)
			}
			s.Network.Interfaces = ifs
			return nil
		}},
		{"cgroup", unix.CLONE_NEWCGROUP, func() *FieldError {
			// /proc/PID/cgroup shows paths relative to the cgroup
			// namespace of the reader (cgroup_namespaces(7)).
			p := r.path(pid, "cgroup")
			b, err := os.ReadFile(p)
			if err != nil {
				return newFieldError("read", p, err)
			}
			e, err := ParseCgroup(b)
			if err != nil {
				return parseError(p, err)
			}
			s.Cgroups.Inside = e
			return nil
		}},
	}
	setErr := func(typ string, fe *FieldError) {
		switch typ {
		case "uts":
			s.UTS.Err = fe
		case "ipc":
			s.IPC.Err = fe
		case "net":
			s.Network.Err = fe
		case "cgroup":
			s.Cgroups.InsideErr = fe
		}
	}
	if !r.live() {
		for _, in := range list {
			setErr(in.typ, &FieldError{Op: "setns", Path: r.path(pid, "ns/"+in.typ),
				Msg: "only the live /proc can be entered"})
		}
		return
	}

	// Open the namespaces to join before starting the thread; a namespace
	// the caller already shares is read without setns.
	type join struct {
		insider
		fd int
	}
	var joins []join
	for _, in := range list {
		target := s.Namespace(in.typ)
		if target.Err != nil {
			setErr(in.typ, target.Err)
			continue
		}
		if target.Same(selfNamespace(in.typ)) {
			joins = append(joins, join{in, -1})
			continue
		}
		p := r.path(pid, "ns/"+in.typ)
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			setErr(in.typ, newFieldError("open", p, err))
			continue
		}
		joins = append(joins, join{in, fd})
	}
	if len(joins) == 0 {
		return
	}
	onSpareThread(func() (entered bool) {
		for _, j := range joins {
			if j.fd >= 0 {
				err := unix.Setns(j.fd, j.flag)
				unix.Close(j.fd)
				if err != nil {
					setErr(j.typ, newFieldError("setns", r.path(pid, "ns/"+j.typ), err))
					continue
				}
				entered = true
			}
			if fe := j.read(); fe != nil {
				setErr(j.typ, fe)
			}
		}
		return entered
	})
}

// onSpareThread runs fn on a goroutine locked to an OS thread that is not
// the process's main thread. fn reports whether it changed the thread's
// namespaces; if it did, the thread stays locked, so the runtime ends it when
// the goroutine returns instead of reusing it.
//
// The main thread is refused because /proc/PID/ns/* show the thread-group
// leader's namespaces to every reader, and because the runtime cannot end
// it: it would wedge in the foreign namespaces for the life of the process.
// While a goroutine holds the main thread locked, the scheduler must run any
// other goroutine elsewhere, so the hand-off below lands on another thread.
func onSpareThread(fn func() (entered bool)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			onSpareThread(fn)
			runtime.UnlockOSThread()
			return
		}
		if !fn() {
			runtime.UnlockOSThread()
		}
	}()
	<-done
}
