package cgroups

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The memory controller.
//
//	OCI linux.resources.memory   v1 (memory hierarchy)          v2
//	limit                        memory.limit_in_bytes          memory.max
//	swap (memory+swap!)          memory.memsw.limit_in_bytes    memory.swap.max = swap - limit
//	reservation                  memory.soft_limit_in_bytes     memory.low
//	swappiness                   memory.swappiness              (none: refused)
//	disableOOMKiller             memory.oom_control = 1         (none: refused)
//	kernel, kernelTCP            ignored: deprecated; v1 kmem limits do nothing since Linux 5.16
//
// A limit of 0 means "not set", as in runc; -1 means no limit (v2: "max").

func (m *manager) setMemory(mem *specs.LinuxMemory, fresh bool) error {
	if mem == nil {
		return nil
	}
	if dir := m.v1("memory"); dir != "" {
		return m.setMemoryV1(dir, mem, fresh)
	}
	if dir := m.v2("memory"); dir != "" {
		return m.setMemoryV2(dir, mem, fresh)
	}
	if value(mem.Limit) != 0 || value(mem.Swap) != 0 || value(mem.Reservation) != 0 {
		return errors.New("memory limits: the host mounts no memory controller")
	}
	return nil
}

func (m *manager) setMemoryV1(dir string, mem *specs.LinuxMemory, fresh bool) error {
	limit, swap := value(mem.Limit), value(mem.Swap)
	if swap != 0 && !m.has(dir, "memory.memsw.limit_in_bytes") {
		return errors.New("memory+swap limit: the kernel does not account swap (no memory.memsw.limit_in_bytes; boot with swapaccount=1)")
	}
	if limit > 0 && !fresh && mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		if err := m.checkUsage(dir, "memory.usage_in_bytes", limit); err != nil {
			return err
		}
	}
	writeLimit := func() error {
		if limit == 0 {
			return nil
		}
		err := m.write(dir, "memory.limit_in_bytes", strconv.FormatInt(limit, 10))
		if errors.Is(err, unix.EBUSY) {
			// The kernel reclaimed what it could and usage is still above
			// the new limit (memory.txt, "2.5 Reclaim").
			if u, uerr := readInt(dir + "/memory.usage_in_bytes"); uerr == nil {
				return fmt.Errorf("%w: the cgroup uses %s, more than the new limit, and the kernel could not reclaim enough", err, bytesText(u))
			}
		}
		return err
	}
	writeSwap := func() error {
		if swap == 0 {
			return nil
		}
		return m.write(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(swap, 10))
	}
	// The kernel keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes
	// after every write and refuses one that breaks it (EINVAL). Raising
	// memory+swap above the current memory limit must come first; otherwise
	// the memory limit must come down first. A new cgroup has no limit, so
	// only a running one needs its current limit read.
	swapFirst := false
	if limit != 0 && swap != 0 {
		cur := int64(-1)
		if !fresh {
			var err error
			if cur, err = readInt(dir + "/memory.limit_in_bytes"); err != nil {
				return err
			}
		}
		swapFirst = swap == -1 || (cur != -1 && swap >= cur)
	}
	first, second := writeLimit, writeSwap
	if swapFirst {
		first, second = writeSwap, writeLimit
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	if r := value(mem.Reservation); r != 0 {
		if err := m.write(dir, "memory.soft_limit_in_bytes", strconv.FormatInt(r, 10)); err != nil {
			return err
		}
	}
	if mem.Swappiness != nil {
		if err := m.write(dir, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return err
		}
	}
	// The TCP buffers' limit still holds in v1 (memory.kmem.tcp.*); the
	// kernel memory limit itself no longer does, and Validate refuses it.
	if t := value(mem.KernelTCP); t != 0 {
		if !m.has(dir, "memory.kmem.tcp.limit_in_bytes") {
			return fmt.Errorf("kernel TCP memory limit: no memory.kmem.tcp.limit_in_bytes here: %w", ErrUnsupported)
		}
		if err := m.write(dir, "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(t, 10)); err != nil {
			return err
		}
	}
	if d := mem.DisableOOMKiller; d != nil && (*d || !fresh) {
		v := "0"
		if *d {
			v = "1"
		}
		if err := m.write(dir, "memory.oom_control", v); err != nil {
			return err
		}
	}
	return nil
}

