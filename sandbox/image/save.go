package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// Format is an archive format for Save.
type Format string

const (
	// FormatDocker is docker save's format: manifest.json, the configs
	// and the layer tars.
	FormatDocker Format = "docker"
	// FormatOCI is an OCI image layout (image-spec image-layout.md) as a
	// tar: oci-layout, index.json and blobs/sha256/.
	FormatOCI Format = "oci"
)

// SaveOptions change Save.
type SaveOptions struct {
	Format   Format // FormatDocker when empty
	Progress func(Progress)
}

// saved is one image to save, with the tag it was named by ("" when named
// by ID).
type saved struct {
	img *Image
	tag string
}

// Save writes the images refs name to w as one archive.
func (s *Store) Save(w io.Writer, refs []string, o SaveOptions) error {
	if len(refs) == 0 {
		return hint.With(fmt.Errorf("save: no image named"), "name one or more images")
	}
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	var list []saved
	for _, ref := range refs {
		id, err := resolve(idx, ref)
		if err != nil {
			return err
		}
		img, err := s.image(idx, id)
		if err != nil {
			return err
		}
		tag := ""
		if r, err := ParseRef(ref); err == nil && !strings.HasPrefix(ref, "sha256:") && idx.Tags[r] == id {
			tag = r
		}
		list = append(list, saved{img, tag})
	}
	switch o.Format {
	case FormatDocker, "":
		return s.saveDocker(w, list, o.Progress)
	case FormatOCI:
		return s.saveOCI(w, list, o.Progress)
	}
	return hint.With(fmt.Errorf("unknown format %q", o.Format), "use docker or oci")
}

