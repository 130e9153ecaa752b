// Package ia32 enters the kernel through the 32-bit system call gate,
// int $0x80, from a 64-bit process. It exists for tests: a seccomp filter
// that checks only x86_64 numbers can be bypassed this way, because the same
// call has another number in the i386 table (unshare is 272 on x86_64 and
// 310 on i386), so the tests prove the filter covers this gate too.
package ia32
