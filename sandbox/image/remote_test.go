package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	digest "github.com/opencontainers/go-digest"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/testutil"
)

// These tests talk to a real registry, Debian's docker-registry (the CNCF
// distribution registry), started on 127.0.0.1 by each test and stopped
// after it. Plain HTTP to it needs Insecure (--tls-verify=false), as it
// would for a user.

var insecure = RemoteOptions{Insecure: true}

func ctxT(t *testing.T) context.Context { return t.Context() }

// registryManifest reads a manifest as the registry serves it.
func registryManifest(t *testing.T, reg *testutil.Registry, repo, ref string) ([]byte, digest.Digest) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+reg.Addr+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", strings.Join([]string{"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
		dockerManifest, dockerManifestList}, ","))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET manifest %s:%s: %d %s", repo, ref, resp.StatusCode, b)
	}
	return b, digest.Digest(resp.Header.Get("Docker-Content-Digest"))
}

// blobGets are the blob digests the registry served since request n.
func blobGets(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if strings.HasPrefix(r, "GET ") && strings.Contains(r, "/blobs/sha256:") {
			out = append(out, r[strings.LastIndex(r, "sha256:"):])
		}
	}
	return out
}

func layerDigests(img *Image) []digest.Digest {
	var out []digest.Digest
	for _, l := range img.Manifest.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// Push then pull through the real registry keeps every digest: the
// manifest's, the config's (the image ID) and each layer's; the image
// pulled back unpacks to the same files; a second push sends no blob and a
// second pull fetches none; a pull by digest gives the same image, found
// again by repository@digest.
func TestPushPullRoundTrip(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	s := openStore(t)
	img := loadThree(t, s)
	dest := reg.Addr + "/course/three:v1"
	pushed, err := s.Push(ctxT(t), "three:v1", dest, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if pushed.Digest != img.ManifestDigest || pushed.Sent != 3 || pushed.Name != dest {
		t.Errorf("pushed %+v, want manifest %s and 3 layers sent", pushed, img.ManifestDigest)
	}
	raw, served := registryManifest(t, reg, "course/three", "v1")
	if served != img.ManifestDigest || digestOf(raw) != img.ManifestDigest {
		t.Errorf("the registry serves manifest %s (content %s), the store has %s", served, digestOf(raw), img.ManifestDigest)
	}
	mark := len(reg.Requests(t))
	again, err := s.Push(ctxT(t), "three:v1", dest, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if again.Sent != 0 {
		t.Errorf("second push sent %d layers, want 0", again.Sent)
	}
	for _, r := range reg.Requests(t)[mark:] {
		if strings.HasPrefix(r, "PATCH ") || strings.HasPrefix(r, "PUT ") && strings.Contains(r, "/blobs/") {
			t.Errorf("second push uploaded: %s", r)
		}
	}
	if got, _ := s.Get(string(img.ID)); !slices.Contains(got.RepoDigests, reg.Addr+"/course/three@"+string(img.ManifestDigest)) {
		t.Errorf("repo digests after push: %v", got.RepoDigests)
	}

	s2 := openStore(t)
	mark = len(reg.Requests(t))
	pulled, err := s2.Pull(ctxT(t), dest, insecure)
	if err != nil {
		t.Fatal(err)
	}
	p := pulled.Image
	if p.ID != img.ID || p.ManifestDigest != img.ManifestDigest || !slices.Equal(layerDigests(p), layerDigests(img)) ||
		pulled.Digest != img.ManifestDigest || pulled.Fetched != 3 {
		t.Errorf("pulled %s manifest %s layers %v (fetched %d), pushed %s manifest %s layers %v",
			p.ID, p.ManifestDigest, layerDigests(p), pulled.Fetched, img.ID, img.ManifestDigest, layerDigests(img))
	}
	if !slices.Equal(p.Tags, []string{dest}) {
		t.Errorf("tags %v", p.Tags)
	}
	if n := len(blobGets(reg.Requests(t)[mark:])); n != 4 {
		t.Errorf("the pull fetched %d blobs, want 4 (config and 3 layers)", n)
	}
	diffTrees(t, "pulled back", mergedTree(t, s2, dest, "pulled"), threeLayersTree)

	mark = len(reg.Requests(t))
	if again, err := s2.Pull(ctxT(t), dest, insecure); err != nil || again.Fetched != 0 {
		t.Errorf("second pull: fetched %v, %v", again, err)
	}
	if gets := blobGets(reg.Requests(t)[mark:]); len(gets) != 0 {
		t.Errorf("second pull fetched blobs %v", gets)
	}

	s3 := openStore(t)
	byDigest := reg.Addr + "/course/three@" + string(img.ManifestDigest)
	pd, err := s3.Pull(ctxT(t), byDigest, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if pd.Image.ID != img.ID || pd.Image.ManifestDigest != img.ManifestDigest || len(pd.Image.Tags) != 0 || pd.Name != byDigest {
		t.Errorf("pull by digest: %+v tags %v", pd, pd.Image.Tags)
	}
	if got, err := s3.Get(byDigest); err != nil || got.ID != img.ID {
		t.Errorf("Get(%s) = %v, %v", byDigest, got, err)
	}
}

// An image whose lower layers the store has already: only its own layer
// and config come over the network.
func TestPullFetchesOnlyMissingBlobs(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	s := openStore(t)
	three := threeLayers(t)
	extra := gz(mkTar(t, ent{name: "srv/", typ: tar.TypeDir}, ent{name: "srv/app", body: "app"}))
	for tag, layers := range map[string][][]byte{"base:v1": three[:2], "app:v1": {three[0], three[1], extra}} {
		if _, err := s.Load(bytes.NewReader(dockerArchive(t, []string{tag}, layers...)), LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Push(ctxT(t), tag, reg.Addr+"/course/"+tag, insecure); err != nil {
			t.Fatal(err)
		}
	}
	app, _ := s.Get("app:v1")
	s2 := openStore(t)
	if _, err := s2.Pull(ctxT(t), reg.Addr+"/course/base:v1", insecure); err != nil {
		t.Fatal(err)
	}
	mark := len(reg.Requests(t))
	pulled, err := s2.Pull(ctxT(t), reg.Addr+"/course/app:v1", insecure)
	if err != nil {
		t.Fatal(err)
	}
	gets := blobGets(reg.Requests(t)[mark:])
	slices.Sort(gets)
	want := []string{string(app.ID), string(app.Manifest.Layers[2].Digest)}
	slices.Sort(want)
	if !slices.Equal(gets, want) {
		t.Errorf("fetched %v, want only the config and the top layer %v", gets, want)
	}
	if pulled.Fetched != 1 || pulled.Layers[0].Status != LayerHad || pulled.Layers[2].Status != LayerPulled {
		t.Errorf("pulled %+v", pulled)
	}
}

// A registry's copy that was damaged or tampered with (its storage edited
// behind its back) is refused, by tag and by digest, for a manifest and
// for a layer; nothing of the image is left in the store.
func TestPullRefusesWrongDigests(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	s := openStore(t)
	img := loadThree(t, s)
	for _, tag := range []string{"m:v1", "l:v1"} {
		if _, err := s.Push(ctxT(t), "three:v1", reg.Addr+"/course/"+tag, insecure); err != nil {
			t.Fatal(err)
		}
	}
	blobData := func(d digest.Digest) string {
		return filepath.Join(reg.Storage, "docker/registry/v2/blobs/sha256", d.Encoded()[:2], d.Encoded(), "data")
	}
	tamper := func(p string, f func([]byte) []byte) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what, ref string) {
		t.Helper()
		s2 := openStore(t)
		_, err := s2.Pull(ctxT(t), ref, insecure)
		if !errors.Is(err, ErrDigestMismatch) || hint.Of(err) == "" {
			t.Errorf("%s: pull %s: %v, want a digest mismatch with a hint", what, ref, err)
		} else {
			t.Logf("%s: %v (%s)", what, err, hint.Of(err))
		}
		if imgs, _ := s2.List(); len(imgs) != 0 {
			t.Errorf("%s: the store has %d images", what, len(imgs))
		}
		// Whatever blobs are left are whole and what their names say.
		ents, _ := os.ReadDir(filepath.Join(s2.Dir(), "blobs/sha256"))
		for _, e := range ents {
			if b, _ := os.ReadFile(filepath.Join(s2.Dir(), "blobs/sha256", e.Name())); digestOf(b).Encoded() != e.Name() {
				t.Errorf("%s: blob %s does not match its name", what, e.Name())
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(s2.Dir(), "tmp")); len(ents) != 0 {
			t.Errorf("%s: tmp/ holds %d files", what, len(ents))
		}
	}
	// The manifest: a space more, so its JSON stays valid.
	tamper(blobData(img.ManifestDigest), func(b []byte) []byte { return append(b, ' ') })
	check("manifest by tag", reg.Addr+"/course/m:v1")
	check("manifest by digest", reg.Addr+"/course/m@"+string(img.ManifestDigest))
	// Undo, then damage the top layer instead.
	tamper(blobData(img.ManifestDigest), func(b []byte) []byte { return bytes.TrimSuffix(b, []byte(" ")) })
	top := img.Manifest.Layers[2].Digest
	tamper(blobData(top), func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b })
	check("layer", reg.Addr+"/course/l:v1")
}

// Login checks the password against the registry's htpasswd; the file's
// credentials then open it to pull and push; without them the registry
// says it wants some.
func TestLoginAndAuthFile(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{Users: map[string]string{"learner": "s3cret"}})
	af := AuthFile{Path: filepath.Join(t.TempDir(), "cfg", "auth.json")}
	if err := Login(ctxT(t), reg.Addr, "learner", "wrong", insecure); err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("login with a wrong password: %v", err)
	}
	if err := Login(ctxT(t), reg.Addr, "learner", "s3cret", insecure); err != nil {
		t.Fatal(err)
	}
	if err := af.Set(reg.Addr, "learner", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(af.Path); st.Mode().Perm() != 0o600 {
		t.Errorf("auth file mode %v", st.Mode())
	}
	if st, _ := os.Stat(filepath.Dir(af.Path)); st.Mode().Perm() != 0o700 {
		t.Errorf("auth dir mode %v", st.Mode())
	}
	s := openStore(t)
	loadThree(t, s)
	dest := reg.Addr + "/private/three:v1"
	if _, err := s.Push(ctxT(t), "three:v1", dest, insecure); err == nil || !strings.Contains(err.Error(), "wants credentials") {
		t.Errorf("push without credentials: %v", err)
	}
	o := insecure
	o.Keychain = af.Keychain()
	if _, err := s.Push(ctxT(t), "three:v1", dest, o); err != nil {
		t.Fatal(err)
	}
	if _, err := openStore(t).Pull(ctxT(t), dest, o); err != nil {
		t.Fatal(err)
	}
	bad := AuthFile{Path: filepath.Join(t.TempDir(), "bad.json")}
	bad.Set(reg.Addr, "learner", "nope")
	o.Keychain = bad.Keychain()
	if _, err := openStore(t).Pull(ctxT(t), dest, o); err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("pull with bad credentials: %v", err)
	}
	if ok, err := af.Remove(reg.Addr); !ok || err != nil {
		t.Errorf("remove: %v %v", ok, err)
	}
	if _, ok, _ := af.Get(reg.Addr); ok {
		t.Error("credentials still there after Remove")
	}
	var _ authn.Keychain = af.Keychain()
}

// Without Insecure (--tls-verify=false) stepbox refuses the registry's
// plain HTTP, even on 127.0.0.1; an unknown tag, a registry that is down
// and a malformed reference are one line each.
func TestPullErrors(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	s := openStore(t)
	loadThree(t, s)
	dest := reg.Addr + "/course/three:v1"
	if _, err := s.Push(ctxT(t), "three:v1", dest, insecure); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t)
	for _, c := range []struct {
		ref  string
		o    RemoteOptions
		want string
	}{
		{dest, RemoteOptions{}, "speaks plain HTTP"},
		{reg.Addr + "/course/three:nope", insecure, "no such image"},
		{reg.Addr + "/course/none:v1", insecure, "no such image"},
		{"Bad Name", insecure, "invalid reference"},
		{dest, RemoteOptions{Insecure: true, Platform: "linux"}, "invalid platform"},
	} {
		_, err := s2.Pull(ctxT(t), c.ref, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || hint.Of(err) == "" {
			t.Errorf("pull %s: %v (hint %q), want %q", c.ref, err, hint.Of(err), c.want)
		}
	}
	reg.Stop()
	_, err := s2.Pull(ctxT(t), dest, insecure)
	if err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("registry down: %v", err)
	}
	storeEmpty(t, s2)
}

// skopeo (containers/image, from Debian) reads what stepbox pushed, byte
// for byte, and stepbox pulls what skopeo pushed, to the same files.
func TestRegistryInteropWithSkopeo(t *testing.T) {
	testutil.RequiresRoot(t)
	skopeo := testutil.RequiresCommand(t, "skopeo")
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	s := openStore(t)
	img := loadThree(t, s)
	ours := reg.Addr + "/course/three:v1"
	if _, err := s.Push(ctxT(t), "three:v1", ours, insecure); err != nil {
		t.Fatal(err)
	}
	raw := run(t, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+ours)
	cfg := run(t, skopeo, "inspect", "--config", "--raw", "--tls-verify=false", "docker://"+ours)
	if digestOf(raw) != img.ManifestDigest || digestOf(cfg) != img.ID {
		t.Errorf("skopeo reads manifest %s config %s, stepbox pushed %s and %s", digestOf(raw), digestOf(cfg), img.ManifestDigest, img.ID)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	run(t, skopeo, "copy", "--quiet", "--src-tls-verify=false", "docker://"+ours, "oci:"+layout+":three")

	// skopeo pushes a docker-save archive (compressing the plain layer as
	// it goes), and stepbox pulls it.
	arch := filepath.Join(t.TempDir(), "three.tar")
	os.WriteFile(arch, dockerArchive(t, []string{"skopeo/three:v1"}, threeLayers(t)...), 0o644)
	theirs := reg.Addr + "/skopeo/three:v1"
	run(t, skopeo, "copy", "--quiet", "--dest-tls-verify=false", "docker-archive:"+arch, "docker://"+theirs)
	raw = run(t, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+theirs)
	cfg = run(t, skopeo, "inspect", "--config", "--raw", "--tls-verify=false", "docker://"+theirs)
	s2 := openStore(t)
	pulled, err := s2.Pull(ctxT(t), theirs, insecure)
	if err != nil {
		t.Fatal(err)
	}
	if pulled.Digest != digestOf(raw) || pulled.Image.ManifestDigest != digestOf(raw) || pulled.Image.ID != digestOf(cfg) {
		t.Errorf("stepbox pulled manifest %s config %s; skopeo pushed %s and %s", pulled.Digest, pulled.Image.ID, digestOf(raw), digestOf(cfg))
	}
	diffTrees(t, "skopeo's push pulled by stepbox", mergedTree(t, s2, theirs, "skopeo"), threeLayersTree)
	// And back: stepbox pushes what it pulled, unchanged, where skopeo
	// finds the same manifest.
	again := reg.Addr + "/again/three:v1"
	if _, err := s2.Push(ctxT(t), theirs, again, insecure); err != nil {
		t.Fatal(err)
	}
	if b := run(t, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+again); !bytes.Equal(b, raw) {
		t.Errorf("the manifest stepbox pushed again differs from skopeo's:\n%s\n%s", b, raw)
	}
}

// From a manifest list the image for linux on this machine's architecture
// is taken, or the one --platform names; a platform the list lacks is one
// line naming those it has.
func TestPullPicksPlatform(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	s := openStore(t)
	native := loadThree(t, s)
	other := gz(mkTar(t, ent{name: "arm", body: "64"}))
	if _, err := s.Load(bytes.NewReader(dockerArchive(t, []string{"arm:v1"}, other)), LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	arm, _ := s.Get("arm:v1")
	list := reg.Addr + "/course/multi:v1"
	writeIndex(t, s, list, map[string]*Image{"linux/" + runtimeArch(): native, "linux/arm64/v8": arm})
	for plat, want := range map[string]digest.Digest{"": native.ID, "linux/arm64": arm.ID, "linux/arm64/v8": arm.ID} {
		o := insecure
		o.Platform = plat
		pulled, err := openStore(t).Pull(ctxT(t), list, o)
		if err != nil {
			t.Fatalf("--platform %q: %v", plat, err)
		}
		if pulled.Image.ID != want {
			t.Errorf("--platform %q gave %s, want %s", plat, ShortID(pulled.Image.ID), ShortID(want))
		}
	}
	o := insecure
	o.Platform = "linux/s390x"
	s2 := openStore(t)
	if _, err := s2.Pull(ctxT(t), list, o); err == nil || !strings.Contains(err.Error(), "no image for linux/s390x") || hint.Of(err) == "" {
		t.Errorf("pull of a missing platform: %v", err)
	}
	storeEmpty(t, s2)
}
