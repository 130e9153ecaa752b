package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkLifecycle measures what a container start and removal cost in
// cgroups: New (mkdir in every hierarchy and the limits of a typical
// `stepbox run --memory 64m --cpus 0.5 --pids-limit 100`), Apply of a
// waiting process, and Destroy after it exited. It reports the median of
// each step. "back-to-back" starts containers one after the other;
// "spaced" waits 100 ms between them, as between real starts: the first
// cgroup.procs write after a quiet spell waits for an RCU grace period (the
// kernel's cgroup_threadgroup_rwsem), which back-to-back starts share.
// "beside-another" keeps one more container alive meanwhile, so /stepbox
// stays and is neither made nor removed each time.
//
//	sudo go test -run '^$' -bench Lifecycle -benchtime 50x ./sandbox/cgroups/
func BenchmarkLifecycle(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	l, err := HostLayout()
	if err != nil {
		b.Fatal(err)
	}
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](128 << 20)},
		CPU:    &specs.LinuxCPU{Quota: ptr[int64](50000), Period: ptr[uint64](100000)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](100)},
	}
	for _, c := range []struct {
		name    string
		gap     time.Duration
		sibling bool
	}{{"back-to-back", 0, false}, {"spaced", 100 * time.Millisecond, false}, {"beside-another", 0, true}} {
		b.Run(c.name, func(b *testing.B) {
			if c.sibling {
				other, err := l.New(fmt.Sprintf("/stepbox/bench-%d-sibling", os.Getpid()), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer other.Destroy()
			}
			var news, applies, destroys []time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				if c.gap > 0 {
					time.Sleep(c.gap)
				}
				cmd := exec.Command("sh", "-c", "read x")
				stdin, err := cmd.StdinPipe()
				if err != nil {
					b.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()

				t0 := time.Now()
				m, err := l.New(fmt.Sprintf("/stepbox/bench-%d-%d", os.Getpid(), i), r)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := m.Apply(cmd.Process.Pid); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()

				b.StopTimer()
				stdin.Close()
				_ = cmd.Wait()
				b.StartTimer()

				t3 := time.Now()
				if err := m.Destroy(); err != nil {
					b.Fatal(err)
				}
				t4 := time.Now()
				news, applies, destroys = append(news, t1.Sub(t0)), append(applies, t2.Sub(t1)), append(destroys, t4.Sub(t3))
			}
			b.ReportMetric(float64(median(news).Microseconds()), "new-µs")
			b.ReportMetric(float64(median(applies).Microseconds()), "apply-µs")
			b.ReportMetric(float64(median(destroys).Microseconds()), "destroy-µs")
		})
	}
}

// BenchmarkStartInCgroup compares two ways to start a process in a
// container's cgroup: start it, then Apply (a write to cgroup.procs, a
// migration), or have it born inside, cloned with FD (clone3
// CLONE_INTO_CGROUP) where there is a cgroup2 hierarchy and from a thread
// that JoinThread moved into the v1 ones. It reports the median time from
// the start of exec to the process being in the cgroup, for starts one after
// the other and spaced by 100 ms (a migration after a quiet spell waits for
// an RCU grace period; a birth inside migrates nothing of the process).
func BenchmarkStartInCgroup(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	l, err := HostLayout()
	if err != nil {
		b.Fatal(err)
	}
	m, err := l.New(fmt.Sprintf("/stepbox/bench-%d-start", os.Getpid()), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Destroy()
	for _, mode := range []string{"apply", "born", "apply-spaced", "born-spaced"} {
		b.Run(mode, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				if strings.HasSuffix(mode, "-spaced") {
					b.StopTimer()
					time.Sleep(100 * time.Millisecond)
					b.StartTimer()
				}
				cmd := exec.Command("sh", "-c", "read x")
				stdin, err := cmd.StdinPipe()
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if strings.HasPrefix(mode, "born") {
					cmd.SysProcAttr = &syscall.SysProcAttr{}
					err = StartIn(m, cmd)
				} else if err = cmd.Start(); err == nil {
					err = m.Apply(cmd.Process.Pid)
				}
				if err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
				b.StopTimer()
				stdin.Close()
				_ = cmd.Wait()
				b.StartTimer()
			}
			b.ReportMetric(float64(median(took).Microseconds()), "start-µs")
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
