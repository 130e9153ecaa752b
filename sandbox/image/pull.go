package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// Pulled is what Pull brought into the store.
type Pulled struct {
	Image  *Image
	Name   string        // the familiar reference: a tag, or repository@digest
	Digest digest.Digest // the image manifest's digest in the registry
	Layers []LayerProgress
	// Fetched counts the layer blobs that came over the network; the
	// others were in the store already.
	Fetched int
}

// Pull fetches the image ref names from its registry (OCI distribution
// spec, "Pulling manifests" and "Pulling blobs") into the store and tags
// it with ref when ref is a tag. From a manifest list or index the image
// for o.Platform is taken. Layer blobs the store has are not fetched
// again; the others are fetched o.Jobs at a time, each checked against its
// digest as it is written into tmp/ and renamed into blobs/ when whole,
// and unpacked in order as soon as the layers below are. The image is
// recorded last: a pull that fails or is killed leaves no image and no
// half blob, only whole, verified blobs that a second pull uses instead
// of fetching them again (and that image prune removes).
func (s *Store) Pull(ctx context.Context, ref string, o RemoteOptions) (*Pulled, error) {
	r, err := ParseRemoteRef(ref)
	if err != nil {
		return nil, err
	}
	plat, err := wantPlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	what := "pull " + refString(r)
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := newClient(ctx, r.Context().Registry, o)
	puller, err := remote.NewPuller(c.opts...)
	if err != nil {
		return nil, err
	}

	desc, err := puller.Get(ctx, r)
	if err != nil {
		return nil, c.explain(what, err)
	}
	raw, mt, md := desc.Manifest, desc.MediaType, desc.Digest
	if mt.IsIndex() {
		child, err := pickPlatform(raw, plat)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		// Fetched by digest, so go-containerregistry checks it.
		d, err := puller.Get(ctx, r.Context().Digest(child.String()))
		if err != nil {
			return nil, c.explain(what, err)
		}
		raw, mt, md = d.Manifest, d.MediaType, d.Digest
	}
	var m ocispec.Manifest
	switch mt {
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s: manifest %s: %w", what, short(digest.Digest(md.String())), err)
		}
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return nil, hint.With(fmt.Errorf("%s: a docker schema 1 manifest, which stepbox does not read", what), "push the image again with a current tool (schema 2 or OCI)")
	default:
		return nil, hint.With(fmt.Errorf("%s: not an image manifest but %s", what, mt), "pull an image, not another kind of artifact")
	}
	switch m.Config.MediaType {
	case ocispec.MediaTypeImageConfig, string(types.DockerConfigJSON):
	default:
		return nil, hint.With(fmt.Errorf("%s: not an image but an artifact of type %s", what, m.Config.MediaType), "pull an image, not another kind of artifact")
	}
	for _, l := range m.Layers {
		if err := checkLayerType(l); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	repo := r.Context()
	rawConfig, err := s.fetchSmall(ctx, puller, repo, m.Config)
	if err != nil {
		return nil, c.explain(what+": config", err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(rawConfig, &cfg); err != nil {
		return nil, fmt.Errorf("%s: image config: %w", what, err)
	}
	diffs := cfg.RootFS.DiffIDs
	if len(diffs) != len(m.Layers) {
		return nil, fmt.Errorf("%s: %d layers in the manifest but %d diff IDs in its config", what, len(m.Layers), len(diffs))
	}
	for _, d := range diffs {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("%s: diff ID %q: %w", what, d, err)
		}
	}

	out := &Pulled{Name: refString(r), Digest: digest.Digest(md.String())}
	out.Layers, out.Fetched, err = s.pullLayers(ctx, puller, repo, m.Layers, diffs, o)
	if err != nil {
		cancel()
		return nil, c.explain(what, err)
	}
	var tags []string
	if t, ok := r.(name.Tag); ok {
		tags = []string{familiar(t)}
	}
	img, err := s.addImageManifest(raw, rawConfig, tags, familiarRepo(repo)+"@"+md.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out.Image = img
	return out, nil
}

// checkLayerType refuses layers stepbox cannot unpack, before anything is
// fetched.
func checkLayerType(l ocispec.Descriptor) error {
	switch l.MediaType {
	case ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd,
		dockerLayer, dockerLayerGzip:
	case dockerForeign, ocispec.MediaTypeImageLayerNonDistributable, ocispec.MediaTypeImageLayerNonDistributableGzip: //nolint:staticcheck // refused by name
		return fmt.Errorf("layer %s: foreign (non-distributable) layers are not supported", short(l.Digest))
	default:
		return fmt.Errorf("layer %s: unsupported media type %s", short(l.Digest), l.MediaType)
	}
	if err := l.Digest.Validate(); err != nil || l.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("layer digest %q: only sha256 digests are supported", l.Digest)
	}
	return nil
}

// pickPlatform chooses from an index (image-spec image-index.md) the
// manifest for p: same OS and architecture, and the variant when p names
// one.
func pickPlatform(raw []byte, p v1.Platform) (v1.Hash, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("manifest list: %w", err)
	}
	var seen []string
	for _, m := range idx.Manifests {
		if !m.MediaType.IsImage() {
			continue
		}
		if m.Platform == nil {
			if len(idx.Manifests) == 1 {
				return m.Digest, nil
			}
			continue
		}
		if m.Platform.OS == p.OS && m.Platform.Architecture == p.Architecture && (p.Variant == "" || m.Platform.Variant == p.Variant) {
			return m.Digest, nil
		}
		seen = append(seen, m.Platform.String())
	}
	return v1.Hash{}, hint.With(fmt.Errorf("no image for %s in the manifest list (it has %v)", p.String(), seen), "choose one of its platforms with --platform")
}

