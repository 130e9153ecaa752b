package rootfs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// enter makes the root "/" and the working directory "/".
func enter(r *root, mode Mode) error {
	// fchdir(2) accepts an O_PATH descriptor, so the root is entered by the
	// object we resolved everything against, not by its path again.
	if err := unix.Fchdir(int(r.dir.Fd())); err != nil {
		return fmt.Errorf("chdir %s: %w", r.path, err)
	}
	switch mode {
	case PivotRoot:
		return pivotRoot(r.path)
	case Chroot:
		return chroot(r.path)
	}
	return fmt.Errorf("unknown root mode %d", mode)
}

// pivotRoot swaps the root mount for the one at the working directory and
// detaches the old root. pivot_root(2) NOTES: new_root and put_old may be the
// same directory: after pivot_root(".", ".") the old root is stacked on top of
// the new one at "/", and umount2(".", MNT_DETACH) takes it away, with no
// temporary directory to make and remove.
func pivotRoot(dir string) error {
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", dir, err)
	}
	// runc makes "." rslave here, to keep the unmount from reaching the
	// host. We need not: step 1 of Setup made every mount of the old tree
	// private or slave, and neither kind propagates an unmount. And we must
	// not: mount(2) does not cross the old root stacked on "." when it looks
	// the path up, so the change would land on the new root and undo the
	// propagation its mounts asked for.
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / after pivot_root: %w", err)
	}
	return nil
}

// chroot only changes the root directory (Chroot mode). The old root stays
// mounted in this mount namespace: chroot(2) NOTES say it is not intended to
// sandbox a process that keeps CAP_SYS_CHROOT, and the breakout lesson shows
// why.
func chroot(dir string) error {
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", dir, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / after chroot: %w", err)
	}
	return nil
}
