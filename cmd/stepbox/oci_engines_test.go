package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/stepbox/stepbox/internal/testutil"
)

// Real engines from Debian's packages driving stepbox as their runtime by
// path: podman (through conmon) and containerd (through its runc shim).
// Each gets storage, state and sockets in a temporary folder, never the
// host's, and podman no network (its default one rewrites the firewall).

// busyboxTar writes a tar of a busybox root filesystem, the image's only
// layer (no network: made from the host's static busybox).
func busyboxTar(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	testutil.BusyboxRootfs(t, rootfs, "")
	tarball := filepath.Join(dir, "busybox.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	return tarball
}

// engine runs one engine command with a deadline; a hung one fails the
// test.
func engine(t *testing.T, env []string, stdin io.Reader, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	cmd.WaitDelay = 2 * time.Second
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s %v: still running after 2 minutes; stderr %q", name, args, r.stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return r
}

// podmanEnv is podman with everything of its own under one temporary
// folder, and stepbox as its runtime.
type podmanEnv struct {
	t    *testing.T
	bin  string
	env  []string
	args []string
}

func newPodman(t *testing.T) *podmanEnv {
	testutil.RequiresRoot(t)
	bin := testutil.RequiresCommand(t, "podman")
	testutil.RequiresCommand(t, "conmon")
	runc := ociBinary(t)
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "containers.conf"),
		"[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n[network]\ndefault_network = \"none\"\n")
	testutil.WriteFile(t, filepath.Join(dir, "storage.conf"),
		fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(dir, "root"), filepath.Join(dir, "runroot")))
	// The runtime's state root comes through the environment, which
	// reaches every call podman makes (its own `delete --force` leaves
	// --runtime-flag options off).
	p := &podmanEnv{t: t, bin: bin,
		env: []string{"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
			"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
			"CONTAINERS_REGISTRIES_CONF=/dev/null", ociRootEnv + "=" + filepath.Join(dir, "runc")},
		args: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"),
			"--tmpdir", filepath.Join(dir, "tmp"), "--storage-driver", "vfs",
			"--cgroup-manager=cgroupfs", "--events-backend=file", "--runtime", runc}}
	// podman's cgroupfs manager puts conmon in libpod_parent/conmon and
	// leaves it: removed here if this test made it.
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/libpod_parent")
	had := map[string]bool{}
	for _, d := range parents {
		had[d] = true
	}
	t.Cleanup(func() {
		// Whatever a failed test left: containers (and their conmon),
		// then podman's own state.
		engine(t, p.env, nil, p.bin, append(p.args, "rm", "--all", "--force", "--time", "0")...)
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/libpod_parent")
		for _, d := range dirs {
			if !had[d] {
				os.Remove(filepath.Join(d, "conmon"))
				os.Remove(d)
			}
		}
	})
	return p
}

func (p *podmanEnv) run(args ...string) result {
	p.t.Helper()
	return engine(p.t, p.env, nil, p.bin, append(p.args, args...)...)
}

func (p *podmanEnv) must(args ...string) string {
	p.t.Helper()
	r := p.run(args...)
	if r.code != 0 {
		p.t.Fatalf("podman %v: exit %d, stderr %q", args, r.code, r.stderr)
	}
	return r.stdout
}

// podmanRun are the flags every container gets here: no network, and the
// explicit limits this host needs (its hard nofile is below podman's).
var podmanRun = []string{"--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"}

func TestPodman(t *testing.T) {
	p := newPodman(t)
	const image = "localhost/busybox:stepbox"
	p.must("import", busyboxTar(t), image)

	t.Run("run --rm", func(t *testing.T) {
		out := p.must(append(append([]string{"run", "--rm"}, podmanRun...), image, "sh", "-c", "echo hello; cat /proc/1/comm; exit 0")...)
		if out != "hello\nsh\n" {
			t.Errorf("podman run --rm: %q, want hello and the payload as PID 1", out)
		}
		r := p.run(append(append([]string{"run", "--rm"}, podmanRun...), image, "sh", "-c", "exit 42")...)
		if r.code != 42 {
			t.Errorf("podman run exit code: %d, want 42", r.code)
		}
		r = p.run(append(append([]string{"run", "--rm"}, podmanRun...), image, "/nope")...)
		if r.code != 127 {
			t.Errorf("podman run of a missing command: exit %d, want 127; stderr %q", r.code, r.stderr)
		}
	})

	t.Run("detached, exec, logs, stop, rm", func(t *testing.T) {
		p.must(append(append([]string{"run", "-d", "--name", "web"}, podmanRun...), image,
			"sh", "-c", "echo started; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done")...)
		eventually(t, "the container logged", func() bool { return strings.Contains(p.must("logs", "web"), "started") })
		r := p.run("exec", "web", "sh", "-c", "echo in exec; exit 7")
		if r.code != 7 || r.stdout != "in exec\n" {
			t.Errorf("podman exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if out := p.must("exec", "web", "cat", "/proc/1/comm"); out != "sh\n" {
			t.Errorf("exec sees PID 1 as %q", out)
		}
		p.must("stop", "-t", "5", "web")
		if logs := p.must("logs", "web"); !strings.Contains(logs, "bye") {
			t.Errorf("the payload did not get SIGTERM from stop: logs %q", logs)
		}
		if st := strings.TrimSpace(p.must("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "web")); st != "exited 0" {
			t.Errorf("after stop: %q", st)
		}
		p.must("rm", "web")
	})

	t.Run("run -it", func(t *testing.T) {
		cmd := exec.Command(p.bin, append(append(append(append([]string{}, p.args...), "run", "-it", "--rm"), podmanRun...), image, "sh")...)
		cmd.Env = append(os.Environ(), p.env...)
		tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
		if err != nil {
			t.Fatal(err)
		}
		defer tty.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		fmt.Fprint(tty, "stty size; echo tty=$(tty); exit 5\r")
		lines := make(chan string, 100)
		go func() {
			s := bufio.NewScanner(tty)
			for s.Scan() {
				lines <- strings.TrimSpace(s.Text())
			}
			close(lines)
		}()
		var seen []string
		var sawTTY, sawSize bool
		timeout := time.After(60 * time.Second)
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				seen = append(seen, l)
				sawTTY = sawTTY || l == "tty=/dev/pts/0"
				sawSize = sawSize || l == "30 100"
			case <-timeout:
				cmd.Process.Signal(syscall.SIGKILL)
				t.Fatalf("podman run -it: no exit in 60 s; saw %q", seen)
			}
		}
		err = <-done
		ee, _ := err.(*exec.ExitError)
		if ee == nil || ee.ExitCode() != 5 || !sawTTY || !sawSize {
			t.Errorf("podman run -it: %v, saw %q; want a terminal at /dev/pts/0 of 30x100 and exit 5", err, seen)
		}
	})
}

