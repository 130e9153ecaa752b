package builtinfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
)

func TestReadELF(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err == nil {
		bb, err := readELF("/bin/busybox")
		if err != nil {
			t.Fatal(err)
		}
		if !bb.Static() {
			t.Errorf("busybox-static looks dynamic: %+v", bb)
		}
	}
	ls, err := readELF("/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	if ls.Static() || ls.Interp == "" || len(ls.Needed) == 0 {
		t.Errorf("ls looks static: %+v", ls)
	}
	if _, err := readELF("/etc/passwd"); err == nil || !strings.Contains(err.Error(), "not an ELF file") {
		t.Errorf("readELF of a text file: %v", err)
	}
	// The test binary: static or not, as it was linked.
	self, err := readELF(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test binary static: %v", self.Static())
}

// resolveLibraries must find what ldd(1), the loader itself, finds.
func TestResolveLibrariesAgreesWithLdd(t *testing.T) {
	ldd := testutil.RequiresCommand(t, "ldd")
	for _, tool := range []string{"/bin/ls", "/bin/ps", "/bin/mount", "/sbin/ip", "/bin/id"} {
		if _, err := os.Stat(tool); err != nil {
			continue
		}
		libs, err := resolveLibraries("/", tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		out, err := exec.Command(ldd, tool).Output()
		if err != nil {
			t.Fatalf("ldd %s: %v", tool, err)
		}
		want := map[string]bool{}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 3 && f[1] == "=>":
				want[canonical(t, f[2])] = true
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				want[canonical(t, f[0])] = true
			}
		}
		got := map[string]bool{}
		for _, l := range libs {
			got[canonical(t, l)] = true
		}
		for w := range want {
			if !got[w] {
				t.Errorf("%s: ldd finds %s, resolveLibraries does not (got %v)", tool, w, libs)
			}
		}
		for g := range got {
			if !want[g] {
				t.Errorf("%s: resolveLibraries finds %s, ldd does not", tool, g)
			}
		}
	}
}

func canonical(t *testing.T, p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A library found through the needing object's RUNPATH with $ORIGIN, in a
// tree laid out unlike the host's.
func TestResolveLibrariesRunpathAndClass(t *testing.T) {
	tree := t.TempDir()
	libs, err := resolveLibraries("/", "/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	// Put ls's libraries in a private directory and the binary next to it;
	// without a RUNPATH they are not found there.
	if err := os.MkdirAll(filepath.Join(tree, "opt/app"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range append([]string{"/bin/ls"}, libs...) {
		testutil.CopyFile(t, l, filepath.Join(tree, "opt/app", filepath.Base(l)))
	}
	if _, err := resolveLibraries(tree, "/opt/app/ls"); err == nil {
		t.Error("libraries found in a private directory without a RUNPATH")
	}
	_, _, err = findLibrary(tree, "libc.so.6", "/opt/app/ls", []string{"$ORIGIN"}, mustELF(t, "/bin/ls"))
	if err != nil {
		t.Errorf("$ORIGIN RUNPATH: %v", err)
	}
	_, _, err = findLibrary(tree, "libc.so.6", "/opt/app/ls", []string{"${ORIGIN}/../app"}, mustELF(t, "/bin/ls"))
	if err != nil {
		t.Errorf("${ORIGIN} RUNPATH: %v", err)
	}
	// A file of the right name but not ELF, or of another class, is
	// passed over.
	testutil.WriteFile(t, filepath.Join(tree, "lib/x86_64-linux-gnu/libfake.so.1"), "not elf")
	if _, _, err := findLibrary(tree, "libfake.so.1", "/opt/app/ls", nil, mustELF(t, "/bin/ls")); err == nil {
		t.Error("a non-ELF file was taken for a library")
	}
}

func mustELF(t *testing.T, p string) *elfInfo {
	t.Helper()
	e, err := readELF(p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
