package image

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
	// mount(2) straight from python: util-linux's mount(8) second-guesses
	// a root that is not the host's.
	script := fmt.Sprintf(`python3 -c 'import ctypes,os,sys; libc = ctypes.CDLL(None, use_errno=True); r = libc.mount(b"overlay", sys.argv[1].encode(), b"overlay", 0, sys.argv[2].encode()); r == 0 or sys.exit("mount: " + os.strerror(ctypes.get_errno()))' %[4]s lowerdir=%[1]s,upperdir=%[2]s,workdir=%[3]s,userxattr &&
stat -c '%%u:%%g %%n' %[4]s/etc/b %[4]s/keep && cat %[4]s/etc/b && ls %[4]s/opq && echo written > %[4]s/new-file`,
		strings.Join(lower, ":"), upper, work, target)
	// A new mount namespace owned by the new user namespace: its mounts
	// are slaves of the host's (mount_namespaces(7)), nothing propagates
	// back, and the overlay goes with the process.
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		// Root inside: without it the shell runs as the overflow uid and
		// execve drops its capabilities.
		Credential: &syscall.Credential{Uid: 0, Gid: 0},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("overlay in a user namespace: %v\n%s", err, out)
	}
	// opq's old file is hidden by the opaque directory: this overlay
	// reads user.overlay.opaque.
	want := "0:0 " + target + "/etc/b\n1000:1000 " + target + "/keep\nb3new" // b3 has no newline
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("inside the user namespace:\n%s\nwant:\n%s", got, want)
	}
	if st := lstat(t, upper+"/new-file"); st.Uid != 100000 {
		t.Errorf("a file written inside is owned by %d on the host, want 100000", st.Uid)
	}
}
