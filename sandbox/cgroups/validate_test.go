package cgroups

import (
	"errors"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidate(t *testing.T) {
	mem := func(m specs.LinuxMemory) *specs.LinuxResources { return &specs.LinuxResources{Memory: &m} }
	cpu := func(c specs.LinuxCPU) *specs.LinuxResources { return &specs.LinuxResources{CPU: &c} }
	for _, c := range []struct {
		r    *specs.LinuxResources
		want string // "" for valid
	}{
		{nil, ""},
		{limits(), ""},
		{mem(specs.LinuxMemory{Limit: ptr[int64](-1), Swap: ptr[int64](-1)}), ""},
		{mem(specs.LinuxMemory{Limit: ptr[int64](-2)}), "memory limit -2: want a number of bytes, or -1 for no limit"},
		{mem(specs.LinuxMemory{Swap: ptr[int64](64 << 20)}), "memory+swap limit 67108864 (64 MiB) needs a memory limit as well (docker: --memory-swap needs --memory)"},
		{mem(specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](32 << 20)}), "memory+swap limit 33554432 (32 MiB) is below the memory limit 67108864 (64 MiB): it counts memory and swap together, so it must be at least the memory limit (or -1 for unlimited swap)"},
		{mem(specs.LinuxMemory{Limit: ptr[int64](32 << 20), Reservation: ptr[int64](64 << 20)}), "memory reservation 67108864 (64 MiB) is above the memory limit 33554432 (32 MiB)"},
		{mem(specs.LinuxMemory{Swappiness: ptr[uint64](101)}), "memory swappiness 101: want 0 to 100"},
		{cpu(specs.LinuxCPU{Shares: ptr[uint64](1)}), "cpu shares 1: want 2 to 262144 (1024 is the default weight)"},
		{cpu(specs.LinuxCPU{Shares: ptr[uint64](300000)}), "cpu shares 300000: want 2 to 262144 (1024 is the default weight)"},
		{cpu(specs.LinuxCPU{Quota: ptr[int64](999)}), "cpu quota 999µs: want at least 1000µs (1 ms), or -1 for no limit"},
		{cpu(specs.LinuxCPU{Quota: ptr[int64](-1)}), ""},
		{cpu(specs.LinuxCPU{Period: ptr[uint64](2000000)}), "cpu period 2000000µs: want 1000µs to 1000000µs (1 ms to 1 s)"},
		{cpu(specs.LinuxCPU{Quota: ptr[int64](5000), Burst: ptr[uint64](6000)}), "cpu burst 6000µs is above the quota 5000µs"},
		{cpu(specs.LinuxCPU{Idle: ptr[int64](2)}), "cpu idle 2: want 0 or 1"},
		{cpu(specs.LinuxCPU{Cpus: "0-"}), `cpuset cpus "0-": "0-" is not a number or range (like 0-3,5)`},
		{cpu(specs.LinuxCPU{Cpus: "3-1"}), `cpuset cpus "3-1": "3-1" is not a number or range (like 0-3,5)`},
		{cpu(specs.LinuxCPU{Mems: "x"}), `cpuset mems "x": "x" is not a number or range (like 0-3,5)`},
		{&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x"}}}, `device rule type "x": want a (all), b (block) or c (char)`},
		{&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rwx"}}}, `device rule access "rwx": want letters of rwm`},
		{&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M"}}}, `hugepage limit: page size "2M": want a size like 2MB or 1GB`},
		{&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}}, ""},
		{&specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, `unified resource "cgroup.procs": the runtime manages this file itself`},
		{&specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}}, `unified resource "../memory.max": want a cgroup v2 file name like memory.high`},
		{&specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}}, ""},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](100)}}, "block I/O limits (linux.resources.blockIO): not supported by stepbox"},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{}}, ""},
		{&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}}, "network class and priorities (linux.resources.network, net_cls/net_prio): not supported by stepbox"},
	} {
		err := Validate(c.r)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Validate: unexpected %v", err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("Validate: err = %v\nwant %s", err, c.want)
		}
	}
	if err := Validate(&specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx": {}}}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("rdma: %v", err)
	}
}

func TestParseList(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "0-3": {0, 1, 2, 3}, "3,1-2,1": {1, 2, 3}, " 5 ": {5}} {
		got, err := ParseList(in)
		if err != nil || len(got) != len(want) {
			t.Errorf("ParseList(%q) = %v, %v", in, got, err)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("ParseList(%q) = %v, want %v", in, got, want)
			}
		}
	}
	for _, in := range []string{"", "a", "-1", "1-", "1,,2", "0-99999999"} {
		if _, err := ParseList(in); err == nil {
			t.Errorf("ParseList(%q): no error", in)
		}
	}
}

func TestSharesToWeight(t *testing.T) {
	// The points the curve was made to pass through, and runc 1.4's
	// announced value for 2000 (opencontainers/runc issue 4896).
	for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 512: 59, 1024: 100, 2000: 170, 2048: 174, 262144: 10000, 1 << 20: 10000} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	prev := uint64(0)
	for s := uint64(2); s <= MaxShares; s += 97 {
		w := SharesToWeight(s)
		if w < prev || w < 1 || w > 10000 {
			t.Fatalf("SharesToWeight(%d) = %d after %d: not monotonic in 1..10000", s, w, prev)
		}
		prev = w
	}
}
