package image

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stepbox/stepbox/internal/hint"
)

// Image is one image of the store.
type Image struct {
	ID             digest.Digest // the config's digest
	ManifestDigest digest.Digest
	Manifest       ocispec.Manifest
	Config         ocispec.Image
	RawConfig      []byte
	Tags           []string  // "repository:tag", sorted
	RepoDigests    []string  // "repository@sha256:…" in registries, sorted
	Added          time.Time // when it came into this store
	Size           int64     // bytes of its layers' files, unpacked
	UsedBy         []string  // containers that use it
	// Parent is the image a build step made this one from (build.go).
	Parent digest.Digest
	// Intermediate is an untagged image a later build step was made
	// from: docker's intermediate image, hidden by images unless -a.
	Intermediate bool
}

// Created is when the image was made (its config's created), or when it
// came into the store.
func (i *Image) Created() time.Time {
	if i.Config.Created != nil && !i.Config.Created.IsZero() {
		return *i.Config.Created
	}
	return i.Added
}

// ParseRef turns name[:tag] into the familiar "repository:tag" form docker
// shows: "alpine" is "alpine:latest", "docker.io/library/alpine:3" is
// "alpine:3", "localhost:5000/x" keeps its registry.
func ParseRef(s string) (string, error) {
	if strings.Contains(s, "@") {
		return "", hint.With(fmt.Errorf("invalid reference %q: a digest is not a tag", s), "use NAME[:TAG]")
	}
	t, err := name.NewTag(s, name.WithDefaultTag(name.DefaultTag))
	if err != nil {
		return "", hint.With(fmt.Errorf("invalid reference %q: %w", s, err), "use NAME[:TAG]: lower-case letters, digits and . _ - / in the name")
	}
	return familiar(t), nil
}

// parseDigestRef turns name@sha256:… into its familiar form, as
// RepoDigests hold it: "alpine@sha256:…", "localhost:5000/x@sha256:…".
func parseDigestRef(s string) (string, error) {
	d, err := name.NewDigest(s)
	if err != nil {
		return "", hint.With(fmt.Errorf("invalid reference %q: %w", s, err), "use NAME@sha256:DIGEST with 64 hex digits")
	}
	return familiarRepo(d.Context()) + "@" + d.DigestStr(), nil
}

// familiarRepo is a repository as docker shows it: without docker.io's
// registry and library/ prefix.
func familiarRepo(r name.Repository) string {
	if r.RegistryStr() == name.DefaultRegistry {
		return strings.TrimPrefix(r.RepositoryStr(), "library/")
	}
	return r.RegistryStr() + "/" + r.RepositoryStr()
}

func familiar(t name.Tag) string {
	reg, repo := t.RegistryStr(), t.RepositoryStr()
	if reg == name.DefaultRegistry {
		return strings.TrimPrefix(repo, "library/") + ":" + t.TagStr()
	}
	return reg + "/" + repo + ":" + t.TagStr()
}

// SplitRef splits "repository:tag" at the tag's colon.
func SplitRef(ref string) (repo, tag string) {
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

func notFound(ref string) error {
	return hint.With(fmt.Errorf("%w: %s", ErrNotFound, ref), "see 'stepbox images' for what the store holds, 'stepbox load -i FILE' to add one")
}

// resolve finds the image ID ref names: a tag, an ID ("sha256:…"), or an
// ID's unique prefix of hex digits.
func resolve(idx *index, ref string) (digest.Digest, error) {
	if ref == "" {
		return "", notFound(`""`)
	}
	if i := strings.IndexByte(ref, '@'); i > 0 {
		// name@sha256:…: an image pulled by (or pushed to) that digest.
		if r, err := parseDigestRef(ref); err == nil {
			for id, rec := range idx.Images {
				if slices.Contains(rec.RepoDigests, r) {
					return id, nil
				}
			}
		}
		return "", notFound(ref)
	}
	if !strings.HasPrefix(ref, "sha256:") {
		if r, err := ParseRef(ref); err == nil {
			if id, ok := idx.Tags[r]; ok {
				return id, nil
			}
		}
	}
	p := strings.TrimPrefix(ref, "sha256:")
	if !isHex(p) {
		return "", notFound(ref)
	}
	var found []digest.Digest
	for id := range idx.Images {
		if strings.HasPrefix(id.Encoded(), p) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return "", notFound(ref)
	case 1:
		return found[0], nil
	}
	return "", hint.With(fmt.Errorf("image ID prefix %s is ambiguous: %d images match", ref, len(found)), "give more digits of the ID")
}

func isHex(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// image reads image id's manifest and config, with its tags and users.
func (s *Store) image(idx *index, id digest.Digest) (*Image, error) {
	rec, ok := idx.Images[id]
	if !ok {
		return nil, notFound(string(id))
	}
	img := &Image{ID: id, ManifestDigest: rec.Manifest, Added: rec.Added, RepoDigests: append([]string(nil), rec.RepoDigests...), Parent: rec.Parent}
	sort.Strings(img.RepoDigests)
	mb, err := s.readBlob(rec.Manifest)
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", ShortID(id), err)
	}
	if err := json.Unmarshal(mb, &img.Manifest); err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", ShortID(id), err)
	}
	if img.RawConfig, err = s.readBlob(id); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", ShortID(id), err)
	}
	if err := json.Unmarshal(img.RawConfig, &img.Config); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", ShortID(id), err)
	}
	if len(img.Config.RootFS.DiffIDs) != len(img.Manifest.Layers) {
		return nil, fmt.Errorf("image %s: %d layers in the manifest, %d diff IDs in the config", ShortID(id), len(img.Manifest.Layers), len(img.Config.RootFS.DiffIDs))
	}
	for t, tid := range idx.Tags {
		if tid == id {
			img.Tags = append(img.Tags, t)
		}
	}
	sort.Strings(img.Tags)
	if len(img.Tags) == 0 {
		img.Intermediate = hasChild(idx, id)
	}
	for c, cid := range idx.Uses {
		if cid == id {
			img.UsedBy = append(img.UsedBy, c)
		}
	}
	sort.Strings(img.UsedBy)
	for _, c := range chainIDs(img.Config.RootFS.DiffIDs) {
		if lm, err := s.readLayerMeta(c, IDMap{}); err == nil {
			img.Size += lm.Size
		}
	}
	return img, nil
}