// fetchSmall fetches a config blob (or takes it from the store) and
// checks its digest.
func (s *Store) fetchSmall(ctx context.Context, p *remote.Puller, repo name.Repository, d ocispec.Descriptor) ([]byte, error) {
	if err := d.Digest.Validate(); err != nil || d.Digest.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("config digest %q: only sha256 digests are supported", d.Digest)
	}
	if d.Size > maxMetaBlob {
		return nil, fmt.Errorf("config %s: %d bytes, more than %d", short(d.Digest), d.Size, maxMetaBlob)
	}
	if s.hasBlob(d.Digest) {
		return s.readBlob(d.Digest)
	}
	l, err := p.Layer(ctx, repo.Digest(string(d.Digest)))
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxMetaBlob+1))
	if err != nil {
		return nil, err
	}
	if got := digest.FromBytes(b); got != d.Digest {
		return nil, fmt.Errorf("%w: config %s has digest %s", ErrDigestMismatch, short(d.Digest), short(got))
	}
	return b, nil
}

// pullLayers fetches the layer blobs the store lacks, several at once, and
// unpacks every layer in order as soon as its blob and the layers below
// it are there.
func (s *Store) pullLayers(ctx context.Context, p *remote.Puller, repo name.Repository, layers []ocispec.Descriptor, diffs []digest.Digest, o RemoteOptions) ([]LayerProgress, int, error) {
	n := len(layers)
	state := make([]LayerProgress, n)
	var mu sync.Mutex
	report := func(i int, st LayerStatus, bytes int64) {
		mu.Lock()
		defer mu.Unlock()
		state[i].Status, state[i].Bytes = st, bytes
		if o.Progress != nil {
			o.Progress(state[i])
		}
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = defaultJobs
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make([]chan error, n)
	fetched := make([]bool, n)
	// Workers take the missing layers bottom first, so that unpacking,
	// which goes bottom up, can start while the others arrive.
	queue := make(chan int, n)
	for i, l := range layers {
		state[i] = LayerProgress{Index: i, Layers: n, Digest: l.Digest, Total: l.Size}
		done[i] = make(chan error, 1)
		if s.hasBlob(l.Digest) {
			done[i] <- nil
			continue
		}
		fetched[i] = true
		report(i, LayerWaiting, 0)
		queue <- i
	}
	close(queue)
	var wg sync.WaitGroup
	defer wg.Wait() // no goroutine outlives the pull, nor its temporary file
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				if err := ctx.Err(); err != nil {
					done[i] <- err
					continue
				}
				done[i] <- s.fetchBlob(ctx, p, repo, layers[i], func(b int64) { report(i, LayerDownloading, b) })
			}
		}()
	}
	var parent digest.Digest
	var lowers []string
	count := 0
	for i, l := range layers {
		var err error
		select {
		case err = <-done[i]:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			return nil, 0, fmt.Errorf("layer %s: %w", short(l.Digest), err)
		}
		chain := chainID(parent, diffs[i])
		if !s.hasLayer(chain, IDMap{}) {
			report(i, LayerExtracting, l.Size)
			f, err := os.Open(s.blobPath(l.Digest))
			if err != nil {
				return nil, 0, err
			}
			_, err = s.unpack(f, layerIn{parent: parent, lowers: lowers, wantDiff: diffs[i], what: short(diffs[i])}, IDMap{})
			f.Close()
			if err != nil {
				return nil, 0, err
			}
		}
		st := LayerHad
		if fetched[i] {
			st = LayerPulled
			count++
		}
		report(i, st, l.Size)
		parent = chain
		lowers = append([]string{s.diffDir(chain, IDMap{})}, lowers...)
	}
	return state, count, nil
}

