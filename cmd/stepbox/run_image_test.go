package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// Containers of images, through the binary as a user types it: docker's
// run IMAGE, each container's own layer, export, commit, diff, the
// built-in image.

// imageTar is a busybox root filesystem as a tar (made once), with
// /etc/motd and /etc/deleteme for the tests to change, and a user app
// (uid 1000) with a home.
func imageTar(t *testing.T) string {
	t.Helper()
	if imageTarPath != "" {
		return imageTarPath
	}
	dir := filepath.Join(filepath.Dir(stepboxBin), "image-rootfs")
	testutil.BusyboxRootfs(t, dir, "")
	testutil.WriteFile(t, filepath.Join(dir, "etc/motd"), "the image's motd\n")
	testutil.WriteFile(t, filepath.Join(dir, "etc/deleteme"), "delete me\n")
	testutil.WriteFile(t, filepath.Join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
	testutil.WriteFile(t, filepath.Join(dir, "etc/group"), "root:x:0:\napp:x:1000:\n")
	if err := os.MkdirAll(filepath.Join(dir, "home/app"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(filepath.Join(dir, "home/app"), 1000, 1000)
	p := filepath.Join(filepath.Dir(stepboxBin), "image.tar")
	if out, err := exec.Command("tar", "-C", dir, "-cf", p, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	imageTarPath = p
	return p
}

var imageTarPath string

// importImage imports the test image under ref into testRoot's store with
// the given --change instructions; it is removed when the test ends.
func importImage(t *testing.T, ref string, changes ...string) {
	t.Helper()
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "-c", c)
	}
	if r := run(t, append(args, imageTar(t), ref)...); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	t.Cleanup(func() { run(t, "rmi", "-f", ref) })
}

func ok(t *testing.T, r result) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// The image's config runs the container, and run's flags override it as
// docker's do: Cmd, Entrypoint, Env, WorkingDir, User; the STOPSIGNAL is
// what stop sends, and the exposed ports are recorded.
func TestRunImageConfig(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/config:1", "ENV GREETING=hello", "WORKDIR /srv/app", "USER app",
		`ENTRYPOINT ["/bin/sh", "-c", "echo $GREETING in $(pwd) as $(id -u) home $HOME: $0 $@"]`,
		`CMD ["cmd"]`, "STOPSIGNAL SIGQUIT", "EXPOSE 8080 53/udp")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"test/config:1"}, "hello in /srv/app as 1000 home /home/app: cmd"},
		{[]string{"test/config:1", "other", "words"}, "hello in /srv/app as 1000 home /home/app: other words"},
		{[]string{"-e", "GREETING=bye", "-w", "/tmp", "-u", "0", "test/config:1"}, "bye in /tmp as 0 home /root: cmd"},
		{[]string{"--entrypoint", "/bin/echo", "test/config:1"}, ""},
		{[]string{"--entrypoint", "/bin/echo", "test/config:1", "--", "plain"}, "plain"},
	} {
		args := append([]string{"run", "--rm"}, c.args...)
		if got := strings.TrimSpace(ok(t, run(t, args...))); got != c.want {
			t.Errorf("%v: %q, want %q", args, got, c.want)
		}
	}
	id := detached(t, "--name", "quitter", "--entrypoint", "", "test/config:1", "sh", "-c", "trap 'exit 7' QUIT; trap '' TERM; sleep 60 & wait")
	in := inspectOne(t, id)
	if in.Config.Annotations[sandbox.AnnotationStopSignal] != "SIGQUIT" || in.Config.Annotations[sandbox.AnnotationExposedPorts] != "53/udp,8080/tcp" {
		t.Errorf("annotations %v", in.Config.Annotations)
	}
	if in.Image == "" || in.ImageName != "test/config:1" || in.GraphDriver == nil || in.GraphDriver.Name != "overlay" {
		t.Errorf("inspect: image %q %q, driver %+v", in.Image, in.ImageName, in.GraphDriver)
	}
	ok(t, run(t, "stop", "-t", "5", "quitter"))
	if code := strings.TrimSpace(ok(t, run(t, "wait", "quitter"))); code != "7" {
		t.Errorf("stop sent the image's STOPSIGNAL? the trap's exit code is %s, want 7", code)
	}
	// -P publishes the ports the image exposes, on docker's default
	// bridge network, which goes when the test ends.
	removeNetworkAtEnd(t, testRoot, netconf.DefaultNetwork)
	detached(t, "--name", "exposer", "-P", "--entrypoint", "", "test/config:1", "sleep", "60")
	if out := ok(t, run(t, "port", "exposer")); !strings.Contains(out, "8080/tcp -> 127.0.0.1:") || !strings.Contains(out, "53/udp -> 127.0.0.1:") {
		t.Errorf("port of a container of an image exposing 8080 and 53/udp, run with -P:\n%s", out)
	}
	// By ID and by a prefix of it, as the store resolves them.
	id12 := strings.TrimPrefix(inspectOne(t, id).Image, "sha256:")[:12]
	for _, ref := range []string{"sha256:" + id12, id12} {
		if got := strings.TrimSpace(ok(t, run(t, "run", "--rm", "--entrypoint", "/bin/echo", ref, "by", "id"))); got != "by id" {
			t.Errorf("run %s: %q", ref, got)
		}
	}
	// Not an image, not a path: a word docker would look up as an image.
	r := run(t, "run", "--rm", "no-such-image", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "no such image") || !strings.Contains(r.stderr, "stepbox run -- no-such-image") {
		t.Errorf("run of an unknown image: %+v", r)
	}
}

