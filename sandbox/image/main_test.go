package image

import (
	"crypto/sha256"
	"fmt"
	"os"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/stepbox/stepbox/internal/testutil"
)

// helperEnv makes the test binary a stepbox that loads an archive from its
// standard input into the store named by the variable, for the test that
// kills a load half-way.
const helperEnv = "STEPBOX_IMAGE_TEST_LOAD_INTO"

// The package mounts overlays: no mount may survive it.
func TestMain(m *testing.M) {
	if arg := os.Getenv(usernsHelperEnv); arg != "" {
		usernsHelper(arg)
	}
	if arg := os.Getenv(pullHelperEnv); arg != "" {
		pullHelper(arg)
	}
	if dir := os.Getenv(helperEnv); dir != "" {
		s, err := Open(dir)
		if err == nil {
			_, err = s.Load(os.Stdin, LoadOptions{})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Tests use temporary stores only: the real one must not appear.
	_, before := os.Stat(realStore)
	testutil.Main(m, func() {
		if _, after := os.Stat(realStore); before != nil && after == nil {
			fmt.Fprintln(os.Stderr, "the tests made "+realStore+": they must use temporary stores")
			os.Exit(1)
		}
	})
}

const realStore = "/var/lib/stepbox/images"

func digestOf(b []byte) digest.Digest {
	s := sha256.Sum256(b)
	return digest.NewDigestFromBytes(digest.SHA256, s[:])
}
