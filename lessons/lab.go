package lessons

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
)

// Lab is the state of a lesson: the container description so far, the
// container running it (its payload is the agent), and everything else the
// lesson made. Close removes all of it, on every path out of a lesson.
type Lab struct {
	paths  sandbox.Paths
	rootfs string
	self   string // this stepbox binary on the host, for containers without a rootfs

	spec  *specs.Spec
	opts  sandbox.Options
	dirty bool
	// filter changes every container just before it starts: a failure
	// demo's Remove.
	filter func(s *specs.Spec, o *sandbox.Options)

	box  *agentBox
	peer *agentBox

	// imageRef is LabConfig.Image; img is the lab's image state
	// (lab_image.go); vars fill the probes' placeholders (Set).
	imageRef func() (string, error)
	img      labImage
	vars     map[string]string

	mu       sync.Mutex
	cleanups []func() error
	closed   bool
}

// LabConfig says where a lab keeps its containers and which root filesystem
// they get.
type LabConfig struct {
	Paths  sandbox.Paths
	Rootfs string // must hold /bin/stepbox and /bin/sh
	Self   string // the stepbox binary on the host
	// Image gives the image a lesson's containers run on when it asks for
	// one (Lab.UseImage), in the store under Paths.Lib: the built-in
	// image, made when first asked for. Nil: Rootfs is imported as an
	// image for the lesson.
	Image func() (string, error)
}

// NewLab starts an empty lab; the first Ensure starts its container.
func NewLab(cfg LabConfig) *Lab {
	return &Lab{paths: cfg.Paths, rootfs: cfg.Rootfs, self: cfg.Self, imageRef: cfg.Image, spec: baseSpec(cfg.Rootfs), dirty: true}
}

// baseSpec is where the course starts: a process with nothing isolated and
// every privilege root has on the host, as if started by a root shell.
// Lessons add isolation; the hardening lessons take privileges away.
func baseSpec(rootfs string) *specs.Spec {
	s := sandbox.DefaultSpec(rootfs, "/bin/stepbox", "agent")
	sandbox.SetNamespaces(s, nil)
	s.Process.NoNewPrivileges = false
	s.Process.Rlimits = nil
	s.Process.Capabilities = nil
	s.Linux.Seccomp = nil
	return s
}

// Rootfs is the host path of the lab's root filesystem.
func (l *Lab) Rootfs() string { return l.rootfs }

// Spec is the description the next container starts from. Change it with
// Change so the lab knows to restart.
func (l *Lab) Spec() *specs.Spec { return l.spec }

// Change edits the description; the container restarts at the next Ensure.
func (l *Lab) Change(f func(s *specs.Spec)) {
	f(l.spec)
	l.dirty = true
}

// Options changes the runtime options of the next container (pivot_root
// or chroot, a private copy of the host's mounts).
func (l *Lab) Options(f func(o *sandbox.Options)) {
	f(&l.opts)
	l.dirty = true
}

// Defer registers the removal of something the lesson made beside the
// container (a shared memory segment, say); Close runs them in reverse
// order.
func (l *Lab) Defer(f func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cleanups = append(l.cleanups, f)
}

// Pid is the host pid of the container's payload (the agent).
func (l *Lab) Pid() int {
	if l.box == nil {
		return 0
	}
	return l.box.c.Pid()
}

// Container is the running container, or nil.
func (l *Lab) Container() *sandbox.Container {
	if l.box == nil {
		return nil
	}
	return l.box.c
}

// Ensure starts the container from the current description if it changed
// or is not running.
func (l *Lab) Ensure() error {
	if !l.dirty && l.box != nil {
		return nil
	}
	if l.box != nil {
		l.box.stop()
		l.box = nil
	}
	spec := cloneSpec(l.spec)
	opts := l.opts
	if l.filter != nil {
		l.filter(spec, &opts)
	}
	if opts.HostRoot {
		// A private copy of the host's tree has no mounts of its own.
		spec.Mounts, spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths = nil, nil, nil
	}
	b, err := l.start(l.name(""), spec, opts)
	if err != nil {
		return err
	}
	l.box, l.dirty = b, false
	return nil
}

