package security

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCheckRlimits(t *testing.T) {
	if err := CheckRlimits([]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}, {Type: "RLIMIT_CORE"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		l    []specs.POSIXRlimit
		want string
	}{
		{"unknown", []specs.POSIXRlimit{{Type: "RLIMIT_FOO"}}, "unknown rlimit"},
		{"lower case", []specs.POSIXRlimit{{Type: "rlimit_nofile"}}, "unknown rlimit"},
		{"soft above hard", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 5}}, "above the hard limit"},
		{"twice", []specs.POSIXRlimit{{Type: "RLIMIT_CORE"}, {Type: "RLIMIT_CORE"}}, "twice"},
	} {
		if err := CheckRlimits(tc.l); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.what, err, tc.want)
		}
		if err := SetRlimits(tc.l); err == nil {
			t.Errorf("%s: SetRlimits accepted it", tc.what)
		}
	}
	if r, ok := RlimitResource("RLIMIT_NOFILE"); !ok || r != unix.RLIMIT_NOFILE {
		t.Errorf("RLIMIT_NOFILE = %d", r)
	}
	if len(rlimitNames) != 16 {
		t.Errorf("%d rlimits known, Linux has 16", len(rlimitNames))
	}
}
