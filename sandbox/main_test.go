package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
)

// The test binary is also the container init: Create re-executes it, and
// the package's init function runs it (init_linux.go).
func TestMain(m *testing.M) {
	if IsProbe() {
		RunProbe()
	}
	if IsMonitor() {
		RunMonitor()
	}
	testutil.Main(m, func() {
		if busyboxRoot != "" {
			os.RemoveAll(busyboxRoot)
		}
		removeExecStage() // exec_test.go
	})
}

// testRootfs builds a busybox root filesystem once per test binary. busybox
// must be static: the container has no libraries.
var busyboxRoot string

func rootfsDir(t *testing.T) string {
	t.Helper()
	if busyboxRoot != "" {
		return busyboxRoot
	}
	bb := testutil.StaticBusybox(t)
	dir, err := os.MkdirTemp("", "stepbox-sandbox-rootfs-")
	if err != nil {
		t.Fatal(err)
	}
	// Root of a user namespace is an unprivileged uid here: it must be able
	// to walk into the rootfs.
	os.Chmod(dir, 0o755)
	for _, d := range []string{"bin", "proc", "sys", "dev", "etc", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "ls", "cat", "sleep", "echo", "hostname", "id", "ps", "touch",
		"mount", "readlink", "stat", "true", "false", "mkdir", "wc", "grep", "kill", "env", "pwd"} {
		os.Symlink("busybox", filepath.Join(dir, "bin", applet))
	}
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\nnobody:x:65534:\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bin/notexec"), []byte("#!/bin/sh\n"), 0o644)
	busyboxRoot = dir
	return dir
}
