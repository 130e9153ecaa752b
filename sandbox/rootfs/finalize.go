package rootfs

import (
	"errors"
	"fmt"
	"path"

	"golang.org/x/sys/unix"
)

// Finalize does what must come after the runtime wrote its sysctls and set
// the hostname, in the already entered root: it makes the read-only paths
// read-only, masks the masked paths, makes /dev read-only if its mount asked
// for that, remounts "/" read-only if o.Readonly, and finally makes "/"
// shared or unbindable if o.Propagation asks. Paths that do
// not exist are skipped; every path is resolved inside the root without
// following a symlink or a /proc magic link out of it.
func Finalize(o *Options) error {
	plan, err := parseMounts(o.Mounts)
	if err != nil {
		return err
	}
	prop, err := parsePropagation(o.Propagation)
	if err != nil {
		return err
	}
	r, err := openRoot("/")
	if err != nil {
		return err
	}
	defer r.close()
	for _, p := range o.ReadonlyPaths {
		if err := readonlyPath(r, p); err != nil {
			return err
		}
	}
	step("readonly paths")
	null := -1
	defer func() {
		if null >= 0 {
			unix.Close(null)
		}
	}()
	for _, p := range o.MaskedPaths {
		if err := maskPath(r, p, &null); err != nil {
			return err
		}
	}
	step("masked paths")
	for _, m := range plan {
		if m.dest == "/dev" && !m.opts.IsBind() && m.opts.Flags&unix.MS_RDONLY != 0 {
			if err := readonlyMount(r, "/dev", false); err != nil {
				return err
			}
		}
	}
	if o.Readonly {
		if err := setAttr(r.fd, unix.MOUNT_ATTR_RDONLY, 0, false); err != nil {
			return fmt.Errorf("remount / read-only: %w", err)
		}
	}
	// Shared and unbindable only now (see Setup, step 1).
	if prop&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 {
		if err := unix.Mount("", "/", "", prop, ""); err != nil {
			return fmt.Errorf("make / %s: %w", propagationName(prop), err)
		}
	}
	return nil
}

// readonlyPath binds p onto itself, recursively, and makes the new mounts
// read-only, nosuid, nodev and noexec (runc's readonlyPath).
func readonlyPath(r *root, p string) error {
	p = path.Clean("/" + p)
	h, err := r.open(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read-only path %s: %w", p, err)
	}
	defer unix.Close(h)
	const attrs = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
	a := bindAttrs{recursiveSet: attrs}
	if !newMountAPI {
		// Without mount_setattr(2) only the top mount can be made
		// read-only, as runc does.
		a = bindAttrs{set: attrs}
	}
	if err := r.bindOn(h, p, h, p, true, a); err != nil {
		return fmt.Errorf("read-only path %s: %w", p, err)
	}
	return nil
}

// readonlyMount makes the mount at p read-only.
func readonlyMount(r *root, p string, recursive bool) error {
	h, err := r.open(p)
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	defer unix.Close(h)
	if err := setAttr(h, unix.MOUNT_ATTR_RDONLY, 0, recursive); err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	return nil
}

// maskPath hides p: a file gets /dev/null bound over it, a directory an
// empty read-only tmpfs (runc's maskPath). *null caches the checked
// /dev/null.
func maskPath(r *root, p string, null *int) error {
	p = path.Clean("/" + p)
	h, err := r.open(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	defer unix.Close(h)
	var st unix.Stat_t
	if err := unix.Fstat(h, &st); err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = r.mountOn(h, p, "tmpfs", "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0555")
	} else {
		if *null < 0 {
			if *null, err = openDevNull(r); err != nil {
				return fmt.Errorf("mask %s: %w", p, err)
			}
		}
		err = r.mountOn(h, p, fdPath(*null), "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

// openDevNull opens the container's /dev/null for masking and checks that it
// is the null device, character 1:3, and not a symlink or another file put in
// its place: binding "/dev/null" by name over masked paths let a container
// that replaced it with a link to a procfs file unmask and write what should
// have been hidden (CVE-2025-31133).
func openDevNull(r *root) (int, error) {
	h, err := r.openNoFollow("/dev/null")
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(h, &st); err != nil {
		unix.Close(h)
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		unix.Close(h)
		return -1, fmt.Errorf("/dev/null is %s, not the null device (character 1:3): refused (CVE-2025-31133)", fileKind(st.Mode))
	}
	return h, nil
}