func (m *manager) setMemoryV2(dir string, mem *specs.LinuxMemory, fresh bool) error {
	if mem.KernelTCP != nil {
		return fmt.Errorf("kernel TCP memory limit (linux.resources.memory.kernelTCP): cgroup v2 has none: %w", ErrUnsupported)
	}
	if mem.Swappiness != nil {
		return fmt.Errorf("memory swappiness: cgroup v2 has no per-cgroup swappiness: %w", ErrUnsupported)
	}
	if d := mem.DisableOOMKiller; d != nil && *d {
		return fmt.Errorf("disabling the OOM killer: cgroup v2 has no memory.oom_control: %w", ErrUnsupported)
	}
	limit, swap := value(mem.Limit), value(mem.Swap)
	if limit > 0 && !fresh && mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		if err := m.checkUsage(dir, "memory.current", limit); err != nil {
			return err
		}
	}
	if limit != 0 {
		if err := m.write(dir, "memory.max", maxOr(limit)); err != nil {
			return err
		}
	}
	if swap != 0 {
		if !m.has(dir, "memory.swap.max") {
			return errors.New("memory+swap limit: the kernel does not account swap (no memory.swap.max; boot with swapaccount=1)")
		}
		v := "max"
		if swap > 0 {
			// OCI's swap is memory+swap (docker --memory-swap); cgroup v2
			// limits swap alone (cgroup-v2.rst "memory.swap.max").
			base := limit
			if base == 0 {
				cur, err := readInt(dir + "/memory.max")
				if err != nil {
					return err
				}
				base = cur
			}
			if base <= 0 {
				return fmt.Errorf("memory+swap limit %s needs a memory limit as well", bytesText(swap))
			}
			v = strconv.FormatInt(swap-base, 10)
		}
		if err := m.write(dir, "memory.swap.max", v); err != nil {
			return err
		}
	}
	if r := value(mem.Reservation); r != 0 {
		if err := m.write(dir, "memory.low", maxOr(r)); err != nil {
			return err
		}
	}
	return nil
}

// checkUsage refuses a limit below the current usage (OCI
// memory.checkBeforeUpdate): a v2 kernel would reclaim and then OOM-kill.
func (m *manager) checkUsage(dir, file string, limit int64) error {
	u, err := readInt(dir + "/" + file)
	if err != nil {
		return err
	}
	if u > limit {
		return fmt.Errorf("memory limit %s is below the current usage %s (%s/%s)", bytesText(limit), bytesText(u), dir, file)
	}
	return nil
}

// maxOr writes -1 as cgroup v2's "max".
func maxOr(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// MemoryStats are the memory controller's counters.
type MemoryStats struct {
	// Usage is the memory charged now, in bytes (v1 memory.usage_in_bytes,
	// v2 memory.current).
	Usage int64 `json:"usage"`
	// Peak is the most ever charged (v1 memory.max_usage_in_bytes, v2
	// memory.peak, Linux 5.19 and later; 0 when the kernel lacks it).
	Peak int64 `json:"peak"`
	// Limit is the limit in bytes, -1 for none.
	Limit int64 `json:"limit"`
	// OOMKills counts processes the OOM killer killed in the cgroup (v1
	// memory.oom_control oom_kill, v2 memory.events oom_kill).
	OOMKills uint64 `json:"oomKills"`
	// Events are v2's memory.events counters (low, high, max, oom,
	// oom_kill, oom_group_kill). v1 has no such file: there "max" is
	// memory.failcnt (times usage hit the limit), "oom_kill" is OOMKills,
	// and "under_oom" is 1 while the cgroup waits in OOM with the killer
	// disabled.
	Events map[string]uint64 `json:"events"`
}

func (m *manager) memoryStats(s *MemoryStats) error {
	if dir := m.v1("memory"); dir != "" {
		var err error
		if s.Usage, err = readInt(dir + "/memory.usage_in_bytes"); err != nil {
			return err
		}
		if s.Peak, err = readInt(dir + "/memory.max_usage_in_bytes"); err != nil {
			return err
		}
		if s.Limit, err = readInt(dir + "/memory.limit_in_bytes"); err != nil {
			return err
		}
		oom, err := readKeyed(dir + "/memory.oom_control")
		if err != nil {
			return err
		}
		fail, err := readInt(dir + "/memory.failcnt")
		if err != nil {
			return err
		}
		s.OOMKills = oom["oom_kill"]
		s.Events = map[string]uint64{"max": uint64(fail), "oom_kill": oom["oom_kill"], "under_oom": oom["under_oom"]}
		return nil
	}
	if dir := m.v2("memory"); dir != "" {
		var err error
		if s.Usage, err = readInt(dir + "/memory.current"); err != nil {
			return err
		}
		if s.Peak, err = readInt(dir + "/memory.peak"); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
		if s.Limit, err = readInt(dir + "/memory.max"); err != nil {
			return err
		}
		if s.Events, err = readKeyed(dir + "/memory.events"); err != nil {
			return err
		}
		s.OOMKills = s.Events["oom_kill"]
	}
	return nil
}
