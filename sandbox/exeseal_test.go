package sandbox

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
)

// A lean init is used only when nobody but root (or us) can change it or
// swap it in its directory.
func TestTrustedInit(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, tc := range []struct {
		name      string
		file, dir uint32
		fifo      bool
		ok        bool
	}{
		{name: "0755 in 0755", file: 0o755, dir: 0o755, ok: true},
		{name: "0700 in 0700", file: 0o700, dir: 0o700, ok: true},
		{name: "world-writable file", file: 0o757, dir: 0o755},
		{name: "group-writable file", file: 0o775, dir: 0o755},
		{name: "world-writable directory", file: 0o755, dir: 0o777},
		{name: "sticky world-writable directory", file: 0o755, dir: 0o1777, ok: true},
		{name: "a fifo", file: 0o755, dir: 0o755, fifo: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bin")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, InitBinaryName)
			if tc.fifo {
				if err := unix.Mkfifo(p, tc.file); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(p, []byte("\x7fELF"), 0); err != nil {
				t.Fatal(err)
			}
			// unix.Chmod: os.Chmod spells the sticky bit its own way.
			if err := unix.Chmod(p, uint32(tc.file)); err != nil {
				t.Fatal(err)
			}
			if err := unix.Chmod(dir, uint32(tc.dir)); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := trustedInit(f); (err == nil) != tc.ok {
				t.Errorf("trustedInit = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// The fingerprint follows the layout of the configuration: same type, same
// print; a field more, renamed, or of another type, another.
func TestWireFingerprint(t *testing.T) {
	type a struct {
		X int
		Y []string
	}
	type b struct {
		X int
		Y []string
		Z bool
	}
	type c struct {
		X int
		W []string
	}
	type d struct {
		X int32
		Y []string
	}
	fa := typeFingerprint(reflect.TypeFor[a]())
	if fa != typeFingerprint(reflect.TypeFor[a]()) {
		t.Fatal("not stable")
	}
	for name, other := range map[string]reflect.Type{"added": reflect.TypeFor[b](), "renamed": reflect.TypeFor[c](), "retyped": reflect.TypeFor[d]()} {
		if typeFingerprint(other) == fa {
			t.Errorf("a field %s leaves the fingerprint as it was", name)
		}
	}
	if wireFingerprint() == "" {
		t.Fatal("empty fingerprint")
	}
}

// An init whose fingerprint is not the runtime's refuses to read the
// configuration, and says why over the sync socket; also when it is given
// the C minimal init's descriptor after the fingerprint.
func TestInitRefusesAnotherLayout(t *testing.T) {
	for _, env := range []string{"3,4,5,6,0123456789abcdef", "3,4,5,6,0123456789abcdef,6"} {
		t.Run(env, func(t *testing.T) { initRefuses(t, env) })
	}
}

func initRefuses(t *testing.T, env string) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer cfgR.Close()
	defer cfgW.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child")
	defer parent.Close()
	placeholder, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer placeholder.Close()
	cmd := exec.Command(os.Args[0], initArg)
	cmd.ExtraFiles = []*os.File{cfgR, child, placeholder, placeholder}
	cmd.Env = []string{initEnv + "=" + env}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	cfgW.Close() // an init that read on would find nothing
	m, _, ok, err := recvMsg(parent)
	cmd.Wait()
	if err != nil || !ok || m.Type != "error" || !strings.Contains(m.Message, "built from other sources") {
		t.Fatalf("the init said %+v (%v, %v); stderr %q", m, ok, err, stderr.String())
	}
	if cmd.ProcessState.ExitCode() == 0 {
		t.Error("the init exited 0")
	}
}
