package cgroups

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Kernel bounds the validation checks against, so a bad value is one clear
// line before anything is made instead of an EINVAL from a half-made cgroup.
const (
	// MinShares and MaxShares bound v1 cpu.shares (kernel/sched: MIN_SHARES
	// 2, MAX_SHARES 1<<18).
	MinShares = 2
	MaxShares = 1 << 18
	// MinQuota is the smallest CFS quota, 1 ms (kernel/sched/core.c
	// min_cfs_quota_period); MinPeriod and MaxPeriod bound the period (1 ms
	// to 1 s, max_cfs_quota_period).
	MinQuota  = 1000
	MinPeriod = 1000
	MaxPeriod = 1000000
	// DefaultPeriod is the kernel's default CFS period, 100 ms, also
	// docker's for --cpus.
	DefaultPeriod = 100000
)

// ErrUnsupported marks resources stepbox does not set; errors.Is finds it.
var ErrUnsupported = errors.New("not supported by stepbox")

// Validate checks resources without touching the machine: ranges, the
// relations between them (memory+swap at least memory, reservation at most
// the limit) and the syntax of cpu lists. New and Set call it first. What
// needs the machine (a cpuset the parent does not have, a limit below the
// current usage) is checked where the value is written.
func Validate(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := validateMemory(r.Memory); err != nil {
		return err
	}
	if err := validateCPU(r.CPU); err != nil {
		return err
	}
	for _, d := range r.Devices {
		if err := validateDevice(d); err != nil {
			return err
		}
	}
	for _, h := range r.HugepageLimits {
		if !validPageSize(h.Pagesize) {
			return fmt.Errorf("hugepage limit: page size %q: want a size like 2MB or 1GB", h.Pagesize)
		}
	}
	for k := range r.Unified {
		if err := validateUnifiedKey(k); err != nil {
			return err
		}
	}
	if b := r.BlockIO; b != nil && (b.Weight != nil || b.LeafWeight != nil || len(b.WeightDevice) > 0 ||
		len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 ||
		len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0) {
		return fmt.Errorf("block I/O limits (linux.resources.blockIO): %w", ErrUnsupported)
	}
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
		return fmt.Errorf("network class and priorities (linux.resources.network, net_cls/net_prio): %w", ErrUnsupported)
	}
	if len(r.Rdma) > 0 {
		return fmt.Errorf("rdma limits (linux.resources.rdma): %w", ErrUnsupported)
	}
	return nil
}

func validateMemory(m *specs.LinuxMemory) error {
	if m == nil {
		return nil
	}
	limit := value(m.Limit)
	if limit < -1 {
		return fmt.Errorf("memory limit %d: want a number of bytes, or -1 for no limit", limit)
	}
	if swap := value(m.Swap); swap != 0 {
		switch {
		case swap < -1:
			return fmt.Errorf("memory+swap limit %d: want a number of bytes, or -1 for no limit", swap)
		case swap > 0 && limit <= 0:
			return fmt.Errorf("memory+swap limit %s needs a memory limit as well (docker: --memory-swap needs --memory)", bytesText(swap))
		case swap > 0 && swap < limit:
			return fmt.Errorf("memory+swap limit %s is below the memory limit %s: it counts memory and swap together, so it must be at least the memory limit (or -1 for unlimited swap)", bytesText(swap), bytesText(limit))
		}
	}
	if res := value(m.Reservation); res < -1 {
		return fmt.Errorf("memory reservation %d: want a number of bytes, or -1 for none", res)
	} else if limit > 0 && res > limit {
		return fmt.Errorf("memory reservation %s is above the memory limit %s", bytesText(res), bytesText(limit))
	}
	if m.Swappiness != nil && *m.Swappiness > 100 {
		return fmt.Errorf("memory swappiness %d: want 0 to 100", *m.Swappiness)
	}
	// Linux 5.16 and later accept a write to memory.kmem.limit_in_bytes and
	// ignore it (checked on 6.18: it reads back unlimited): refused rather
	// than silently not enforced. Deprecated in the runtime-spec too.
	if m.Kernel != nil && *m.Kernel != -1 {
		return fmt.Errorf("kernel memory limit (linux.resources.memory.kernel): this kernel ignores it: %w", ErrUnsupported)
	}
	return nil
}

