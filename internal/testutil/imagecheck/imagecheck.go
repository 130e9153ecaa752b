// Package imagecheck finds what containers left in an image store: the
// store's side of the leak check (testutil.Main checks the kernel's). It is
// apart from testutil because it reads the store through package image,
// whose own tests use testutil.
package imagecheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stepbox/stepbox/sandbox/image"
)

// Leftovers lists what the store in dir holds for no one: a container's
// directory (upper, work, merged or copy), a container still marked as
// using an image, a blob no image refers to, an unpacked layer (or its
// copy for a user namespace) of no image's. A store that does not exist
// has none.
func Leftovers(dir string) []string {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	var out []string
	ents, _ := os.ReadDir(filepath.Join(dir, "containers"))
	for _, e := range ents {
		out = append(out, "container directory: "+filepath.Join(dir, "containers", e.Name()))
	}
	var idx struct {
		Uses map[string]string `json:"uses"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "images.json")); err == nil {
		if err := json.Unmarshal(b, &idx); err != nil {
			out = append(out, fmt.Sprintf("unreadable %s: %v", filepath.Join(dir, "images.json"), err))
		}
	}
	for c, img := range idx.Uses {
		out = append(out, "in-use mark: container "+c+" on "+img)
	}
	s, err := image.Open(dir)
	if err != nil {
		return append(out, err.Error())
	}
	imgs, err := s.List()
	if err != nil {
		return append(out, err.Error())
	}
	blobs, chains := map[string]bool{}, map[string]bool{}
	for _, img := range imgs {
		blobs[img.ID.Encoded()] = true
		blobs[img.ManifestDigest.Encoded()] = true
		for _, l := range s.Layers(img) {
			blobs[l.Digest.Encoded()] = true
			chains[l.ChainID.Encoded()] = true
		}
	}
	ents, _ = os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	for _, e := range ents {
		if !blobs[e.Name()] {
			out = append(out, "unreferenced blob: sha256:"+e.Name())
		}
	}
	ents, _ = os.ReadDir(filepath.Join(dir, "layers"))
	for _, e := range ents {
		chain, _, _ := strings.Cut(e.Name(), "-")
		if !chains[chain] && e.Name() != "empty" {
			out = append(out, "unreferenced layer: "+filepath.Join(dir, "layers", e.Name()))
		}
	}
	sort.Strings(out)
	return out
}
