package security

import (
	"runtime"
	"slices"
	"sort"
	"testing"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestSyscallTables checks zsyscalls.go against facts of the kernel's
// syscall_64.tbl and syscall_32.tbl, and against x/sys for the native ABI.
func TestSyscallTables(t *testing.T) {
	for _, tc := range []struct {
		arch specs.Arch
		name string
		want int64 // -1: the ABI has no such call
	}{
		{specs.ArchX86_64, "getpid", 39},
		{specs.ArchX86_64, "unshare", 272},
		{specs.ArchX86_64, "keyctl", 250},
		{specs.ArchX86_64, "socketcall", -1},
		{specs.ArchX86_64, "chown32", -1},
		{specs.ArchX86, "getpid", 20},
		{specs.ArchX86, "unshare", 310},
		{specs.ArchX86, "keyctl", 288},
		{specs.ArchX86, "socketcall", 102},
		{specs.ArchX86, "socket", 359},
		{specs.ArchX86, "clone", 120},
		{specs.ArchX86, "chown32", 212},
		{specs.ArchX86, "arch_prctl", 384},
		{specs.ArchX32, "getpid", x32SyscallBit | 39},
		{specs.ArchX32, "execve", x32SyscallBit | 520}, // x32 has its own execve
		{specs.ArchX32, "ioctl", x32SyscallBit | 514},
		{specs.ArchX32, "pwritev2", x32SyscallBit | 547},
		{specs.ArchX32, "clone3", x32SyscallBit | 435},
		{specs.ArchX32, "uselib", -1}, // "64" only
		{specs.ArchX32, "_sysctl", -1},
		{specs.ArchAARCH64, "getpid", 172},
		{specs.ArchAARCH64, "open", -1},
		{specs.ArchARM, "getpid", 20},
		{specs.ArchARM, "set_tls", 0x0f0005},
		{specs.ArchARM, "arm_sync_file_range", 341},
		{specs.ArchARM, "sync_file_range2", 341},
	} {
		got, ok := SyscallNumber(tc.arch, tc.name)
		if tc.want < 0 {
			if ok {
				t.Errorf("%s %s = %d, want none", tc.arch, tc.name, got)
			}
			continue
		}
		if !ok || int64(got) != tc.want {
			t.Errorf("%s %s = %d (%v), want %d", tc.arch, tc.name, got, ok, tc.want)
		}
	}
	if runtime.GOARCH == "amd64" {
		for name, nr := range map[string]int{"read": unix.SYS_READ, "clone3": unix.SYS_CLONE3, "personality": unix.SYS_PERSONALITY,
			"socket": unix.SYS_SOCKET, "seccomp": unix.SYS_SECCOMP, "listmount": unix.SYS_LISTMOUNT, "file_setattr": unix.SYS_FILE_SETATTR} {
			if got, _ := SyscallNumber(specs.ArchX86_64, name); int(got) != nr {
				t.Errorf("x86_64 %s = %d, x/sys says %d", name, got, nr)
			}
		}
	}
	if SyscallName(specs.ArchX86, 310) != "unshare" || SyscallName(specs.ArchX32, x32SyscallBit|520) != "execve" {
		t.Error("SyscallName does not invert SyscallNumber")
	}
	if !sort.SliceIsSorted(syscallRows[:], func(i, j int) bool { return syscallRows[i].name < syscallRows[j].name }) {
		t.Error("syscallRows is not sorted by name: lookups would miss")
	}
	// The ranks follow the numbers: the compiler's counting sort needs it.
	for a := range numABIs {
		for i := range syscallRows {
			for j := range syscallRows {
				x, y := syscallRows[i], syscallRows[j]
				if x.nr[a] < 0 || y.nr[a] < 0 {
					continue
				}
				if (x.nr[a] < y.nr[a]) != (x.ord[a] < y.ord[a]) || (x.nr[a] == y.nr[a]) != (x.ord[a] == y.ord[a]) {
					t.Fatalf("%s: %s (%d, rank %d) and %s (%d, rank %d)", abis[a].name, x.name, x.nr[a], x.ord[a], y.name, y.nr[a], y.ord[a])
				}
			}
		}
	}
}

// TestDefaultProfileNamesKnown: every call docker's profile allows on all
// architectures is in the tables, so a newer moby profile with calls newer
// than our x/sys shows up here (regenerate with go generate) instead of
// being skipped silently.
func TestDefaultProfileNamesKnown(t *testing.T) {
	otherABIsOnly := []string{"riscv_hwprobe"}
	for _, sc := range seccomp.DefaultProfile().Syscalls {
		if sc.Includes != nil && len(sc.Includes.Arches) > 0 {
			continue
		}
		for _, n := range sc.Names {
			if _, ok := lookupSyscall(n); !ok && !slices.Contains(otherABIsOnly, n) {
				t.Errorf("docker's profile names %s, which no table here has", n)
			}
		}
	}
}
