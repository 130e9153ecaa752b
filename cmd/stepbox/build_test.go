package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/stepbox/stepbox/internal/testutil"
)

// stepbox build through the binary, on the real kernel: a multi-stage
// Dockerfile with every instruction, docker's cache rules, bad
// Dockerfiles, a killed build, and the same context built by buildah.

// everyDockerfile uses every instruction stepbox builds.
const everyDockerfile = `# syntax=docker/dockerfile:1
ARG BASE=test/base:1
FROM ${BASE} AS build
ARG WHO=world
SHELL ["/bin/sh", "-c"]
RUN mkdir -p /out && echo "hello $WHO" > /out/greeting \
 && echo built > /out/built
COPY src/ /src/
FROM $BASE
LABEL org.example.name="every step" version=1
ENV APP_HOME=/srv/app PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR $APP_HOME
COPY --from=build /out/greeting ./
COPY --chown=1000:1000 *.txt notes/
ADD files.tar /srv/unpacked/
ADD plain.bin /srv/plain.bin
USER app
EXPOSE 8080 9090/udp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat greeting; id -u; pwd; echo $APP_HOME"]
`

// buildContext writes a context for everyDockerfile.
func buildContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "Dockerfile"), everyDockerfile)
	testutil.WriteFile(t, filepath.Join(dir, "src/main.c"), "int main(){}\n")
	testutil.WriteFile(t, filepath.Join(dir, "src/skip.log"), "left out\n")
	testutil.WriteFile(t, filepath.Join(dir, "a.txt"), "a\n")
	testutil.WriteFile(t, filepath.Join(dir, "b.txt"), "b\n")
	testutil.WriteFile(t, filepath.Join(dir, "secret.txt"), "never copied\n")
	testutil.WriteFile(t, filepath.Join(dir, "plain.bin"), "not a tar\n")
	testutil.WriteFile(t, filepath.Join(dir, ".dockerignore"), "**/*.log\nsecret.txt\n")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{{"inner/x", "x\n"}, {"y", "y\n"}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	if err := os.WriteFile(filepath.Join(dir, "files.tar"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func imageConfig(t *testing.T, ref string) map[string]any {
	t.Helper()
	var out []struct{ Config map[string]any }
	if err := json.Unmarshal([]byte(ok(t, run(t, "image", "inspect", ref))), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return out[0].Config
}

func imageID(t *testing.T, ref string) string {
	t.Helper()
	var out []struct{ Id string }
	if err := json.Unmarshal([]byte(ok(t, run(t, "image", "inspect", ref))), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return out[0].Id
}

func TestBuild(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/base:1")
	dir := buildContext(t)
	t.Cleanup(func() { run(t, "rmi", "-f", "built:every") })
	out := ok(t, run(t, "build", "-t", "built:every", "--build-arg", "WHO=stepbox", dir))
	for _, want := range []string{"Step 1/", "Running in", "Successfully built", "Successfully tagged built:every"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "CACHED") {
		t.Errorf("a first build found steps in the cache:\n%s", out)
	}
	// The result runs with its Entrypoint, Cmd, User, WorkingDir, Env.
	got := ok(t, run(t, "run", "--rm", "built:every"))
	if want := "hello stepbox\n1000\n/srv/app\n/srv/app\n"; got != want {
		t.Errorf("run built:every = %q, want %q", got, want)
	}
	files := ok(t, run(t, "run", "--rm", "--entrypoint", "", "built:every", "sh", "-c",
		"ls -n notes | sed 1d | awk '{print $3\":\"$4, $9}'; ls /srv/unpacked /srv/unpacked/inner; cat /srv/plain.bin; ls /src /out 2>&1; ls /srv/app"))
	for _, want := range []string{"1000:1000 a.txt", "1000:1000 b.txt", "inner", "y", "x", "not a tar", "greeting"} {
		if !strings.Contains(files, want) {
			t.Errorf("the image's files lack %q:\n%s", want, files)
		}
	}
	if strings.Contains(files, "secret.txt") || strings.Contains(files, "built") {
		t.Errorf("the image holds what it should not (.dockerignore, the build stage's other files):\n%s", files)
	}
	cfg := imageConfig(t, "built:every")
	js, _ := json.Marshal(cfg)
	for _, want := range []string{`"User":"app"`, `"WorkingDir":"/srv/app"`, `"StopSignal":"SIGTERM"`, `"8080/tcp":{}`, `"9090/udp":{}`,
		`"/data":{}`, `"org.example.name":"every step"`, `"APP_HOME=/srv/app"`, `"Entrypoint":["/bin/sh","-c"]`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("config lacks %s: %s", want, js)
		}
	}
	// history: the Dockerfile's instructions, newest first.
	hist := ok(t, run(t, "history", "--no-trunc", "built:every"))
	for _, want := range []string{"CMD [\"cat greeting; id -u; pwd; echo $APP_HOME\"]", "COPY --from=build /out/greeting /srv/app/", "WORKDIR /srv/app", "USER app"} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	id := imageID(t, "built:every")

	// Unchanged: every step CACHED, the same image.
	out = ok(t, run(t, "build", "-t", "built:every", "--build-arg", "WHO=stepbox", dir))
	if n, steps := strings.Count(out, "CACHED"), strings.Count(out, "Step ")-2-4; n < steps || imageID(t, "built:every") != id {
		t.Errorf("second build: %d CACHED, id %s (was %s):\n%s", n, imageID(t, "built:every"), id, out)
	}
	// A build arg RUN sees: that RUN and what follows in its stage run.
	out = ok(t, run(t, "build", "-t", "built:every", "--build-arg", "WHO=you", dir))
	if !strings.Contains(out, "Running in") || imageID(t, "built:every") == id {
		t.Errorf("a changed build arg did not run RUN again:\n%s", out)
	}
	// A changed file: the steps before it cached, it and those after built.
	testutil.WriteFile(t, filepath.Join(dir, "b.txt"), "b changed\n")
	out = ok(t, run(t, "build", "-t", "built:every", "--build-arg", "WHO=you", dir))
	before, after, _ := strings.Cut(out, "COPY --chown=1000:1000")
	if !strings.Contains(before, "CACHED") || strings.Contains(after, "CACHED") {
		t.Errorf("after a changed b.txt: want CACHED before its COPY only:\n%s", out)
	}
	// A file .dockerignore leaves out changes nothing.
	testutil.WriteFile(t, filepath.Join(dir, "secret.txt"), "changed\n")
	idNow := imageID(t, "built:every")
	ok(t, run(t, "build", "-t", "built:every", "--build-arg", "WHO=you", dir))
	if imageID(t, "built:every") != idNow {
		t.Error("a file .dockerignore leaves out changed the image")
	}
	// --no-cache: nothing from the cache.
	out = ok(t, run(t, "build", "--no-cache", "-q", "-t", "built:every", "--build-arg", "WHO=you", dir))
	if strings.Contains(out, "CACHED") || !strings.HasPrefix(strings.TrimSpace(out), "sha256:") {
		t.Errorf("--no-cache -q printed %q", out)
	}
	// --target stops at the named stage.
	t.Cleanup(func() { run(t, "rmi", "-f", "built:stage") })
	ok(t, run(t, "build", "--target", "build", "-t", "built:stage", dir))
	if got := ok(t, run(t, "run", "--rm", "built:stage", "cat", "/out/greeting")); got != "hello world\n" {
		t.Errorf("--target build: %q", got)
	}
	// Intermediate images hide from images, show with -a; rmi takes them.
	if a, n := len(strings.Fields(ok(t, run(t, "images", "-a", "-q")))), len(strings.Fields(ok(t, run(t, "images", "-q")))); a <= n {
		t.Errorf("images -a lists %d, images %d: want the intermediate ones with -a only", a, n)
	}
	if ps := ok(t, run(t, "ps", "-a", "-q")); ps != "" {
		t.Errorf("build left containers: %s", ps)
	}
}

// Bad Dockerfiles: one line with the file and line, exit 1, and nothing
// made (no image, no container).
func TestBuildErrors(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/base:1")
	before := ok(t, run(t, "images", "-a", "-q"))
	for _, c := range []struct{ name, file, want string }{
		{"unknown", "FROM test/base:1\nRUN true\nFROBNICATE x\n", "Dockerfile:3: unknown instruction FROBNICATE"},
		{"healthcheck", "FROM test/base:1\nHEALTHCHECK CMD true\n", "Dockerfile:2: HEALTHCHECK is not supported"},
		{"quote", "FROM test/base:1\nENV A=\"open\n", "Dockerfile:2: unclosed quote"},
		{"no from", "RUN true\n", "Dockerfile:1: RUN before the first FROM"},
		{"outside", "FROM test/base:1\nCOPY ../etc/passwd /x\n", "Dockerfile:2: COPY: ../etc/passwd is outside the build context"},
		{"escape", "FROM test/base:1\nCOPY a/../../x /x\n", "Dockerfile:2: COPY: a/../../x is outside the build context"},
		{"link out", "FROM test/base:1\nCOPY out /x\n", "Dockerfile:2: COPY: out leads outside the build context"},
		{"url", "FROM test/base:1\nADD https://example.com/x /x\n", "Dockerfile:2: ADD: https://example.com/x is a URL"},
		{"missing", "FROM test/base:1\nCOPY nothere /x\n", "Dockerfile:2: COPY: nothere: not found"},
		{"run fails", "FROM test/base:1\nRUN echo x > /made; exit 3\n", "Dockerfile:2: the command '/bin/sh -c echo x > /made; exit 3' returned a non-zero code: 3"},
		{"no image", "FROM nosuch/image:1\n", "Dockerfile:1: FROM nosuch/image:1: no image nosuch/image:1 in the store"},
	} {
		dir := t.TempDir()
		testutil.WriteFile(t, filepath.Join(dir, "Dockerfile"), c.file)
		os.Symlink("/etc", filepath.Join(dir, "out"))
		r := run(t, "build", "-t", "bad:1", dir)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want 1 and one line with %q", c.name, r.code, r.stderr, c.want)
		}
	}
	if after := ok(t, run(t, "images", "-a", "-q")); after != before {
		t.Errorf("bad builds left images:\nbefore %s\nafter %s", before, after)
	}
	if ps := ok(t, run(t, "ps", "-a", "-q")); ps != "" {
		t.Errorf("bad builds left containers: %s", ps)
	}
}

// A build stopped in a RUN leaves nothing of that step: with TERM it
// cleans up itself; killed (SIGKILL) the next build removes what it left.
func TestBuildKilled(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/base:1")
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "Dockerfile"), "FROM test/base:1\nRUN echo started; dd if=/dev/zero of=/big bs=1k count=100; sleep 60\n")
	before := ok(t, run(t, "images", "-a", "-q"))
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		// A file, not a pipe: Wait must not wait for the RUN container a
		// killed build leaves running, which holds its output open.
		out, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		cmd := exec.Command(stepboxBin, "--root", testRoot, "build", dir)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if b, _ := os.ReadFile(out.Name()); bytes.Contains(b, []byte("started")) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		cmd.Wait()
		if sig == syscall.SIGKILL {
			// What the killed build left goes at the next build.
			testutil.WriteFile(t, filepath.Join(dir, "Dockerfile"), "FROM test/base:1\nLABEL x=y\n")
			ok(t, run(t, "build", dir))
		}
		if ps := ok(t, run(t, "ps", "-a", "-q")); ps != "" {
			t.Errorf("after %v: containers %s", sig, ps)
		}
		if ents, _ := os.ReadDir(filepath.Join(testRoot, "lib", "build")); len(ents) != 0 {
			t.Errorf("after %v: staging directories %v", sig, ents)
		}
		if after := ok(t, run(t, "images", "-a", "-q")); sig == syscall.SIGTERM && after != before {
			t.Errorf("after %v: images %s, were %s", sig, after, before)
		}
	}
	// The LABEL image of the sweeping build goes.
	for _, id := range strings.Fields(ok(t, run(t, "images", "-q"))) {
		if !strings.Contains(before, id) {
			run(t, "rmi", id)
		}
	}
}

