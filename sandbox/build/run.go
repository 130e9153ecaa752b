package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/procstat"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

// buildAnnotation marks a RUN step's container with the pid and start
// time of the build that made it, so a later build can remove it if
// that build was killed (sweep).
const buildAnnotation = "io.stepbox.build.owner"

// defaultPath is docker's PATH for an image that sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// run runs RUN in a real container on the stage's image, as `stepbox run
// IMAGE` would make it (its own overlay upper directory over the
// image's layers, every namespace, docker's capabilities and seccomp
// profile, a network namespace with only lo unless --network host), and
// commits its upper directory as the step's layer.
func (b *builder) run(ctx context.Context, s *stage, in Instruction) error {
	bad := func(en, ko string, a ...any) error { return b.errf(in.Line, "RUN: "+en, "RUN: "+ko, a...) }
	if s.img == nil {
		return bad("a scratch stage has no files to run anything in: copy a program in first, or start FROM an image",
			"scratch 스테이지에는 실행할 파일이 없습니다. 먼저 프로그램을 복사하거나 이미지에서 시작하세요")
	}
	argv := b.command(s, in)
	if in.Rest == "" {
		return bad("needs a command", "명령이 필요합니다")
	}
	// The ARGs in scope go into RUN's environment (not into the image),
	// under the ENV of the same name; they are part of the cache key, as
	// docker's "|N K=V" prefix of created_by makes them.
	var argEnv []string
	for _, k := range s.args {
		if _, isEnv := envOf(s.cfg.Env, k); !isEnv {
			argEnv = append(argEnv, k+"="+s.argVal[k])
		}
	}
	createdBy := "RUN " + strings.Join(argv, " ")
	if in.JSON {
		createdBy = "RUN " + jsonList(argv)
	}
	extra := strings.Join(argEnv, "\x00")
	if b.o.HostNetwork {
		extra += "\x00network=host"
	}
	k := key(s.img, createdBy, extra)
	if b.cachedStep(s, k) {
		return nil
	}
	start := time.Now()
	id := sandbox.NewContainerID()
	spec, err := b.runSpec(s, argv, argEnv, id)
	if err != nil {
		return bad("%v", "%v", err)
	}
	b.say(" ---> Running in %s", sandbox.ShortID(id))
	out := io.Writer(b.o.Out)
	if b.o.Quiet {
		out = io.Discard
	}
	code, upper, exclude, cleanup, err := b.runContainer(ctx, s.img, id, spec, out)
	defer cleanup()
	if err != nil {
		return bad("%v", "%v", err)
	}
	if code != 0 {
		return b.errf(in.Line, "the command '%s' returned a non-zero code: %d", "명령 '%s'이(가) 0이 아닌 코드로 끝났습니다: %d", strings.Join(argv, " "), code)
	}
	img, err := b.o.Store.AddStep(string(s.img.ID), image.StepOptions{Config: s.cfg, CreatedBy: createdBy, Upper: upper, Exclude: exclude, Key: k})
	if err != nil {
		return bad("%v", "%v", err)
	}
	s.img = img
	b.say(" ---> %s (%s)", image.ShortID(img.ID), since(start))
	return nil
}

func envOf(env []string, k string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if kk, v, _ := strings.Cut(env[i], "="); kk == k {
			return v, true
		}
	}
	return "", false
}

// runSpec is the RUN container's description: run's defaults, the
// image's Env (with docker's PATH when it has none), WorkingDir and
// User, the ARGs as environment.
func (b *builder) runSpec(s *stage, argv, argEnv []string, id string) (*specs.Spec, error) {
	spec := sandbox.DefaultSpec("", argv...)
	// Some kernels refuse threads in a time namespace (sandbox/timens.go);
	// a build does not need one.
	sandbox.SetNamespace(spec, specs.TimeNamespace, false)
	if b.o.HostNetwork {
		sandbox.SetNamespace(spec, specs.NetworkNamespace, false)
	}
	spec.Hostname = sandbox.ShortID(id)
	env := slices.Clone(s.cfg.Env)
	if _, ok := envOf(env, "PATH"); !ok {
		env = append(env, "PATH="+defaultPath)
	}
	spec.Process.Env = append(env, argEnv...)
	spec.Process.Cwd = "/"
	if s.cfg.WorkingDir != "" {
		spec.Process.Cwd = s.cfg.WorkingDir
	}
	home := "/root"
	if s.cfg.User != "" {
		l, err := b.lowers(s.img)
		if err != nil {
			return nil, err
		}
		u, h, err := sandbox.ResolveUserFS(imagefs.LayersFS(l), s.cfg.User)
		if err != nil {
			return nil, err
		}
		spec.Process.User, home = u, h
	}
	if _, ok := envOf(spec.Process.Env, "HOME"); !ok {
		spec.Process.Env = append(spec.Process.Env, "HOME="+home)
	}
	spec.Annotations = map[string]string{buildAnnotation: owner0()}
	return spec, nil
}