// fetchBlob streams one blob from the registry into the store: into tmp/,
// hashed as it is written, renamed into blobs/ only when its size and
// digest are the manifest's (distribution spec, "Pulling blobs": the
// client should verify the content against the digest).
func (s *Store) fetchBlob(ctx context.Context, p *remote.Puller, repo name.Repository, d ocispec.Descriptor, progress func(int64)) error {
	l, err := p.Layer(ctx, repo.Digest(string(d.Digest)))
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := s.newBlob()
	if err != nil {
		return err
	}
	defer w.Abort()
	var r io.Reader = rc
	if d.Size > 0 {
		// Never more than the manifest says: a registry cannot fill the
		// disk by sending an endless blob.
		r = io.LimitReader(rc, d.Size+1)
	}
	buf := make([]byte, 256<<10)
	var last time.Time
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return fmt.Errorf("write blob %s: %w", short(d.Digest), err)
			}
			if progress != nil && time.Since(last) > 50*time.Millisecond {
				last = time.Now()
				progress(w.n)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			if strings.Contains(rerr.Error(), "error verifying") {
				// go-containerregistry's check at the blob's end.
				return fmt.Errorf("%w: blob %s has other content", ErrDigestMismatch, short(d.Digest))
			}
			return rerr
		}
	}
	if d.Size > 0 && w.n != d.Size {
		return fmt.Errorf("%w: blob %s is %d bytes, its manifest says %d", ErrDigestMismatch, short(d.Digest), w.n, d.Size)
	}
	if _, _, err := w.Commit(d.Digest); err != nil {
		return fmt.Errorf("%w: %v", ErrDigestMismatch, err)
	}
	if progress != nil {
		progress(w.n)
	}
	return nil
}

// addImageManifest records an image under the manifest it came with, byte
// for byte (so its digest stays the registry's), with tags and the
// repository digest it is known by there.
func (s *Store) addImageManifest(rawManifest, rawConfig []byte, tags []string, repoDigest string) (*Image, error) {
	id, err := s.putBlobBytes(rawConfig)
	if err != nil {
		return nil, err
	}
	md, err := s.putBlobBytes(rawManifest)
	if err != nil {
		return nil, err
	}
	var img *Image
	err = s.update(func(idx *index) error {
		rec, ok := idx.Images[id]
		if !ok {
			rec = &record{Added: time.Now().UTC()}
			idx.Images[id] = rec
		}
		rec.Manifest = md
		if repoDigest != "" && !slices.Contains(rec.RepoDigests, repoDigest) {
			rec.RepoDigests = append(rec.RepoDigests, repoDigest)
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

// addRepoDigest records that image id is repoDigest in a registry.
func (s *Store) addRepoDigest(id digest.Digest, repoDigest string) error {
	return s.update(func(idx *index) error {
		rec, ok := idx.Images[id]
		if ok && !slices.Contains(rec.RepoDigests, repoDigest) {
			rec.RepoDigests = append(rec.RepoDigests, repoDigest)
		}
		return nil
	})
}