func TestContainerd(t *testing.T) {
	testutil.RequiresRoot(t)
	containerd := testutil.RequiresCommand(t, "containerd")
	ctr := testutil.RequiresCommand(t, "ctr")
	testutil.RequiresCommand(t, "containerd-shim-runc-v2")
	runc := ociBinary(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	testutil.WriteFile(t, filepath.Join(dir, "config.toml"), fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "opt")))
	daemon := exec.Command(containerd, "--config", filepath.Join(dir, "config.toml"))
	logf, _ := os.Create(filepath.Join(dir, "containerd.log"))
	defer logf.Close()
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { daemon.Wait(); close(stopped) }()
	t.Cleanup(func() {
		daemon.Process.Signal(syscall.SIGTERM)
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			daemon.Process.Kill()
			<-stopped
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
			t.Logf("containerd's log:\n%s", b)
		}
	})
	c := func(args ...string) result {
		t.Helper()
		return engine(t, nil, nil, ctr, append([]string{"--address", sock, "--namespace", "stepbox-test"}, args...)...)
	}
	eventually(t, "containerd answers", func() bool { return c("version").code == 0 })

	// The image: the busybox layer in docker save's form, made by
	// stepbox's own image store (in a root of its own).
	images := t.TempDir()
	archive := filepath.Join(t.TempDir(), "busybox-image.tar")
	for _, args := range [][]string{{"import", busyboxTar(t), "busybox:stepbox"}, {"save", "-o", archive, "busybox:stepbox"}} {
		if r := stepbox(t, nil, append([]string{"--root", images}, args...)...); r.code != 0 {
			t.Fatalf("stepbox %v: %d %s", args, r.code, r.stderr)
		}
	}
	if r := c("images", "import", "--snapshotter", "native", archive); r.code != 0 {
		t.Fatalf("ctr images import: %d %s", r.code, r.stderr)
	}
	const ref = "docker.io/library/busybox:stepbox"
	runArgs := []string{"run", "--rm", "--snapshotter", "native", "--runtime", "io.containerd.runc.v2",
		"--runc-binary", runc, "--runc-root", filepath.Join(dir, "runc")}
	r := c(append(runArgs, ref, "c1", "sh", "-c", "echo hello from containerd; cat /proc/1/comm; exit 0")...)
	if r.code != 0 || r.stdout != "hello from containerd\nsh\n" {
		t.Fatalf("ctr run: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := c(append(runArgs, ref, "c2", "sh", "-c", "exit 9")...); r.code != 9 {
		t.Errorf("ctr run exit code: %d, want 9 (stderr %q)", r.code, r.stderr)
	}
	// Detached, then exec (the shim waits for the exec'd process as its
	// subreaper), then kill and delete.
	if r := c("run", "-d", "--snapshotter", "native", "--runtime", "io.containerd.runc.v2", "--runc-binary", runc,
		"--runc-root", filepath.Join(dir, "runc"), ref, "c3", "sleep", "60"); r.code != 0 {
		t.Fatalf("ctr run -d: %d %s", r.code, r.stderr)
	}
	// The shim called stepbox, not a runc of the host: the state is
	// stepbox's (runc's has no pidStart).
	if b, err := os.ReadFile(filepath.Join(dir, "runc", "stepbox-test", "c3", "state.json")); err != nil || !strings.Contains(string(b), "pidStart") {
		t.Errorf("no stepbox state for c3 under the shim's runc root: %v %q", err, b)
	}
	if r := c("task", "exec", "--exec-id", "e1", "c3", "sh", "-c", "echo in exec; exit 4"); r.code != 4 || r.stdout != "in exec\n" {
		t.Errorf("ctr task exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := c("task", "kill", "--signal", "SIGKILL", "c3"); r.code != 0 {
		t.Errorf("ctr task kill: %d %s", r.code, r.stderr)
	}
	eventually(t, "the task stopped", func() bool {
		return strings.Contains(c("task", "ls").stdout, "STOPPED") || !strings.Contains(c("task", "ls").stdout, "c3")
	})
	if r := c("task", "delete", "c3"); r.code != 0 {
		t.Errorf("ctr task delete: %d %s", r.code, r.stderr)
	}
	if r := c("container", "delete", "c3"); r.code != 0 {
		t.Errorf("ctr container delete: %d %s", r.code, r.stderr)
	}
}
