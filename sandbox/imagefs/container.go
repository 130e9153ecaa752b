package imagefs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/rootfs"
)

// ErrNoImage is the error for a container that does not run on an image
// (a plain --rootfs directory): it has no layer of its own to read.
var ErrNoImage = errors.New("the container does not run on an image")

// overlayOf returns the container's overlay, or why there is none.
func overlayOf(st sandbox.State, what string) (*sandbox.ImageRootfs, error) {
	r := st.Image
	if r == nil {
		return nil, hint.With(fmt.Errorf("%s %s: %w (it runs on the directory %s)", what, st.DisplayName(), ErrNoImage, st.Rootfs),
			"only a container run from an image has a layer of its own; a --rootfs directory is yours to read")
	}
	if r.Overlay == nil {
		return nil, hint.With(fmt.Errorf("%s %s: its root is a copy of the image, not an overlay, so what it changed is not kept apart", what, st.DisplayName()),
			"this kernel could not mount overlayfs when the container was made; 'stepbox export' still writes its files")
	}
	return r, nil
}

// Diff lists what the container changed in its image, as docker diff does:
// A added, C changed, D deleted, read from its upper directory and the
// image's layers (image.Changes). It works on a running container too.
// What the runtime made only to mount on is not the container's change
// (madeForMounts).
func Diff(c *sandbox.Container) ([]image.Change, error) {
	st := c.State()
	r, err := overlayOf(st, "diff")
	if err != nil {
		return nil, err
	}
	all, err := image.Changes(r.Overlay.Upper, r.Overlay.Lower)
	if err != nil {
		return nil, err
	}
	skip := madeForMounts(c.Spec(), r.Overlay)
	out := all[:0]
	for _, ch := range all {
		if !skip[strings.TrimPrefix(ch.Path, "/")] {
			out = append(out, ch)
		}
	}
	return out, nil
}

// madeForMounts lists (relative to the root) the mount points the runtime
// made in the container's upper directory because the image lacks them:
// an empty directory (or, for a file bound, an empty file) at a mount's
// destination that no layer of the image has. docker keeps these in a
// layer of their own under the container's; here they are left out of
// diff and commit instead, which comes to the same.
func madeForMounts(spec *specs.Spec, o *rootfs.Overlay) map[string]bool {
	out := map[string]bool{}
	if spec == nil {
		return out
	}
	for _, m := range spec.Mounts {
		rel := strings.TrimPrefix(path.Clean("/"+m.Destination), "/")
		if rel == "" {
			continue
		}
		st, err := lstat(filepath.Join(o.Upper, rel))
		if err != nil {
			continue
		}
		empty := st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0
		if isDir(st) {
			ents, err := os.ReadDir(filepath.Join(o.Upper, rel))
			empty = err == nil && len(ents) == 0
		}
		if empty && find(o.Lower, rel) < 0 {
			out[rel] = true
		}
	}
	return out
}

// Export writes the container's files as one flat tar, as docker export
// does: the merged view of its image and its own changes, with owners as
// the container sees them, and nothing it mounts (/proc, volumes). The view
// is a second overlay of the same directories, read-only, with the upper
// directory as one more lower layer: it is made with fsmount(2) and never
// attached anywhere, so it needs no mount point and vanishes when its
// descriptor is closed. It works on a stopped container (whose own overlay
// went with it) and on a running one; files the container writes meanwhile
// may or may not be in the tar.
func Export(st sandbox.State, w io.Writer) error {
	r := st.Image
	if r == nil {
		_, err := overlayOf(st, "export")
		return err
	}
	o := image.TarOptions{UIDOffset: r.UID, GIDOffset: r.GID}
	if r.Overlay == nil {
		return image.WriteTar(w, r.Copy, o)
	}
	fd, err := mountView(r)
	if err != nil {
		return fmt.Errorf("export %s: %w", st.DisplayName(), err)
	}
	defer unix.Close(fd)
	return image.WriteTar(w, "/proc/self/fd/"+strconv.Itoa(fd), o)
}

