package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// Progress reports a long load or save.
type Progress struct {
	Layer, Layers int   // the layer being read (1-based) and how many there are
	Bytes, Total  int64 // bytes done and to do
}

// LoadOptions change Load.
type LoadOptions struct {
	// Progress, when set, is called as bytes go by.
	Progress func(Progress)
}

// Loaded is one image Load added.
type Loaded struct {
	ID   digest.Digest
	Tags []string
}

// Docker's and the OCI's names for the same things, as they appear in
// manifests: both are accepted.
const (
	dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	dockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
	dockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	dockerForeign      = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

	annotationContainerdName = "io.containerd.image.name"
)

var badArchiveHint = "give a file made by 'docker save', 'stepbox save' or 'skopeo copy … oci-archive:' (gzip or not)"

// LoadPath loads the images in p: a docker-save or OCI-layout tar (plain,
// gzip or zstd) or an OCI image layout directory.
func (s *Store) LoadPath(p string, o LoadOptions) ([]Loaded, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", p, err)
	}
	if st.IsDir() {
		r, err := os.OpenRoot(p)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", p, err)
		}
		defer r.Close()
		out, err := s.loadFrom(dirSource{r}, o)
		if err != nil {
			return out, fmt.Errorf("load %s: %w", p, err)
		}
		return out, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", p, err)
	}
	defer f.Close()
	out, err := s.Load(f, o)
	if err != nil {
		return out, fmt.Errorf("load %s: %w", p, err)
	}
	return out, nil
}

// Load loads the images of a docker-save or OCI-layout tar read from r
// (plain, gzip or zstd). An image whose file is damaged or hostile is not
// added, and nothing of it is left in the store.
func (s *Store) Load(r io.Reader, o LoadOptions) (out []Loaded, err error) {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer func() {
		unlock()
		if err != nil {
			s.collectIfIdle()
		}
	}()
	// The archive is read at random (docker save puts manifest.json last):
	// a plain file is read in place, anything else is first copied
	// uncompressed into the store's tmp/.
	f, ok := r.(*os.File)
	if ok {
		var magic [4]byte
		n, _ := f.ReadAt(magic[:], 0)
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() || isCompressed(magic[:n]) {
			ok = false
		}
	}
	if !ok {
		plain, _, done, err := decompress(r)
		if err != nil {
			return nil, hint.With(err, badArchiveHint)
		}
		defer done()
		tmp, err := os.CreateTemp(s.dir+"/tmp", "load-")
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, plain); err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		f = tmp
	}
	src, err := indexTar(f)
	if err != nil {
		return nil, hint.With(err, badArchiveHint)
	}
	return s.loadFrom(src, o)
}

func isCompressed(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b || len(b) >= 4 && string(b) == "\x28\xb5\x2f\xfd"
}

// collectIfIdle removes what a failed load left unreferenced, when no other
// stepbox is adding content.
func (s *Store) collectIfIdle() {
	if unlock, err := s.lockNB(gcLock, unix.LOCK_EX); err == nil {
		s.collect()
		unlock()
	}
}

// source is an archive's files by name: a directory or an indexed tar.
type source interface {
	open(name string) (io.ReadCloser, int64, error)
}

type dirSource struct{ r *os.Root }

func (d dirSource) open(name string) (io.ReadCloser, int64, error) {
	f, err := d.r.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", name)
	}
	return f, st.Size(), nil
}

// tarSource reads members of a tar file in place.
type tarSource struct {
	f     *os.File
	files map[string]tarFile
	links map[string]string // symlink name → target name (docker's legacy format links duplicate layers)
}

type tarFile struct{ off, size int64 }

// indexTar lists the regular files of a tar with their offsets. Nothing is
// written to disk: members are read in place by name, so an archive's
// names cannot put anything anywhere.
func indexTar(f *os.File) (*tarSource, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sr := io.NewSectionReader(f, 0, st.Size())
	tr := tar.NewReader(sr)
	t := &tarSource{f: f, files: map[string]tarFile{}, links: map[string]string{}}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %w", err)
		}
		n := path.Clean(strings.TrimPrefix(h.Name, "/"))
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			off, _ := sr.Seek(0, io.SeekCurrent)
			t.files[n] = tarFile{off, h.Size}
		case tar.TypeSymlink:
			t.links[n] = path.Join(path.Dir(n), h.Linkname)
		case tar.TypeLink:
			t.links[n] = path.Clean(h.Linkname)
		}
	}
	if len(t.files) == 0 {
		return nil, errors.New("the archive is empty")
	}
	return t, nil
}