// layerDir is the one layer of image ref in root's store.
func layerDir(t *testing.T, root, ref string) string {
	t.Helper()
	s, err := image.Open(filepath.Join(sandbox.DefaultPaths(root).Lib, "images"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	l := s.Layers(img)
	return l[len(l)-1].Dir
}

// The built-in root filesystem is an image like any other (images lists
// it), and a container on it writes its own layer only: the image's layer
// and the built-in directory keep every byte, inode and owner through a
// run that writes everywhere it may, makes mount points (-v to a new
// path) and a working directory (-w to a new path), and deletes files.
func TestBuiltinImageIsNeverWritten(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			root := builtinRoot(t, kind)
			vol := t.TempDir()
			// The first run imports the image; then it is checksummed.
			ok(t, runIn(t, root, "run", "--rm", "--", "true"))
			lower := layerDir(t, root, imagefs.BuiltinRef)
			dir := defaultRootfsDir(sandbox.DefaultPaths(root))
			lowerSum, dirSum := sumTree(t, lower), sumTree(t, dir)
			script := `for d in / /bin /etc /root /tmp /usr /var /new; do mkdir -p $d; echo x > $d/written-by-run || exit 1; done
echo changed >> /etc/passwd && rm /bin/sh.ln 2>/dev/null; rm -f /etc/group && echo ok`
			out := ok(t, runIn(t, root, "run", "--rm", "-v", vol+":/mnt/new/target", "-w", "/made/by/w", "--", "/bin/sh", "-c", script))
			if !strings.Contains(out, "ok") {
				t.Fatalf("the writes failed: %s", out)
			}
			if sumTree(t, lower) != lowerSum {
				t.Error("the built-in image's layer changed")
			}
			if sumTree(t, dir) != dirSum {
				t.Error("the built-in root filesystem's directory changed")
			}
			for _, p := range []string{"mnt/new/target", "made/by/w", "written-by-run"} {
				for _, d := range []string{lower, dir} {
					if _, err := os.Lstat(filepath.Join(d, p)); err == nil {
						t.Errorf("%s was made in %s", p, d)
					}
				}
			}
			if !strings.Contains(ok(t, runIn(t, root, "images")), "stepbox-builtin") {
				t.Error("images does not list the built-in image")
			}
		})
	}
}

// sumTree is a checksum of every name, kind, mode, owner, size, inode,
// link target and content under dir.
func sumTree(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %o %d:%d %d %d %d", rel, fi.Mode(), st.Uid, st.Gid, fi.Size(), st.Ino, st.Mtim.Nano())
		if fi.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			line += " -> " + l
		} else if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			c := sha256.New()
			io.Copy(c, f)
			f.Close()
			line += " " + hex.EncodeToString(c.Sum(nil))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(h, l)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// upperOf is a container's upper directory, from inspect.
func upperOf(t *testing.T, ref string) string {
	t.Helper()
	in := inspectOne(t, ref)
	if in.GraphDriver == nil || in.GraphDriver.Data["UpperDir"] == "" {
		t.Fatalf("%s has no upper directory: %+v", ref, in.GraphDriver)
	}
	return in.GraphDriver.Data["UpperDir"]
}

