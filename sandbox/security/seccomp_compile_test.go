package security

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// call is a struct seccomp_data as the kernel hands it to a filter.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// bytes lays out c for x/net/bpf's VM. The VM loads 32-bit words in
// network byte order while the kernel loads them in host order, so each word
// is written big-endian here and the words of an argument are placed as on
// a little-endian host: low half first.
func (c call) bytes() []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[offNr:], c.nr)
	binary.BigEndian.PutUint32(b[offArch:], c.arch)
	for i, a := range c.args {
		binary.BigEndian.PutUint32(b[offArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(b[offArgs+8*i+4:], uint32(a>>32))
	}
	return b
}

// vms caches the VM of each filter the tests run.
var vms = map[*Filter]*bpf.VM{}

// run executes the compiled program on c in x/net/bpf's VM.
func run(t testing.TB, f *Filter, c call) uint32 {
	t.Helper()
	vm := vms[f]
	if vm == nil {
		ins, ok := bpf.Disassemble(f.Program)
		if !ok {
			t.Fatalf("the program has an instruction x/net/bpf cannot decode")
		}
		var err error
		if vm, err = bpf.NewVM(ins); err != nil {
			t.Fatalf("NewVM: %v", err)
		}
		vms[f] = vm
	}
	r, err := vm.Run(c.bytes())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return uint32(r)
}

func nr(t testing.TB, arch specs.Arch, name string) uint32 {
	t.Helper()
	n, ok := SyscallNumber(arch, name)
	if !ok {
		t.Fatalf("no %s on %s", name, arch)
	}
	return n
}

const (
	allow = unix.SECCOMP_RET_ALLOW
	eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	kill  = unix.SECCOMP_RET_KILL_PROCESS
)

func retName(r uint32) string { return ActionString(r) }

func specWithCaps(caps []string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: SpecCapabilities(caps)}}
}

func defaultFilter(t testing.TB, caps []string) (*specs.LinuxSeccomp, *Filter) {
	t.Helper()
	p, err := DefaultProfile(specWithCaps(caps))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, f
}