// owner0 is this process as "pid:starttime".
func owner0() string {
	return strconv.Itoa(os.Getpid()) + ":" + strconv.FormatUint(startTime(os.Getpid()), 10)
}

// startTime is a process's start time in clock ticks (proc(5) stat
// field 22), 0 when it is gone: a pid alone can be reused.
func startTime(pid int) uint64 {
	st, _ := procstat.Read(pid)
	return st.StartTime
}

// runContainer creates, starts and waits for the RUN container; its
// upper directory stays until cleanup, which removes the container and
// releases its layer. ctx ends stops it (SIGKILL) and cleans up.
func (b *builder) runContainer(ctx context.Context, img *image.Image, id string, spec *specs.Spec, out io.Writer) (code int, upper string, exclude []string, cleanup func(), err error) {
	cleanup = func() {}
	p, err := imagefs.Prepare(b.o.Store, string(img.ID), id, spec)
	if err != nil {
		return 0, "", nil, cleanup, err
	}
	if p.Rootfs.Overlay == nil {
		_ = sandbox.ReleaseImageRootfs(p.Rootfs, id)
		return 0, "", nil, cleanup, fmt.Errorf("this kernel cannot mount overlayfs here (%s): a build needs each step's changes apart", strings.TrimPrefix(p.Warning, "stepbox: warning: "))
	}
	c, err := sandbox.Create(b.o.Paths, id, spec, sandbox.Options{Image: p.Rootfs, Stdout: out, Stderr: out})
	if err != nil {
		_ = sandbox.ReleaseImageRootfs(p.Rootfs, id)
		return 0, "", nil, cleanup, err
	}
	cleanup = func() { _ = c.Delete(true) }
	if err := c.Start(); err != nil {
		return 0, "", nil, cleanup, err
	}
	done := make(chan int, 1)
	go func() { code, _ := c.Wait(); done <- code }()
	select {
	case code = <-done:
	case <-ctx.Done():
		_ = c.Signal(syscall.SIGKILL)
		<-done
		return 0, "", nil, cleanup, ctx.Err()
	}
	return code, p.Rootfs.Overlay.Upper, imagefs.MountPoints(spec, p.Rootfs.Overlay), cleanup, nil
}

// newWorkDir is this build's directory for files being laid out
// (Paths.Lib/build/<pid>-<n>), with the owner recorded for sweep.
func newWorkDir(p sandbox.Paths) (string, error) {
	dir := filepath.Join(p.Lib, "build")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	d, err := os.MkdirTemp(dir, "b-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(d, "owner"), []byte(owner0()), 0o600); err != nil {
		os.RemoveAll(d)
		return "", err
	}
	return d, nil
}

// alive says whether the build "pid:starttime" still runs.
func alive(owner string) bool {
	pid, st, ok := strings.Cut(strings.TrimSpace(owner), ":")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil {
		return false
	}
	return strconv.FormatUint(startTime(n), 10) == st
}

// sweep removes what builds that were killed (SIGKILL: no chance to
// clean up) left: their RUN containers (the runtime removes the
// container's cgroups, state and upper directory) and their staging
// directories.
func sweep(p sandbox.Paths) {
	states, _ := sandbox.List(p)
	for _, st := range states {
		o, ok := st.Annotations[buildAnnotation]
		if !ok || alive(o) {
			continue
		}
		if c, err := sandbox.Load(p, st.ID); err == nil {
			_ = c.Delete(true)
		}
	}
	dir := filepath.Join(p.Lib, "build")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		o, err := os.ReadFile(filepath.Join(dir, e.Name(), "owner"))
		if err == nil && alive(string(o)) {
			continue
		}
		if err != nil {
			// Made but no owner written yet: only when old.
			if fi, serr := e.Info(); serr != nil || time.Since(fi.ModTime()) < time.Minute {
				continue
			}
		}
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
