package cgroups

import (
	"fmt"
	"math/big"
	"runtime"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// The docker run flags for resources, with docker's names, units and rules,
// so `stepbox run --memory 64m --cpus 0.5` means what it means to docker.

// Flags are docker's resource flags as the user typed them. The zero value
// sets nothing.
type Flags struct {
	Memory            string // --memory: a size, "64m"
	MemorySwap        string // --memory-swap: memory plus swap, "-1" for unlimited swap
	MemoryReservation string // --memory-reservation: a size
	CPUs              string // --cpus: a number of CPUs, "0.5"
	CPUShares         int64  // --cpu-shares: relative weight, 0 for the default (1024)
	CPUsetCPUs        string // --cpuset-cpus: "0-2,4"
	CPUsetMems        string // --cpuset-mems: "0"
	PidsLimit         int64  // --pids-limit: 0 for not set, -1 for unlimited
}

// MinMemory is docker's smallest --memory and --memory-reservation, 6 MiB
// (moby daemon linuxMinMemory): less cannot even start most programs.
const MinMemory = 6 << 20

// numCPU is how many CPUs --cpus may ask for (a variable for tests).
var numCPU = runtime.NumCPU

// Resources turns the flags into OCI resources by docker's rules, or nil when
// no flag is set. Each error is one line naming the flag.
func (f Flags) Resources() (*specs.LinuxResources, error) {
	var r specs.LinuxResources
	var mem specs.LinuxMemory
	var limit, swap, reservation int64
	var err error
	if f.Memory != "" {
		if limit, err = ParseMemory(f.Memory); err != nil {
			return nil, fmt.Errorf("--memory %s: %w", f.Memory, err)
		}
		if limit < MinMemory {
			return nil, fmt.Errorf("--memory %s: the minimum is 6m", f.Memory)
		}
		mem.Limit = &limit
	}
	if f.MemorySwap != "" {
		if swap, err = parseSwap(f.MemorySwap); err != nil {
			return nil, fmt.Errorf("--memory-swap %s: %w", f.MemorySwap, err)
		}
		switch {
		case swap > 0 && limit == 0:
			return nil, fmt.Errorf("--memory-swap %s needs --memory as well", f.MemorySwap)
		case swap > 0 && swap < limit:
			return nil, fmt.Errorf("--memory-swap %s is below --memory %s: it is memory plus swap, so at least --memory (or -1 for unlimited swap)", f.MemorySwap, f.Memory)
		}
		mem.Swap = &swap
	} else if limit > 0 {
		// docker's default: as much swap as memory (moby daemon
		// adaptContainerSettings: MemorySwap = Memory * 2).
		swap = 2 * limit
		mem.Swap = &swap
	}
	if f.MemoryReservation != "" {
		if reservation, err = ParseMemory(f.MemoryReservation); err != nil {
			return nil, fmt.Errorf("--memory-reservation %s: %w", f.MemoryReservation, err)
		}
		if reservation < MinMemory {
			return nil, fmt.Errorf("--memory-reservation %s: the minimum is 6m", f.MemoryReservation)
		}
		if limit > 0 && reservation > limit {
			return nil, fmt.Errorf("--memory-reservation %s is above --memory %s", f.MemoryReservation, f.Memory)
		}
		mem.Reservation = &reservation
	}
	if mem != (specs.LinuxMemory{}) {
		r.Memory = &mem
	}

	var cpu specs.LinuxCPU
	if f.CPUs != "" {
		quota, period, err := ParseCPUs(f.CPUs)
		if err != nil {
			return nil, fmt.Errorf("--cpus %s: %w", f.CPUs, err)
		}
		if n := numCPU(); quota > int64(n)*int64(period) {
			return nil, fmt.Errorf("--cpus %s: the range is 0.01 to %d.00, as there are only %d CPUs available", f.CPUs, n, n)
		}
		cpu.Quota, cpu.Period = &quota, &period
	}
	if f.CPUShares != 0 {
		if f.CPUShares < MinShares || f.CPUShares > MaxShares {
			return nil, fmt.Errorf("--cpu-shares %d: want %d to %d (1024 is the default)", f.CPUShares, MinShares, MaxShares)
		}
		s := uint64(f.CPUShares)
		cpu.Shares = &s
	}
	for _, l := range []struct{ flag, v string }{{"--cpuset-cpus", f.CPUsetCPUs}, {"--cpuset-mems", f.CPUsetMems}} {
		if l.v == "" {
			continue
		}
		if _, err := ParseList(l.v); err != nil {
			return nil, fmt.Errorf("%s %s: %w", l.flag, l.v, err)
		}
	}
	cpu.Cpus, cpu.Mems = f.CPUsetCPUs, f.CPUsetMems
	if cpu.Quota != nil || cpu.Shares != nil || cpu.Cpus != "" || cpu.Mems != "" {
		r.CPU = &cpu
	}

	if f.PidsLimit != 0 {
		p := max(f.PidsLimit, -1)
		r.Pids = &specs.LinuxPids{Limit: &p}
	}
	if r.Memory == nil && r.CPU == nil && r.Pids == nil {
		return nil, nil
	}
	return &r, nil
}

// ParseMemory reads a size the way docker does (go-units RAMInBytes): a
// number, maybe with a fraction, then an optional unit b, k, m, g, t or p in
// either case, optionally followed by "b" or "ib": all units are powers of
// 1024. "64m", "1.5g", "512k", "1024" (bytes), "64MiB".
func ParseMemory(s string) (int64, error) {
	bad := fmt.Errorf("not a size: use a number with an optional unit b, k, m or g (like 64m)")
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimPrefix(t[i:], " "))
	if num == "" || num[0] == '.' || num[len(num)-1] == '.' {
		return 0, bad
	}
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "b"), "i")
	mult := map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
	m, ok := mult[unit]
	if !ok || (strings.HasSuffix(strings.ToLower(t), "ib") && unit == "") {
		return 0, bad
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, bad
	}
	v := f * m
	if v >= 1<<63 {
		return 0, fmt.Errorf("too large")
	}
	return int64(v), nil
}

// parseSwap is ParseMemory that also takes "-1", docker's unlimited swap.
func parseSwap(s string) (int64, error) {
	if strings.TrimSpace(s) == "-1" {
		return -1, nil
	}
	return ParseMemory(s)
}

// ParseCPUs turns docker's --cpus (a decimal number of CPUs) into a CFS quota
// and period in microseconds: period 100000 (100 ms), quota the CPUs' share
// of it, so "0.5" is 50000 per 100000. Like docker it takes at most nine
// decimals (nano-CPUs) and at least 0.01 CPU (a 1 ms quota, the kernel's
// minimum).
func ParseCPUs(s string) (quota int64, period uint64, err error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || r.Sign() < 0 {
		return 0, 0, fmt.Errorf("not a number of CPUs (like 0.5 or 2)")
	}
	nano := new(big.Rat).Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, 0, fmt.Errorf("too precise: at most nine decimals")
	}
	if !nano.Num().IsInt64() || nano.Num().Int64() > 1<<40 {
		return 0, 0, fmt.Errorf("too large")
	}
	n := nano.Num().Int64()
	q := n * DefaultPeriod / 1e9
	if q < MinQuota {
		return 0, 0, fmt.Errorf("the minimum is 0.01 (a %dµs quota in each %dµs period)", MinQuota, DefaultPeriod)
	}
	return q, DefaultPeriod, nil
}
