package image

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// Pushed is what Push sent.
type Pushed struct {
	Name   string        // the tag it was pushed as
	Digest digest.Digest // the manifest's digest, the same as in the store
	Size   int64         // of the manifest
	Layers []LayerProgress
	// Sent counts the layer blobs uploaded; the registry had the others.
	Sent int
}

// Push sends the image src names (a tag, an ID or an ID prefix) to the
// registry as dest ("" for src itself, which must then be a tag with a
// registry), as the OCI distribution spec's "Pushing blobs" and "Pushing
// manifests" describe: every blob the registry lacks (it is asked with
// HEAD first) is uploaded, config last of the blobs, then the manifest, the
// very bytes the store keeps, so the image has the same digest there.
func (s *Store) Push(ctx context.Context, src, dest string, o RemoteOptions) (*Pushed, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	id, err := resolve(idx, src)
	if err != nil {
		return nil, err
	}
	img, err := s.image(idx, id)
	if err != nil {
		return nil, err
	}
	if dest == "" {
		if strings.HasPrefix(src, "sha256:") || isHex(src) {
			return nil, hint.With(fmt.Errorf("push %s: an image ID names no registry", src), "give where to push it: stepbox push IMAGE REGISTRY/NAME[:TAG]")
		}
		dest = src
	}
	r, err := ParseRemoteRef(dest)
	if err != nil {
		return nil, err
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return nil, hint.With(fmt.Errorf("push to %s: a digest cannot be pushed to", dest), "push to a tag: REGISTRY/NAME[:TAG]")
	}
	what := "push " + familiar(tag)
	for _, l := range img.Manifest.Layers {
		if !s.hasBlob(l.Digest) {
			return nil, hint.With(fmt.Errorf("%s: layer %s is not in the store", what, short(l.Digest)), "pull or load the image again")
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := newClient(ctx, tag.Context().Registry, o)
	pi := &pushImage{storeImage: storeImage{s: s, img: img}, progress: o.Progress}
	n := len(img.Manifest.Layers)
	pi.state = make([]LayerProgress, n)
	for i, l := range img.Manifest.Layers {
		pi.state[i] = LayerProgress{Index: i, Layers: n, Digest: l.Digest, Total: l.Size, Status: LayerWaiting}
	}
	if err := remote.Write(tag, pi, c.opts...); err != nil {
		return nil, c.explain(what, err)
	}
	out := &Pushed{Name: familiar(tag), Digest: img.ManifestDigest, Layers: pi.state}
	if b, err := s.readBlob(img.ManifestDigest); err == nil {
		out.Size = int64(len(b))
	}
	for i := range out.Layers {
		if out.Layers[i].Status == LayerPushed {
			out.Sent++
			continue
		}
		// go-containerregistry found it there (HEAD) and sent nothing.
		out.Layers[i].Status, out.Layers[i].Bytes = LayerThere, out.Layers[i].Total
		if o.Progress != nil {
			o.Progress(out.Layers[i])
		}
	}
	if err := s.addRepoDigest(img.ID, familiarRepo(tag.Context())+"@"+string(img.ManifestDigest)); err != nil {
		return out, err
	}
	return out, nil
}

// pushImage is a store image whose layers report how their upload goes.
type pushImage struct {
	storeImage
	mu       sync.Mutex
	state    []LayerProgress
	progress func(LayerProgress)
}

func (i *pushImage) Layers() ([]v1.Layer, error) {
	var out []v1.Layer
	for n, l := range i.img.Manifest.Layers {
		out = append(out, &pushLayer{storeLayer: storeLayer{s: i.s, desc: l, diff: i.img.Config.RootFS.DiffIDs[n]}, img: i, index: n})
	}
	return out, nil
}

func (i *pushImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	ls, _ := i.Layers()
	for _, l := range ls {
		if d, _ := l.Digest(); d == h {
			return l, nil
		}
	}
	return i.storeImage.LayerByDigest(h)
}

func (i *pushImage) report(n int, st LayerStatus, bytes int64) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.state[n].Status, i.state[n].Bytes = st, bytes
	if i.progress != nil {
		i.progress(i.state[n])
	}
}

// pushLayer is a layer blob whose reading is the upload: it is opened
// only when the registry lacks it.
type pushLayer struct {
	storeLayer
	img   *pushImage
	index int
}

func (l *pushLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.storeLayer.Compressed()
	if err != nil {
		return nil, err
	}
	l.img.report(l.index, LayerPushing, 0)
	return &pushReader{ReadCloser: rc, l: l}, nil
}

type pushReader struct {
	io.ReadCloser
	l    *pushLayer
	n    int64
	last time.Time
}

func (r *pushReader) Read(p []byte) (int, error) {
	k, err := r.ReadCloser.Read(p)
	r.n += int64(k)
	switch {
	case err == io.EOF && r.n == r.l.desc.Size:
		r.l.img.report(r.l.index, LayerPushed, r.n)
	case time.Since(r.last) > 50*time.Millisecond:
		r.last = time.Now()
		r.l.img.report(r.l.index, LayerPushing, r.n)
	}
	return k, err
}

// Login checks user and password against registry (a GET of /v2/ with
// them, after the token exchange when the registry wants bearer tokens:
// distribution spec, "Determining support"; docker's token
// authentication), as docker login does before it saves anything.
func Login(ctx context.Context, registry, user, password string, o RemoteOptions) error {
	key, err := RegistryKey(registry)
	if err != nil {
		return err
	}
	host := key
	if host == "docker.io" {
		host = name.DefaultRegistry
	}
	reg, err := name.NewRegistry(host)
	if err != nil {
		return err
	}
	c := newClient(ctx, reg, o)
	what := "login " + key
	base := transport.NewRetry(c.guard, transport.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 3}))
	c.o.Keychain = staticKeychain{}
	rt, err := transport.NewWithContext(ctx, reg, &authn.Basic{Username: user, Password: password}, base, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return c.explain(what, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return c.explain(what, err)
	}
	defer resp.Body.Close()
	return c.explain(what, transport.CheckError(resp, http.StatusOK))
}

// staticKeychain makes explain speak of refused credentials: login has
// some, whatever the file says.
type staticKeychain struct{}

func (staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: "x"}, nil
}