func (t *tarSource) open(name string) (io.ReadCloser, int64, error) {
	n := path.Clean(name)
	for i := 0; i < 16; i++ {
		if tf, ok := t.files[n]; ok {
			return io.NopCloser(io.NewSectionReader(t.f, tf.off, tf.size)), tf.size, nil
		}
		l, ok := t.links[n]
		if !ok {
			break
		}
		n = l
	}
	return nil, 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
}

func readSmall(src source, name string) ([]byte, error) {
	rc, n, err := src.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if n > maxMetaBlob {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxMetaBlob)
	}
	return io.ReadAll(rc)
}

// pending is one image found in an archive, before it is loaded.
type pending struct {
	config []byte
	layers []pendingLayer
	tags   []string
}

type pendingLayer struct {
	name     string // in the archive
	size     int64
	wantBlob digest.Digest
}

func (s *Store) loadFrom(src source, o LoadOptions) ([]Loaded, error) {
	var imgs []pending
	var err error
	if _, _, e := src.open("manifest.json"); e == nil {
		imgs, err = dockerImages(src)
	} else if _, _, e := src.open("index.json"); e == nil {
		imgs, err = ociImages(src)
	} else {
		return nil, hint.With(errors.New("neither a docker-save archive (no manifest.json) nor an OCI image layout (no index.json)"), badArchiveHint)
	}
	if err != nil {
		return nil, hint.With(err, badArchiveHint)
	}
	p := Progress{}
	for _, im := range imgs {
		p.Layers += len(im.layers)
		for _, l := range im.layers {
			p.Total += l.size
		}
	}
	var out []Loaded
	for _, im := range imgs {
		img, err := s.loadImage(src, im, &p, o.Progress)
		if err != nil {
			return out, hint.With(err, "the archive is damaged or hostile: nothing of this image was kept")
		}
		out = append(out, Loaded{ID: img.ID, Tags: im.tags})
	}
	return out, nil
}

func (s *Store) loadImage(src source, im pending, p *Progress, report func(Progress)) (*Image, error) {
	var cfg ocispec.Image
	if err := json.Unmarshal(im.config, &cfg); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	id := digest.FromBytes(im.config)
	diffs := cfg.RootFS.DiffIDs
	if len(diffs) != len(im.layers) {
		return nil, fmt.Errorf("image %s: %d layers but %d diff IDs in its config", ShortID(id), len(im.layers), len(diffs))
	}
	for _, d := range diffs {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("image %s: diff ID %q: %w", ShortID(id), d, err)
		}
	}
	var descs []ocispec.Descriptor
	var lowers []string
	var parent digest.Digest
	for i, l := range im.layers {
		p.Layer++
		rc, _, err := src.open(l.name)
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %s: %w", ShortID(id), l.name, err)
		}
		var r io.Reader = rc
		if report != nil {
			r = &counting{r: rc, p: p, report: report}
		}
		what := short(diffs[i])
		lo, err := s.addLayer(r, layerIn{parent: parent, lowers: lowers, wantDiff: diffs[i], wantBlob: l.wantBlob, what: what})
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ShortID(id), err)
		}
		descs = append(descs, lo.desc)
		parent = chainID(parent, diffs[i])
		lowers = append([]string{s.diffDir(parent, IDMap{})}, lowers...)
	}
	return s.addImage(im.config, descs, im.tags)
}

// counting reports progress as a layer is read.
type counting struct {
	r      io.Reader
	p      *Progress
	report func(Progress)
}

func (c *counting) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.Bytes += int64(n)
	c.report(*c.p)
	return n, err
}

// dockerImages reads a docker-save archive's manifest.json (docker's
// image/spec/v1.2 and the moby/docker-image-spec "Combined Image JSON +
// Filesystem Changeset Format").
func dockerImages(src source) ([]pending, error) {
	b, err := readSmall(src, "manifest.json")
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var out []pending
	for _, e := range entries {
		cfg, err := readSmall(src, e.Config)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: config: %w", err)
		}
		im := pending{config: cfg}
		for _, t := range e.RepoTags {
			r, err := ParseRef(t)
			if err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			im.tags = append(im.tags, r)
		}
		for _, l := range e.Layers {
			rc, n, err := src.open(l)
			if err != nil {
				return nil, fmt.Errorf("manifest.json: layer: %w", err)
			}
			rc.Close()
			im.layers = append(im.layers, pendingLayer{name: l, size: n})
		}
		out = append(out, im)
	}
	return out, nil
}

