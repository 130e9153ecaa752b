package rootfs

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// BindConsole binds the pty peer, the descriptor of the container's end of
// its console (opened with the TIOCGPTPEER ioctl from the container's own
// /dev/ptmx), onto /dev/console. Call it after Setup, in the entered root,
// before Finalize. The target must be
// the empty regular file Setup made: a symlink or anything else put there is
// refused, so the bind cannot be redirected onto a procfs file that masking or
// read-only paths protect (CVE-2025-52565).
func BindConsole(peer int) error {
	var st unix.Stat_t
	if err := unix.Fstat(peer, &st); err != nil {
		return fmt.Errorf("bind console: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return fmt.Errorf("bind console: the peer is %s, not a terminal", fileKind(st.Mode))
	}
	r, err := openRoot("/")
	if err != nil {
		return err
	}
	defer r.close()
	h, err := r.openNoFollow("/dev/console")
	if err != nil {
		return fmt.Errorf("bind console: %w", err)
	}
	defer unix.Close(h)
	if err := unix.Fstat(h, &st); err != nil {
		return fmt.Errorf("bind console: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("bind console: /dev/console is %s, not the empty file Setup made: refused", fileKind(st.Mode))
	}
	return r.mountOn(h, "/dev/console", "/proc/self/fd/"+strconv.Itoa(peer), "", unix.MS_BIND, "")
}
