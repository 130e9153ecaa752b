package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The monitor's lean phases, watch and backoff (monitor.go). They run from
// the package's init function, in stepbox-init as in stepbox, and use only
// the system calls below: no JSON, no cgroups, so that stepbox-init stays
// as small as it is, and the monitor's memory is little more than the Go
// runtime's own.

// stopGrace is how long the monitor, told to stop (SIGTERM), lets the
// payload end before it kills it (docker stop's default).
const stopGrace = 10 * time.Second

// runLeanMonitor runs a lean phase when this process is in one, and
// returns otherwise.
func runLeanMonitor() {
	a, ok := parseMonitorArgs()
	if a.mode != "watch" && a.mode != "backoff" {
		return
	}
	if !ok {
		// Written by another build: stepbox, which wrote them, runs the
		// phase itself.
		if a.exe >= 0 && !sameFile(a.exe, "/proc/self/exe") {
			_ = syscall.Exec("/proc/self/fd/"+strconv.Itoa(a.exe), os.Args, os.Environ())
		}
		os.Exit(2)
	}
	runLeanPhase(a)
}

func runLeanPhase(a monitorArgs) {
	setComm(monitorComm)
	// Nobody without CAP_SYS_PTRACE may ptrace the monitor or open its
	// /proc/<pid>/fd: a container without a pid namespace can see it.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	sigs := signalPipe()
	switch a.mode {
	case "watch":
		watchInit(a, sigs)
	case "backoff":
		backoff(a, sigs)
	}
	os.Exit(2)
}

// signalPipe delivers the signals that ask the monitor to stop as bytes on
// a pipe, which a poll(2) loop can wait for with the rest. SIGHUP and
// SIGINT stay ignored (notifyStop).
func signalPipe() int {
	ignoreAcrossExec() // already, unless a phase that caught them failed its execve
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return -1
	}
	c := make(chan os.Signal, 8)
	signal.Notify(c, unix.SIGTERM, unix.SIGQUIT)
	go func() {
		for s := range c {
			_, _ = unix.Write(p[1], []byte{byte(s.(syscall.Signal))})
		}
	}()
	return p[0]
}

// stopAsked reads the signals waiting on the pipe, and reports whether
// there was one.
func stopAsked(fd int) bool {
	var b [16]byte
	asked := false
	for {
		n, err := unix.Read(fd, b[:])
		if n <= 0 || err != nil {
			return asked
		}
		asked = true
	}
}

// hub is the watch phase's attach socket and clients (attach_lean.go).
var hub *attachHub

type logStream struct {
	fd   int
	name string // stdout or stderr
}

// watchInit logs the payload's output until the init exits, then hands
// the exit to stepbox (exited). Told to stop, it passes SIGTERM on and
// kills the init after stopGrace.
func watchInit(a monitorArgs, sigs int) {
	stall("watch")
	// The init is our child and unreaped, so its pid cannot be reused.
	pidfd, err := unix.PidfdOpen(a.pid, 0)
	if err != nil {
		exitPhase(a, -1, nil)
	}
	var streams []logStream
	for _, s := range []logStream{{a.out, "stdout"}, {a.err, "stderr"}, {a.pty, "stdout"}} {
		if s.fd >= 0 {
			_ = unix.SetNonblock(s.fd, true)
			streams = append(streams, s)
		}
	}
	in := a.pty
	if in < 0 {
		in = a.in
	}
	hub = newAttachHub(a.sock, in)
	lw := &logWriter{fd: a.log, hub: hub}
	buf := make([]byte, 16<<10)
	var killAt time.Time
	stop := func() {
		if killAt.IsZero() {
			a.stopped = true
			_ = unix.Kill(a.pid, unix.SIGTERM)
			killAt = time.Now().Add(stopGrace)
		}
	}
	if a.stopped {
		stop()
	}
	fds := make([]unix.PollFd, 0, 2+len(streams))
	which := make([]int, 0, len(streams))
	for {
		fds = append(fds[:0], unix.PollFd{Fd: int32(pidfd), Events: unix.POLLIN}, unix.PollFd{Fd: int32(sigs), Events: unix.POLLIN})
		which = which[:0]
		for i, s := range streams {
			if s.fd >= 0 {
				fds = append(fds, unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN})
				which = append(which, i)
			}
		}
		var nhub int
		fds, nhub = hub.pollFds(fds)
		timeout := -1
		if !killAt.IsZero() {
			timeout = max(0, int(time.Until(killAt).Milliseconds())+1)
		}
		if _, err := unix.Poll(fds, timeout); err != nil && err != unix.EINTR {
			exitPhase(a, -1, streams)
		}
		if fds[1].Revents != 0 && stopAsked(sigs) {
			stop()
		}
		hub.handle(fds[len(fds)-nhub:], buf)
		for k, i := range which {
			if fds[2+k].Revents != 0 {
				pump(&streams[i], buf, lw)
			}
		}
		if fds[0].Revents != 0 {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(a.pid, &ws, unix.WNOHANG, nil)
			switch {
			case pid == a.pid:
				drain(streams, buf, lw)
				exitPhase(a, int(ws), streams)
			case err == unix.ECHILD:
				exitPhase(a, -1, streams)
			}
		}
		if !killAt.IsZero() && !time.Now().Before(killAt) {
			_ = unix.Kill(a.pid, unix.SIGKILL)
			killAt = time.Now().Add(time.Hour)
		}
	}
}

