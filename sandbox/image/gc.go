package image

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// Removed is what Remove or Prune did, in docker's words: "Untagged: x:y",
// "Deleted: sha256:…".
type Removed struct {
	Untagged []string
	Deleted  []digest.Digest
	// Reclaimed counts the bytes of blobs and unpacked layers deleted.
	Reclaimed int64
}

func (r *Removed) Lines() []string {
	var out []string
	for _, t := range r.Untagged {
		out = append(out, "Untagged: "+t)
	}
	for _, d := range r.Deleted {
		out = append(out, "Deleted: "+string(d))
	}
	return out
}

// Remove removes the image ref names, as docker rmi does. A tag of an image
// with other tags is only untagged. An image is deleted when its last tag
// goes (or it is named by ID) and no container uses it; otherwise Remove
// fails with ErrInUse. With force, an image named by ID loses all its
// tags, and an image in use loses its tags but stays for its containers.
// Blobs and unpacked layers no image needs any more are deleted.
func (s *Store) Remove(ref string, force bool) (*Removed, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	res := &Removed{}
	err = s.update(func(idx *index) error {
		id, err := resolve(idx, ref)
		if err != nil {
			return err
		}
		var tags, users []string
		for t, tid := range idx.Tags {
			if tid == id {
				tags = append(tags, t)
			}
		}
		for c, cid := range idx.Uses {
			if cid == id {
				users = append(users, c)
			}
		}
		sort.Strings(tags)
		sort.Strings(users)
		byTag := ""
		if !strings.HasPrefix(ref, "sha256:") {
			if r, err := ParseRef(ref); err == nil && idx.Tags[r] == id {
				byTag = r
			}
		}
		switch {
		case byTag != "" && len(tags) > 1:
			delete(idx.Tags, byTag)
			res.Untagged = append(res.Untagged, byTag)
			return nil
		case byTag == "" && len(tags) > 1 && !force:
			return hint.With(fmt.Errorf("image %s has %d tags (%s)", ShortID(id), len(tags), strings.Join(tags, ", ")),
				"remove it by tag, or use -f to untag and remove it")
		case len(users) > 0 && !force:
			return hint.With(fmt.Errorf("%w: %s is used by container %s", ErrInUse, refOr(ref, id), strings.Join(users, ", ")),
				"remove the container first (stepbox rm), or use -f to untag the image and keep it for the container")
		}
		for _, t := range tags {
			delete(idx.Tags, t)
			res.Untagged = append(res.Untagged, t)
		}
		if len(users) == 0 {
			parent := idx.Images[id].Parent
			delete(idx.Images, id)
			res.Deleted = append(res.Deleted, id)
			removeParents(idx, parent, res)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(res.Deleted) > 0 {
		n, err := s.collect()
		res.Reclaimed = n
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func refOr(ref string, id digest.Digest) string {
	if ref != "" {
		return ref
	}
	return ShortID(id)
}

// Prune deletes dangling images (no tag, no container), or with all every
// image no container uses, and then every blob, unpacked layer and leftover
// no image needs.
func (s *Store) Prune(all bool) (*Removed, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	res := &Removed{}
	err = s.update(func(idx *index) error {
		used := map[digest.Digest]bool{}
		for _, id := range idx.Uses {
			used[id] = true
		}
		tagged := map[digest.Digest]bool{}
		for _, id := range idx.Tags {
			tagged[id] = true
		}
		// What a kept image was built from stays: the build cache.
		keep := map[digest.Digest]bool{}
		for id := range idx.Images {
			if used[id] || tagged[id] && !all {
				keep[id] = true
			}
		}
		parents := ancestors(idx, keep)
		for id := range idx.Images {
			if keep[id] || parents[id] && !all {
				continue
			}
			for t, tid := range idx.Tags {
				if tid == id {
					delete(idx.Tags, t)
					res.Untagged = append(res.Untagged, t)
				}
			}
			delete(idx.Images, id)
			res.Deleted = append(res.Deleted, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(res.Untagged)
	sort.Slice(res.Deleted, func(i, j int) bool { return res.Deleted[i] < res.Deleted[j] })
	if unlockIdx, err := s.lock(indexLock, unix.LOCK_EX); err == nil {
		s.clearTmp()
		unlockIdx()
	}
	res.Reclaimed, err = s.collect()
	return res, err
}

// collect deletes the blobs and unpacked layers no image refers to, and
// container directories no container uses. The caller holds the gc lock
// exclusively, so no one is adding content meanwhile.
func (s *Store) collect() (int64, error) {
	idx, err := s.readIndex()
	if err != nil {
		return 0, err
	}
	blobs := map[string]bool{}
	chains := map[string]bool{}
	for id, rec := range idx.Images {
		blobs[id.Encoded()] = true
		blobs[rec.Manifest.Encoded()] = true
		img, err := s.image(idx, id)
		if err != nil {
			// A damaged image keeps everything: better a leftover blob
			// than a deleted layer of an image that still exists.
			return 0, fmt.Errorf("collect: %w", err)
		}
		for _, l := range img.Manifest.Layers {
			blobs[l.Digest.Encoded()] = true
		}
		for _, c := range chainIDs(img.Config.RootFS.DiffIDs) {
			chains[c.Encoded()] = true
		}
	}
	var n int64
	bdir := filepath.Join(s.dir, "blobs", "sha256")
	ents, _ := os.ReadDir(bdir)
	for _, e := range ents {
		if !blobs[e.Name()] {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
			if err := os.Remove(filepath.Join(bdir, e.Name())); err != nil {
				return n, err
			}
		}
	}
	ldir := filepath.Join(s.dir, "layers")
	ents, _ = os.ReadDir(ldir)
	for _, e := range ents {
		chain, _, _ := strings.Cut(e.Name(), "-")
		if chains[chain] || e.Name() == "empty" {
			continue
		}
		if lm, err := os.ReadFile(filepath.Join(ldir, e.Name(), "layer.json")); err == nil {
			n += int64(len(lm)) + sizeFromMeta(lm)
		}
		if err := os.RemoveAll(filepath.Join(ldir, e.Name())); err != nil {
			return n, err
		}
	}
	cdir := filepath.Join(s.dir, "containers")
	ents, _ = os.ReadDir(cdir)
	for _, e := range ents {
		if _, ok := idx.Uses[e.Name()]; !ok {
			os.RemoveAll(filepath.Join(cdir, e.Name()))
		}
	}
	return n, nil
}

func sizeFromMeta(b []byte) int64 {
	var lm layerMeta
	if json.Unmarshal(b, &lm) == nil {
		return lm.Size
	}
	return 0
}
