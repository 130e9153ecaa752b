package security

import (
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
)

func TestMain(m *testing.M) {
	runHelperOrProbe()
	testutil.Main(m)
}
