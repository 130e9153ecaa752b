package security

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
)

// The helper runs in a UTS and a network namespace of its own, so that a
// probe that succeeds in setting the hostname or binding port 80 does so
// there, never on the host.
const privateNS = syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET

func expectErrno(t *testing.T, r report, call string, want syscall.Errno) {
	t.Helper()
	got, ok := r.Errno[call]
	if !ok {
		t.Errorf("%s: not probed", call)
		return
	}
	if got != int(want) {
		t.Errorf("%s: errno %d (%v), want %d (%v)", call, got, syscall.Errno(got), int(want), want)
	}
}

func expectStatus(t *testing.T, r report, key, want string) {
	t.Helper()
	if got := r.Status[key]; got != want {
		t.Errorf("/proc/self/status %s: %q, want %q", key, got, want)
	}
}

// TestSeccompDefaultProfileOnKernel: under docker's default profile a denied
// call fails with EPERM, also when made through int $0x80 with its i386
// number, and allowed calls work through both gates.
func TestSeccompDefaultProfileOnKernel(t *testing.T) {
	caps := DefaultCapabilities()
	r := runScenario(t, scenario{
		Caps:       SpecCapabilities(caps),
		NoNewPrivs: true,
		Seccomp:    true,
		Exec:       os.Args[0],
		Probe:      "calls",
	}, privateNS)
	if r.Stage != "" {
		t.Fatalf("helper failed at %s: %s", r.Stage, r.Error)
	}
	expectErrno(t, r, "unshare(CLONE_NEWUTS)", unix.EPERM)
	expectErrno(t, r, "keyctl", unix.EPERM)
	expectErrno(t, r, "socket(AF_VSOCK)", unix.EPERM)
	expectErrno(t, r, "socket(AF_INET6)", 0)
	expectErrno(t, r, "socket(AF_UNIX)", 0)
	expectErrno(t, r, "sethostname", unix.EPERM)
	if runtime.GOARCH == "amd64" {
		if got := r.Int80["getpid"]; int(got) != r.Pid {
			t.Errorf("int $0x80 getpid: %d, want the pid %d", got, r.Pid)
		}
		for _, c := range []string{"unshare(CLONE_NEWUTS)", "keyctl"} {
			if got := r.Int80[c]; got != -int32(unix.EPERM) {
				t.Errorf("int $0x80 %s: %d, want -EPERM", c, got)
			}
		}
	}
	expectStatus(t, r, "Seccomp", "2")
	expectStatus(t, r, "Seccomp_filters", "1")
	expectStatus(t, r, "NoNewPrivs", "1")
	expectStatus(t, r, "CapEff", capMask(caps))
	expectStatus(t, r, "CapBnd", capMask(caps))
	expectStatus(t, r, "CapAmb", capMask(nil))
}

// TestWithoutSeccompTheSameCallsWork is the control: the same probes with
// every capability and no filter succeed, so the EPERMs above come from the
// filter, not from the kernel or the namespaces.
func TestWithoutSeccompTheSameCallsWork(t *testing.T) {
	r := runScenario(t, scenario{
		Caps:  SpecCapabilities(AllCapabilities()),
		Exec:  os.Args[0],
		Probe: "calls",
	}, privateNS)
	if r.Stage != "" {
		t.Fatalf("helper failed at %s: %s", r.Stage, r.Error)
	}
	expectErrno(t, r, "unshare(CLONE_NEWUTS)", 0)
	expectErrno(t, r, "sethostname", 0)
	if got := r.Errno["keyctl"]; got == int(unix.EPERM) {
		t.Errorf("keyctl: EPERM without a filter")
	}
	if runtime.GOARCH == "amd64" {
		if got := r.Int80["unshare(CLONE_NEWUTS)"]; got != 0 {
			t.Errorf("int $0x80 unshare: %d, want 0", got)
		}
	}
	expectStatus(t, r, "Seccomp", "0")
	expectStatus(t, r, "NoNewPrivs", "0")
}

