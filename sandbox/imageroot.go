package sandbox

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/rootfs"
)

// ImageRootfs is the root filesystem of a container that runs on an image:
// its own writable layer over the image's layers, prepared in an image
// store by the caller (package imagefs) before Create. The runtime carries
// it into the init, which mounts the overlay (rootfs.Overlay), records it
// in the container's state, and hands it back to the store when the
// container is removed (RegisterImageRelease).
//
// The runtime itself never imports the store: the init is a sealed copy of
// this package's binary, and the store's packages would cost every
// container's start their initialisation and size.
type ImageRootfs struct {
	// Store is the image store's directory.
	Store string `json:"store"`
	// Image is the image's ID ("sha256:…"), Name the reference it was
	// asked for by ("alpine:3", an ID prefix, …).
	Image string `json:"image"`
	Name  string `json:"name,omitempty"`
	// Overlay is the container's overlay: lower layers, upper and work
	// directories. Nil when the kernel could not stack them and the root
	// is a private copy of the image's files instead (Copy).
	Overlay *rootfs.Overlay `json:"overlay,omitempty"`
	Copy    string          `json:"copy,omitempty"`
	// UID and GID are the host ids of the container's root when it has a
	// user namespace: its files' owners are shifted by them.
	UID uint32 `json:"uid,omitempty"`
	GID uint32 `json:"gid,omitempty"`
}

var imageRelease struct {
	sync.Mutex
	f func(r *ImageRootfs, id string) error
}

// RegisterImageRelease sets the function that gives a removed container's
// root filesystem back to its image store: its upper directory goes and
// the image is no longer marked in use. Package imagefs registers it; a
// binary that runs containers of images imports that package.
func RegisterImageRelease(f func(r *ImageRootfs, id string) error) {
	imageRelease.Lock()
	defer imageRelease.Unlock()
	imageRelease.f = f
}

// ReleaseImageRootfs gives container id's root filesystem back to its
// store; releasing one that is gone already is not an error. A caller whose
// Create failed calls it too: Create releases only what it recorded.
func ReleaseImageRootfs(r *ImageRootfs, id string) error {
	if r == nil {
		return nil
	}
	imageRelease.Lock()
	f := imageRelease.f
	imageRelease.Unlock()
	if f == nil {
		return fmt.Errorf("release the root filesystem of %s in %s: no image store is linked into this program (import sandbox/imagefs)", id, r.Store)
	}
	return f(r, id)
}

// Annotations an image's config becomes, as the OCI image spec's
// conversion.md names them.
const (
	AnnotationStopSignal   = "org.opencontainers.image.stopSignal"
	AnnotationExposedPorts = "org.opencontainers.image.exposedPorts"
)

// StopSignal is the signal stop sends first: the image's STOPSIGNAL when
// the container's description records one, SIGTERM otherwise (docker's
// rule).
func (s State) StopSignal() syscall.Signal {
	if sig, err := ParseSignal(s.Annotations[AnnotationStopSignal]); err == nil {
		return sig
	}
	return unix.SIGTERM
}

// ParseSignal reads a signal as docker and the Dockerfile's STOPSIGNAL
// write it: "SIGQUIT", "QUIT" or "3".
func ParseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return 0, fmt.Errorf("no signal")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n > 0 && n < 65 {
			return syscall.Signal(n), nil
		}
		return 0, fmt.Errorf("invalid signal %q", s)
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}
