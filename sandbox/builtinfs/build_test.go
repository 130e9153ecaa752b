package builtinfs

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

// The test binary stands in for the stepbox binary: the builder copies
// whatever it is given as /bin/stepbox (with its libraries if dynamic).
func stepboxStandIn(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func entries(m *Manifest) map[string]File {
	out := map[string]File{}
	for _, f := range m.Files {
		out[f.Path] = f
	}
	return out
}

// requireBusybox skips a test that builds the busybox kind where the host
// has no static busybox (and fails it under STEPBOX_TEST_ROOT=1: make test
// installs busybox-static).
func requireBusybox(t *testing.T) {
	t.Helper()
	if _, err := findStaticBusybox(nil); err != nil {
		if testutil.Strict() {
			t.Fatalf("busybox-static is needed (as root, `make deps` installs it): %v", err)
		}
		t.Skip(err)
	}
}

// With no kind asked for, a host with a static busybox gets the busybox
// kind.
func TestBuildBusybox(t *testing.T) {
	requireBusybox(t)
	dir := filepath.Join(t.TempDir(), "rootfs", "default")
	bin := stepboxStandIn(t)
	m, err := Build(dir, bin, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != SourceBusybox {
		t.Errorf("source = %s, want busybox-static where busybox-static is installed", m.Source)
	}
	e := entries(m)
	bb := e["/bin/busybox"]
	if bb.Type != "file" || bb.Mode != "0755" || bb.From == "" || len(bb.SHA256) != 64 {
		t.Errorf("/bin/busybox entry: %+v", bb)
	}
	if sum, err := hashFile(mustRoot(t, "/"), strings.TrimPrefix(bb.From, "/")); err != nil || sum != bb.SHA256 {
		t.Errorf("busybox checksum %s, host's %s (%v)", bb.SHA256, sum, err)
	}
	for p, link := range map[string]string{"/bin/sh": "busybox", "/usr/bin/id": "../../bin/busybox", "/sbin/ip": "../bin/busybox"} {
		if got := e[p]; got.Type != "symlink" || got.Link != link {
			t.Errorf("%s = %+v, want a link to %s", p, got, link)
		}
	}
	checkCommonLayout(t, e, "/bin/stepbox")
	if _, err := Verify(dir); err != nil {
		t.Fatal(err)
	}
	again, err := ReadManifest(dir)
	if err != nil || again.Count != len(m.Files) || !again.Built.Equal(m.Built) {
		t.Errorf("ReadManifest = %+v, %v", again, err)
	}
}

// With no kind asked for, a host without a static busybox gets the
// host-tools kind: the choice a fresh machine makes, whatever this host
// has (busybox hidden from the builder, or only a dynamic one offered).
func TestBuildWithoutBusyboxPicksHostTools(t *testing.T) {
	for name, candidates := range map[string][]string{"none": {}, "dynamic": {"/bin/ls"}} {
		dir := filepath.Join(t.TempDir(), "default")
		m, err := Build(dir, "", BuildOptions{Busybox: candidates})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Source != SourceHostTools {
			t.Errorf("%s: source = %s, want %s", name, m.Source, SourceHostTools)
		}
	}
	// Asked for busybox by name, it says why it cannot.
	_, err := Build(filepath.Join(t.TempDir(), "default"), "", BuildOptions{Source: SourceBusybox, Busybox: []string{}})
	if err == nil || !strings.Contains(err.Error(), "no busybox on this host") {
		t.Errorf("busybox asked for, none there: %v", err)
	}
}

func TestBuildHostTools(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "default")
	m, err := Build(dir, stepboxStandIn(t), BuildOptions{Source: SourceHostTools})
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != SourceHostTools {
		t.Errorf("source = %s", m.Source)
	}
	e := entries(m)
	for _, tool := range RequiredTools {
		host := findTool(tool)
		real, err := filepath.EvalSymlinks(host)
		if err != nil {
			t.Fatal(err)
		}
		if f := e[real]; f.Type != "file" || f.From != real {
			t.Errorf("%s: %s not copied: %+v", tool, real, f)
		}
	}
	// The host's links are links in the copy too.
	if st, err := os.Lstat("/bin"); err == nil && st.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink("/bin")
		if f := e["/bin"]; f.Type != "symlink" || f.Link != target {
			t.Errorf("/bin = %+v, want the host's link to %s", f, target)
		}
	}
	libs, err := resolveLibraries("/", findTool("ps"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		real, _ := filepath.EvalSymlinks(l)
		if e[real].Type != "file" {
			t.Errorf("ps needs %s (%s), not in the rootfs", l, real)
		}
	}
	// No set-user-ID bit survives the copy.
	for _, f := range m.Files {
		if f.Type == "file" && (f.Mode[0] == '4' || f.Mode[0] == '2' || f.Mode[0] == '6') {
			t.Errorf("%s keeps mode %s", f.Path, f.Mode)
		}
	}
	stepbox := "/bin/stepbox"
	if e["/bin"].Type == "symlink" {
		stepbox = "/usr/bin/stepbox"
	}
	checkCommonLayout(t, e, stepbox)
	if _, err := Verify(dir); err != nil {
		t.Fatal(err)
	}
}

func checkCommonLayout(t *testing.T, e map[string]File, stepbox string) {
	t.Helper()
	for p, mode := range map[string]string{"/tmp": "1777", "/root": "0700", "/proc": "0555", "/sys": "0555", "/dev": "0755", "/etc": "0755", "/home": "0755", "/var": "0755", "/run": "0755"} {
		if f := e[p]; f.Type != "dir" || f.Mode != mode {
			t.Errorf("%s = %+v, want a directory of mode %s", p, f, mode)
		}
	}
	for _, p := range []string{"/etc/passwd", "/etc/group", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"} {
		if f := e[p]; f.Type != "file" || f.From != "generated" {
			t.Errorf("%s = %+v", p, f)
		}
	}
	if f := e[stepbox]; f.Type != "file" || !strings.HasPrefix(f.From, "stepbox ") || f.Mode != "0755" {
		t.Errorf("%s = %+v", stepbox, f)
	}
}

func mustRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestVerifyFindsChanges(t *testing.T) {
	requireBusybox(t)
	dir := filepath.Join(t.TempDir(), "default")
	if _, err := Build(dir, "", BuildOptions{Source: SourceBusybox}); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(dir, "etc/passwd"), "root::0:0:root:/root:/bin/sh\n") // same size? no: shorter
	if err := os.Remove(filepath.Join(dir, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "etc/hosts")); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(dir)
	if err == nil {
		t.Fatal("Verify found nothing")
	}
	for _, want := range []string{"/etc/passwd: ", "/bin/sh: links to /etc, the manifest says busybox", "/tmp: mode 0755, the manifest says 1777", "/etc/hosts: no such file or directory", "4 of "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Verify error lacks %q:\n%v", want, err)
		}
	}
}

