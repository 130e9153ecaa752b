package security

//go:generate go run ./internal/mksyscalls -o zsyscalls.go

import (
	"runtime"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The ABIs the seccomp compiler has system call tables for; they index the
// columns of syscallRows (zsyscalls.go).
const (
	archX86_64 = iota
	archX86
	archX32
	archAARCH64
	archARM
	numABIs
)

// x32SyscallBit is __X32_SYSCALL_BIT. The kernel reports an x32 call with
// arch AUDIT_ARCH_X86_64 and this bit set in nr, so a filter must test the
// bit itself (seccomp(2), "the arch field is not unique for all calling
// conventions").
const x32SyscallBit = 0x40000000

// abiInfo describes one calling convention as seccomp sees it.
type abiInfo struct {
	name  specs.Arch
	audit uint32 // seccomp_data.arch
	// args32 is true when the ABI passes 32-bit arguments: the kernel then
	// looks only at the low half of each argument, and so does the filter
	// (libseccomp does the same). Comparing the high half too would let a
	// 64-bit process issuing int $0x80 with garbage in the upper half of a
	// register slip past a deny rule.
	args32 bool
	// lo and hi bound the numbers this ABI owns inside its audit arch.
	lo, hi uint32
}

var abis = [numABIs]abiInfo{
	archX86_64:  {name: specs.ArchX86_64, audit: unix.AUDIT_ARCH_X86_64, lo: 0, hi: x32SyscallBit - 1},
	archX86:     {name: specs.ArchX86, audit: unix.AUDIT_ARCH_I386, args32: true, lo: 0, hi: 0xffffffff},
	archX32:     {name: specs.ArchX32, audit: unix.AUDIT_ARCH_X86_64, lo: x32SyscallBit, hi: 0xfffffffe},
	archAARCH64: {name: specs.ArchAARCH64, audit: unix.AUDIT_ARCH_AARCH64, lo: 0, hi: 0xffffffff},
	archARM:     {name: specs.ArchARM, audit: unix.AUDIT_ARCH_ARM, args32: true, lo: 0, hi: 0xffffffff},
}

// abiByName finds an ABI by its profile name ("SCMP_ARCH_X86_64").
func abiByName(a specs.Arch) (int, bool) {
	for i := range abis {
		if abis[i].name == a {
			return i, true
		}
	}
	return 0, false
}

// nativeABIs is what a profile that names no architecture gets: the native
// ABI only, as libseccomp does (seccomp_init(3)). Every other ABI is killed.
func nativeABIs() []int {
	switch runtime.GOARCH {
	case "amd64":
		return []int{archX86_64}
	case "386":
		return []int{archX86}
	case "arm64":
		return []int{archAARCH64}
	case "arm":
		return []int{archARM}
	}
	return nil
}

// syscallRow is one system call and its number on every ABI (-1: none).
type syscallRow struct {
	name string
	nr   [numABIs]int32
	ord  [numABIs]int16
}

// lookupSyscall returns the row of a system call.
func lookupSyscall(name string) (*syscallRow, bool) {
	i := sort.Search(len(syscallRows), func(i int) bool { return syscallRows[i].name >= name })
	if i < len(syscallRows) && syscallRows[i].name == name {
		return &syscallRows[i], true
	}
	return nil, false
}

// SyscallNumber returns the number of the system call name on the ABI arch
// ("SCMP_ARCH_X86" for i386), as the compiled filter uses it. x32 numbers
// include __X32_SYSCALL_BIT (0x40000000).
func SyscallNumber(arch specs.Arch, name string) (uint32, bool) {
	a, ok := abiByName(arch)
	if !ok {
		return 0, false
	}
	row, ok := lookupSyscall(name)
	if !ok || row.nr[a] < 0 {
		return 0, false
	}
	return uint32(row.nr[a]), true
}

// SyscallName is the reverse of SyscallNumber, for showing a filter to a
// learner: the name of call nr on arch, or "" when there is none.
func SyscallName(arch specs.Arch, nr uint32) string {
	a, ok := abiByName(arch)
	if !ok {
		return ""
	}
	for i := range syscallRows {
		if syscallRows[i].nr[a] == int32(nr) {
			return syscallRows[i].name
		}
	}
	return ""
}