// Get returns the image ref names (a tag, an ID or an ID prefix).
func (s *Store) Get(ref string) (*Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	id, err := resolve(idx, ref)
	if err != nil {
		return nil, err
	}
	return s.image(idx, id)
}

// List returns every image, newest first.
func (s *Store) List() ([]*Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for id := range idx.Images {
		img, err := s.image(idx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].Created(), out[j].Created(); !a.Equal(b) {
			return a.After(b)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Tag gives the image src names the new tag dst (moving dst from any other
// image, as docker tag does).
func (s *Store) Tag(src, dst string) error {
	r, err := ParseRef(dst)
	if err != nil {
		return err
	}
	return s.update(func(idx *index) error {
		id, err := resolve(idx, src)
		if err != nil {
			return err
		}
		idx.Tags[r] = id
		return nil
	})
}

// newConfig is the config of an image with one more layer (or none): the
// OCI config.md fields with the runtime's defaults.
func newConfig(base *ocispec.Image, diff digest.Digest, h ocispec.History) ocispec.Image {
	var c ocispec.Image
	if base != nil {
		c = *base
		c.RootFS.DiffIDs = append([]digest.Digest(nil), base.RootFS.DiffIDs...)
		c.History = append([]ocispec.History(nil), base.History...)
	} else {
		c.Platform = ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"}
		c.RootFS.Type = "layers"
	}
	if c.RootFS.DiffIDs == nil {
		c.RootFS.DiffIDs = []digest.Digest{}
	}
	if diff != "" {
		c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, diff)
	} else {
		h.EmptyLayer = true
	}
	if h.Created == nil {
		now := time.Now().UTC()
		h.Created = &now
	}
	c.Created = h.Created
	if h.Author != "" {
		c.Author = h.Author
	}
	c.History = append(c.History, h)
	return c
}

// addImage stores config and a manifest for it with layers, and records the
// image with tags. It returns the image.
func (s *Store) addImage(rawConfig []byte, layers []ocispec.Descriptor, tags []string) (*Image, error) {
	id, err := s.putBlobBytes(rawConfig)
	if err != nil {
		return nil, err
	}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: id, Size: int64(len(rawConfig))},
		Layers:    layers,
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	md, err := s.putBlobBytes(mb)
	if err != nil {
		return nil, err
	}
	var img *Image
	err = s.update(func(idx *index) error {
		if rec, ok := idx.Images[id]; !ok {
			idx.Images[id] = &record{Manifest: md, Added: time.Now().UTC()}
		} else {
			rec.Manifest = md
		}
		for _, t := range tags {
			idx.Tags[t] = id
		}
		var err error
		img, err = s.image(idx, id)
		return err
	})
	return img, err
}

// LayerInfo is one layer of an image as the store keeps it.
type LayerInfo struct {
	Digest    digest.Digest // of the blob (compressed or not)
	DiffID    digest.Digest // of the uncompressed tar
	ChainID   digest.Digest
	MediaType string
	Size      int64  // of the blob
	Unpacked  int64  // bytes of its files
	Blob      string // the blob's file
	Dir       string // where it is unpacked (an overlayfs lower directory)
}

// Layers describes img's layers, bottom first.
func (s *Store) Layers(img *Image) []LayerInfo {
	chains := chainIDs(img.Config.RootFS.DiffIDs)
	var out []LayerInfo
	for i, l := range img.Manifest.Layers {
		li := LayerInfo{Digest: l.Digest, DiffID: img.Config.RootFS.DiffIDs[i], ChainID: chains[i], MediaType: l.MediaType,
			Size: l.Size, Blob: s.blobPath(l.Digest), Dir: s.diffDir(chains[i], IDMap{})}
		if lm, err := s.readLayerMeta(chains[i], IDMap{}); err == nil {
			li.Unpacked = lm.Size
		}
		out = append(out, li)
	}
	return out
}

// HistoryEntry is one step of how an image was made.
type HistoryEntry struct {
	Created   time.Time
	CreatedBy string
	Comment   string
	Size      int64 // bytes of the files of its layer; 0 for a config-only step
	Empty     bool  // no layer
}

// History is img's history, newest first, with each step's layer size.
// An image whose config records no history gets one step per layer.
func (s *Store) History(img *Image) []HistoryEntry {
	layers := s.Layers(img)
	var out []HistoryEntry
	li := 0
	for _, h := range img.Config.History {
		e := HistoryEntry{CreatedBy: h.CreatedBy, Comment: h.Comment, Empty: h.EmptyLayer}
		if h.Created != nil {
			e.Created = *h.Created
		}
		if !h.EmptyLayer && li < len(layers) {
			e.Size = layers[li].Unpacked
			li++
		}
		out = append(out, e)
	}
	for ; li < len(layers); li++ {
		out = append(out, HistoryEntry{Created: img.Created(), Size: layers[li].Unpacked})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
