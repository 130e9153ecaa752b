package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox"
)

// The OCI command line (runc's), driven through the binary named runc as
// the engines call it, on the real kernel. Every test gives it a temporary
// --root, never /run/stepbox-oci.

var (
	ociOnce sync.Once
	ociRunc string
	ociErr  error
)

// ociBinary returns bin/runc as make builds it: a link named runc to the
// test's stepbox, with stepbox-exec beside it for exec.
func ociBinary(t *testing.T) string {
	t.Helper()
	testutil.RequiresRoot(t)
	ociOnce.Do(func() {
		dir := filepath.Dir(stepboxBin)
		if ociErr = testutil.GoBuild("./cmd/stepbox-exec", filepath.Join(dir, sandbox.ExecBinaryName)); ociErr != nil {
			return
		}
		ociRunc = filepath.Join(dir, "runc")
		ociErr = os.Symlink("stepbox", ociRunc)
	})
	if ociErr != nil {
		t.Fatal(ociErr)
	}
	return ociRunc
}

// ociEnv is one test's runtime: a state root of its own, removed with
// every container left in it when the test ends.
type ociEnv struct {
	t    *testing.T
	bin  string
	root string
}

func newOCIEnv(t *testing.T) *ociEnv {
	e := &ociEnv{t: t, bin: ociBinary(t), root: t.TempDir()}
	t.Cleanup(func() {
		ents, _ := os.ReadDir(e.root)
		for _, d := range ents {
			exec.Command(e.bin, "--root", e.root, "delete", "--force", d.Name()).Run()
		}
	})
	return e
}

// run runs the runtime with args and returns the result.
func (e *ociEnv) run(args ...string) result {
	e.t.Helper()
	cmd := exec.Command(e.bin, append([]string{"--root", e.root}, args...)...)
	// Files, not pipes: a container's process inherits them, as it
	// inherits an engine's, and may hold them long after we return.
	dir := e.t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	err = cmd.Run()
	ob, _ := os.ReadFile(out.Name())
	eb, _ := os.ReadFile(errf.Name())
	r := result{stdout: string(ob), stderr: string(eb)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", args, err)
	}
	return r
}

// must runs args and fails the test unless they succeed.
func (e *ociEnv) must(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
	}
	return r.stdout
}