// pump moves what one stream has to the log; at its end (or a pty's EIO,
// once no one holds its other side) it closes the stream.
func pump(s *logStream, buf []byte, lw *logWriter) {
	n, err := unix.Read(s.fd, buf)
	if n > 0 {
		lw.write(s.name, buf[:n])
		return
	}
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if hub != nil && hub.in == s.fd {
		hub.in, hub.pending = -1, nil // the pty master: no more input
	}
	unix.Close(s.fd)
	s.fd = -1
}

// drain logs what the streams still hold once the init is gone: until
// each ends, or a short while passes (a process that left the init's pid
// namespace may keep one open; removing the cgroups ends it).
func drain(streams []logStream, buf []byte, lw *logWriter) {
	deadline := time.Now().Add(300 * time.Millisecond)
	for {
		var fds []unix.PollFd
		var which []int
		for i, s := range streams {
			if s.fd >= 0 {
				fds = append(fds, unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN})
				which = append(which, i)
			}
		}
		left := time.Until(deadline)
		if len(fds) == 0 || left <= 0 {
			return
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err != nil && err != unix.EINTR {
			return
		}
		if n == 0 {
			return
		}
		for k, i := range which {
			if fds[k].Revents != 0 {
				pump(&streams[i], buf, lw)
			}
		}
	}
}

// exitPhase hands the init's wait status (-1: unknown) to stepbox, which
// records it. It does not return.
func exitPhase(a monitorArgs, status int, streams []logStream) {
	hub.close(a.dir)
	for _, s := range streams {
		if s.fd >= 0 {
			unix.Close(s.fd)
		}
	}
	for _, fd := range []int{a.in, a.log} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	b := monitorArgs{mode: "exited", dir: a.dir, exe: a.exe, pid: -1, out: -1, err: -1, pty: -1, in: -1, log: -1, sock: -1,
		status: status, stopped: a.stopped}
	// Should the execve fail, nobody is left to record the exit: `stepbox
	// ps` shows it as unknown.
	_ = execPhase(b, a.exe)
	os.Exit(1)
}

// backoff waits the restart policy's delay, then lets stepbox start the
// container again (restart), or, told to stop meanwhile, not.
func backoff(a monitorArgs, sigs int) {
	stall("backoff")
	deadline := time.Now().Add(a.delay)
	stopped := false
	for !stopped {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		fds := []unix.PollFd{{Fd: int32(sigs), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, int(left.Milliseconds())+1); n > 0 {
			stopped = stopAsked(sigs)
		}
	}
	b := monitorArgs{mode: "restart", dir: a.dir, exe: a.exe, pid: -1, out: -1, err: -1, pty: -1, in: -1, log: -1, sock: -1,
		status: -1, stopped: stopped}
	_ = execPhase(b, a.exe)
	os.Exit(1)
}

// logTimeFormat is RFC 3339 with nanoseconds, fixed width, in UTC.
const logTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// logWriter writes the container's log in the CRI format (what kubelet,
// containerd and conmon write): one record per line, "TIME STREAM TAG
// TEXT", where TAG is F for a full line and P for part of one, written
// because it arrived without its end. Every record is a line of its own,
// so a reader never sees half of one; each read from the payload is one
// write(2), which O_APPEND makes whole.
type logWriter struct {
	fd  int
	rec []byte
	hub *attachHub // who is attached gets it too
}

func (w *logWriter) write(stream string, data []byte) {
	w.hub.send(stream, data)
	if w.fd < 0 {
		return
	}
	rec := time.Now().UTC().AppendFormat(w.rec[:0], logTimeFormat)
	ts := len(rec)
	for first := true; len(data) > 0; first = false {
		if !first {
			rec = append(rec, rec[:ts]...)
		}
		line, tag := data, byte('P')
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data, tag = data[:i], data[i+1:], 'F'
		} else {
			data = nil
		}
		rec = append(rec, ' ')
		rec = append(rec, stream...)
		rec = append(rec, ' ', tag, ' ')
		rec = append(rec, line...)
		rec = append(rec, '\n')
	}
	// A burst of short lines makes records many times the bytes read:
	// their buffer is not kept beyond 64 KiB.
	if cap(rec) <= 64<<10 {
		w.rec = rec
	}
	for len(rec) > 0 {
		n, err := unix.Write(w.fd, rec)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			return // a full disk loses output, not the container
		}
		rec = rec[n:]
	}
}

// setComm names this process (prctl(2) PR_SET_NAME): executed from
// /proc/self/fd/N, the kernel would call it "N".
func setComm(name string) {
	b := append([]byte(name), 0)
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0)
}

// sameFile reports whether descriptor fd and path are one file.
func sameFile(fd int, path string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(fd, &a) == nil && unix.Stat(path, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

// rearmParentDeath sets the init's parent-death signal again (cloneInit):
// a change of user or group clears it (prctl(2) PR_SET_PDEATHSIG). A parent
// that died before is seen on the sync socket, whose other end it held.
func rearmParentDeath(sync *os.File) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_PDEATHSIG: %w", err)
	}
	fds := []unix.PollFd{{Fd: int32(sync.Fd()), Events: 0}}
	if n, _ := unix.Poll(fds, 0); n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
		return errors.New("the container's monitor died while it was being made")
	}
	return nil
}
