package rootfs

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

// BenchmarkSetup measures Setup and Finalize with the default mounts, masked
// and read-only paths, as every container start runs them. One helper in new
// namespaces runs them b.N times, each time in a fresh mount namespace (see
// helperBench); only the two calls are timed, not the unshare. It reports
// medians besides the mean ns/op. "default" has every namespace but user, as
// stepbox run does, on this machine's hybrid cgroup layout (ten v1
// hierarchies to mount); "pure-v2-host" makes the helper's view of the host
// pure cgroup v2 first, the layout of most hosts today:
//
//	STEPBOX_TEST_ROOT=1 go test -run '^$' -bench Setup -benchtime 200x ./sandbox/rootfs
func BenchmarkSetup(b *testing.B) {
	for _, tc := range []struct {
		name   string
		ns     nsConfig
		pureV2 bool
	}{
		{"default", nsConfig{cgroupNS: true}, false},
		{"pure-v2-host", nsConfig{cgroupNS: true}, true},
		{"no-cgroupns", nsConfig{}, false},
		{"userns", nsConfig{userns: true, cgroupNS: true}, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			testutil.RequiresRoot(b)
			root := testRootfs(b, tc.ns.userns)
			rep, _ := runHelper(b, tc.ns, helperConfig{Options: defaultOptions(root), Bench: b.N, PureV2: tc.pureV2})
			if rep.SetupErr != "" {
				b.Fatal(rep.SetupErr)
			}
			var total time.Duration
			for i := range rep.SetupTimes {
				total += rep.SetupTimes[i] + rep.FinalTimes[i]
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(float64(median(rep.SetupTimes).Microseconds()), "setup-median-µs")
			b.ReportMetric(float64(median(rep.FinalTimes).Microseconds()), "finalize-median-µs")
			if os.Getenv("STEPBOX_ROOTFS_DEBUG") != "" {
				var steps []string
				for name, d := range rep.StepTimes {
					steps = append(steps, fmt.Sprintf("%s %dµs", name, median(d).Microseconds()))
				}
				sort.Strings(steps)
				b.Logf("median time of each step: %s", strings.Join(steps, ", "))
			}
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