func TestDefaultProfileDecisions(t *testing.T) {
	p, f := defaultFilter(t, DefaultCapabilities())
	t.Logf("docker's default profile: %d rules, %d BPF instructions, %d names skipped", len(p.Syscalls), len(f.Program), len(f.Skipped))
	if !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Fatalf("architectures %v (the tests below assume amd64)", p.Architectures)
	}
	x64, x86, x32 := uint32(unix.AUDIT_ARCH_X86_64), uint32(unix.AUDIT_ARCH_I386), uint32(unix.AUDIT_ARCH_X86_64)
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	newNS := uint64(unix.CLONE_NEWNS | unix.CLONE_NEWUSER)
	for _, tc := range []struct {
		what string
		c    call
		want uint32
	}{
		{"getpid", call{x64, nr(t, specs.ArchX86_64, "getpid"), [6]uint64{}}, allow},
		{"keyctl", call{x64, nr(t, specs.ArchX86_64, "keyctl"), [6]uint64{}}, eperm},
		{"unshare", call{x64, nr(t, specs.ArchX86_64, "unshare"), [6]uint64{unix.CLONE_NEWUTS}}, eperm},
		{"mount", call{x64, nr(t, specs.ArchX86_64, "mount"), [6]uint64{}}, eperm},
		{"personality(0) (PER_LINUX)", call{x64, nr(t, specs.ArchX86_64, "personality"), [6]uint64{0}}, allow},
		{"personality(8)", call{x64, nr(t, specs.ArchX86_64, "personality"), [6]uint64{8}}, allow},
		{"personality(0x20008)", call{x64, nr(t, specs.ArchX86_64, "personality"), [6]uint64{0x20008}}, allow},
		{"personality(0xffffffff) (query)", call{x64, nr(t, specs.ArchX86_64, "personality"), [6]uint64{0xffffffff}}, allow},
		{"personality(0x9e)", call{x64, nr(t, specs.ArchX86_64, "personality"), [6]uint64{0x9e}}, eperm},
		{"personality(1<<32) (high half set)", call{x64, nr(t, specs.ArchX86_64, "personality"), [6]uint64{1 << 32}}, eperm},
		{"socket(AF_UNIX)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_UNIX}}, allow},
		{"socket(AF_INET)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_INET}}, allow},
		{"socket(AF_INET6)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_INET6}}, allow},
		{"socket(AF_NETLINK)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_NETLINK}}, allow},
		{"socket(AF_PACKET)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_PACKET}}, allow},
		{"socket(AF_MCTP)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_MCTP}}, allow},
		{"socket(AF_UNSPEC)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_UNSPEC}}, allow},
		{"socket(AF_AX25)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_AX25}}, eperm},
		{"socket(AF_ALG)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_ALG}}, eperm},
		{"socket(AF_VSOCK)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_VSOCK}}, eperm},
		{"socket(AF_INET | 1<<32)", call{x64, nr(t, specs.ArchX86_64, "socket"), [6]uint64{unix.AF_INET | 1<<32}}, eperm},
		{"clone(SIGCHLD)", call{x64, nr(t, specs.ArchX86_64, "clone"), [6]uint64{uint64(unix.SIGCHLD)}}, allow},
		{"clone(CLONE_NEWNS|CLONE_NEWUSER)", call{x64, nr(t, specs.ArchX86_64, "clone"), [6]uint64{newNS}}, eperm},
		{"clone3", call{x64, nr(t, specs.ArchX86_64, "clone3"), [6]uint64{}}, enosys},
		{"nr -1 (a tracer's skip)", call{x64, 0xffffffff, [6]uint64{}}, eperm},
		{"nr 1000 (no such call)", call{x64, 1000, [6]uint64{}}, eperm},

		{"i386 getpid", call{x86, nr(t, specs.ArchX86, "getpid"), [6]uint64{}}, allow},
		{"i386 unshare", call{x86, nr(t, specs.ArchX86, "unshare"), [6]uint64{}}, eperm},
		{"i386 keyctl", call{x86, nr(t, specs.ArchX86, "keyctl"), [6]uint64{}}, eperm},
		{"i386 272 (x86_64's unshare is i386's fadvise64_64)", call{x86, 272, [6]uint64{}}, allow},
		{"i386 socketcall", call{x86, nr(t, specs.ArchX86, "socketcall"), [6]uint64{}}, allow},
		{"i386 socket(AF_VSOCK)", call{x86, nr(t, specs.ArchX86, "socket"), [6]uint64{unix.AF_VSOCK}}, eperm},
		{"i386 socket(AF_INET6)", call{x86, nr(t, specs.ArchX86, "socket"), [6]uint64{unix.AF_INET6}}, allow},
		{"i386 personality(0x9e)", call{x86, nr(t, specs.ArchX86, "personality"), [6]uint64{0x9e}}, eperm},
		{"i386 personality(8 | garbage in the high half)", call{x86, nr(t, specs.ArchX86, "personality"), [6]uint64{0xdead_0000_0008}}, allow},
		{"i386 clone(CLONE_NEWUSER)", call{x86, nr(t, specs.ArchX86, "clone"), [6]uint64{unix.CLONE_NEWUSER}}, eperm},

		{"x32 getpid", call{x32, nr(t, specs.ArchX32, "getpid"), [6]uint64{}}, allow},
		{"x32 execve (520 | x32 bit)", call{x32, nr(t, specs.ArchX32, "execve"), [6]uint64{}}, allow},
		{"x32 keyctl", call{x32, nr(t, specs.ArchX32, "keyctl"), [6]uint64{}}, eperm},
		{"x32 unshare", call{x32, x32SyscallBit | 272, [6]uint64{}}, eperm},
		{"x32 personality(0x9e)", call{x32, nr(t, specs.ArchX32, "personality"), [6]uint64{0x9e}}, eperm},

		{"unnamed arch aarch64", call{unix.AUDIT_ARCH_AARCH64, 172, [6]uint64{}}, kill},
		{"unnamed arch arm", call{unix.AUDIT_ARCH_ARM, 20, [6]uint64{}}, kill},
		{"unnamed arch ppc64le", call{unix.AUDIT_ARCH_PPC64LE, 20, [6]uint64{}}, kill},
	} {
		if got := run(t, f, tc.c); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.what, retName(got), retName(tc.want))
		}
	}

	// The names that do not exist on an ABI are skipped, not errors.
	if !slices.Contains(f.Skipped, SkippedSyscall{specs.ArchX86_64, "chown32"}) {
		t.Errorf("chown32 not reported as skipped on x86_64")
	}
	if slices.Contains(f.Skipped, SkippedSyscall{specs.ArchX86, "chown32"}) {
		t.Errorf("chown32 skipped on i386, where it exists")
	}
}

func TestDefaultProfileFollowsCapabilities(t *testing.T) {
	_, f := defaultFilter(t, append(DefaultCapabilities(), "CAP_SYS_ADMIN"))
	for _, name := range []string{"unshare", "mount", "setns", "sethostname"} {
		for _, a := range []specs.Arch{specs.ArchX86_64, specs.ArchX86} {
			audit := abis[archX86_64].audit
			if a == specs.ArchX86 {
				audit = abis[archX86].audit
			}
			if got := run(t, f, call{audit, nr(t, a, name), [6]uint64{}}); got != allow {
				t.Errorf("with CAP_SYS_ADMIN, %s %s: %s, want ALLOW", a, name, retName(got))
			}
		}
	}
	if got := run(t, f, call{unix.AUDIT_ARCH_X86_64, nr(t, specs.ArchX86_64, "clone"), [6]uint64{unix.CLONE_NEWUSER}}); got != allow {
		t.Errorf("with CAP_SYS_ADMIN, clone(CLONE_NEWUSER): %s", retName(got))
	}
	if got := run(t, f, call{unix.AUDIT_ARCH_X86_64, nr(t, specs.ArchX86_64, "reboot"), [6]uint64{}}); got != eperm {
		t.Errorf("without CAP_SYS_BOOT, reboot: %s", retName(got))
	}
}

func TestArchitectures(t *testing.T) {
	getpid := func(a specs.Arch) uint32 { return nr(t, a, "getpid") }
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno}},
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	// A deny-list naming only x86_64: the other gates of the same kernel
	// are killed, or a denied call would be one int $0x80 away.
	for _, tc := range []struct {
		what string
		c    call
		want uint32
	}{
		{"x86_64 getpid", call{arch: unix.AUDIT_ARCH_X86_64, nr: getpid(specs.ArchX86_64)}, eperm},
		{"x86_64 gettid", call{arch: unix.AUDIT_ARCH_X86_64, nr: nr(t, specs.ArchX86_64, "gettid")}, allow},
		{"i386 getpid", call{arch: unix.AUDIT_ARCH_I386, nr: getpid(specs.ArchX86)}, kill},
		{"x32 getpid", call{arch: unix.AUDIT_ARCH_X86_64, nr: getpid(specs.ArchX32)}, kill},
		{"x32 bit on nr -1", call{arch: unix.AUDIT_ARCH_X86_64, nr: 0xffffffff}, allow},
	} {
		if got := run(t, f, tc.c); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.what, retName(got), retName(tc.want))
		}
	}

	// No architecture named: the native ABI only, like libseccomp.
	p.Architectures = nil
	if f, err = Compile(p); err != nil {
		t.Fatal(err)
	}
	if got := run(t, f, call{arch: unix.AUDIT_ARCH_I386, nr: getpid(specs.ArchX86)}); got != kill {
		t.Errorf("no arch named, i386: %s", retName(got))
	}

	// Only ABIs this compiler does not know: an error, not a filter that
	// kills everything.
	p.Architectures = []specs.Arch{specs.ArchS390X}
	if _, err := Compile(p); err == nil || !strings.Contains(err.Error(), "no architecture") {
		t.Errorf("s390x only: err %v", err)
	}

	// aarch64 and arm have their own tables.
	p.Architectures = []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	if f, err = Compile(p); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    call
		want uint32
	}{
		{call{arch: unix.AUDIT_ARCH_AARCH64, nr: 172}, eperm},
		{call{arch: unix.AUDIT_ARCH_ARM, nr: 20}, eperm},
		{call{arch: unix.AUDIT_ARCH_ARM, nr: 0x0f0005}, allow}, // set_tls
		{call{arch: unix.AUDIT_ARCH_X86_64, nr: 39}, kill},
	} {
		if got := run(t, f, tc.c); got != tc.want {
			t.Errorf("arch %#x nr %d: %s, want %s", tc.c.arch, tc.c.nr, retName(got), retName(tc.want))
		}
	}
}

func TestActions(t *testing.T) {
	u := func(v uint) *uint { return &v }
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: u(uint(unix.ENOSYS)),
		Architectures:   []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid"}, Action: specs.ActAllow},
			{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: u(uint(unix.EACCES))},
			{Names: []string{"getuid"}, Action: specs.ActErrno},
			{Names: []string{"getgid"}, Action: specs.ActKill},
			{Names: []string{"geteuid"}, Action: specs.ActKillThread},
			{Names: []string{"getegid"}, Action: specs.ActKillProcess},
			{Names: []string{"gettid"}, Action: specs.ActTrap},
			{Names: []string{"getpgrp"}, Action: specs.ActTrace},
			{Names: []string{"getsid"}, Action: specs.ActLog},
			{Names: []string{"getresuid"}, Action: specs.ActNotify},
			// Two unconditional rules: the stricter wins, in either order
			// (podman's profile has such pairs; libseccomp does the same).
			{Names: []string{"setns", "umask"}, Action: specs.ActAllow},
			{Names: []string{"setns"}, Action: specs.ActErrno, ErrnoRet: u(1)},
			{Names: []string{"umask"}, Action: specs.ActKillProcess},
			{Names: []string{"sync"}, Action: specs.ActErrno},
			{Names: []string{"sync"}, Action: specs.ActLog},
		},
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Notifies() {
		t.Error("a profile with SCMP_ACT_NOTIFY compiled without SECCOMP_FILTER_FLAG_NEW_LISTENER")
	}
	for name, want := range map[string]uint32{
		"getpid":    allow,
		"getppid":   unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES),
		"getuid":    eperm, // errnoRet not given: EPERM (runtime-spec)
		"getgid":    unix.SECCOMP_RET_KILL_THREAD,
		"geteuid":   unix.SECCOMP_RET_KILL_THREAD,
		"getegid":   unix.SECCOMP_RET_KILL_PROCESS,
		"gettid":    unix.SECCOMP_RET_TRAP,
		"getpgrp":   unix.SECCOMP_RET_TRACE | uint32(unix.EPERM),
		"getsid":    unix.SECCOMP_RET_LOG,
		"getresuid": unix.SECCOMP_RET_USER_NOTIF,
		"setns":     unix.SECCOMP_RET_ERRNO | 1,
		"umask":     unix.SECCOMP_RET_KILL_PROCESS,
		"sync":      eperm,
		"getcwd":    unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS), // defaultErrnoRet
	} {
		if got := run(t, f, call{arch: unix.AUDIT_ARCH_X86_64, nr: nr(t, specs.ArchX86_64, name)}); got != want {
			t.Errorf("%s: %#x (%s), want %#x (%s)", name, got, retName(got), want, retName(want))
		}
	}
}

