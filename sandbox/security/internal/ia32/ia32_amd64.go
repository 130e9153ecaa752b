package ia32

// Syscall issues i386 system call nr with three arguments through int $0x80
// and returns the kernel's result: a value, or -errno. Only the low 32 bits
// of each argument reach the kernel, so no pointer to Go memory can be
// passed.
func Syscall(nr, a1, a2, a3 uint32) int32
