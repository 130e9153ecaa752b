package cgroups

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{
		"1024": 1024, "64b": 64, "64k": 64 << 10, "64K": 64 << 10, "64m": 64 << 20, "64M": 64 << 20,
		"64mb": 64 << 20, "64MiB": 64 << 20, "1g": 1 << 30, "1.5g": 3 << 29, "2t": 2 << 40, "64 m": 64 << 20,
	} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "-1", "64x", "64mm", ".5m", "5.m", "1.2.3m", "64  m", "9999999p"} {
		if got, err := ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseCPUs(t *testing.T) {
	for in, want := range map[string]int64{"0.5": 50000, "1": 100000, "2": 200000, "0.01": 1000, "1.25": 125000, "0.000000001e7": 1000} {
		q, p, err := ParseCPUs(in)
		if err != nil || q != want || p != 100000 {
			t.Errorf("ParseCPUs(%q) = %d, %d, %v; want %d per 100000", in, q, p, err, want)
		}
	}
	for in, want := range map[string]string{
		"":             "not a number of CPUs (like 0.5 or 2)",
		"x":            "not a number of CPUs (like 0.5 or 2)",
		"-1":           "not a number of CPUs (like 0.5 or 2)",
		"0.0000000001": "too precise: at most nine decimals",
		"0.001":        "the minimum is 0.01 (a 1000µs quota in each 100000µs period)",
		"0":            "the minimum is 0.01 (a 1000µs quota in each 100000µs period)",
	} {
		if _, _, err := ParseCPUs(in); err == nil || err.Error() != want {
			t.Errorf("ParseCPUs(%q): err = %v, want %q", in, err, want)
		}
	}
}

func TestFlagsResources(t *testing.T) {
	old := numCPU
	numCPU = func() int { return 2 }
	t.Cleanup(func() { numCPU = old })
	r, err := Flags{Memory: "64m", CPUs: "0.5", CPUShares: 512, CPUsetCPUs: "0-1", PidsLimit: 20}.Resources()
	if err != nil {
		t.Fatal(err)
	}
	want := &specs.LinuxResources{
		// docker's default: as much swap again as memory
		Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](128 << 20)},
		CPU:    &specs.LinuxCPU{Quota: ptr[int64](50000), Period: ptr[uint64](100000), Shares: ptr[uint64](512), Cpus: "0-1"},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](20)},
	}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("Resources (-want +got):\n%s", d)
	}
	if r, err := (Flags{}).Resources(); r != nil || err != nil {
		t.Errorf("no flags: %v, %v", r, err)
	}
	r, err = Flags{Memory: "32m", MemorySwap: "-1", PidsLimit: -5}.Resources()
	if err != nil || *r.Memory.Swap != -1 || *r.Pids.Limit != -1 {
		t.Errorf("--memory-swap -1 --pids-limit -5: %+v, %v", r, err)
	}
	for f, want := range map[Flags]string{
		{Memory: "64x"}:                            "--memory 64x: not a size: use a number with an optional unit b, k, m or g (like 64m)",
		{Memory: "4m"}:                             "--memory 4m: the minimum is 6m",
		{MemorySwap: "128m"}:                       "--memory-swap 128m needs --memory as well",
		{Memory: "64m", MemorySwap: "32m"}:         "--memory-swap 32m is below --memory 64m: it is memory plus swap, so at least --memory (or -1 for unlimited swap)",
		{Memory: "64m", MemoryReservation: "128m"}: "--memory-reservation 128m is above --memory 64m",
		{MemoryReservation: "1m"}:                  "--memory-reservation 1m: the minimum is 6m",
		{CPUs: "3"}:                                "--cpus 3: the range is 0.01 to 2.00, as there are only 2 CPUs available",
		{CPUs: "half"}:                             "--cpus half: not a number of CPUs (like 0.5 or 2)",
		{CPUShares: 1}:                             "--cpu-shares 1: want 2 to 262144 (1024 is the default)",
		{CPUsetCPUs: "0-"}:                         `--cpuset-cpus 0-: "0-" is not a number or range (like 0-3,5)`,
		{CPUsetMems: "a"}:                          `--cpuset-mems a: "a" is not a number or range (like 0-3,5)`,
		{Memory: "64m", MemorySwap: "64m", CPUs: "0.001"}: "--cpus 0.001: the minimum is 0.01 (a 1000µs quota in each 100000µs period)",
	} {
		if _, err := f.Resources(); err == nil || err.Error() != want {
			t.Errorf("%+v: err = %v\nwant %s", f, err, want)
		}
	}
}