func TestCompileErrors(t *testing.T) {
	u := func(v uint) *uint { return &v }
	base := func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64}}
	}
	for _, tc := range []struct {
		what string
		edit func(p *specs.LinuxSeccomp)
		want string
	}{
		{"no default action", func(p *specs.LinuxSeccomp) { p.DefaultAction = "" }, "no action"},
		{"unknown action", func(p *specs.LinuxSeccomp) { p.DefaultAction = "SCMP_ACT_MAYBE" }, "unknown action"},
		{"errno too big", func(p *specs.LinuxSeccomp) { p.DefaultErrnoRet = u(70000) }, "not an errno"},
		{"no names", func(p *specs.LinuxSeccomp) {
			p.Syscalls = []specs.LinuxSyscall{{Action: specs.ActAllow}}
		}, "names no system call"},
		{"argument 6", func(p *specs.LinuxSeccomp) {
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}
		}, "argument index 6"},
		{"unknown operator", func(p *specs.LinuxSeccomp) {
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}}}
		}, "unknown operator"},
		{"unknown flag", func(p *specs.LinuxSeccomp) { p.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"} }, "unknown seccomp flag"},
		{"wait killable without notify", func(p *specs.LinuxSeccomp) {
			p.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
		}, "needs SCMP_ACT_NOTIFY"},
	} {
		p := base()
		tc.edit(p)
		_, err := Compile(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to say %q", tc.what, err, tc.want)
		}
	}
	if _, err := Compile(nil); err == nil {
		t.Error("nil profile compiled")
	}
	// More than BPF_MAXINSNS instructions: refused here, not by the kernel.
	big := base()
	for _, row := range syscallRows {
		var args []specs.LinuxSeccompArg
		for i := range 6 {
			args = append(args, specs.LinuxSeccompArg{Index: uint(i), Value: 1 << 40, Op: specs.OpEqualTo})
		}
		big.Syscalls = append(big.Syscalls, specs.LinuxSyscall{Names: []string{row.name}, Action: specs.ActAllow, Args: args})
	}
	if _, err := Compile(big); err == nil || !strings.Contains(err.Error(), "at most 4096") {
		t.Errorf("a filter too long for the kernel: %v", err)
	}
	// Unknown names are skipped, like libseccomp does.
	p := base()
	p.Syscalls = []specs.LinuxSyscall{{Names: []string{"no_such_call", "read"}, Action: specs.ActAllow}}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.Skipped, SkippedSyscall{specs.ArchX86_64, "no_such_call"}) {
		t.Errorf("skipped %v", f.Skipped)
	}
	p.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}
	if f, err = Compile(p); err != nil || f.Flags != unix.SECCOMP_FILTER_FLAG_LOG|unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW {
		t.Errorf("flags %#x, err %v", f.Flags, err)
	}
}