// Two detached containers of one image: each one's writes are its own,
// the image's layer unchanged; stop and start keep the same layer; a
// restart policy runs again on it; rmi is refused while they exist; rm
// removes each one's layer and its mark; then rmi works.
func TestDetachedContainersOnOneImage(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/two:1", `CMD ["sh"]`)
	lower := layerDir(t, testRoot, "test/two:1")
	sum := sumTree(t, lower)
	detached(t, "--name", "left", "test/two:1", "sh", "-c", "echo left > /who; echo left >> /etc/motd; rm /etc/deleteme; sleep 60")
	detached(t, "--name", "right", "test/two:1", "sh", "-c", "echo right > /who; sleep 60")
	upL, upR := upperOf(t, "left"), upperOf(t, "right")
	eventually(t, "both wrote", func() bool {
		a, _ := os.ReadFile(filepath.Join(upL, "who"))
		b, _ := os.ReadFile(filepath.Join(upR, "who"))
		return string(a) == "left\n" && string(b) == "right\n"
	})
	if _, err := os.Stat(filepath.Join(upR, "etc/motd")); err == nil {
		t.Error("right's upper has left's etc/motd")
	}
	diff := ok(t, run(t, "diff", "left"))
	for _, want := range []string{"A /who", "C /etc/motd", "D /etc/deleteme"} {
		if !strings.Contains(diff, want+"\n") {
			t.Errorf("diff left lacks %q:\n%s", want, diff)
		}
	}
	if d := ok(t, run(t, "diff", "right")); strings.TrimSpace(d) != "A /who" {
		t.Errorf("diff right: %q", d)
	}
	if r := run(t, "rmi", "test/two:1"); r.code == 0 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("rmi of an image in use: %+v", r)
	}
	// stop and start: the same layer, with what it wrote.
	ok(t, run(t, "stop", "-t", "1", "left"))
	ok(t, run(t, "start", "left"))
	if up := upperOf(t, "left"); up != upL {
		t.Errorf("started again on %s, was %s", up, upL)
	}
	eventually(t, "left runs again", func() bool { return inspectOne(t, "left").State.Running })
	if c, _ := os.ReadFile(filepath.Join(upL, "etc/motd")); strings.Count(string(c), "left") != 2 {
		t.Errorf("after a start the layer's etc/motd is %q: want both runs' lines", c)
	}
	ok(t, run(t, "rm", "-f", "left", "right"))
	for _, up := range []string{upL, upR} {
		if _, err := os.Stat(filepath.Dir(up)); err == nil {
			t.Errorf("%s is still there after rm", filepath.Dir(up))
		}
	}
	if sumTree(t, lower) != sum {
		t.Error("the image's layer changed")
	}
	ok(t, run(t, "rmi", "test/two:1"))
}

// A restart policy starts the container again on its own layer: each run
// appends to the same file.
func TestRestartPolicyKeepsTheLayer(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/restart:1")
	detached(t, "--name", "again", "--restart", "on-failure:2", "test/restart:1", "sh", "-c", "echo run >> /runs; exit 3")
	eventually(t, "two restarts", func() bool {
		in := inspectOne(t, "again")
		return in.State.RestartCount == 2 && !in.State.Running && in.MonitorPid == 0
	})
	up := upperOf(t, "again")
	if c, _ := os.ReadFile(filepath.Join(up, "runs")); string(c) != "run\nrun\nrun\n" {
		t.Errorf("three runs on one layer wrote %q", c)
	}
}

// A container whose monitor is killed: rm still removes its layer and its
// mark, and no mount is left (the overlay was only ever in its own mount
// namespace).
func TestMonitorCrashThenRm(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/crash:1")
	id := detached(t, "--name", "crashing", "test/crash:1", "sleep", "60")
	in := inspectOne(t, id)
	up := in.GraphDriver.Data["UpperDir"]
	unix.Kill(in.MonitorPid, unix.SIGKILL)
	eventually(t, "the container dies with its monitor", func() bool { return !inspectOne(t, id).State.Running })
	ok(t, run(t, "rm", "crashing"))
	if _, err := os.Stat(filepath.Dir(up)); err == nil {
		t.Errorf("%s is still there", filepath.Dir(up))
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), filepath.Dir(up)) {
		t.Error("an overlay of the container is mounted here")
	}
	ok(t, run(t, "rmi", "test/crash:1"))
}

