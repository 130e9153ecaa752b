package image

import (
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func runtimeArch() string { return runtime.GOARCH }

// writeIndex pushes store images and an OCI index naming them by platform
// with go-containerregistry, a client other than stepbox's push.
func writeIndex(t *testing.T, s *Store, ref string, imgs map[string]*Image) {
	t.Helper()
	var adds []mutate.IndexAddendum
	for plat, img := range imgs {
		p, err := v1.ParsePlatform(plat)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: &storeImage{s: s, img: img}, Descriptor: v1.Descriptor{Platform: p}})
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, mutate.AppendManifests(empty.Index, adds...)); err != nil {
		t.Fatal(err)
	}
}