// TestFilterJSON: the runtime compiles in the parent and sends the filter
// to init as JSON.
func TestFilterJSON(t *testing.T) {
	_, f := defaultFilter(t, DefaultCapabilities())
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var g Filter
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Program, g.Program) || f.Flags != g.Flags {
		t.Fatal("the filter changed on its way through JSON")
	}
	text := f.String()
	for _, want := range []string{"ld [4]", "A = architecture", "AUDIT_ARCH_I386", "KILL_PROCESS", "ERRNO(EPERM)", "A = high half of argument 0"} {
		if !strings.Contains(text, want) {
			t.Errorf("the disassembly does not show %q:\n%.600s", want, text)
		}
	}
}

func TestLoadProfileDockerFormat(t *testing.T) {
	b, err := os.ReadFile("testdata/docker-profile.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(b, specWithCaps(DefaultCapabilities()))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	x64 := uint32(unix.AUDIT_ARCH_X86_64)
	for _, tc := range []struct {
		c    call
		want uint32
	}{
		{call{arch: x64, nr: nr(t, specs.ArchX86_64, "getpid")}, allow},
		{call{arch: x64, nr: nr(t, specs.ArchX86_64, "mkdir")}, unix.SECCOMP_RET_ERRNO | uint32(unix.EROFS)},
		// The rule that includes only with CAP_SYS_ADMIN is dropped.
		{call{arch: x64, nr: nr(t, specs.ArchX86_64, "mount")}, allow},
		{call{arch: unix.AUDIT_ARCH_I386, nr: nr(t, specs.ArchX86, "mkdir")}, unix.SECCOMP_RET_ERRNO | uint32(unix.EROFS)},
	} {
		if got := run(t, f, tc.c); got != tc.want {
			t.Errorf("nr %d arch %#x: %s, want %s", tc.c.nr, tc.c.arch, retName(got), retName(tc.want))
		}
	}
	if _, err := LoadProfile([]byte(`{"defaultAction": `), nil); err == nil {
		t.Error("broken JSON loaded")
	}
	if _, err := LoadProfile([]byte(`{}`), nil); err == nil {
		t.Error("an empty profile loaded as if it confined something")
	}
}

// TestCompileMatchesReference compiles many random profiles and checks the
// program, run in the VM, against a direct reading of the profile on calls
// whose arguments sit at and around every compared value: each operator,
// 64-bit halves, OR-ed rules, the jump trampolines of a large tree.
func TestCompileMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 17))
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActTrap, specs.ActLog}
	values := func() uint64 {
		switch rng.IntN(6) {
		case 0:
			return uint64(rng.IntN(4))
		case 1:
			return uint64(rng.Uint32())
		case 2:
			return rng.Uint64()
		case 3:
			return uint64(rng.IntN(3)) << 32
		case 4:
			return 0xffffffff
		}
		return 1<<32 | uint64(rng.IntN(3))
	}
	names := []string{"read", "write", "socket", "personality", "clone", "ioctl", "fcntl", "mmap", "kill", "prctl"}
	archSets := [][]specs.Arch{
		{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		{specs.ArchX86_64},
		{specs.ArchX86, specs.ArchX32},
		{specs.ArchAARCH64, specs.ArchARM},
	}
	for n := 0; n < 300; n++ {
		p := &specs.LinuxSeccomp{
			DefaultAction: actions[rng.IntN(len(actions))],
			Architectures: archSets[rng.IntN(len(archSets))],
		}
		var probes []uint64
		for r := rng.IntN(8); r >= 0; r-- {
			sc := specs.LinuxSyscall{
				Names:  []string{names[rng.IntN(len(names))]},
				Action: actions[rng.IntN(len(actions))],
			}
			for k := rng.IntN(4); k > 0; k-- {
				a := specs.LinuxSeccompArg{Index: uint(rng.IntN(3)), Op: ops[rng.IntN(len(ops))], Value: values(), ValueTwo: values()}
				sc.Args = append(sc.Args, a)
				probes = append(probes, a.Value, a.Value+1, a.Value-1, a.ValueTwo, a.ValueTwo|^a.Value, a.Value^(1<<32))
			}
			if len(sc.Args) == 0 && rng.IntN(2) == 0 {
				// no second unconditional rule with another action
				continue
			}
			p.Syscalls = append(p.Syscalls, sc)
		}
		p.Syscalls = dropConflicts(p.Syscalls)
		if n%50 == 0 {
			// a big alternating allow-list: trees wider than a jump reaches
			for i, row := range syscallRows {
				if i%2 == 0 {
					p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{row.name}, Action: specs.ActLog})
				}
			}
			p.Syscalls = dropConflicts(p.Syscalls)
		}
		f, err := Compile(p)
		if err != nil {
			t.Fatalf("profile %d: %v", n, err)
		}
		probes = append(probes, 0, 1, 0xffffffff, 1<<32, ^uint64(0))
		for a := range numABIs {
			if !slices.Contains(p.Architectures, abis[a].name) {
				continue
			}
			for _, row := range syscallRows {
				if row.nr[a] < 0 || !slices.Contains(names, row.name) && n%50 != 0 {
					continue
				}
				for k := 0; k < 6; k++ {
					c := call{arch: abis[a].audit, nr: uint32(row.nr[a])}
					for i := range 3 {
						c.args[i] = probes[rng.IntN(len(probes))]
					}
					want := reference(p, a, row.name, c.args)
					if got := run(t, f, c); got != want {
						t.Fatalf("profile %d, %s %s%v: filter %s, profile says %s\n%s", n, abis[a].name, row.name, c.args, retName(got), retName(want), mustJSON(p))
					}
				}
			}
		}
	}
}