// TestDroppedCapabilityRefused: root without CAP_SYS_ADMIN cannot set the
// hostname (of a UTS namespace the helper owns), with no filter involved;
// with CAP_SYS_ADMIN it can.
func TestDroppedCapabilityRefused(t *testing.T) {
	r := runScenario(t, scenario{Caps: SpecCapabilities(DefaultCapabilities()), Exec: os.Args[0], Probe: "calls"}, privateNS)
	if r.Stage != "" {
		t.Fatalf("helper failed at %s: %s", r.Stage, r.Error)
	}
	expectErrno(t, r, "sethostname", unix.EPERM)
	expectErrno(t, r, "unshare(CLONE_NEWUTS)", unix.EPERM)
	expectStatus(t, r, "Seccomp", "0")

	withAdmin := append(DefaultCapabilities(), "CAP_SYS_ADMIN")
	r = runScenario(t, scenario{Caps: SpecCapabilities(withAdmin), Exec: os.Args[0], Probe: "calls"}, privateNS)
	if r.Stage != "" {
		t.Fatalf("helper failed at %s: %s", r.Stage, r.Error)
	}
	expectErrno(t, r, "sethostname", 0)
	expectStatus(t, r, "CapEff", capMask(withAdmin))
}

// TestAmbientCapabilitiesForNonRoot: a payload running as uid 65534 keeps a
// capability across execve only through the ambient set (capabilities(7)).
func TestAmbientCapabilitiesForNonRoot(t *testing.T) {
	probe := payload(t, false)
	nobody := specs.User{UID: 65534, GID: 65534, AdditionalGids: []uint32{65534}}
	bind := []string{"CAP_NET_BIND_SERVICE"}
	r := runScenario(t, scenario{
		User:       nobody,
		Caps:       &specs.LinuxCapabilities{Bounding: bind, Effective: bind, Permitted: bind, Inheritable: bind, Ambient: bind},
		NoNewPrivs: true,
		Exec:       probe,
		Probe:      "calls",
	}, privateNS)
	if r.Stage != "" {
		t.Fatalf("helper failed at %s: %s", r.Stage, r.Error)
	}
	expectStatus(t, r, "Uid", "65534 65534 65534 65534")
	expectStatus(t, r, "Gid", "65534 65534 65534 65534")
	expectStatus(t, r, "Groups", "65534")
	expectStatus(t, r, "CapAmb", capMask(bind))
	expectStatus(t, r, "CapEff", capMask(bind))
	expectStatus(t, r, "CapPrm", capMask(bind))
	expectStatus(t, r, "CapBnd", capMask(bind))
	expectErrno(t, r, "bind(:80)", 0)

	// The same sets without ambient: the capability is gone after execve.
	r = runScenario(t, scenario{
		User:       nobody,
		Caps:       &specs.LinuxCapabilities{Bounding: bind, Effective: bind, Permitted: bind},
		NoNewPrivs: true,
		Exec:       probe,
		Probe:      "calls",
	}, privateNS)
	if r.Stage != "" {
		t.Fatalf("helper failed at %s: %s", r.Stage, r.Error)
	}
	expectStatus(t, r, "CapEff", capMask(nil))
	expectErrno(t, r, "bind(:80)", unix.EACCES)
}

// TestNoNewPrivsDefeatsSetuid: uid 65534 running a set-user-ID-root program
// becomes euid 0, unless no_new_privs is set.
func TestNoNewPrivsDefeatsSetuid(t *testing.T) {
	setuid := payload(t, true)
	nobody := specs.User{UID: 65534, GID: 65534}
	for _, tc := range []struct {
		nnp  bool
		euid int
	}{{false, 0}, {true, 65534}} {
		r := runScenario(t, scenario{User: nobody, Caps: SpecCapabilities(DefaultCapabilities()), NoNewPrivs: tc.nnp, Exec: setuid, Probe: "euid"}, 0)
		if r.Stage != "" {
			t.Fatalf("no_new_privs %v: helper failed at %s: %s", tc.nnp, r.Stage, r.Error)
		}
		if r.Euid != tc.euid {
			t.Errorf("no_new_privs %v: the setuid program runs with euid %d, want %d", tc.nnp, r.Euid, tc.euid)
		}
		expectStatus(t, r, "NoNewPrivs", map[bool]string{false: "0", true: "1"}[tc.nnp])
	}
}

