package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// The built rootfs, both kinds, really runs: a shell in new namespaces on it
// lists /, names its user and host, and sees only its own processes. The
// busybox kind is made from the host's static busybox; the host-tools kind
// as a host without busybox gets it by default (busybox hidden from the
// builder).
func TestBuiltRootfsRuns(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, source := range []builtinfs.Source{builtinfs.SourceBusybox, builtinfs.SourceHostTools} {
		t.Run(string(source), func(t *testing.T) {
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			opts := builtinfs.BuildOptions{Busybox: []string{}}
			if source == builtinfs.SourceBusybox {
				opts = builtinfs.BuildOptions{Source: source, Busybox: []string{testutil.StaticBusybox(t)}}
			}
			leaks := testutil.Snapshot()
			dir := filepath.Join(t.TempDir(), "default")
			m, err := builtinfs.Build(dir, self, opts)
			if err != nil {
				t.Fatal(err)
			}
			if m.Source != source {
				t.Fatalf("built a %s rootfs, want %s", m.Source, source)
			}
			o := Options{Root: dir, Mounts: DefaultMounts(), MaskedPaths: DefaultMaskedPaths(), ReadonlyPaths: DefaultReadonlyPaths(), Readonly: true}
			_, out := runHelper(t, nsConfig{cgroupNS: true}, helperConfig{Options: o, Hostname: "stepbox-test",
				Exec: []string{"sh", "-c", "ls / && id && hostname && ps -ef && ls -l /bin/stepbox && cat /etc/os-release"}})
			t.Logf("output:\n%s", out)
			for _, want := range []string{"bin\n", "etc\n", "proc\n", "tmp\n", "uid=0(root) gid=0(root)", "stepbox-test\n", "ID=stepbox", string(source)} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			// ps: PID 1 is the shell, and nothing of the host shows.
			var pids []string
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) > 3 && (f[0] == "1" || f[1] == "1") && strings.Contains(line, "sh -c") {
					pids = append(pids, line)
				}
				if strings.Contains(line, "kthreadd") {
					t.Errorf("ps shows a host process: %s", line)
				}
			}
			if len(pids) != 1 {
				t.Errorf("ps does not show the shell as PID 1")
			}
			if _, err := builtinfs.Verify(dir); err != nil {
				t.Errorf("the container changed its read-only rootfs: %v", err)
			}
			leaks.Check(t, time.Second)
		})
	}
}
