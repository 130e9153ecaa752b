package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/internal/testutil/imagecheck"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// stepboxBin is the stepbox binary built once for the command-line tests,
// statically as `make build` does (testutil.GoBuild).
var stepboxBin string

// testRoot is the --root every command-line test that starts containers
// uses: their state and the built-in root filesystem (built by the first
// run, through the same code a user's first run takes) live there.
var testRoot string

func TestMain(m *testing.M) {
	// 0755 all the way, so the unprivileged user of the permission tests
	// can run it.
	dir, err := os.MkdirTemp("", "stepbox-cli-test-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		panic(err)
	}
	stepboxBin = filepath.Join(dir, "stepbox")
	// The lean container init and the exec stage beside it, as `make
	// build` puts them.
	for out, pkg := range map[string]string{stepboxBin: "./cmd/stepbox", filepath.Join(dir, sandbox.InitBinaryName): "./cmd/stepbox-init",
		filepath.Join(dir, sandbox.ExecBinaryName): "./cmd/stepbox-exec"} {
		if err := testutil.GoBuild(pkg, out); err != nil {
			os.RemoveAll(dir)
			panic(err.Error())
		}
	}
	testRoot = filepath.Join(dir, "state")
	// No test writes the progress of whoever runs the tests: every
	// command started here keeps it below the test directory.
	os.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg-state"))
	testutil.Main(m, func() {
		// No container may leave its layer or its mark on an image in
		// any store the tests used.
		stores, _ := filepath.Glob(filepath.Join(dir, "*", "lib", "images"))
		var left []string
		for _, s := range stores {
			left = append(left, imagecheck.Leftovers(s)...)
		}
		// Stopped containers' records and the built-in rootfs built
		// under --root by the run tests go with the directory.
		os.RemoveAll(dir)
		if len(left) > 0 {
			fmt.Fprintln(os.Stderr, "LEAK CHECK FAILED: the tests left in their image stores:")
			for _, l := range left {
				fmt.Fprintln(os.Stderr, "  "+l)
			}
			os.Exit(1)
		}
	})
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// cmdTimeout bounds one run of the binary: a hung one is killed and fails
// its test, whose cleanup then removes the containers it left.
const cmdTimeout = 2 * time.Minute

// stepbox runs the binary; prefix (e.g. setpriv ...) runs before it.
func stepbox(t *testing.T, prefix []string, args ...string) result {
	t.Helper()
	return stepboxWith(t, nil, prefix, args...)
}

// stepboxWith is stepbox with stdin as the binary's standard input.
func stepboxWith(t *testing.T, stdin io.Reader, prefix []string, args ...string) result {
	t.Helper()
	argv := append(append(slices.Clone(prefix), stepboxBin), args...)
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en")
	// A container's orphans may hold the output open: Wait does not wait
	// for them past this.
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after %v, killed; stdout %q, stderr %q", argv, cmdTimeout, r.stdout, r.stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", argv, err)
	}
	return r
}

// hostToolsForTests are the commands the run tests call inside a host-tools
// rootfs beyond the required ones (stty and tty for the terminal, dd for the
// OOM kill): the builder's DefaultTools must have them.
var hostToolsForTests = []string{"stty", "tty", "dd"}

// kindRoots are the --root directories of the built-in root filesystem of
// each kind, built once per test binary by builtinRoot.
var kindRoots = map[builtinfs.Source]string{}

// builtinRoot returns a --root whose built-in root filesystem, the one `run`
// uses without --rootfs, is of the kind source: which kind this host would
// pick by default must not decide what a test runs on. The busybox kind is
// made from the host's static busybox; the host-tools kind exactly as a host
// without busybox gets it (busybox hidden from the builder, DefaultTools).
// When t ends, passed or failed, the containers it started there are killed
// and removed.
func builtinRoot(t *testing.T, source builtinfs.Source) string {
	t.Helper()
	root, ok := kindRoots[source]
	if !ok {
		root = buildRoot(t, source)
		kindRoots[source] = root
	}
	removeContainersAtEnd(t, root)
	return root
}

func buildRoot(t *testing.T, source builtinfs.Source) string {
	t.Helper()
	root := testRoot
	var opts builtinfs.BuildOptions
	switch source {
	case builtinfs.SourceBusybox:
		opts = builtinfs.BuildOptions{Source: source, Busybox: []string{testutil.StaticBusybox(t)}}
	case builtinfs.SourceHostTools:
		root += "-" + string(source)
		for _, tool := range hostToolsForTests {
			if !slices.Contains(builtinfs.DefaultTools, tool) {
				t.Fatalf("the run tests need %s in a host-tools rootfs: builtinfs.DefaultTools lacks it", tool)
			}
		}
		opts = builtinfs.BuildOptions{Busybox: []string{}}
	default:
		t.Fatalf("unknown rootfs kind %q", source)
	}
	dir := defaultRootfsDir(sandbox.DefaultPaths(root))
	m, err := builtinfs.Build(dir, stepboxBin, opts)
	if err != nil {
		t.Fatalf("build the %s rootfs: %v", source, err)
	}
	// The command line takes it as its own built-in rootfs, as it is: asked
	// for no kind, it neither rebuilds it nor picks another.
	r := stepbox(t, nil, "--root", root, "rootfs", "--json")
	var got builtinfs.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Source != source || !got.Built.Equal(m.Built) {
		t.Fatalf("stepbox rootfs under %s: %v, %+v (exit %d, %s); built a %s rootfs at %v", root, err, got.Source, r.code, r.stderr, source, m.Built)
	}
	return root
}

// removeContainersAtEnd kills and removes, when t ends, every container t
// started under root: a test that fails or times out half-way leaves
// nothing for the package's leak check. A passing test that leaves a
// container running fails.
func removeContainersAtEnd(t *testing.T, root string) {
	t.Helper()
	paths := sandbox.DefaultPaths(root)
	before := map[string]bool{}
	states, err := sandbox.List(paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		before[s.ID] = true
	}
	t.Cleanup(func() {
		states, err := sandbox.List(paths)
		if err != nil {
			t.Errorf("list containers under %s: %v", root, err)
		}
		var running []string
		for _, s := range states {
			if before[s.ID] {
				continue
			}
			if s.Status != sandbox.Stopped {
				running = append(running, s.ID)
			}
			if err := removeContainer(paths, s.ID); err != nil {
				t.Errorf("remove container %s: %v", s.ID, err)
			}
		}
		if len(running) > 0 && !t.Failed() {
			t.Errorf("the test left containers running: %v (removed now)", running)
		}
	})
}

// removeContainer kills and removes a container, as `stepbox rm --force`
// does; one already gone is no error.
func removeContainer(paths sandbox.Paths, ref string) error {
	c, err := sandbox.Find(paths, ref)
	if errors.Is(err, sandbox.ErrNoContainer) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.Remove(true)
}