// The same context built by buildah (Debian's, --isolation chroot,
// --network none, a storage of its own removed after) gives the same
// files and the same config; and stepbox's image is read by skopeo and
// umoci.
func TestBuildAgainstBuildah(t *testing.T) {
	testutil.RequiresRoot(t)
	buildah := testutil.RequiresCommand(t, "buildah")
	skopeo := testutil.RequiresCommand(t, "skopeo")
	umoci := testutil.RequiresCommand(t, "umoci")
	importImage(t, "test/base:1")
	dir := buildContext(t)
	work := t.TempDir()
	sh := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { run(t, "rmi", "-f", "built:peer") })
	ok(t, run(t, "build", "-t", "built:peer", dir))
	// The base image as a docker archive for buildah.
	base := filepath.Join(work, "base.tar")
	ok(t, run(t, "save", "-o", base, "test/base:1"))
	mine := filepath.Join(work, "mine.tar")
	ok(t, run(t, "save", "--format", "oci", "-o", mine, "built:peer"))
	storage := []string{"--root", filepath.Join(work, "b-root"), "--runroot", filepath.Join(work, "b-run"), "--storage-driver", "vfs"}
	t.Cleanup(func() {
		exec.Command(buildah, append(storage, "rm", "--all")...).Run()
		exec.Command(buildah, append(storage, "rmi", "--all", "--force")...).Run()
		exec.Command("umount", "-R", filepath.Join(work, "b-root")).Run()
	})
	// buildah's chroot isolation makes no network namespace and refuses
	// --network none; host here touches no firewall (no netns, no
	// bridge), and the Dockerfile's RUN uses no network.
	sh(buildah, append(storage, "bud", "--isolation", "chroot", "--network", "host", "--layers=false",
		"--build-arg", "BASE=docker-archive:"+base, "-t", "peer:1", dir)...)
	theirs := filepath.Join(work, "theirs")
	sh(buildah, append(storage, "push", "peer:1", "oci:"+theirs+":peer")...)
	// skopeo reads ours.
	sh(skopeo, "inspect", "oci-archive:"+mine)
	sh(skopeo, "copy", "oci-archive:"+mine, "oci:"+filepath.Join(work, "ours")+":peer")
	unpack := func(layout, out string) string {
		sh(umoci, "unpack", "--image", layout+":peer", out)
		return filepath.Join(out, "rootfs")
	}
	a := treeList(t, unpack(filepath.Join(work, "ours"), filepath.Join(work, "u-ours")))
	b := treeList(t, unpack(theirs, filepath.Join(work, "u-theirs")))
	if diff := listDiff(a, b); diff != "" {
		t.Errorf("stepbox's files and buildah's differ (- stepbox, + buildah):\n%s", diff)
	}
	cfgOf := func(p string) map[string]any {
		var c struct{ Config map[string]any }
		out := sh(skopeo, "inspect", "--config", "oci:"+p+":peer")
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatal(err)
		}
		return c.Config
	}
	ca, cb := cfgOf(filepath.Join(work, "ours")), cfgOf(theirs)
	for _, k := range []string{"Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "StopSignal"} {
		if fmt.Sprint(ca[k]) != fmt.Sprint(cb[k]) {
			t.Errorf("config %s: stepbox %v, buildah %v", k, ca[k], cb[k])
		}
	}
	la, _ := ca["Labels"].(map[string]any)
	lb, _ := cb["Labels"].(map[string]any)
	for k, v := range la {
		if fmt.Sprint(lb[k]) != fmt.Sprint(v) {
			t.Errorf("label %s: stepbox %v, buildah %v", k, v, lb[k])
		}
	}
}