// export, commit, history and diff through the binary: export is the
// merged view (tar -t against find -xdev inside), commit makes a layer
// history shows with its message, and a container of it sees the change.
func TestExportCommitHistory(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/commit:1")
	inside := ok(t, run(t, "run", "--name", "maker", "test/commit:1", "sh", "-c",
		"echo made > /made; rm /etc/deleteme; find / -xdev | sort"))
	t.Cleanup(func() { run(t, "rm", "-f", "maker") })
	tarFile := filepath.Join(t.TempDir(), "maker.tar")
	ok(t, run(t, "export", "-o", tarFile, "maker"))
	out, err := exec.Command("tar", "-tf", tarFile).Output()
	if err != nil {
		t.Fatal(err)
	}
	var exported, seen []string
	for _, l := range strings.Fields(string(out)) {
		if l = strings.TrimSuffix(l, "/"); l != "." && l != "" {
			exported = append(exported, "/"+strings.TrimPrefix(l, "./"))
		}
	}
	for _, l := range strings.Fields(inside) {
		if l != "/" {
			seen = append(seen, l)
		}
	}
	sort.Strings(exported)
	if !slices.Equal(exported, seen) {
		t.Errorf("export has %d names, the container saw %d:\nexport %v\ninside %v", len(exported), len(seen), exported, seen)
	}
	id := strings.TrimSpace(ok(t, run(t, "commit", "-m", "made a file", "-c", `CMD ["cat", "/made"]`, "maker", "test/committed:1")))
	t.Cleanup(func() { run(t, "rmi", "-f", "test/committed:1") })
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("commit printed %q", id)
	}
	hist := strings.Split(ok(t, run(t, "history", "test/committed:1")), "\n")
	if len(hist) < 3 || !strings.Contains(hist[1], "made a file") || !strings.Contains(hist[1], "echo made") {
		t.Errorf("history:\n%s", strings.Join(hist, "\n"))
	}
	if got := ok(t, run(t, "run", "--rm", "test/committed:1")); got != "made\n" {
		t.Errorf("a container of the commit ran %q", got)
	}
	if got := ok(t, run(t, "run", "--rm", "test/committed:1", "ls", "/etc")); strings.Contains(got, "deleteme") {
		t.Errorf("the commit kept the deleted file: %s", got)
	}
	if d := strings.TrimSpace(ok(t, run(t, "diff", "maker"))); d != "C /etc\nD /etc/deleteme\nA /made" {
		t.Errorf("diff maker:\n%s", d)
	}
	// A container on a plain directory has no layer of its own.
	plain := t.TempDir()
	testutil.BusyboxRootfs(t, plain, "")
	ok(t, run(t, "run", "--name", "plain", "--rootfs", plain, "--", "true"))
	t.Cleanup(func() { run(t, "rm", "-f", "plain") })
	if r := run(t, "diff", "plain"); r.code == 0 || !strings.Contains(r.stderr, "does not run on an image") {
		t.Errorf("diff of a --rootfs container: %+v", r)
	}
}

// A user-namespaced container on an image, and one read-only.
func TestUserNamespaceAndReadOnlyOnImage(t *testing.T) {
	testutil.RequiresRoot(t)
	importImage(t, "test/userns:1")
	got := ok(t, run(t, "run", "--name", "mapped", "--userns", "test/userns:1", "sh", "-c", "id -u; stat -c %u /etc/motd; echo x > /x"))
	t.Cleanup(func() { run(t, "rm", "-f", "mapped") })
	if got != "0\n0\n" {
		t.Errorf("inside: %q", got)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(upperOf(t, "mapped"), "x"), &st); err != nil || st.Uid != sandbox.DefaultIDMap.HostID {
		t.Errorf("the file written inside is owned by %d on the host (%v), want %d", st.Uid, err, sandbox.DefaultIDMap.HostID)
	}
	r := run(t, "run", "--rm", "--read-only", "test/userns:1", "sh", "-c", "grep ' / / ' /proc/self/mountinfo; touch /y")
	if r.code == 0 || !strings.Contains(r.stdout, " - overlay ") || !strings.Contains(r.stdout, " / / ro,") {
		t.Errorf("--read-only: %+v", r)
	}
}

// An image made by skopeo (a docker-archive, from an OCI layout umoci
// built from a directory) loads and runs, with its config.
func TestRunImageFromSkopeo(t *testing.T) {
	testutil.RequiresRoot(t)
	skopeo := testutil.RequiresCommand(t, "skopeo")
	umoci := testutil.RequiresCommand(t, "umoci")
	dir := t.TempDir()
	layout, bundle := filepath.Join(dir, "layout"), filepath.Join(dir, "bundle")
	sh := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	sh(umoci, "init", "--layout", layout)
	sh(umoci, "new", "--image", layout+":v1")
	sh(umoci, "unpack", "--image", layout+":v1", bundle)
	testutil.BusyboxRootfs(t, filepath.Join(bundle, "rootfs"), "")
	testutil.WriteFile(t, filepath.Join(bundle, "rootfs/etc/made-by"), "umoci\n")
	sh(umoci, "repack", "--image", layout+":v1", bundle)
	sh(umoci, "config", "--image", layout+":v1", "--config.cmd", "cat", "--config.cmd", "/etc/made-by", "--config.env", "FROM=skopeo")
	archive := filepath.Join(dir, "skopeo.tar")
	sh(skopeo, "copy", "oci:"+layout+":v1", "docker-archive:"+archive+":test/skopeo:v1")
	ok(t, run(t, "load", "-q", "-i", archive))
	t.Cleanup(func() { run(t, "rmi", "-f", "test/skopeo:v1") })
	if got := ok(t, run(t, "run", "--rm", "test/skopeo:v1")); got != "umoci\n" {
		t.Errorf("the skopeo image ran %q", got)
	}
	if got := ok(t, run(t, "run", "--rm", "test/skopeo:v1", "sh", "-c", "echo $FROM")); got != "skopeo\n" {
		t.Errorf("its Env: %q", got)
	}
}
