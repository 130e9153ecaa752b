package image

import (
	"crypto/sha256"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/stepbox/stepbox/internal/testutil"
)

// The package mounts overlays: no mount may survive it.
func TestMain(m *testing.M) { testutil.Main(m) }

func digestOf(b []byte) digest.Digest {
	s := sha256.Sum256(b)
	return digest.NewDigestFromBytes(digest.SHA256, s[:])
}