// TestSeccompWithoutNoNewPrivs: without no_new_privs the filter must be
// loaded while the thread still has CAP_SYS_ADMIN (the helper loads it before
// Finalize, and Finalize's calls pass the default profile); after Finalize
// the kernel refuses it with EACCES and the error says what to do.
func TestSeccompWithoutNoNewPrivs(t *testing.T) {
	probe := payload(t, false)
	nobody := specs.User{UID: 65534, GID: 65534}
	r := runScenario(t, scenario{User: nobody, Caps: SpecCapabilities(DefaultCapabilities()), Seccomp: true, Exec: probe, Probe: "calls"}, privateNS)
	if r.Stage != "" {
		t.Fatalf("helper failed at %s: %s", r.Stage, r.Error)
	}
	expectStatus(t, r, "Seccomp", "2")
	expectStatus(t, r, "NoNewPrivs", "0")
	expectErrno(t, r, "keyctl", unix.EPERM)
	if runtime.GOARCH == "amd64" && r.Int80["keyctl"] != -int32(unix.EPERM) {
		t.Errorf("int $0x80 keyctl: %d, want -EPERM", r.Int80["keyctl"])
	}

	r = runScenario(t, scenario{User: nobody, Caps: SpecCapabilities(DefaultCapabilities()), Seccomp: true, SeccompLate: true}, 0)
	if r.Stage != "seccomp" || !strings.Contains(r.Error, "permission denied") || !strings.Contains(r.Hint, "no_new_privs") {
		t.Errorf("late load without no_new_privs: stage %q, error %q, hint %q", r.Stage, r.Error, r.Hint)
	}
}

// TestRlimitsOnKernel: limits reach the payload, and raising a hard limit
// without CAP_SYS_RESOURCE is refused with an error that says so.
func TestRlimitsOnKernel(t *testing.T) {
	// The payload is cat, not the Go probe: a Go program raises its own
	// soft NOFILE limit to the hard one as it starts.
	cat := testutil.RequiresCommand(t, "cat")
	out := runScenarioRaw(t, scenario{
		Caps:    SpecCapabilities(DefaultCapabilities()),
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 0}},
		Exec:    cat,
		Args:    []string{"cat", "/proc/self/limits"},
	}, 0)
	limits := parseLimits(out)
	for k, want := range map[string]string{"Max open files": "512 1024", "Max core file size": "0 0"} {
		if got := limits[k]; got != want {
			t.Errorf("%s: %q, want %q\n%s", k, got, want, out)
		}
	}

	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		t.Fatal(err)
	}
	over := cur.Max + 1000
	r := runScenario(t, scenario{
		Caps:        SpecCapabilities(DefaultCapabilities()), // no CAP_SYS_RESOURCE
		RlimitsLate: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: over, Hard: over}},
	}, 0)
	if r.Stage != "rlimits-late" {
		t.Fatalf("raising NOFILE to %d without CAP_SYS_RESOURCE: stage %q, error %q", over, r.Stage, r.Error)
	}
	for _, want := range []string{"operation not permitted", "CAP_SYS_RESOURCE", strconv.FormatUint(cur.Max, 10)} {
		if !strings.Contains(r.Error+" "+r.Hint, want) {
			t.Errorf("the error %q (hint %q) does not say %q", r.Error, r.Hint, want)
		}
	}
	t.Logf("refused: %s (%s)", r.Error, r.Hint)
}

// TestFinalizeRefusesMissingCapability: asking for a capability the runtime
// lacks fails before anything changes.
func TestFinalizeRefusesMissingCapability(t *testing.T) {
	missing := ""
	for c := range capabilityNames {
		if c <= LastCap() && !inBoundingSet(c) {
			missing = capabilityNames[c]
			break
		}
	}
	if missing == "" {
		t.Skip("this runtime holds every capability")
	}
	r := runScenario(t, scenario{Caps: SpecCapabilities([]string{missing})}, 0)
	if r.Stage != "finalize" || !strings.Contains(r.Error, missing) || !strings.Contains(r.Error, "bounding set") {
		t.Errorf("%s: stage %q, error %q", missing, r.Stage, r.Error)
	}
}