func validateCPU(c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	if s := value(c.Shares); s != 0 && (s < MinShares || s > MaxShares) {
		return fmt.Errorf("cpu shares %d: want %d to %d (1024 is the default weight)", s, MinShares, MaxShares)
	}
	quota := value(c.Quota)
	if quota < -1 || (quota > 0 && quota < MinQuota) {
		return fmt.Errorf("cpu quota %dµs: want at least %dµs (1 ms), or -1 for no limit", quota, MinQuota)
	}
	if p := value(c.Period); p != 0 && (p < MinPeriod || p > MaxPeriod) {
		return fmt.Errorf("cpu period %dµs: want %dµs to %dµs (1 ms to 1 s)", p, MinPeriod, MaxPeriod)
	}
	if b := value(c.Burst); b != 0 && quota > 0 && b > uint64(quota) {
		return fmt.Errorf("cpu burst %dµs is above the quota %dµs", b, quota)
	}
	if i := value(c.Idle); i != 0 && i != 1 {
		return fmt.Errorf("cpu idle %d: want 0 or 1", i)
	}
	if c.Cpus != "" {
		if _, err := ParseList(c.Cpus); err != nil {
			return fmt.Errorf("cpuset cpus %q: %w", c.Cpus, err)
		}
	}
	if c.Mems != "" {
		if _, err := ParseList(c.Mems); err != nil {
			return fmt.Errorf("cpuset mems %q: %w", c.Mems, err)
		}
	}
	return nil
}

func validateDevice(d specs.LinuxDeviceCgroup) error {
	switch d.Type {
	case "", "a", "b", "c":
	default:
		return fmt.Errorf("device rule type %q: want a (all), b (block) or c (char)", d.Type)
	}
	for _, ch := range d.Access {
		if ch != 'r' && ch != 'w' && ch != 'm' {
			return fmt.Errorf("device rule access %q: want letters of rwm", d.Access)
		}
	}
	if value(d.Major) < -1 || value(d.Minor) < -1 {
		return fmt.Errorf("device rule %s: negative major or minor", deviceRule(d))
	}
	return nil
}

// validPageSize accepts the hugetlb file name's size: 2MB, 1GB, 64KB.
func validPageSize(s string) bool {
	n := strings.TrimRight(s, "KMGB")
	if n == "" || n == s || len(s)-len(n) != 2 || !strings.HasSuffix(s, "B") {
		return false
	}
	_, err := strconv.ParseUint(n, 10, 32)
	return err == nil
}

// validateUnifiedKey allows a plain cgroup2 interface file name, and not the
// ones that move processes or change the tree (the manager owns those).
func validateUnifiedKey(k string) error {
	if k == "" || strings.ContainsAny(k, "/\x00") || k == "." || k == ".." || !strings.Contains(k, ".") {
		return fmt.Errorf("unified resource %q: want a cgroup v2 file name like memory.high", k)
	}
	switch k {
	case "cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.subtree_control", "cgroup.type", "cgroup.freeze":
		return fmt.Errorf("unified resource %q: the runtime manages this file itself", k)
	}
	return nil
}

// ParseList parses a kernel cpu or node list ("0-3,8,10-11", cpuset(7)
// "List format") into its numbers, sorted and without repeats.
func ParseList(s string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a number or range (like 0-3,5)", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a number or range (like 0-3,5)", part)
			}
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("%q: range too large", part)
		}
		for i := a; i <= b; i++ {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func value[T int64 | uint64](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}

// bytesText shows a byte count as the number and, when round, in MiB or GiB.
func bytesText(n int64) string {
	switch {
	case n == -1:
		return "unlimited"
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d (%d GiB)", n, n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d (%d MiB)", n, n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d (%d KiB)", n, n>>10)
	}
	return strconv.FormatInt(n, 10)
}
