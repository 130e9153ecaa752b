package image

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
)

// A container in a user namespace (root inside is uid 100000 outside)
// mounts its own overlay from the mapped layers, as an unprivileged root
// does (with userxattr): the store lets it reach them, inside the files are
// root's, and opaque directories still hide what is below them.
func TestUserNamespaceMountsMappedLayers(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	// The temporary directories above the store are root's 0700: open the
	// way as /var/lib is open.
	for d := s.Dir(); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	loadThree(t, s)
	lower, upper, work, err := s.PrepareRootfsMapped("three:v1", "userns", IDMap{UID: 100000, GID: 100000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.RemoveRootfs("userns")
	target := t.TempDir()
	os.Chmod(target, 0o755)
	os.Chmod(filepath.Dir(target), 0o755)
	// The test binary itself, as root of a new user namespace with a
	// mount namespace of its own: its mounts are slaves of the host's
	// (mount_namespaces(7)), nothing propagates back, and the overlay
	// goes with the process.
	// go test builds it in a directory only root may enter: a copy goes
	// where the namespace's root can run it.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(filepath.Dir(target), "helper")
	if err := os.WriteFile(helper, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helper, "-test.run=^$")
	cmd.Env = append(os.Environ(), usernsHelperEnv+"="+strings.Join(append([]string{target, upper, work}, lower...), "\n"))
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		// Root inside: without it the helper runs as the overflow uid and
		// execve drops its capabilities.
		Credential: &syscall.Credential{Uid: 0, Gid: 0},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("overlay in a user namespace: %v\n%s", err, out)
	}
	// opq's old file is hidden by the opaque directory: this overlay reads
	// user.overlay.opaque.
	want := "etc/b 0:0 b3\nkeep 1000:1000 k\nopq: new"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("inside the user namespace:\n%s\nwant:\n%s", got, want)
	}
	if st := lstat(t, upper+"/new-file"); st.Uid != 100000 {
		t.Errorf("a file written inside is owned by %d on the host, want 100000", st.Uid)
	}
}

const usernsHelperEnv = "STEPBOX_IMAGE_TEST_USERNS_MOUNT"

// usernsHelper runs inside the user namespace: it mounts the overlay
// (target, upper, work, lowers… one a line) with userxattr, as an
// unprivileged root must, and prints what it sees.
func usernsHelper(arg string) {
	f := strings.Split(arg, "\n")
	target, upper, work, lower := f[0], f[1], f[2], f[3:]
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	data, err := OverlayData(lower, upper, work, true)
	if err != nil {
		fail(err)
	}
	if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
		fail(fmt.Errorf("mount overlay: %w", err))
	}
	for _, n := range []string{"etc/b", "keep"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(target, n), &st); err != nil {
			fail(err)
		}
		b, _ := os.ReadFile(filepath.Join(target, n))
		fmt.Printf("%s %d:%d %s\n", n, st.Uid, st.Gid, b)
	}
	ents, err := os.ReadDir(filepath.Join(target, "opq"))
	if err != nil {
		fail(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	fmt.Printf("opq: %s\n", strings.Join(names, " "))
	if err := os.WriteFile(filepath.Join(target, "new-file"), []byte("written"), 0o644); err != nil {
		fail(err)
	}
	os.Exit(0)
}
