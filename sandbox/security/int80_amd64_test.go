package security

import (
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/security/internal/ia32"
)

// int80Calls makes calls through the 32-bit gate with their i386 numbers
// (arch/x86/entry/syscalls/syscall_32.tbl): getpid 20, unshare 310, keyctl
// 288. A filter that checked only x86_64 numbers would let unshare and
// keyctl through here.
func int80Calls() map[string]int32 {
	return map[string]int32{
		"getpid":                ia32.Syscall(20, 0, 0, 0),
		"unshare(CLONE_NEWUTS)": ia32.Syscall(310, unix.CLONE_NEWUTS, 0, 0),
		// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
		"keyctl": ia32.Syscall(288, unix.KEYCTL_GET_KEYRING_ID, uint32(0xfffffffd), 0),
	}
}