func (e *ociEnv) state(id string) ociState {
	e.t.Helper()
	var st ociState
	if err := json.Unmarshal([]byte(e.must("state", id)), &st); err != nil {
		e.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

// bundle makes a bundle from `spec` with a busybox rootfs, running args,
// and lets edit change its config first.
func (e *ociEnv) bundle(edit func(*specs.Spec), args ...string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	testutil.BusyboxRootfs(e.t, filepath.Join(dir, "rootfs"), "")
	cmd := exec.Command(e.bin, "spec", "--bundle", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("spec: %v: %s", err, out)
	}
	var s specs.Spec
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(b, &s); err != nil {
		e.t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Readonly = false
	if edit != nil {
		edit(&s)
	}
	b, _ = json.MarshalIndent(&s, "", "  ")
	testutil.WriteFile(e.t, filepath.Join(dir, "config.json"), string(b))
	return dir
}

// oneLine checks that a failure said one thing, in runc's form.
func ociOneLine(t *testing.T, what string, r result, want string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("%s: exit %d, want 1 (runc's); stderr %q", what, r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=error") || !strings.Contains(lines[0], want) {
		t.Errorf("%s: stderr %q, want one error line saying %q", what, r.stderr, want)
	}
}

func TestOCILifecycle(t *testing.T) {
	e := newOCIEnv(t)
	hookOut := filepath.Join(t.TempDir(), "hooks")
	bundle := e.bundle(func(s *specs.Spec) {
		// Each hook appends the status it was given on its stdin.
		hook := func(name string) specs.Hook {
			return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
				`read -r s; echo "` + name + ` $(echo "$s" | sed 's/.*"status":"\([a-z]*\)".*/\1/')" >> ` + hookOut}}
		}
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook("createRuntime")},
			Poststart: []specs.Hook{hook("poststart")}, Poststop: []specs.Hook{hook("poststop")}}
	}, "sleep", "60")
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("create", "--bundle", bundle, "--pid-file", pidFile, "c1")
	st := e.state("c1")
	b, _ := os.ReadFile(pidFile)
	if st.Status != "created" || strconv.Itoa(st.Pid) != string(b) || st.Bundle != bundle {
		t.Fatalf("after create: state %+v, pid file %q", st, b)
	}
	// The runtime-spec's lifecycle: a created container is not deleted
	// without --force (runc and crun delete it).
	ociOneLine(t, "delete of a created container", e.run("delete", "c1"), "is not stopped: created")
	if st := e.state("c1"); st.Status != "created" {
		t.Fatalf("delete without --force changed the container: %+v", st)
	}
	e.must("start", "c1")
	ociOneLine(t, "start of a running container", e.run("start", "c1"), "cannot start an already running container")
	if st := e.state("c1"); st.Status != "running" || st.Pid != st.Pid {
		t.Fatalf("after start: %+v", st)
	}
	// The init is the payload, PID 1 of its namespace: no stepbox process
	// is left beside it.
	if comm := status(t, st.Pid, "Name"); comm != "sleep" {
		t.Errorf("the container's pid %d is %q, want the payload itself", st.Pid, comm)
	}
	r := e.run("exec", "c1", "sh", "-c", "echo in $(hostname); exit 7")
	if r.code != 7 || strings.TrimSpace(r.stdout) != "in stepbox" {
		t.Errorf("exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	var pids []int
	if err := json.Unmarshal([]byte(e.must("ps", "--format", "json", "c1")), &pids); err != nil || len(pids) != 1 || pids[0] != st.Pid {
		t.Errorf("ps --format json: %v %v, want [%d]", pids, err, st.Pid)
	}
	e.must("pause", "c1")
	if s := e.state("c1").Status; s != "paused" {
		t.Errorf("after pause: %s", s)
	}
	if s := status(t, st.Pid, "State"); !strings.HasPrefix(s, "S") && !strings.HasPrefix(s, "D") {
		t.Logf("paused process state %q", s)
	}
	e.must("resume", "c1")
	var ev ociEvent
	if err := json.Unmarshal([]byte(e.must("events", "--stats", "c1")), &ev); err != nil || ev.Type != "stats" {
		t.Errorf("events --stats: %+v %v", ev, err)
	}
	e.must("update", "--pids-limit", "50", "c1")
	e.must("kill", "c1", "KILL")
	eventually(t, "the container stopped", func() bool { return e.state("c1").Status == "stopped" })
	ociOneLine(t, "kill of a stopped container", e.run("kill", "c1"), "container not running")
	e.must("delete", "c1")
	ociOneLine(t, "state of a deleted container", e.run("state", "c1"), "container does not exist")
	got, _ := os.ReadFile(hookOut)
	if want := "createRuntime creating\npoststart running\npoststop stopped\n"; string(got) != want {
		t.Errorf("hooks saw %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(e.root, "c1")); err == nil {
		t.Error("the state directory is still there after delete")
	}
}

// TestOCIRunExitCode: run in the foreground exits with the payload's code
// and leaves nothing.
func TestOCIRunExitCode(t *testing.T) {
	e := newOCIEnv(t)
	bundle := e.bundle(nil, "sh", "-c", "echo out; exit 3")
	r := e.run("run", "--bundle", bundle, "r1")
	if r.code != 3 || strings.TrimSpace(r.stdout) != "out" {
		t.Fatalf("run: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if out := e.must("list", "-q"); out != "" {
		t.Errorf("list after run: %q", out)
	}
}

// TestOCIBadInput: runc's exit code (1), one line, and nothing left.
func TestOCIBadInput(t *testing.T) {
	e := newOCIEnv(t)
	good := e.bundle(nil, "sleep", "60")
	bad := func(name string, edit func(dir string)) string {
		dir := e.bundle(nil, "true")
		edit(dir)
		return dir
	}
	cases := []struct {
		what   string
		bundle string
		want   string
	}{
		{"malformed config.json", bad("malformed", func(d string) {
			testutil.WriteFile(t, filepath.Join(d, "config.json"), `{"ociVersion": "1.2.0", "process": {`)
		}), "parse "},
		{"a value of the wrong type", bad("type", func(d string) {
			testutil.WriteFile(t, filepath.Join(d, "config.json"), `{"ociVersion": "1.2.0", "process": {"args": "sh"}}`)
		}), "line 1"},
		{"an unknown namespace type", bad("ns", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, "config.json"))
			testutil.WriteFile(t, filepath.Join(d, "config.json"), strings.Replace(string(b), `"type": "uts"`, `"type": "utsx"`, 1))
		}), `unknown namespace type`},
		{"an unknown capability", bad("cap", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, "config.json"))
			testutil.WriteFile(t, filepath.Join(d, "config.json"), strings.Replace(string(b), `"CAP_KILL"`, `"CAP_KILLL"`, 1))
		}), "CAP_KILLL"},
		{"a bundle without its rootfs", bad("rootfs", func(d string) { os.RemoveAll(filepath.Join(d, "rootfs")) }), "no root filesystem"},
		{"an unsupported field", bad("rdt", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, "config.json"))
			testutil.WriteFile(t, filepath.Join(d, "config.json"), strings.Replace(string(b), `"linux": {`, `"linux": {"intelRdt": {"closID": "x"},`, 1))
		}), "linux.intelRdt"},
	}
	for _, c := range cases {
		r := e.run("create", "--bundle", c.bundle, "bad")
		ociOneLine(t, c.what, r, c.want)
		if _, err := os.Stat(filepath.Join(e.root, "bad")); err == nil {
			t.Errorf("%s: a state directory is left", c.what)
		}
	}
	e.must("create", "--bundle", good, "b1")
	ociOneLine(t, "an id in use", e.run("create", "--bundle", good, "b1"), "container with given ID already exists")
	e.must("start", "b1")
	ociOneLine(t, "start of a running container", e.run("start", "b1"), "already running")
	ociOneLine(t, "delete of a running container", e.run("delete", "b1"), "is not stopped: running")
	ociOneLine(t, "kill of an unknown container", e.run("kill", "nope", "KILL"), "container does not exist")
	ociOneLine(t, "an unknown signal", e.run("kill", "b1", "SIGNOPE"), "unknown signal")
	e.must("delete", "--force", "b1")
	if r := e.run("delete", "--force", "nope"); r.code != 0 {
		t.Errorf("delete --force of an unknown container: exit %d (runc: 0)", r.code)
	}
	// --log --log-format json: the line goes to the log as JSON, and to
	// standard error as it is (containerd and podman read the log).
	logf := filepath.Join(t.TempDir(), "log.json")
	r := e.run("--log", logf, "--log-format", "json", "state", "nope")
	var entry struct{ Level, Msg, Time string }
	b, _ := os.ReadFile(logf)
	if err := json.Unmarshal(b, &entry); err != nil || entry.Level != "error" || entry.Msg != "container does not exist" {
		t.Errorf("log: %q (%v)", b, err)
	}
	if r.code != 1 || strings.TrimSpace(r.stderr) != "container does not exist" {
		t.Errorf("with --log: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := e.run("--systemd-cgroup", "list"); r.code != 1 || !strings.Contains(r.stderr, "systemd") {
		t.Errorf("--systemd-cgroup: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestOCIConsoleSocket: process.terminal with --console-socket hands the
// terminal's master to the caller's socket, as runc does for conmon and
// containerd's shim.
func TestOCIConsoleSocket(t *testing.T) {
	e := newOCIEnv(t)
	bundle := e.bundle(func(s *specs.Spec) { s.Process.Terminal = true }, "sh", "-c", "echo tty=$(tty); sleep 60")
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan *os.File, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			got <- nil
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			got <- nil
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			got <- nil
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		got <- os.NewFile(uintptr(fds[0]), "console")
	}()
	ociOneLine(t, "a terminal without a console socket", e.run("create", "--bundle", bundle, "t0"), "console socket")
	e.must("create", "--bundle", bundle, "--console-socket", sock, "t1")
	con := <-got
	if con == nil {
		t.Fatal("no terminal came over the console socket")
	}
	defer con.Close()
	e.must("start", "t1")
	con.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(con).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "tty=/dev/pts/0" {
		t.Errorf("read the terminal: %q, %v", line, err)
	}
	e.must("delete", "--force", "t1")
}