// saveDocker writes docker save's format with go-containerregistry's
// tarball writer, which docker load, skopeo and podman read.
func (s *Store) saveDocker(w io.Writer, list []saved, report func(Progress)) error {
	refs := map[name.Reference]v1.Image{}
	byID := map[digest.Digest]*storeImage{}
	for _, sv := range list {
		si := byID[sv.img.ID]
		if si == nil {
			si = &storeImage{s: s, img: sv.img}
			byID[sv.img.ID] = si
		}
		var ref name.Reference
		var err error
		if sv.tag != "" {
			ref, err = name.NewTag(sv.tag)
		} else {
			// Only a tag becomes a RepoTag; an image named by ID is keyed
			// by a digest reference, which the writer leaves untagged.
			ref, err = name.NewDigest("stepbox/untagged@" + string(sv.img.ID))
		}
		if err != nil {
			return err
		}
		refs[ref] = si
	}
	var opts []tarball.WriteOption
	done := make(chan struct{})
	ch := make(chan v1.Update, 16)
	if report != nil {
		opts = append(opts, tarball.WithProgress(ch))
	}
	go func() {
		defer close(done)
		for u := range ch {
			report(Progress{Bytes: u.Complete, Total: u.Total})
		}
	}()
	err := tarball.MultiRefWrite(refs, w, opts...)
	// The writer never closes the channel; it sends nothing once it
	// has returned.
	close(ch)
	<-done
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

// storeImage is a store image as go-containerregistry's v1.Image.
type storeImage struct {
	s   *Store
	img *Image
}

func toHash(d digest.Digest) v1.Hash {
	return v1.Hash{Algorithm: string(d.Algorithm()), Hex: d.Encoded()}
}

func (i *storeImage) Layers() ([]v1.Layer, error) {
	var out []v1.Layer
	for n, l := range i.img.Manifest.Layers {
		out = append(out, &storeLayer{s: i.s, desc: l, diff: i.img.Config.RootFS.DiffIDs[n]})
	}
	return out, nil
}

// MediaType is the stored manifest's own: an image pulled from a registry
// keeps docker's media types if it came with them, so that pushing it again
// sends the same bytes under the same digest.
func (i *storeImage) MediaType() (types.MediaType, error) { return manifestMediaType(i.img), nil }

func manifestMediaType(img *Image) types.MediaType {
	if img.Manifest.MediaType != "" {
		return types.MediaType(img.Manifest.MediaType)
	}
	return types.OCIManifestSchema1
}
func (i *storeImage) Size() (int64, error) {
	b, err := i.RawManifest()
	return int64(len(b)), err
}
func (i *storeImage) ConfigName() (v1.Hash, error) { return toHash(i.img.ID), nil }
func (i *storeImage) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.img.RawConfig))
}
func (i *storeImage) RawConfigFile() ([]byte, error) { return i.img.RawConfig, nil }
func (i *storeImage) Digest() (v1.Hash, error)       { return toHash(i.img.ManifestDigest), nil }
func (i *storeImage) Manifest() (*v1.Manifest, error) {
	b, err := i.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(b))
}
func (i *storeImage) RawManifest() ([]byte, error) { return i.s.readBlob(i.img.ManifestDigest) }
func (i *storeImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	ls, _ := i.Layers()
	for _, l := range ls {
		if d, _ := l.Digest(); d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer %s", h)
}
func (i *storeImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	ls, _ := i.Layers()
	for _, l := range ls {
		if d, _ := l.DiffID(); d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer with diff ID %s", h)
}

// storeLayer is a layer blob of the store as a v1.Layer.
type storeLayer struct {
	s    *Store
	desc ocispec.Descriptor
	diff digest.Digest
}

func (l *storeLayer) Digest() (v1.Hash, error) { return toHash(l.desc.Digest), nil }
func (l *storeLayer) DiffID() (v1.Hash, error) { return toHash(l.diff), nil }
func (l *storeLayer) Compressed() (io.ReadCloser, error) {
	return os.Open(l.s.blobPath(l.desc.Digest))
}
func (l *storeLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.s.blobPath(l.desc.Digest))
	if err != nil {
		return nil, err
	}
	r, _, done, err := decompress(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return readCloser{r, func() error { done(); return f.Close() }}, nil
}
func (l *storeLayer) Size() (int64, error) { return l.desc.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.desc.MediaType), nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// saveOCI writes an OCI image layout as a tar, blobs first and index.json
// last, streaming each blob from the store. Each image is named as docker
// names it in such a layout: org.opencontainers.image.ref.name is the tag
// and io.containerd.image.name the full name.
func (s *Store) saveOCI(w io.Writer, list []saved, report func(Progress)) error {
	tw := tar.NewWriter(w)
	now := time.Now().UTC().Truncate(time.Second)
	dir := func(n string) error {
		return tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now})
	}
	file := func(n string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	layout, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err := file(ocispec.ImageLayoutFile, layout); err != nil {
		return err
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	p := Progress{}
	for _, sv := range list {
		p.Layers += len(sv.img.Manifest.Layers)
		for _, l := range sv.img.Manifest.Layers {
			p.Total += l.Size
		}
	}
	written := map[digest.Digest]bool{}
	blob := func(d digest.Digest, layer bool) error {
		if written[d] {
			return nil
		}
		written[d] = true
		f, err := os.Open(s.blobPath(d))
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "blobs/" + string(d.Algorithm()) + "/" + d.Encoded(),
			Typeflag: tar.TypeReg, Mode: 0o644, Size: st.Size(), ModTime: now}); err != nil {
			return err
		}
		var r io.Reader = f
		if layer && report != nil {
			p.Layer++
			r = &counting{r: f, p: &p, report: report}
		}
		n, err := io.Copy(tw, r)
		if err == nil && n != st.Size() {
			err = fmt.Errorf("blob %s changed size", short(d))
		}
		return err
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for _, sv := range list {
		for _, l := range sv.img.Manifest.Layers {
			if err := blob(l.Digest, true); err != nil {
				return fmt.Errorf("save %s: %w", ShortID(sv.img.ID), err)
			}
		}
		if err := blob(sv.img.ID, false); err != nil {
			return err
		}
		if err := blob(sv.img.ManifestDigest, false); err != nil {
			return err
		}
		mb, err := s.readBlob(sv.img.ManifestDigest)
		if err != nil {
			return err
		}
		d := ocispec.Descriptor{MediaType: string(manifestMediaType(sv.img)), Digest: sv.img.ManifestDigest, Size: int64(len(mb)),
			Platform: &ocispec.Platform{OS: sv.img.Config.OS, Architecture: sv.img.Config.Architecture, Variant: sv.img.Config.Variant}}
		if d.Platform.OS == "" {
			d.Platform = nil
		}
		if sv.tag != "" {
			_, tag := SplitRef(sv.tag)
			d.Annotations = map[string]string{ocispec.AnnotationRefName: tag, annotationContainerdName: fullName(sv.tag)}
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	ib, _ := json.Marshal(idx)
	if err := file(ocispec.ImageIndexFile, ib); err != nil {
		return err
	}
	return tw.Close()
}

// fullName is a familiar "alpine:3" as containerd writes it,
// "docker.io/library/alpine:3".
func fullName(ref string) string {
	t, err := name.NewTag(ref)
	if err != nil {
		return ref
	}
	reg := t.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + t.RepositoryStr() + ":" + t.TagStr()
}