// start starts a container of the lab, on its image when it runs on one.
func (l *Lab) start(name string, spec *specs.Spec, opts sandbox.Options) (*agentBox, error) {
	if err := l.rootOn(name, spec, &opts); err != nil {
		return nil, err
	}
	b, err := startAgent(l.paths, name, spec, opts, l.self)
	if err != nil {
		_ = sandbox.ReleaseImageRootfs(opts.Image, name)
	}
	return b, err
}

// name is the container's name: one for every restart, so the cgroup path
// stays the same from step to step; the runner's pid keeps two learners
// apart.
func (l *Lab) name(role string) string { return fmt.Sprintf("lesson-%d%s", os.Getpid(), role) }

// StartPeer starts a second container, beside the lab's, from spec (its
// payload is set here): the other end of the network lesson's cable. It
// replaces any peer started before.
func (l *Lab) StartPeer(spec *specs.Spec) error {
	if l.peer != nil {
		l.peer.stop()
		l.peer = nil
	}
	b, err := l.start(l.name("-peer"), spec, sandbox.Options{})
	if err != nil {
		return err
	}
	l.peer = b
	return nil
}

// PeerPid is the host pid of the peer container, 0 when there is none.
func (l *Lab) PeerPid() int {
	if l.peer == nil {
		return 0
	}
	return l.peer.c.Pid()
}

// PeerInside runs a shell command inside the peer container.
func (l *Lab) PeerInside(cmd string) (Output, error) {
	if l.peer == nil {
		return Output{}, errors.New("the lab has no second container")
	}
	return l.peer.inside(cmd)
}

// HostShm makes a System V shared memory segment in the runner's own IPC
// namespace (the host's, or the demo's throwaway one) and removes it when
// the lab closes. It returns the segment's id.
func (l *Lab) HostShm(size int) (int, error) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|0o600)
	if err != nil {
		return 0, fmt.Errorf("shmget: %w", err)
	}
	l.Defer(func() error {
		_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return err
	})
	return id, nil
}

// Inside runs a shell command inside the container. A command the
// container's root filesystem does not have is an error of the lesson, not
// evidence: the shell's 127 would otherwise pass for a refusal (a check that
// wants a failure) or fail a step for a reason the step is not about.
func (l *Lab) Inside(cmd string) (Output, error) {
	if err := l.Ensure(); err != nil {
		return Output{}, err
	}
	out, err := l.box.inside(cmd)
	if err == nil && out.Code == exitNotFound {
		return out, notFound(cmd, out.Output, wInside)
	}
	return out, err
}

// Host runs a shell command in the runner's own namespaces: a witness of
// what the host sees (hostname, ipcs), never something that changes it.
// `stepbox` there is the binary running the lesson.
func (l *Lab) Host(cmd string) (Output, error) {
	out := hostCommand(cmd, l.self)
	if out.Code == exitNotFound {
		return out, notFound(cmd, out.Output, wOnHost)
	}
	return out, nil
}

// exitNotFound is the shell's status for a command it cannot find.
const exitNotFound = 127

// notFound explains a command that the shell could not find: which
// command, where, and what to do.
func notFound(cmd, output string, where i18n.Text) error {
	return hint.With(fmt.Errorf("%s (%s): %s", cmd, where.In(i18n.English), strings.TrimSpace(output)),
		"the lesson needs a tool this system lacks; 'stepbox doctor' lists what the course needs")
}

// InsideSnapshot is the container's own view of itself (its /proc, its
// hostname, its interfaces), read by the agent.
func (l *Lab) InsideSnapshot() (nsinspect.Snapshot, error) {
	if err := l.Ensure(); err != nil {
		return nsinspect.Snapshot{}, err
	}
	return l.box.snapshot()
}

