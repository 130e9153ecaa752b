package rootfs

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Overlay is a container's root filesystem stacked by overlayfs: the
// image's layers, read-only, under the container's own writable upper
// directory (Documentation/filesystems/overlayfs.rst). The init mounts it
// on Options.Root in the container's new mount namespace, after "/" is
// made private and before anything else is mounted there: nothing of it is
// ever mounted on the host, and it goes with the namespace, whatever way
// the container ends.
type Overlay struct {
	// Lower are the layers' directories, top first, as lowerdir= wants
	// them ("Multiple lower layers").
	Lower []string `json:"lower"`
	// Upper receives every change; Work is overlayfs's scratch directory
	// on the same filesystem.
	Upper string `json:"upper"`
	Work  string `json:"work"`
	// UserXattr is for an overlay mounted by a user namespace's root: its
	// whiteouts and opaque directories are kept in user.overlay.*
	// attributes, as trusted.* ones are out of its reach ("Permission
	// model", Linux 5.11).
	UserXattr bool `json:"userxattr,omitempty"`
}

// Data is the overlay's mount(2) data. Besides the directories it turns
// off what would make the upper directory mean more than its files: index
// (which ties the upper to one set of lowers), redirects (a renamed
// directory recorded as an xattr that points into the lowers: nofollow,
// as "off" still follows them where the module's redirect_always_follow
// is set, which userxattr refuses) and metacopy (a copy-up of metadata
// only). Without them the upper is a plain tree of changes, whiteouts and
// opaque directories, which diff, commit and export read as docker's
// overlay2 does (its "naive diff"); renaming a directory of the image then
// fails with EXDEV, and mv(1) copies it instead.
func (o *Overlay) Data() string {
	var b strings.Builder
	b.WriteString("lowerdir=" + strings.Join(o.Lower, ":") + ",upperdir=" + o.Upper + ",workdir=" + o.Work)
	if o.UserXattr {
		b.WriteString(",userxattr")
	}
	b.WriteString(",index=off,redirect_dir=nofollow,metacopy=off")
	return b.String()
}

// mountOverlay mounts o on dir (Setup's step 2). dir is a directory on the
// host's filesystem; the mount exists only in this mount namespace, whose
// "/" step 1 has made private, so it never propagates back.
func mountOverlay(dir string, o *Overlay, userNS bool) error {
	if err := unix.Mount("overlay", dir, "overlay", 0, o.Data()); err != nil {
		if userNS && errors.Is(err, unix.EACCES) {
			err = fmt.Errorf("%w (%s)", err, UserNSStore)
		}
		return fmt.Errorf("mount overlay on %s: %w", dir, err)
	}
	return nil
}

// UserNSStore explains an overlay a user namespace's root could not mount:
// it looks the layers up as itself, an unprivileged uid on the host.
const UserNSStore = "in a user namespace the container's root mounts its overlay as an unprivileged uid on the host: every directory above the image store (--root) must be searchable by it (mode o+x)"
