package testutil

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// BuildStepbox builds the stepbox binary, static as `make build` does, into
// dir and returns its path, with stepbox-init and stepbox-exec beside it as
// make puts them. Tests that drive the command line or need /bin/stepbox
// inside a root filesystem use it.
func BuildStepbox(dir string) (string, error) {
	for _, pkg := range []string{"./cmd/stepbox-init", "./cmd/stepbox-exec", "./cmd/stepbox"} {
		if err := GoBuild(pkg, filepath.Join(dir, filepath.Base(pkg))); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "stepbox"), nil
}

// GoBuild builds the package pkg (relative to the module's root, as
// "./cmd/stepbox") into out, static as `make build` builds it: without cgo,
// but for the exec stage, which needs it for its C constructor
// (sandbox/nsenter) and is linked statically with the C library.
func GoBuild(pkg, out string) error {
	_, file, _, _ := runtime.Caller(0)
	module := filepath.Join(filepath.Dir(file), "..", "..")
	args := []string{"build", "-trimpath", "-o", out}
	cgo := "CGO_ENABLED=0"
	if pkg == "./cmd/stepbox-exec" {
		args = append(args, "-tags", "osusergo,netgo", "-ldflags", "-linkmode external -extldflags -static")
		cgo = "CGO_ENABLED=1"
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = module
	cmd.Env = append(os.Environ(), cgo)
	if b, err := cmd.CombinedOutput(); err != nil {
		return &buildError{pkg: pkg, out: string(b), err: err}
	}
	return nil
}

type buildError struct {
	pkg, out string
	err      error
}

func (e *buildError) Error() string { return "go build " + e.pkg + ": " + e.err.Error() + "\n" + e.out }

// StaticBusybox returns the host's busybox, which must be static: a root
// filesystem made of it has no libraries. Without busybox the test skips (or
// fails under STEPBOX_TEST_ROOT=1); a dynamic busybox fails it.
func StaticBusybox(t testing.TB) string {
	t.Helper()
	bb := RequiresCommand(t, "busybox")
	if !IsStatic(bb) {
		t.Fatalf("busybox at %s is not static: install busybox-static (%s)", bb, installHint)
	}
	return bb
}

// BusyboxRootfs makes a minimal root filesystem in dir from the host's static
// busybox (StaticBusybox): every applet, /etc/passwd and /etc/group, /tmp,
// and the stepbox binary as /bin/stepbox when given.
func BusyboxRootfs(t testing.TB, dir, stepbox string) {
	t.Helper()
	bb := StaticBusybox(t)
	for _, d := range []string{"bin", "proc", "sys", "dev", "etc", "tmp", "root", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	CopyFile(t, bb, filepath.Join(dir, "bin/busybox"))
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			os.Symlink("busybox", filepath.Join(dir, "bin", applet))
		}
	}
	if stepbox != "" {
		CopyFile(t, stepbox, filepath.Join(dir, "bin/stepbox"))
	}
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\nnobody:x:65534:\n"), 0o644)
}

// WriteFile writes content to the host file p (mode 0644), making its
// directories.
func WriteFile(t testing.TB, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// CopyFile copies the host file src to dst with src's permissions.
func CopyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// IsStatic reports whether the ELF file at path needs no program
// interpreter (no PT_INTERP), so it runs in a root filesystem without
// libraries.
func IsStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