// OutsideSnapshot is the container's process as the host sees it.
func (l *Lab) OutsideSnapshot() (nsinspect.Snapshot, error) {
	if err := l.Ensure(); err != nil {
		return nsinspect.Snapshot{}, err
	}
	return nsinspect.Take(l.Pid())
}

// Shell gives the learner an interactive shell inside the container as it
// stands, on the terminal in/out, and returns when the shell exits.
func (l *Lab) Shell(in *os.File, out io.Writer) error {
	if err := l.Ensure(); err != nil {
		return err
	}
	return l.box.shell(in, out)
}

// Close tears down everything the lab made; it is safe to call twice.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	cleanups := l.cleanups
	l.cleanups = nil
	l.mu.Unlock()
	var errs []error
	for _, b := range []*agentBox{l.box, l.peer} {
		if b != nil {
			if err := b.stop(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	l.box, l.peer = nil, nil
	for i := len(cleanups) - 1; i >= 0; i-- {
		if err := cleanups[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func cloneSpec(s *specs.Spec) *specs.Spec {
	b, _ := json.Marshal(s)
	var out specs.Spec
	_ = json.Unmarshal(b, &out)
	return &out
}

// agentBox is a running container whose payload is the agent, and the
// pipes to talk to it.
type agentBox struct {
	c        *sandbox.Container
	toAgent  *os.File
	fromFile *os.File
	from     *bufio.Reader
	shellEnd *os.File
	stderr   *lockedBuffer
}

// startAgent starts a container from spec with the agent as its payload.
func startAgent(paths sandbox.Paths, name string, spec *specs.Spec, opts sandbox.Options, self string) (*agentBox, error) {
	if sandbox.HasNamespace(spec, specs.MountNamespace) && !opts.HostRoot {
		spec.Process.Args = []string{"/bin/stepbox", "agent"}
	} else {
		spec.Process.Args = []string{self, "agent"}
	}
	toR, toW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		toR.Close()
		toW.Close()
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		for _, f := range []*os.File{toR, toW, fromR, fromW} {
			f.Close()
		}
		return nil, err
	}
	shellHere, shellThere := os.NewFile(uintptr(fds[0]), "shell"), os.NewFile(uintptr(fds[1]), "shell-agent")
	b := &agentBox{stderr: &lockedBuffer{}}
	opts.Stdin, opts.Stdout, opts.Stderr = toR, fromW, b.stderr
	opts.ExtraFiles = []*os.File{shellThere}
	c, err := sandbox.Create(paths, name, spec, opts)
	toR.Close()
	fromW.Close()
	shellThere.Close()
	if err == nil {
		if err = c.Start(); err != nil {
			c.Delete(true)
		}
	}
	if err != nil {
		toW.Close()
		fromR.Close()
		shellHere.Close()
		return nil, err
	}
	b.c, b.toAgent, b.fromFile, b.from, b.shellEnd = c, toW, fromR, bufio.NewReader(fromR), shellHere
	var hello agentResponse
	if err := b.call(agentRequest{Op: "hello"}, &hello, 10*time.Second); err != nil {
		b.stop()
		return nil, err
	}
	if hello.Version != agentProtocol {
		b.stop()
		return nil, fmt.Errorf("the container's /bin/stepbox speaks %q, not %q: rebuild the root filesystem with 'stepbox rootfs --rebuild'", hello.Version, agentProtocol)
	}
	return b, nil
}

// call sends one request to the agent and reads its answer.
func (b *agentBox) call(req agentRequest, resp *agentResponse, timeout time.Duration) error {
	line, _ := json.Marshal(req)
	if _, err := b.toAgent.Write(append(line, '\n')); err != nil {
		return b.gone(err)
	}
	if err := b.read(resp, timeout); err != nil {
		return err
	}
	if resp.Error != "" && req.Op != "sh" {
		return errors.New(resp.Error)
	}
	return nil
}

func (b *agentBox) read(resp *agentResponse, timeout time.Duration) error {
	_ = b.fromFile.SetReadDeadline(time.Now().Add(timeout))
	line, err := b.from.ReadBytes('\n')
	if err != nil {
		return b.gone(err)
	}
	if err := json.Unmarshal(line, resp); err != nil {
		return fmt.Errorf("the agent answered %q: %w", line, err)
	}
	return nil
}

func (b *agentBox) gone(err error) error {
	if msg := bytes.TrimSpace([]byte(b.stderr.String())); len(msg) > 0 {
		return fmt.Errorf("the container's agent stopped (%v): %s", err, msg)
	}
	return fmt.Errorf("the container's agent stopped: %w", err)
}

func (b *agentBox) inside(cmd string) (Output, error) {
	var r agentResponse
	if err := b.call(agentRequest{Op: "sh", Cmd: cmd, Timeout: 20}, &r, 25*time.Second); err != nil {
		return Output{}, err
	}
	if r.Error != "" && r.Output == "" {
		r.Output = r.Error
	}
	return Output{Cmd: cmd, Output: r.Output, Code: r.Code}, nil
}

func (b *agentBox) snapshot() (nsinspect.Snapshot, error) {
	var r agentResponse
	if err := b.call(agentRequest{Op: "snapshot"}, &r, 10*time.Second); err != nil {
		return nsinspect.Snapshot{}, err
	}
	if r.Snapshot == nil {
		return nsinspect.Snapshot{}, errors.New("the agent sent no snapshot")
	}
	return *r.Snapshot, nil
}

func (b *agentBox) shell(in *os.File, out io.Writer) error {
	line, _ := json.Marshal(agentRequest{Op: "shell"})
	if _, err := b.toAgent.Write(append(line, '\n')); err != nil {
		return b.gone(err)
	}
	// The agent either sends the terminal, or answers with an error and
	// closes nothing: wait for whichever comes first.
	pfd := []unix.PollFd{{Fd: int32(b.shellEnd.Fd()), Events: unix.POLLIN}, {Fd: int32(b.fromFile.Fd()), Events: unix.POLLIN}}
	if _, err := unix.Poll(pfd, 10000); err != nil {
		return err
	}
	if pfd[0].Revents&unix.POLLIN == 0 {
		var r agentResponse
		if err := b.read(&r, 10*time.Second); err != nil {
			return err
		}
		return fmt.Errorf("the agent could not open a shell: %s", r.Error)
	}
	buf, oob := make([]byte, 16), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(b.shellEnd.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return fmt.Errorf("receive the shell's terminal: %w", err)
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(cmsgs) == 0 {
		return errors.New("the agent sent no terminal")
	}
	fds, err := unix.ParseUnixRights(&cmsgs[0])
	if err != nil || len(fds) == 0 {
		return errors.New("the agent sent no terminal")
	}
	unix.SetNonblock(fds[0], true)
	master := os.NewFile(uintptr(fds[0]), "shell-pty")
	defer master.Close()
	if err := bridgeTerminal(in, out, master); err != nil {
		return err
	}
	var r agentResponse
	return b.read(&r, 10*time.Second)
}

func (b *agentBox) stop() error {
	b.toAgent.Close()
	err := b.c.Delete(true)
	b.fromFile.Close()
	b.shellEnd.Close()
	return err
}

// lockedBuffer collects the agent's standard error for error messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() < 64<<10 {
		b.b.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// hostCommand runs cmd with the host's shell, with the directory of self
// (the stepbox binary) first in the PATH.
func hostCommand(cmd, self string) Output {
	c := exec.Command("/bin/sh", "-c", cmd)
	if self != "" {
		c.Env = append(os.Environ(), "PATH="+filepath.Dir(self)+":"+os.Getenv("PATH"))
	}
	out, err := c.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code, out = 127, []byte(err.Error())
	}
	return Output{Cmd: cmd, Output: string(out), Code: code}
}

// Output is what a command printed and how it ended.
type Output struct {
	Cmd    string `json:"cmd"`
	Output string `json:"output"`
	Code   int    `json:"code"`
}
