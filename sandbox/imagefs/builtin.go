package imagefs

import (
	"fmt"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/flock"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
	"github.com/stepbox/stepbox/sandbox/image"
)

// BuiltinRef is the built-in root filesystem's name as an image.
const BuiltinRef = "stepbox-builtin:latest"

// builtinLabel records which build of the built-in root filesystem an
// image was imported from: its manifest's source and build time.
const builtinLabel = "io.stepbox.builtin.build"

// Builtin returns the built-in image: the built-in root filesystem at dir
// (package builtinfs, whose manifest header m describes it) as a one-layer
// image tagged BuiltinRef, imported when the store has none of this build
// (the first run, or after builtinfs rebuilt it for a new stepbox). Its
// config runs /bin/sh with the usual PATH. The import is made with the
// build's time as the image's, so the same build always gives the same
// image ID; the image of an older build loses the tag and is removed
// unless a container still uses it.
func Builtin(s *image.Store, dir string, m *builtinfs.Manifest) (*image.Image, error) {
	want := string(m.Source) + " " + m.Built.UTC().Format(time.RFC3339Nano)
	if img, err := s.Get(BuiltinRef); err == nil && img.Config.Config.Labels[builtinLabel] == want {
		return img, nil
	}
	// One importer at a time; the others find its image.
	unlock, err := flock.File(dir+".image.lock", unix.LOCK_EX, 0o600)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := s.Get(BuiltinRef)
	if err == nil && old.Config.Config.Labels[builtinLabel] == want {
		return old, nil
	}
	built := m.Built.UTC()
	cfg := &ocispec.ImageConfig{
		Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd:    []string{"/bin/sh"},
		Labels: map[string]string{builtinLabel: want},
	}
	img, err := s.ImportDir(dir, BuiltinRef, image.ImportOptions{
		Config: cfg, Created: &built, Exclude: []string{builtinfs.ManifestName},
		CreatedBy: "stepbox rootfs (" + string(m.Source) + ")",
		Comment:   "the built-in root filesystem",
	})
	if err != nil {
		return nil, fmt.Errorf("import the built-in root filesystem %s as %s: %w", dir, BuiltinRef, err)
	}
	if old != nil && old.ID != img.ID {
		// Untagged now; gone unless a container still runs on it (the
		// store refuses then, and a later prune removes it).
		// One the user tagged otherwise is theirs to keep.
		if o, err := s.Get(string(old.ID)); err == nil && len(o.Tags) == 0 {
			_, _ = s.Remove(string(old.ID), false)
		}
	}
	return img, nil
}
