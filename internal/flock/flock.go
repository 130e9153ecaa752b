// Package flock takes exclusive or shared flock(2) locks on lock files and
// directories, which serialise stepbox processes that change the same
// state (a container, a network, the image store, a learner's progress).
// A lock goes with its descriptor: released by the function returned, or
// by the kernel when the process dies, so a crash never leaves one held.
package flock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Dir takes an exclusive lock on the directory dir.
func Dir(dir string) (release func(), err error) {
	return lock(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0, unix.LOCK_EX)
}

// File takes a lock (how: unix.LOCK_EX or unix.LOCK_SH) on the file at
// path, made with perm if it is missing, never through a symbolic link.
func File(path string, how int, perm os.FileMode) (release func(), err error) {
	return lock(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW, uint32(perm.Perm()), how)
}

func lock(path string, flags int, perm uint32, how int) (func(), error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// A signal to the process interrupts a flock(2) that waits (EINTR).
	for {
		err = unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}
