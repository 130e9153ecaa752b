package sandbox

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The container's init is a copy of this binary. Re-executing /proc/self/exe
// directly would let a process in the container open the runtime's own binary
// through /proc/<init>/exe and overwrite it on the host (CVE-2019-5736). The
// copy lives in a sealed memfd: nothing can write it, grow or shrink it, or
// unseal it (memfd_create(2), fcntl(2) F_ADD_SEALS). It is made once per
// process and reused, which is safe precisely because it is sealed.
var (
	sealOnce sync.Once
	sealed   *os.File
	sealErr  error
)

// Prefetch starts making the sealed copy of the binary in the background,
// for a program about to create a container: the copy takes milliseconds
// (it is the whole binary), which then overlap the program's own start-up
// instead of following it. Calling it is never needed and never harmful.
func Prefetch() { go sealedExe() }

// sealedExe returns the sealed copy of the running binary.
func sealedExe() (*os.File, error) {
	sealOnce.Do(func() { sealed, sealErr = makeSealedExe() })
	return sealed, sealErr
}

func makeSealedExe() (*os.File, error) {
	tracef("copy: begin")
	defer tracef("copy: end")
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat /proc/self/exe: %w", err)
	}
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	// MFD_EXEC (Linux 6.3) keeps the copy executable where the
	// vm.memfd_noexec sysctl would otherwise make memfds non-executable.
	fd, err := unix.MemfdCreate("stepbox-init", flags|unix.MFD_EXEC)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate("stepbox-init", flags)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	dst := os.NewFile(uintptr(fd), "memfd:stepbox-init")
	if err := copyInKernel(dst, src, st.Size()); err != nil {
		dst.Close()
		return nil, err
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		dst.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return dst, nil
}

// copyInKernel copies size bytes with sendfile(2), which moves the pages in
// the kernel: io.Copy into a memfd falls back to 32 KiB read/write pairs, a
// third more system calls for the same bytes. copy_file_range(2) would not
// do either, as it refuses to cross filesystems since Linux 5.19.
func copyInKernel(dst, src *os.File, size int64) error {
	var off int64
	for off < size {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), &off, int(size-off))
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err == unix.EINVAL || err == unix.ENOSYS {
			// No sendfile for this pair of files: copy the plain way.
			if _, err := src.Seek(off, io.SeekStart); err != nil {
				return err
			}
			if _, err := io.CopyN(dst, src, size-off); err != nil {
				return fmt.Errorf("copy /proc/self/exe into memfd: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("copy /proc/self/exe into memfd: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("copy /proc/self/exe into memfd: short copy, %d of %d bytes", off, size)
		}
	}
	return nil
}
