package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Some kernels let a process into a time namespace at execve(2) but then
// refuse it any new thread: clone(CLONE_VM|CLONE_THREAD) fails with EINVAL,
// so every multi-threaded program (Go, Java, a threaded server) aborts at
// start. Debian 12's Linux 6.1 does; Linux 6.18 does not. The release that
// fixed it is not known here, so the runtime asks the kernel: it runs this
// very binary, which starts threads as any Go program does, in a time
// namespace, once per boot, and keeps the answer in the state directory.

var (
	timensOnce sync.Once
	timensOK   bool
	timensErr  error
)

// TimeNamespaceThreadsWork reports whether a multi-threaded program can run
// in a time namespace on this kernel.
func TimeNamespaceThreadsWork(p Paths) (bool, error) {
	timensOnce.Do(func() { timensOK, timensErr = probeTimens(p) })
	return timensOK, timensErr
}

func probeTimens(p Paths) (bool, error) {
	var u unix.Utsname
	_ = unix.Uname(&u)
	release := unix.ByteSliceToString(u.Release[:])
	cache := filepath.Join(p.Run, "timens-threads")
	// /run is a tmpfs: the answer goes with the boot that found it.
	if b, err := os.ReadFile(cache); err == nil {
		if rel, verdict, ok := strings.Cut(strings.TrimSpace(string(b)), " "); ok && rel == release {
			return verdict == "ok", nil
		}
	}
	self, err := os.Executable()
	if err != nil {
		return false, err
	}
	spec := DefaultSpec("/", self, probeArg)
	SetNamespaces(spec, []specs.LinuxNamespaceType{specs.TimeNamespace})
	spec.Linux.Seccomp = nil
	spec.Process.Env = []string{probeEnv + "=1"}
	var out bytes.Buffer
	c, err := Create(p, "probe-timens-"+NewID(), spec, Options{Stdout: &out, Stderr: &out, probe: true})
	if err != nil {
		return false, fmt.Errorf("probe the time namespace: %w", err)
	}
	defer c.Delete(true)
	if err := c.Start(); err != nil {
		return false, fmt.Errorf("probe the time namespace: %w", err)
	}
	code, err := c.Wait()
	if err != nil {
		return false, err
	}
	ok := code == 0 && strings.Contains(out.String(), probeOK)
	verdict := "broken"
	if ok {
		verdict = "ok"
	}
	if err := os.WriteFile(cache, []byte(release+" "+verdict+"\n"), 0o644); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ok, err
	}
	return ok, nil
}

const (
	probeArg = "probe-threads"
	probeEnv = "_STEPBOX_PROBE"
	probeOK  = "threads ok"
)

// IsProbe reports whether this process is the time-namespace probe; the
// binary's main function checks it with IsInit.
func IsProbe() bool {
	return len(os.Args) > 1 && os.Args[1] == probeArg && os.Getenv(probeEnv) == "1"
}

// RunProbe starts a few threads, which is all the probe must show it can
// do, and exits. A kernel that refuses them makes the Go runtime abort
// before this runs.
func RunProbe() {
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A blocking system call forces the runtime onto another thread.
			var ts unix.Timespec
			_ = unix.Nanosleep(&unix.Timespec{Nsec: 1e6}, &ts)
		}()
	}
	wg.Wait()
	fmt.Println(probeOK)
	os.Exit(0)
}
