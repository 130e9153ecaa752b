package cgroups

import (
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
)

func TestMain(m *testing.M) {
	helperMain()
	testutil.Main(m)
}