// A manifest written by a hostile container must not make Verify read
// outside the rootfs.
func TestVerifyStaysInsideTheRootfs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "default")
	if _, err := Build(dir, "", BuildOptions{Source: SourceHostTools}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.Files = append(m.Files, File{Path: "/../../../../etc/shadow", Type: "file", Mode: "0640"}, File{Path: "/bin/sh/x", Type: "file", Mode: "0644"})
	m.Count = len(m.Files)
	data, err := m.encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, ManifestName), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(dir, ManifestName), string(data))
	_, err = Verify(dir)
	if err == nil || !strings.Contains(err.Error(), "/../../../../etc/shadow: ") {
		t.Fatalf("Verify = %v", err)
	}
	if strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("Verify hashed a file outside the rootfs: %v", err)
	}
}

func TestDefaultBuildsOnceAndReuses(t *testing.T) {
	requireBusybox(t)
	dir := filepath.Join(t.TempDir(), "default")
	bin := stepboxStandIn(t)
	// Four callers at once: one builds, the others wait and reuse it.
	var wg sync.WaitGroup
	built := make([]*Manifest, 4)
	errs := make([]error, 4)
	for i := range built {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			built[i], errs[i] = Default(dir, bin, BuildOptions{Source: SourceBusybox})
		}(i)
	}
	wg.Wait()
	for i := range built {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !built[i].Built.Equal(built[0].Built) {
			t.Errorf("caller %d got a rootfs built at %v, caller 0 at %v: built twice", i, built[i].Built, built[0].Built)
		}
	}
	if _, err := Verify(dir); err != nil {
		t.Fatal(err)
	}
	// Reused: the header only, quickly.
	start := time.Now()
	m, err := Default(dir, bin, BuildOptions{Source: SourceBusybox})
	took := time.Since(start)
	if err != nil || m.Files != nil || m.Count == 0 || m.Source != SourceBusybox {
		t.Fatalf("Default on a built rootfs = %+v, %v", m, err)
	}
	t.Logf("Default on a built rootfs took %v", took)
	// Another stepbox binary makes it stale; so does asking for the other
	// source.
	other := filepath.Join(t.TempDir(), "stepbox")
	testutil.CopyFile(t, bin, other)
	m2, err := Default(dir, other, BuildOptions{Source: SourceBusybox})
	if err != nil || m2.Files == nil || m2.Stepbox.Path != other {
		t.Errorf("a new stepbox binary did not rebuild: %+v, %v", m2, err)
	}
	m3, err := Default(dir, other, BuildOptions{Source: SourceHostTools})
	if err != nil || m3.Source != SourceHostTools {
		t.Errorf("asking for host-tools did not rebuild: %+v, %v", m3, err)
	}
	if _, err := Verify(dir); err != nil {
		t.Fatal(err)
	}
	// Nothing left beside it but the lock file.
	ents, _ := os.ReadDir(filepath.Dir(dir))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "default default.lock" {
		t.Errorf("beside the rootfs: %v", names)
	}
}

