package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// The container's init is a copy of stepbox-init, a build of this package's
// init alone (cmd/stepbox-init), installed beside the running binary; or,
// without one, a copy of the running binary itself, which serves as well
// (this package's init function runs the container init in any binary that
// imports it). Executing either from its file would let a process in the
// container open it through /proc/<init>/exe and overwrite it on the host
// (CVE-2019-5736). The copy lives in a sealed memfd: nothing can write it,
// grow or shrink it, or unseal it (memfd_create(2), fcntl(2) F_ADD_SEALS).
// It is made once per process and reused, which is safe precisely because
// it is sealed.
//
// The lean init is 2.7 MiB against stepbox's 7.5: every container start
// copies it, maps it and frees it, and each of those costs a millisecond or
// more per 5 MiB on the build machines.
var (
	sealOnce sync.Once
	sealed   *sealedInit
	sealErr  error
)

// sealedInit is the sealed copy and what it was copied from.
type sealedInit struct {
	file *os.File
	// lean is set when the copy is of stepbox-init, a binary other than
	// the running one, which must then prove that it speaks this one's
	// configuration (wireFingerprint).
	lean bool
	// reaper is the view of stepbox-exec, whose C constructor serves as
	// the minimal init once the container is set up (execReaper); nil
	// where there is none.
	reaper *os.File
}

// InitBinaryName is the lean container init's file name, looked for in the
// running binary's directory.
const InitBinaryName = "stepbox-init"

// Prefetch starts making the sealed copy of the init in the background, for
// a program about to create a container: the copy takes milliseconds, which
// then overlap the program's own start-up instead of following it. Calling
// it is never needed and never harmful.
func Prefetch() { go sealedExe() }

// sealedExe returns the sealed copy of the init.
func sealedExe() (*sealedInit, error) {
	sealOnce.Do(func() { sealed, sealErr = makeSealedExe() })
	return sealed, sealErr
}

// initSource opens the binary to copy: stepbox-init beside the running
// binary when it is safe to run as root (see trustedInit), else the running
// binary.
func initSource() (src *os.File, lean bool, err error) {
	if self, err := os.Executable(); err == nil {
		f, err := openTrusted(filepath.Join(filepath.Dir(self), InitBinaryName))
		if err == nil {
			return f, true, nil
		}
		if errors.Is(err, errUntrusted) {
			tracef("%v", err)
		}
	}
	src, err = os.Open("/proc/self/exe")
	if err != nil {
		return nil, false, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	return src, false, nil
}

// errUntrusted marks a binary found but refused by trustedInit.
var errUntrusted = errors.New("not safe to run as root")

// openTrusted opens the binary at p, which runs as root in containers,
// once trustedInit has found it safe to.
func openTrusted(p string) (*os.File, error) {
	// O_NONBLOCK: a fifo put there must not hang us; trustedInit then
	// refuses it.
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := trustedInit(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("not using %s: %w (%w)", p, err, errUntrusted)
	}
	return f, nil
}

// trustedInit checks that f, a candidate init binary, and its directory can
// be changed by nobody but root and us: whatever it holds runs as root in
// every container, before the container's own identity is taken.
func trustedInit(f *os.File) error {
	var st, dir unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if err := unix.Stat(filepath.Dir(f.Name()), &dir); err != nil {
		return err
	}
	euid := uint32(os.Geteuid())
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return errors.New("not a regular file")
	case st.Uid != 0 && st.Uid != euid, dir.Uid != 0 && dir.Uid != euid:
		return errors.New("owned by another user")
	case st.Mode&0o022 != 0, dir.Mode&0o022 != 0 && dir.Mode&unix.S_ISVTX == 0:
		return errors.New("writable by others")
	}
	return nil
}

func makeSealedExe() (*sealedInit, error) {
	tracef("copy: begin")
	defer tracef("copy: end")
	src, lean, err := initSource()
	if err != nil {
		return nil, err
	}
	defer src.Close()
	path := src.Name()
	if !lean {
		// /proc/self/exe is a link: the view opens the file it names.
		if path, err = os.Executable(); err != nil {
			path = ""
		}
	}
	if lean {
		s, err := leanViews(src, path)
		if err == nil {
			return s, nil
		}
		tracef("no read-only view of %s: %v", filepath.Dir(path), err)
	}
	dst, err := protectedExe(src, path, "stepbox-init")
	if err != nil {
		return nil, err
	}
	return &sealedInit{file: dst, lean: lean}, nil
}

// leanViews opens stepbox-init (src, at path) and, where it lies beside
// it, stepbox-exec through one read-only view of their directory: the
// exec stage's C constructor is the minimal init (package nsenter,
// reaper.c). Without stepbox-exec the Go init stays and reaps (reap); it is
// never copied for that, which would cost more than it saves.
func leanViews(src *os.File, path string) (*sealedInit, error) {
	dir := filepath.Dir(path)
	view, err := dirView(dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(view)
	init, err := openInView(view, src, path)
	if err != nil {
		return nil, err
	}
	s := &sealedInit{file: init, lean: true}
	reaper, err := openTrusted(filepath.Join(dir, ExecBinaryName))
	if err == nil {
		s.reaper, err = openInView(view, reaper, reaper.Name())
		reaper.Close()
	}
	if err != nil {
		tracef("minimal init in Go: %v", err)
	}
	return s, nil
}

// protectedExe gives a descriptor of src, the file at path, that no process
// can write through: the file itself on a read-only overlay (readOnlyView),
// else a sealed memfd copy called name. The view costs a tenth of a millisecond against the copy's 1.3 to 3
// (DESIGN.md, "Start latency").
func protectedExe(src *os.File, path, name string) (*os.File, error) {
	if path != "" {
		f, err := readOnlyView(src, path)
		if err == nil {
			return f, nil
		}
		tracef("no read-only view of %s, copying it: %v", path, err)
	}
	return sealedCopy(src, name)
}

// sealedCopy copies src into a new memfd called name and seals it.
func sealedCopy(src *os.File, name string) (*os.File, error) {
	st, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", src.Name(), err)
	}
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	// MFD_EXEC (Linux 6.3) keeps the copy executable where the
	// vm.memfd_noexec sysctl would otherwise make memfds non-executable.
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_EXEC)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate(name, flags)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	dst := os.NewFile(uintptr(fd), "memfd:"+name)
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
				return fmt.Errorf("copy %s into memfd: %w", src.Name(), err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("copy %s into memfd: %w", src.Name(), err)
		}
		if n == 0 {
			return fmt.Errorf("copy %s into memfd: short copy, %d of %d bytes", src.Name(), off, size)
		}
	}
	return nil
}

// InitBinaries says how this binary starts containers, for `stepbox
// doctor`: the init's binary (stepbox-init or this binary itself, through
// a read-only view or a sealed copy) and which minimal init stays beside a
// payload (the C one in stepbox-exec, or the Go init).
type InitBinaries struct {
	Lean  bool // the init is stepbox-init, not this binary
	View  bool // seen through a read-only view, not copied
	CInit bool // the minimal init is C
}

// Binaries makes (once per process) what Create would use and reports it.
func Binaries() (InitBinaries, error) {
	s, err := sealedExe()
	if err != nil {
		return InitBinaries{}, err
	}
	var st unix.Statfs_t
	view := unix.Fstatfs(int(s.file.Fd()), &st) == nil && st.Type == unix.OVERLAYFS_SUPER_MAGIC
	return InitBinaries{Lean: s.lean, View: view, CInit: s.reaper != nil}, nil
}