// mountView makes the read-only merged view of r as a detached mount
// (fsopen, fsconfig, fsmount: Linux 5.2) and returns its descriptor. The
// layers are named by descriptors (/proc/self/fd/N), not by their paths:
// fsconfig(2) takes a string of at most 256 bytes (fs/fsopen.c), which two
// paths in the store already pass; beyond a dozen layers they are added
// one at a time with "lowerdir+" (Linux 6.8).
func mountView(r *sandbox.ImageRootfs) (int, error) {
	ov := r.Overlay
	var names []string
	for _, d := range append([]string{ov.Upper}, ov.Lower...) {
		fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", d, err)
		}
		defer unix.Close(fd)
		names = append(names, "/proc/self/fd/"+strconv.Itoa(fd))
	}
	fs, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fs)
	if all := strings.Join(names, ":"); len(all) < 256 {
		if err := unix.FsconfigSetString(fs, "lowerdir", all); err != nil {
			return -1, fmt.Errorf("overlay lowerdir=%s:%s: %w%s", ov.Upper, strings.Join(ov.Lower, ":"), err, fsLog(fs))
		}
	} else {
		for i, n := range names {
			if err := unix.FsconfigSetString(fs, "lowerdir+", n); err != nil {
				return -1, fmt.Errorf("overlay lowerdir+ layer %d of %d (Linux 6.8 needed for so many): %w%s", i+1, len(names), err, fsLog(fs))
			}
		}
	}
	if ov.UserXattr {
		// The container's whiteouts and opaque marks are user.overlay.*.
		if err := unix.FsconfigSetFlag(fs, "userxattr"); err != nil {
			return -1, fmt.Errorf("overlay userxattr: %w%s", err, fsLog(fs))
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, fmt.Errorf("make the overlay of %s: %w%s", ov.Upper, err, fsLog(fs))
	}
	mfd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsmount overlay: %w", err)
	}
	return mfd, nil
}

// fsLog is what the kernel said of a failed fsconfig(2): its messages are
// read from the filesystem context's descriptor, not written to dmesg
// (fsopen(2), "Message retrieval interface").
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for range 8 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

// CommitOptions describe the image a commit makes.
type CommitOptions struct {
	// Changes are Dockerfile instructions applied to the image's config
	// (docker commit --change: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
	// STOPSIGNAL, USER, VOLUME, WORKDIR).
	Changes []string
	// Message and Author go into the new layer's history (-m, -a).
	Message, Author string
	// Pause freezes a running container while its upper directory is read
	// (docker commit's default), so the layer is one moment of it.
	Pause bool
}

// Commit makes a new image of the container: its upper directory becomes
// one more layer on top of its image (image.Store.Commit), with the
// image's config changed by o.Changes, tagged ref ("" for none). History
// records the container's command as what made the layer, as docker's
// does.
func Commit(c *sandbox.Container, ref string, o CommitOptions) (*image.Image, error) {
	st := c.State()
	r, err := overlayOf(st, "commit")
	if err != nil {
		return nil, err
	}
	s, err := image.Open(r.Store)
	if err != nil {
		return nil, err
	}
	base, err := s.Get(r.Image)
	if err != nil {
		return nil, fmt.Errorf("commit %s: its image: %w", st.DisplayName(), err)
	}
	var cfg *ocispec.ImageConfig
	if len(o.Changes) > 0 {
		c := base.Config.Config
		for _, ch := range o.Changes {
			if err := image.ApplyChange(&c, ch); err != nil {
				return nil, err
			}
		}
		cfg = &c
	}
	// A container paused already (stepbox oci pause) stays paused.
	if o.Pause && st.Status == sandbox.Running && c.OCIStatus() != sandbox.Paused {
		if err := c.Pause(); err != nil {
			return nil, fmt.Errorf("commit %s: %w", st.DisplayName(), err)
		}
		defer c.Resume()
	}
	var exclude []string
	for p := range madeForMounts(c.Spec(), r.Overlay) {
		exclude = append(exclude, p)
	}
	img, err := s.Commit(r.Image, r.Overlay.Upper, ref, image.CommitOptions{
		ImportOptions: image.ImportOptions{Config: cfg, Comment: o.Message, Author: o.Author,
			CreatedBy: strings.Join(st.Args, " "), Exclude: exclude},
		IDMap: image.IDMap{UID: r.UID, GID: r.GID},
	})
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", st.DisplayName(), err)
	}
	return img, nil
}
