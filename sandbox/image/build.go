package image

import (
	"encoding/json"
	"fmt"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// The build cache lives in the store itself, as docker's classic builder
// keeps it: every step of a build is an image (untagged, an
// "intermediate" one) whose record names the image it was made from
// (Parent) and the step's cache key (BuildKey). A later build looks the
// key up (CachedStep) and goes on from that image; removing the built
// image removes its untagged ancestors no other image needs, so the
// cache goes with what it built, and prune keeps the ancestors of what
// it keeps.

// StepOptions describe one build step's image.
type StepOptions struct {
	// Config is the image's run configuration after the step.
	Config ocispec.ImageConfig
	// CreatedBy is the step's instruction, as history shows it.
	CreatedBy string
	// Upper is a directory of the step's changes (a container's overlay
	// upper directory, or files laid out as they go into the image),
	// written as one more layer; "" for a step that changes only the
	// config (an empty_layer history entry).
	Upper string
	// Exclude names paths of Upper left out (the container's mount
	// points); IDMap is the container's user namespace shift.
	Exclude []string
	IDMap   IDMap
	// Key is the step's cache key.
	Key string
}

// AddStep makes the image of one build step on base (an image ID; ""
// for scratch): base's layers and history, one more layer from o.Upper
// (none without), o.Config, and the cache record.
func (s *Store) AddStep(base string, o StepOptions) (*Image, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var b *Image
	var baseCfg *ocispec.Image
	var lowers []string
	var parent digest.Digest
	if base != "" {
		if b, err = s.Get(base); err != nil {
			return nil, err
		}
		baseCfg = &b.Config
		if o.Upper != "" {
			if lowers, err = s.ensureLayers(b, IDMap{}); err != nil {
				return nil, err
			}
		}
		if ch := chainIDs(b.Config.RootFS.DiffIDs); len(ch) > 0 {
			parent = ch[len(ch)-1]
		}
	}
	var layers []ocispec.Descriptor
	if b != nil {
		layers = append(layers, b.Manifest.Layers...)
	}
	var diff digest.Digest
	if o.Upper != "" {
		src := compressedTar(o.Upper, TarOptions{Overlay: true, UIDOffset: o.IDMap.UID, GIDOffset: o.IDMap.GID, Exclude: o.Exclude})
		defer src.Close()
		out, err := s.addLayer(src, layerIn{parent: parent, lowers: reversed(lowers), what: "of the build step"})
		if err != nil {
			return nil, fmt.Errorf("layer of %q: %w", o.CreatedBy, err)
		}
		diff = out.meta.DiffID
		layers = append(layers, out.desc)
	}
	now := time.Now().UTC()
	cfg := newConfig(baseCfg, diff, ocispec.History{Created: &now, CreatedBy: o.CreatedBy})
	cfg.Config = o.Config
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	img, err := s.addImage(raw, layers, nil)
	if err != nil {
		return nil, err
	}
	err = s.update(func(idx *index) error {
		rec, ok := idx.Images[img.ID]
		if !ok {
			return notFound(string(img.ID))
		}
		if b != nil {
			rec.Parent = b.ID
		}
		rec.BuildKey = o.Key
		return nil
	})
	if err != nil {
		return nil, err
	}
	if b != nil {
		img.Parent = b.ID
	}
	return img, nil
}

// CachedStep returns the image a build step with cache key key made
// before (the newest, if several), or nil when there is none.
func (s *Store) CachedStep(key string) (*Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var best digest.Digest
	var added time.Time
	for id, r := range idx.Images {
		if r.BuildKey == key && (best == "" || r.Added.After(added)) {
			best, added = id, r.Added
		}
	}
	if best == "" {
		return nil, nil
	}
	return s.image(idx, best)
}

// hasChild says whether some image was made from id by a build step.
func hasChild(idx *index, id digest.Digest) bool {
	for _, r := range idx.Images {
		if r.Parent == id {
			return true
		}
	}
	return false
}

// removeParents deletes, after id is deleted, its untagged ancestors
// that no container uses and no other image was made from, as docker rmi
// deletes the intermediate images under the one it removes.
func removeParents(idx *index, parent digest.Digest, res *Removed) {
	for parent != "" {
		r, ok := idx.Images[parent]
		if !ok || hasChild(idx, parent) {
			return
		}
		for _, t := range idx.Tags {
			if t == parent {
				return
			}
		}
		for _, u := range idx.Uses {
			if u == parent {
				return
			}
		}
		delete(idx.Images, parent)
		res.Deleted = append(res.Deleted, parent)
		parent = r.Parent
	}
}

// ancestors are the images every image in keep was built from.
func ancestors(idx *index, keep map[digest.Digest]bool) map[digest.Digest]bool {
	out := map[digest.Digest]bool{}
	for id := range keep {
		for p := idx.Images[id]; p != nil && p.Parent != "" && !out[p.Parent]; p = idx.Images[p.Parent] {
			out[p.Parent] = true
		}
	}
	return out
}
