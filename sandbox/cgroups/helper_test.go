package cgroups

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The real-kernel tests put helper processes in cgroups: the test binary
// itself, started again with STEPBOX_CGROUPS_HELPER naming what to do. Each
// helper first waits for a byte on stdin, so the test can move it into the
// cgroup before it starts to use memory or CPU.

const helperEnv = "STEPBOX_CGROUPS_HELPER"

// helperMain runs the test binary as a helper when the environment asks for
// one, and returns otherwise.
func helperMain() {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	var b [1]byte
	if _, err := os.Stdin.Read(b[:]); err != nil {
		os.Exit(3)
	}
	switch mode {
	case "hog":
		// Touch 256 MiB, a page at a time, and keep it: far above the
		// limits the tests set, so the OOM killer must come.
		var keep [][]byte
		for i := 0; i < 256; i++ {
			chunk := make([]byte, 1<<20)
			for j := 0; j < len(chunk); j += 4096 {
				chunk[j] = 1
			}
			keep = append(keep, chunk)
		}
		fmt.Println("allocated", len(keep), "MiB and was not killed")
		os.Exit(0)
	case "hold":
		// Touch 16 MiB, then wait to be killed.
		chunk := make([]byte, 16<<20)
		for j := 0; j < len(chunk); j += 4096 {
			chunk[j] = 1
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
		fmt.Println(chunk[0])
	case "spin":
		// Until it has had d of CPU time, not of the clock: however busy
		// the machine, it then runs into its quota.
		d, _ := time.ParseDuration(os.Getenv("STEPBOX_CGROUPS_SPIN"))
		var ts unix.Timespec
		for ts.Nano() < d.Nanoseconds() {
			if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
				os.Exit(4)
			}
		}
		os.Exit(0)
	case "sleep":
		time.Sleep(time.Hour)
	}
	os.Exit(2)
}

// helper is a started helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *lockedBuffer
	done  chan error
}

// startHelper starts the test binary as helper mode, waiting for release.
func startHelper(t *testing.T, mode string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode), env...)
	return start(t, cmd)
}

// startShell starts sh -c script; the script should begin with "read x" to
// wait for release.
func startShell(t *testing.T, script string) *helper {
	t.Helper()
	return start(t, exec.Command("sh", "-c", script))
}

func start(t *testing.T, cmd *exec.Cmd) *helper {
	t.Helper()
	return startBy(t, cmd, cmd.Start)
}

// startBy is start with the process started by starter, which calls
// cmd.Start its own way.
func startBy(t *testing.T, cmd *exec.Cmd, starter func() error) *helper {
	t.Helper()
	h := &helper{cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = h.out, h.out
	// Children of a shell helper may keep the output pipe open after the
	// shell ends; Wait should not wait for them.
	cmd.WaitDelay = time.Second
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := starter(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-h.done
	})
	return h
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

// release lets the helper start its work.
func (h *helper) release(t *testing.T) {
	t.Helper()
	if _, err := h.stdin.Write([]byte("g\n")); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the helper to end, at most d.
func (h *helper) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(d):
		t.Fatalf("helper %v still running after %s; output:\n%s", h.cmd.Args, d, h.out.String())
		return nil
	}
}

// lockedBuffer collects a helper's output from the goroutine os/exec copies
// it in.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
