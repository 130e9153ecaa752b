package main

import (
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Fields of config.json honoured through the runc command line that only
// engines use: SCMP_ACT_NOTIFY with a listener, linux.personality and
// linux.timeOffsets, each checked by what the payload sees.

// seccompNotif and seccompNotifResp are struct seccomp_notif and
// seccomp_notif_resp (<linux/seccomp.h>, seccomp_unotify(2)); x/sys has
// the ioctls but not the structures.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// notifyAgent is the seccomp agent the runtime-spec describes: it listens
// on a unix socket, receives the ContainerProcessState with the listener
// descriptor (SCM_RIGHTS), and answers every notified getppid(2) with
// answer; anything else notified goes on as asked
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
type notifyAgent struct {
	path     string
	mu       sync.Mutex
	state    specs.ContainerProcessState
	answered int
	err      error
	done     chan struct{}
}

func startNotifyAgent(t *testing.T, answer int64) *notifyAgent {
	a := &notifyAgent{path: filepath.Join(t.TempDir(), "agent.sock"), done: make(chan struct{})}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); l.Close(); <-a.done })
	go func() {
		defer close(a.done)
		fail := func(err error) { a.mu.Lock(); a.err = err; a.mu.Unlock() }
		conn, err := l.AcceptUnix()
		if err != nil {
			fail(err)
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			fail(err)
			return
		}
		var st specs.ContainerProcessState
		if err := json.Unmarshal(buf[:n], &st); err != nil {
			fail(err)
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			fail(err)
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			fail(err)
			return
		}
		fd := fds[0]
		defer unix.Close(fd)
		a.mu.Lock()
		a.state = st
		a.mu.Unlock()
		for {
			select {
			case <-stop:
				return
			default:
			}
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, err := unix.Poll(pfd, 100); err != nil || n == 0 {
				continue
			}
			if pfd[0].Revents&unix.POLLHUP != 0 {
				return // every process of the filter is gone
			}
			var req seccompNotif
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
				continue // the caller went away (ENOENT)
			}
			resp := seccompNotifResp{ID: req.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
			if req.Nr == unix.SYS_GETPPID {
				resp = seccompNotifResp{ID: req.ID, Val: answer}
				a.mu.Lock()
				a.answered++
				a.mu.Unlock()
			}
			unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
		}
	}()
	return a
}

// TestOCISeccompNotify: a filter that notifies getppid(2), its listener
// passed to the agent at listenerPath with the state, and the payload
// sees the agent's answer as its parent's pid.
func TestOCISeccompNotify(t *testing.T) {
	e := newOCIEnv(t)
	agent := startNotifyAgent(t, 4242)
	bundle := e.bundle(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction:    specs.ActAllow,
			ListenerPath:     agent.path,
			ListenerMetadata: "stepbox-test",
			Syscalls:         []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}},
		}
	}, "sh", "-c", "echo $PPID")
	r := e.run("run", "--bundle", bundle, "n1")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "4242" {
		t.Errorf("run: exit %d, stdout %q (want the agent's 4242), stderr %q", r.code, r.stdout, r.stderr)
	}
	agent.mu.Lock()
	defer agent.mu.Unlock()
	if agent.err != nil {
		t.Fatalf("agent: %v", agent.err)
	}
	st := agent.state
	if len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName || st.Metadata != "stepbox-test" ||
		st.State.ID != "n1" || st.Pid <= 0 || st.Pid != st.State.Pid || st.State.Bundle != bundle {
		t.Errorf("the agent got the state %+v", st)
	}
	if agent.answered == 0 {
		t.Error("the agent answered no getppid")
	}

	// Without a listenerPath the notifying filter is refused at create.
	bad := e.bundle(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}}}
	}, "true")
	ociOneLine(t, "notify without a listener", e.run("create", "--bundle", bad, "n2"), "listenerPath")
}

// TestOCIPersonality: linux.personality LINUX32 is what `setarch linux32`
// sets; uname -m inside says what it says on the host.
func TestOCIPersonality(t *testing.T) {
	e := newOCIEnv(t)
	want, err := exec.Command("setarch", "linux32", "uname", "-m").Output()
	if err != nil {
		t.Skipf("setarch linux32 on this host: %v", err)
	}
	native, _ := exec.Command("uname", "-m").Output()
	bundle := e.bundle(func(s *specs.Spec) {
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	}, "sh", "-c", "uname -m; cat /proc/self/personality")
	r := e.run("run", "--bundle", bundle, "p1")
	lines := strings.Fields(r.stdout)
	if r.code != 0 || len(lines) != 2 || lines[0] != strings.TrimSpace(string(want)) || lines[1] != "00000008" {
		t.Errorf("run: exit %d, stdout %q, stderr %q; want %q (setarch linux32's, natively %q) and personality 00000008",
			r.code, r.stdout, r.stderr, strings.TrimSpace(string(want)), strings.TrimSpace(string(native)))
	}
	bad := e.bundle(func(s *specs.Spec) {
		s.Linux.Personality = &specs.LinuxPersonality{Domain: "PDP11"}
	}, "true")
	ociOneLine(t, "an unknown personality", e.run("create", "--bundle", bad, "p2"), "linux.personality.domain")
}

// TestOCITimeOffsets: a time namespace with offsets; the payload's
// uptime (CLOCK_BOOTTIME) is a year more than the host's.
func TestOCITimeOffsets(t *testing.T) {
	e := newOCIEnv(t)
	const year = 365 * 86400
	bundle := e.bundle(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: year}, "monotonic": {Secs: 7 * 86400}}
	}, "sh", "-c", "cut -d' ' -f1 /proc/uptime; cat /proc/self/timens_offsets")
	host := uptime(t)
	r := e.run("run", "--bundle", bundle, "t1")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 {
		t.Fatalf("run: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	inside, err := strconv.ParseFloat(lines[0], 64)
	if err != nil || inside < host+year || inside > host+year+60 {
		t.Errorf("uptime inside %q, want the host's %.0f s plus a year", lines[0], host)
	}
	offsets := strings.Join(strings.Fields(strings.Join(lines[1:], " ")), " ")
	if offsets != "monotonic 604800 0 boottime 31536000 0" {
		t.Errorf("timens_offsets inside %q", offsets)
	}
	bad := e.bundle(func(s *specs.Spec) {
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}
	}, "true")
	ociOneLine(t, "offsets without a time namespace", e.run("create", "--bundle", bad, "t2"), "time offsets need a time namespace")
}

// uptime is the host's /proc/uptime in seconds.
func uptime(t *testing.T) float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		t.Fatal(err)
	}
	return float64(ts.Sec)
}
