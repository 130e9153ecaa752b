package lessons

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/nsinspect"
)

// envEscapeHelper makes the test binary a helper that chroots into the
// directory the variable names, runs the breakout, and reports on stdout.
const envEscapeHelper = "STEPBOX_TEST_ESCAPE_ROOT"

// TestEscapeHelper is not a test: it is the body of the helper process.
func TestEscapeHelper(t *testing.T) {
	dir := os.Getenv(envEscapeHelper)
	if dir == "" {
		t.Skip("helper process only")
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Println("executable:", err)
		os.Exit(2)
	}
	if err := unix.Chroot(dir); err != nil {
		fmt.Println("chroot:", err)
		os.Exit(2)
	}
	// Inside the jail the test binary's own path does not exist.
	if _, err := os.Stat(self); err == nil {
		fmt.Println("the jail already holds", self)
		os.Exit(2)
	}
	var trace bytes.Buffer
	escaped, err := EscapeChroot(&trace)
	if err != nil {
		fmt.Println("escape:", err)
		os.Exit(2)
	}
	_, statErr := os.Stat(self)
	fmt.Printf("escaped=%v outside-visible=%v\n%s", escaped, statErr == nil, trace.String())
	os.Exit(0)
}

// The breakout gets out of a plain chroot(2): run in a helper process, since
// chroot changes the whole process. pivot_root's side, where it must stay
// in, is proven by the rootfs lesson itself (TestLessonsPass) and its demo.
func TestEscapeChrootGetsOutOfAChroot(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEscapeHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), envEscapeHelper+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "escaped=true outside-visible=true") {
		t.Fatalf("the breakout did not get out of the chroot:\n%s", out)
	}
	for _, call := range []string{`open(".")`, `chroot("bin")`, "fchdir(", `chdir("..") x`, `chroot(".")`, "OUT:"} {
		if !strings.Contains(string(out), call) {
			t.Errorf("the trace lacks %s:\n%s", call, out)
		}
	}
}

func TestPropagationNames(t *testing.T) {
	for _, c := range []struct {
		m    nsinspect.Mount
		want string
	}{
		{nsinspect.Mount{}, "private"},
		{nsinspect.Mount{Shared: 1}, "shared:1"},
		{nsinspect.Mount{Master: 4}, "master:4"},
		{nsinspect.Mount{Shared: 7, Master: 4}, "shared:7 master:4"},
		{nsinspect.Mount{Unbindable: true}, "unbindable"},
	} {
		if got := propagation(c.m); got != c.want {
			t.Errorf("propagation(%+v) = %q, want %q", c.m, got, c.want)
		}
	}
}

// A container mount in one of the host's peer groups is what carries a
// mount across; private mounts and peer groups of its own do not.
func TestSharedWithHost(t *testing.T) {
	host := nsinspect.Snapshot{Mounts: nsinspect.Mounts{Entries: []nsinspect.Mount{
		{MountPoint: "/", Shared: 1}, {MountPoint: "/boot", Shared: 2}, {MountPoint: "/tmp"},
	}}}
	private := nsinspect.Snapshot{Mounts: nsinspect.Mounts{Entries: []nsinspect.Mount{
		{MountPoint: "/"}, {MountPoint: "/boot", Shared: 9}, {MountPoint: "/proc"},
	}}}
	leaky := nsinspect.Snapshot{Mounts: nsinspect.Mounts{Entries: []nsinspect.Mount{
		{MountPoint: "/", Shared: 1}, {MountPoint: "/boot", Shared: 2}, {MountPoint: "/mnt", Shared: 1},
	}}}
	if got := sharedWithHost(&Evidence{Host: host, Outside: private}); len(got) != 0 {
		t.Errorf("a private copy shares %v with the host", got)
	}
	if got := sharedWithHost(&Evidence{Host: host, Outside: leaky}); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("a shared copy shares %v, want [1 2]", got)
	}
	if got := rowPeerGroups.Box(&Evidence{Host: host, Outside: leaky}); got != "3" {
		t.Errorf("mounts in a host peer group = %s, want 3", got)
	}
}

func TestProbeLine(t *testing.T) {
	e := &Evidence{Probes: []ProbeResult{{Where: "inside", Cmd: procFacts, Output: "stepbox\n 4 \n"}}}
	if got := probeLine(e, Inside, procFacts, 0); got != "stepbox" {
		t.Errorf("line 0 = %q", got)
	}
	if got := probeLine(e, Inside, procFacts, 1); got != "4" {
		t.Errorf("line 1 = %q", got)
	}
	if got := probeLine(e, Inside, procFacts, 2); got != "" {
		t.Errorf("line 2 = %q", got)
	}
	if got := probeLine(e, Host, procFacts, 0); got != "" {
		t.Errorf("a probe that did not run gave %q", got)
	}
}
