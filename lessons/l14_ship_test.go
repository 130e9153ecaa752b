package lessons

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// Without a registry program the ship lesson says how to get one, ships
// through a save archive and loads it back, and passes, on both kinds of
// root filesystem; it starts no registry and leaves nothing.
func TestShipWithoutRegistry(t *testing.T) {
	t.Setenv(EnvRegistryBinary, filepath.Join(t.TempDir(), "no-such-registry"))
	_, l, err := Find("ship")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			bin, rootfs := fixture(t, kind)
			leaks := testutil.Snapshot()
			root := searchableDir(t)
			var out bytes.Buffer
			r := &Runner{Lang: i18n.English, Out: &out, Auto: true, Number: 14, Width: WidthNormal,
				Lab: LabConfig{Paths: sandbox.DefaultPaths(root), Rootfs: rootfs, Self: bin}}
			res, err := r.Run(context.Background(), l)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if !res.Passed {
				t.Errorf("the lesson did not pass without a registry:\n%s", out.String())
			}
			if !strings.Contains(out.String(), "apt-get install docker-registry") {
				t.Errorf("the lesson does not say how to get a registry:\n%s", out.String())
			}
			if strings.Contains(out.String(), "127.0.0.1:") && strings.Contains(out.String(), "GET /v2/ answers      200") {
				t.Errorf("a registry answered:\n%s", out.String())
			}
			leftInRun(t, root)
			leaks.Check(t, 5*time.Second)
		})
	}
}

// leftInRun fails for a lesson directory left under the lab's run
// directory.
func leftInRun(t *testing.T, root string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(root, "run", "lesson-ship-*"))
	for _, d := range left {
		t.Errorf("the lesson left %s", d)
	}
}

// Ctrl-C while the registry runs stops it and removes its storage: the
// learner interrupts `stepbox learn ship` at the push, and no registry
// process, no storage, no image of the lesson is left.
func TestShipInterruptedStopsRegistry(t *testing.T) {
	bin, rootfs := fixture(t, builtinfs.SourceBusybox)
	testutil.RequiresCommand(t, "docker-registry")
	leaks := testutil.Snapshot()
	root := searchableDir(t)
	cmd := exec.Command(bin, "learn", "ship", "--auto", "--rootfs", rootfs, "--root", root, "--pause-at", "4")
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en", "TERM=xterm", "XDG_STATE_HOME="+t.TempDir())
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	go io.Copy(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) }), ptmx)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	text := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	deadline := time.Now().Add(60 * time.Second)
	// The pause after step 4 (the push): the registry runs and holds the image.
	for !strings.Contains(text(), "every blob is shipped") || !strings.Contains(text(), wPrompt.En) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("never reached the push:\n%s", text())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	storages, _ := filepath.Glob(filepath.Join(root, "run", "lesson-ship-*", "storage"))
	if len(storages) != 1 {
		t.Fatalf("the registry's storage: %v\n%s", storages, text())
	}
	if running := registriesServing(storages[0]); len(running) != 1 {
		t.Fatalf("registries serving %s: %v", storages[0], running)
	}
	// Ctrl-C, as the terminal in raw mode delivers it: a key.
	ptmx.Write([]byte{3})
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("learn did not end on Ctrl-C:\n%s", text())
	}
	if running := registriesServing(storages[0]); len(running) != 0 {
		t.Errorf("a registry still runs after Ctrl-C: %v", running)
	}
	if _, err := os.Stat(storages[0]); !os.IsNotExist(err) {
		t.Errorf("the registry's storage is still there: %v", err)
	}
	leftInRun(t, root)
	leaks.Check(t, 10*time.Second)
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// registriesServing lists the pids of docker-registry processes whose
// configuration lies beside storage.
func registriesServing(storage string) []string {
	cfg := filepath.Join(filepath.Dir(storage), "config.yml")
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 3 && args[1] == "serve" && args[2] == cfg {
			out = append(out, e.Name())
		}
	}
	return out
}
