package imagefs

import (
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/rootfs"
)

// View gives the merged files of an image's unpacked layers (top first),
// read-only, as a path to read them through, and the function that lets
// it go: a build reads COPY --from's sources and a COPY's destination
// there. Two layers or more are a detached overlay (fsmount(2), never
// attached, as export's: gone with its descriptor, nothing to unmount);
// one layer is its own directory; none, an empty directory.
func View(lower []string) (string, func(), error) {
	switch len(lower) {
	case 0:
		d, err := os.MkdirTemp("", "stepbox-scratch-")
		if err != nil {
			return "", nil, err
		}
		return d, func() { os.Remove(d) }, nil
	case 1:
		return lower[0], func() {}, nil
	}
	fd, err := mountView(&sandbox.ImageRootfs{Overlay: &rootfs.Overlay{Upper: lower[0], Lower: lower[1:]}})
	if err != nil {
		return "", nil, err
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), func() { unix.Close(fd) }, nil
}

// MountPoints lists (relative to the root) what the runtime made in a
// container's upper directory only to mount on (madeForMounts): a build
// step's layer leaves them out, as commit does.
func MountPoints(spec *specs.Spec, o *rootfs.Overlay) []string {
	var out []string
	for p := range madeForMounts(spec, o) {
		out = append(out, p)
	}
	return out
}
