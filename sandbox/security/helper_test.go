package security

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/testutil"
)

// The real-kernel tests re-execute the test binary twice: as a helper that
// plays the container's init (it applies a scenario with this package, on a
// locked thread, then calls execve), and, after that execve, as the probe
// that plays the payload and reports what it may do.
const (
	helperEnv  = "STEPBOX_SECURITY_HELPER"   // a JSON scenario
	probeEnv   = "STEPBOX_SECURITY_PROBE"    // which probe to run
	hostUTSEnv = "STEPBOX_SECURITY_HOST_UTS" // the test's UTS namespace: never set its hostname
	hostNetEnv = "STEPBOX_SECURITY_HOST_NET" // the test's network namespace: never bind in it
)

// scenario is what the helper applies, in init's order.
type scenario struct {
	User       specs.User
	Caps       *specs.LinuxCapabilities
	NoNewPrivs bool
	Seccomp    bool // docker's default profile for Caps
	// SeccompLate loads the filter after Finalize even without
	// no_new_privs, to show the kernel refusing it.
	SeccompLate bool
	Rlimits     []specs.POSIXRlimit
	// RlimitsLate are set after Finalize, with the payload's privileges.
	RlimitsLate []specs.POSIXRlimit
	Exec        string   // the payload to execve; "" stops after applying
	Args        []string // its argv; [Exec] when empty
	Probe       string   // "calls" or "euid"; the status is always reported
}

// report is what the helper (on failure) or the probe prints as JSON.
type report struct {
	Stage  string            `json:",omitempty"` // the helper step that failed
	Error  string            `json:",omitempty"`
	Hint   string            `json:",omitempty"`
	Status map[string]string `json:",omitempty"` // /proc/self/status
	Limits map[string]string `json:",omitempty"` // /proc/self/limits: "soft hard"
	Errno  map[string]int    `json:",omitempty"` // probe calls: 0 or the errno
	Int80  map[string]int32  `json:",omitempty"` // raw results through int $0x80
	Pid    int               `json:",omitempty"`
	Euid   int
}

func runHelperOrProbe() {
	if s := os.Getenv(helperEnv); s != "" {
		helperMain(s)
		os.Exit(0)
	}
	if p := os.Getenv(probeEnv); p != "" {
		probeMain(p)
		os.Exit(0)
	}
}

func emit(r report) {
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func helperMain(s string) {
	runtime.LockOSThread() // everything below is per thread, and execve too
	var sc scenario
	fail := func(stage string, err error) {
		emit(report{Stage: stage, Error: err.Error(), Hint: hint.Of(err)})
		os.Exit(0)
	}
	if err := json.Unmarshal([]byte(s), &sc); err != nil {
		fail("scenario", err)
	}
	if err := SetRlimits(sc.Rlimits); err != nil {
		fail("rlimits", err)
	}
	var f *Filter
	if sc.Seccomp {
		p, err := DefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: sc.Caps}})
		if err != nil {
			fail("profile", err)
		}
		if f, err = Compile(p); err != nil {
			fail("compile", err)
		}
	}
	if sc.SeccompLate {
		// The wrong order on purpose: Finalize, then the filter.
		if err := Finalize(sc.User, sc.Caps, sc.NoNewPrivs); err != nil {
			fail("finalize", err)
		}
		if err := f.Load(); err != nil {
			fail("seccomp", err)
		}
	} else if err := Confine(sc.User, sc.Caps, sc.NoNewPrivs, f); err != nil {
		fail("finalize", err)
	}
	if err := SetRlimits(sc.RlimitsLate); err != nil {
		fail("rlimits-late", err)
	}
	if sc.Exec == "" {
		emit(report{Status: procStatus()})
		return
	}
	env := slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, helperEnv+"=") })
	env = append(env, probeEnv+"="+sc.Probe)
	argv := sc.Args
	if len(argv) == 0 {
		argv = []string{sc.Exec}
	}
	err := unix.Exec(sc.Exec, argv, env)
	fail("execve", err)
}

func probeMain(probe string) {
	r := report{Status: procStatus(), Limits: procLimits(), Pid: os.Getpid(), Euid: os.Geteuid()}
	if probe == "calls" {
		r.Errno, r.Int80 = probeCalls()
	}
	emit(r)
}

func errnoOf(err error) int {
	var e syscall.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	if err != nil {
		return -1
	}
	return 0
}

// probeCalls tries calls the default profile denies or allows. Each is
// harmless: the hostname is set, and port 80 bound, only in namespaces the
// test made (checked against the test's own namespaces first).
func probeCalls() (map[string]int, map[string]int32) {
	m := map[string]int{}
	m["unshare(CLONE_NEWUTS)"] = errnoOf(unix.Unshare(unix.CLONE_NEWUTS))
	_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
	m["keyctl"] = errnoOf(err)
	for name, family := range map[string]int{"AF_INET6": unix.AF_INET6, "AF_UNIX": unix.AF_UNIX, "AF_VSOCK": unix.AF_VSOCK} {
		fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		m["socket("+name+")"] = errnoOf(err)
	}
	if own, _ := os.Readlink("/proc/self/ns/uts"); own != "" && own != os.Getenv(hostUTSEnv) {
		m["sethostname"] = errnoOf(unix.Sethostname([]byte("stepbox-probe")))
	}
	if own, _ := os.Readlink("/proc/self/ns/net"); own != "" && own != os.Getenv(hostNetEnv) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrInet4{Port: 80})
			unix.Close(fd)
		}
		m["bind(:80)"] = errnoOf(err)
	}
	return m, int80Calls()
}

func procStatus() map[string]string {
	m := map[string]string{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return m
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

// procLimits reads /proc/self/limits.
func procLimits() map[string]string {
	b, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return nil
	}
	return parseLimits(string(b))
}

// parseLimits reads the table of /proc/PID/limits into "soft hard" by name:
// "Max open files  512  1024  files".
func parseLimits(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n")[1:] {
		if len(line) < 26 {
			continue
		}
		f := strings.Fields(line[25:])
		if len(f) >= 2 {
			m[strings.TrimSpace(line[:25])] = f[0] + " " + f[1]
		}
	}
	return m
}

// runScenario starts the helper with scenario sc in the namespaces of
// cloneflags and returns its report.
func runScenario(t *testing.T, sc scenario, cloneflags uintptr) report {
	t.Helper()
	out := runScenarioRaw(t, sc, cloneflags)
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("helper report %q: %v", out, err)
	}
	return r
}

// runScenarioRaw returns what the helper, or the payload it executes,
// writes to standard output.
func runScenarioRaw(t *testing.T, sc scenario, cloneflags uintptr) string {
	t.Helper()
	testutil.RequiresRoot(t)
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	uts, _ := os.Readlink("/proc/self/ns/uts")
	net, _ := os.Readlink("/proc/self/ns/net")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+string(b), hostUTSEnv+"="+uts, hostNetEnv+"="+net)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneflags, Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	return string(out)
}

// payload copies the test binary where any user can run it (the go tool
// builds it in a directory only root may enter) and returns its path; with
// setuid, it becomes a set-user-ID-root program.
func payload(t *testing.T, setuid bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, "probe")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if setuid {
		if err := os.Chown(path, 0, 0); err != nil {
			t.Fatal(err)
		}
		// chmod after chown: chown clears the set-user-ID bit. (Not
		// os.Chmod with 0o4755: os.FileMode has its own bit for setuid.)
		if err := unix.Chmod(path, 0o4755); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func capMask(caps []string) string {
	var m uint64
	for _, c := range caps {
		m |= capBit(c)
	}
	return fmt.Sprintf("%016x", m)
}