// ociImages reads an OCI image layout's index.json (image-spec
// image-layout.md), following nested indexes to this machine's platform.
func ociImages(src source) ([]pending, error) {
	if b, err := readSmall(src, "oci-layout"); err == nil {
		var l ocispec.ImageLayout
		if json.Unmarshal(b, &l) != nil || l.Version != ocispec.ImageLayoutVersion {
			return nil, fmt.Errorf("oci-layout: unsupported layout version in %q", b)
		}
	}
	b, err := readSmall(src, "index.json")
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var out []pending
	for _, d := range idx.Manifests {
		m, err := pickManifest(src, d, 0)
		if err != nil {
			return nil, err
		}
		cfg, err := readBlobFrom(src, m.Config)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		im := pending{config: cfg}
		if t := refName(d.Annotations); t != "" {
			im.tags = append(im.tags, t)
		}
		for _, l := range m.Layers {
			switch l.MediaType {
			case ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd,
				dockerLayer, dockerLayerGzip:
			case dockerForeign, ocispec.MediaTypeImageLayerNonDistributable, ocispec.MediaTypeImageLayerNonDistributableGzip: //nolint:staticcheck // refused by name
				return nil, fmt.Errorf("layer %s: foreign (non-distributable) layers are not supported", short(l.Digest))
			default:
				return nil, fmt.Errorf("layer %s: unsupported media type %s", short(l.Digest), l.MediaType)
			}
			name, err := blobName(l.Digest)
			if err != nil {
				return nil, err
			}
			im.layers = append(im.layers, pendingLayer{name: name, size: l.Size, wantBlob: l.Digest})
		}
		out = append(out, im)
	}
	if len(out) == 0 {
		return nil, errors.New("index.json lists no image")
	}
	return out, nil
}

// refName is the tag an index entry's annotations give: containerd's full
// name, else org.opencontainers.image.ref.name when it is a full
// reference. A bare ref.name ("latest") names no repository.
func refName(a map[string]string) string {
	for _, n := range []string{a[annotationContainerdName], a[ocispec.AnnotationRefName]} {
		if n == "" || !strings.ContainsAny(n, ":/") {
			continue
		}
		if r, err := ParseRef(n); err == nil {
			return r
		}
	}
	return ""
}

func blobName(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("digest %q: %w", d, err)
	}
	return "blobs/" + string(d.Algorithm()) + "/" + d.Encoded(), nil
}

// readBlobFrom reads a small blob of an OCI layout and checks its digest.
func readBlobFrom(src source, d ocispec.Descriptor) ([]byte, error) {
	name, err := blobName(d.Digest)
	if err != nil {
		return nil, err
	}
	b, err := readSmall(src, name)
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(b) != d.Digest {
		return nil, fmt.Errorf("blob %s: content does not match its digest", short(d.Digest))
	}
	return b, nil
}

// pickManifest returns the image manifest d names, choosing this machine's
// platform from an index.
func pickManifest(src source, d ocispec.Descriptor, depth int) (*ocispec.Manifest, error) {
	if depth > 4 {
		return nil, errors.New("index nests too deep")
	}
	b, err := readBlobFrom(src, d)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex, dockerManifestList:
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, fmt.Errorf("index %s: %w", short(d.Digest), err)
		}
		var pick *ocispec.Descriptor
		for i, m := range idx.Manifests {
			if m.Platform == nil && len(idx.Manifests) == 1 ||
				m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
				pick = &idx.Manifests[i]
				break
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("index %s has no image for linux/%s", short(d.Digest), runtime.GOARCH)
		}
		return pickManifest(src, *pick, depth+1)
	case ocispec.MediaTypeImageManifest, dockerManifest, "":
		var m ocispec.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", short(d.Digest), err)
		}
		return &m, nil
	}
	return nil, fmt.Errorf("manifest %s: unsupported media type %s", short(d.Digest), d.MediaType)
}