// treeList describes every file under dir (times left out): name, kind,
// mode, owner, link target, content.
func treeList(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v %d:%d", rel, fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %q", b)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func listDiff(a, b []string) string {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var d []string
	for _, s := range a {
		if !mb[s] {
			d = append(d, "- "+s)
		}
	}
	for _, s := range b {
		if !ma[s] {
			d = append(d, "+ "+s)
		}
	}
	return strings.Join(d, "\n")
}

// On a terminal a build keeps a progress line (the step and its time) below
// the steps and RUN's output; --progress plain, as on a pipe, has none.
func TestBuildProgressOnTerminal(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/base:1")
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "Dockerfile"), "FROM test/base:1\nRUN echo first; sleep 0.5; echo second\nLABEL done=yes\n")
	onTerminal := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(stepboxBin, append([]string{"--root", testRoot, "build", "--no-cache"}, args...)...)
		cmd.Env = append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en")
		ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
		if err != nil {
			t.Fatal(err)
		}
		defer ptmx.Close()
		var out bytes.Buffer
		io.Copy(&out, ptmx) // EIO once the build has exited
		if err := cmd.Wait(); err != nil {
			t.Fatalf("build on a terminal: %v\n%q", err, out.String())
		}
		return out.String()
	}
	t.Cleanup(func() { run(t, "rmi", "-f", "progress:line") })
	out := onTerminal("-t", "progress:line", dir)
	for _, want := range []string{"\x1b[7m[2/3] RUN echo first; sleep 0.5; echo second", "first\r\n", "second\r\n", "Successfully built"} {
		if !strings.Contains(out, want) {
			t.Errorf("a build on a terminal lacks %q:\n%q", want, out)
		}
	}
	if strings.LastIndex(out, "\x1b[7m") > strings.LastIndex(out, "\r\x1b[K") {
		t.Errorf("the progress line is still there after the build:\n%q", out)
	}
	if plain := onTerminal("--progress", "plain", "-t", "progress:line", dir); strings.Contains(plain, "\x1b[") {
		t.Errorf("--progress plain draws on the terminal:\n%q", plain)
	}
}