// dropConflicts removes unconditional rules that contradict an earlier one.
func dropConflicts(calls []specs.LinuxSyscall) []specs.LinuxSyscall {
	seen := map[string]specs.LinuxSeccompAction{}
	var out []specs.LinuxSyscall
	for _, sc := range calls {
		if len(sc.Args) == 0 {
			if a, ok := seen[sc.Names[0]]; ok && a != sc.Action {
				continue
			}
			seen[sc.Names[0]] = sc.Action
		}
		out = append(out, sc)
	}
	return out
}

func mustJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// reference reads the profile directly: the first conditional rule that
// matches, in profile order, else the unconditional rule, else the default.
// A rule that compares one argument twice is several OR-ed rules (runc).
func reference(p *specs.LinuxSeccomp, abi int, name string, args [6]uint64) uint32 {
	ret := func(a specs.LinuxSeccompAction, e *uint) uint32 {
		v, err := actionValue(a, e)
		if err != nil {
			panic(err)
		}
		return v
	}
	holds := func(c specs.LinuxSeccompArg) bool {
		x, v, v2 := args[c.Index], c.Value, c.ValueTwo
		if abis[abi].args32 {
			x, v, v2 = uint64(uint32(x)), uint64(uint32(v)), uint64(uint32(v2))
		}
		switch c.Op {
		case specs.OpEqualTo:
			return x == v
		case specs.OpNotEqual:
			return x != v
		case specs.OpLessThan:
			return x < v
		case specs.OpLessEqual:
			return x <= v
		case specs.OpGreaterThan:
			return x > v
		case specs.OpGreaterEqual:
			return x >= v
		case specs.OpMaskedEqual:
			return x&v == v2
		}
		panic(c.Op)
	}
	// Match by number: two names can share one (arm_sync_file_range is
	// sync_file_range2 on arm).
	nr, _ := SyscallNumber(abis[abi].name, name)
	names := func(n string) bool {
		x, ok := SyscallNumber(abis[abi].name, n)
		return ok && x == nr
	}
	var uncond *uint32
	for _, sc := range p.Syscalls {
		if !slices.ContainsFunc(sc.Names, names) {
			continue
		}
		if len(sc.Args) == 0 {
			if uncond == nil {
				v := ret(sc.Action, sc.ErrnoRet)
				uncond = &v
			}
			continue
		}
		idx := map[uint]int{}
		repeated := false
		for _, a := range sc.Args {
			idx[a.Index]++
			repeated = repeated || idx[a.Index] > 1
		}
		if repeated {
			for _, a := range sc.Args {
				if holds(a) {
					return ret(sc.Action, sc.ErrnoRet)
				}
			}
			continue
		}
		all := true
		for _, a := range sc.Args {
			all = all && holds(a)
		}
		if all {
			return ret(sc.Action, sc.ErrnoRet)
		}
	}
	if uncond != nil {
		return *uncond
	}
	return ret(p.DefaultAction, p.DefaultErrnoRet)
}

func BenchmarkCompileDefaultProfile(b *testing.B) {
	p, err := DefaultProfile(specWithCaps(DefaultCapabilities()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDefaultProfileAndCompile(b *testing.B) {
	spec := specWithCaps(DefaultCapabilities())
	b.ReportAllocs()
	for b.Loop() {
		p, err := DefaultProfile(spec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}