// A build that fails leaves no rootfs and no temporary directory.
func TestBuildFailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "default")
	_, err := Build(dir, "", BuildOptions{Source: SourceHostTools, Tools: []string{"sh", "no-such-tool-stepbox"}})
	if err == nil || !strings.Contains(err.Error(), "the host has no ls, cat, ps, mount, hostname, id, ip, sleep") {
		t.Fatalf("Build = %v", err)
	}
	_, err = Build(dir, "", BuildOptions{Source: SourceBusybox, Busybox: []string{"/bin/ls"}})
	if err == nil || !strings.Contains(err.Error(), "/bin/ls is dynamically linked") {
		t.Fatalf("Build with a dynamic busybox = %v", err)
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 || ents[0].Name() != "default.lock" {
		t.Errorf("left behind: %v", ents)
	}
}

func TestRelativeTo(t *testing.T) {
	for _, tc := range [][3]string{
		{"/bin", "/bin/busybox", "busybox"},
		{"/sbin", "/bin/busybox", "../bin/busybox"},
		{"/usr/bin", "/bin/busybox", "../../bin/busybox"},
		{"/usr/local/sbin", "/bin/busybox", "../../../bin/busybox"},
	} {
		if got := relativeTo(tc[0], tc[1]); got != tc[2] {
			t.Errorf("relativeTo(%s, %s) = %s, want %s", tc[0], tc[1], got, tc[2])
		}
	}
}

// A build killed half-way leaves no rootfs that looks complete, does not let
// a concurrent Default use its files, and is cleaned up by the next build.
func TestBuildKilledHalfWay(t *testing.T) {
	requireBusybox(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "default")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), buildHelperEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The helper waits for ever once filled: whatever fails below, it goes.
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "filled ") {
		t.Fatalf("build helper: %q, %v", line, err)
	}
	tmp := strings.TrimSpace(strings.TrimPrefix(line, "filled "))
	// The helper holds the lock with a full tree in tmp: Default waits.
	done := make(chan error, 1)
	go func() {
		_, err := Default(dir, "", BuildOptions{Source: SourceBusybox})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Default did not wait for the build in progress: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if hostHas(dir) {
		t.Error("the unfinished build is visible at the rootfs's path")
	}
	if !hostHas(filepath.Join(tmp, "bin/busybox")) {
		t.Errorf("the helper's tree %s is not filled", tmp)
	}
	// kill -9: the kernel drops the lock with the process.
	cmd.Process.Kill()
	cmd.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Default still waits after the builder died")
	}
	if hostHas(tmp) {
		t.Errorf("the killed build's directory %s was not cleaned up", tmp)
	}
	if _, err := Verify(dir); err != nil {
		t.Fatal(err)
	}
}

// Default and Build replace only what they built: a directory of someone
// else's files is refused, an empty one is used.
func TestBuildRefusesForeignDirectory(t *testing.T) {
	host := BuildOptions{Source: SourceHostTools}
	dir := filepath.Join(t.TempDir(), "mine")
	testutil.WriteFile(t, filepath.Join(dir, "precious"), "keep me\n")
	for _, f := range []func() error{
		func() error { _, err := Default(dir, "", host); return err },
		func() error { _, err := Build(dir, "", host); return err },
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), "is not a rootfs stepbox built") {
			t.Errorf("err = %v, want a refusal", err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "precious")); err != nil || string(b) != "keep me\n" {
		t.Errorf("the foreign file: %q %v", b, err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Default(empty, "", host); err != nil {
		t.Errorf("an empty directory: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	testutil.WriteFile(t, file, "")
	if _, err := Build(file, "", host); err == nil || !strings.Contains(err.Error(), "is a regular file, not a rootfs directory") {
		t.Errorf("a file: %v", err)
	}
}
