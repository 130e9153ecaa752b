package cgroups

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The cpu controller (with cpuacct on v1 for usage).
//
//	OCI linux.resources.cpu   v1 (cpu hierarchy)                    v2
//	shares                    cpu.shares                            cpu.weight (SharesToWeight)
//	quota, period             cpu.cfs_quota_us, cpu.cfs_period_us   cpu.max "QUOTA PERIOD" ("max" = none)
//	burst                     cpu.cfs_burst_us                      cpu.max.burst
//	realtimeRuntime, …Period  cpu.rt_runtime_us, cpu.rt_period_us   (none: refused)
//	idle                      cpu.idle                              cpu.idle
//
// Times are in microseconds. A quota or period of 0 means "not set"; a
// quota of -1 means no limit.

func (m *manager) setCPU(c *specs.LinuxCPU, fresh bool) error {
	if c == nil {
		return nil
	}
	var err error
	switch dir := m.v1("cpu"); {
	case dir != "":
		err = m.setCPUV1(dir, c, fresh)
	case m.v2("cpu") != "":
		err = m.setCPUV2(m.v2("cpu"), c, fresh)
	case value(c.Shares) != 0 || value(c.Quota) != 0 || value(c.Period) != 0:
		err = errors.New("cpu limits: the host mounts no cpu controller")
	}
	if err != nil {
		return err
	}
	return m.setCpuset(c, fresh)
}

func (m *manager) setCPUV1(dir string, c *specs.LinuxCPU, fresh bool) error {
	if s := value(c.Shares); s != 0 {
		if err := m.write(dir, "cpu.shares", strconv.FormatUint(s, 10)); err != nil {
			return err
		}
	}
	quota, period := value(c.Quota), value(c.Period)
	writeQuota := func() error {
		if quota == 0 {
			return nil
		}
		return m.write(dir, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
	}
	writePeriod := func() error {
		if period == 0 {
			return nil
		}
		return m.write(dir, "cpu.cfs_period_us", strconv.FormatUint(period, 10))
	}
	// The kernel checks quota/period against the parent's after each write
	// (tg_cfs_schedulable_down): a new period can be refused until the new
	// quota is in, so on EINVAL try the other order.
	if err := writePeriod(); err != nil {
		if quota == 0 || !errors.Is(err, unix.EINVAL) {
			return err
		}
		if err := writeQuota(); err != nil {
			return err
		}
		if err := writePeriod(); err != nil {
			return err
		}
	} else if err := writeQuota(); err != nil {
		return err
	}
	if c.Burst != nil && (*c.Burst != 0 || !fresh) {
		if err := m.write(dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if p := value(c.RealtimePeriod); p != 0 {
		if err := m.write(dir, "cpu.rt_period_us", strconv.FormatUint(p, 10)); err != nil {
			return err
		}
	}
	if c.RealtimeRuntime != nil {
		if err := m.write(dir, "cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil && (*c.Idle != 0 || !fresh) {
		if err := m.write(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (m *manager) setCPUV2(dir string, c *specs.LinuxCPU, fresh bool) error {
	if value(c.RealtimeRuntime) != 0 || value(c.RealtimePeriod) != 0 {
		return fmt.Errorf("realtime cpu time: cgroup v2 has no cpu.rt_runtime_us: %w", ErrUnsupported)
	}
	if s := value(c.Shares); s != 0 {
		if err := m.write(dir, "cpu.weight", strconv.FormatUint(SharesToWeight(s), 10)); err != nil {
			return err
		}
	}
	quota, period := value(c.Quota), value(c.Period)
	if quota != 0 || period != 0 {
		// cpu.max holds both: "QUOTA PERIOD", "max PERIOD", or the quota
		// alone to keep the period (cgroup-v2.rst "cpu.max").
		q := "max"
		switch {
		case quota > 0:
			q = strconv.FormatInt(quota, 10)
		case quota == 0 && !fresh:
			cur, err := m.read(dir, "cpu.max")
			if err != nil {
				return err
			}
			q, _, _ = strings.Cut(cur, " ")
		}
		v := q
		if period != 0 {
			v += " " + strconv.FormatUint(period, 10)
		}
		if err := m.write(dir, "cpu.max", v); err != nil {
			return err
		}
	}
	if c.Burst != nil && (*c.Burst != 0 || !fresh) {
		if err := m.write(dir, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil && (*c.Idle != 0 || !fresh) {
		if err := m.write(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	return nil
}

// SharesToWeight converts v1 cpu.shares (2 to 262144, default 1024) to v2
// cpu.weight (1 to 10000, default 100) the way crun (containers/crun pull
// 1767) and runc 1.4 (opencontainers/cgroups ConvertCPUSharesToCgroupV2Value)
// do since 2025: a curve through 2→1, 1024→100 and 262144→10000, so the
// default share maps to the default weight. The older linear formula,
// 1 + (shares-2)*9999/262142, gave 1024 a weight of 39. 0 stays 0 (unset).
func SharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= MinShares:
		return 1
	case shares >= MaxShares:
		return 10000
	}
	l := math.Log2(float64(shares))
	exponent := (l*l+125*l)/612.0 - 7.0/34.0
	return uint64(math.Ceil(math.Pow(10, exponent)))
}

// CPUStats are the cpu controller's counters.
type CPUStats struct {
	// Usage, User and System are the CPU time the cgroup used (v1
	// cpuacct.usage, cpuacct.usage_user, cpuacct.usage_sys; v2 cpu.stat
	// usage_usec, user_usec, system_usec).
	Usage  time.Duration `json:"usage"`
	User   time.Duration `json:"user"`
	System time.Duration `json:"system"`
	// Periods counts CFS periods with a quota in force, Throttled those in
	// which the cgroup ran out of quota, ThrottledTime the time its threads
	// waited for the next period (cpu.stat nr_periods, nr_throttled,
	// throttled_time in ns on v1, throttled_usec on v2).
	Periods       uint64        `json:"periods"`
	Throttled     uint64        `json:"throttled"`
	ThrottledTime time.Duration `json:"throttledTime"`
}

func (m *manager) cpuStats(s *CPUStats) error {
	if dir := m.v1("cpu"); dir != "" {
		st, err := readKeyed(dir + "/cpu.stat")
		if err != nil {
			return err
		}
		s.Periods, s.Throttled = st["nr_periods"], st["nr_throttled"]
		s.ThrottledTime = time.Duration(st["throttled_time"])
	}
	if dir := m.v1("cpuacct"); dir != "" {
		for file, d := range map[string]*time.Duration{"cpuacct.usage": &s.Usage, "cpuacct.usage_user": &s.User, "cpuacct.usage_sys": &s.System} {
			v, err := readInt(dir + "/" + file)
			if err != nil {
				return err
			}
			*d = time.Duration(v)
		}
	}
	if dir := m.v2("cpu"); dir != "" || (m.unified != "" && m.v1("cpuacct") == "") {
		// cpu.stat's usage lines are there in every cgroup2 directory, even
		// without the cpu controller; the throttling lines need it.
		if dir == "" {
			dir = m.unified
		}
		st, err := readKeyed(dir + "/cpu.stat")
		if err != nil {
			return err
		}
		us := time.Microsecond
		s.Usage, s.User, s.System = time.Duration(st["usage_usec"])*us, time.Duration(st["user_usec"])*us, time.Duration(st["system_usec"])*us
		if m.v2("cpu") != "" {
			s.Periods, s.Throttled = st["nr_periods"], st["nr_throttled"]
			s.ThrottledTime = time.Duration(st["throttled_usec"]) * us
		}
	}
	return nil
}

// The cpuset controller.
//
//	OCI linux.resources.cpu   v1 (cpuset hierarchy)   v2
//	cpus                      cpuset.cpus             cpuset.cpus
//	mems                      cpuset.mems             cpuset.mems
//
// A v1 cpuset starts empty, and the kernel refuses to move a process into
// it (ENOSPC) until both files are set: every directory New makes in the
// cpuset hierarchy gets its parent's values. A v2 cpuset that is empty uses
// its parent's.

// initCpuset gives the v1 cpuset directories New made (top first) their
// parent's cpus and mems. The container's own directory keeps what the spec
// sets instead.
func (m *manager) initCpuset(made []string, r *specs.LinuxResources) error {
	leaf := m.v1("cpuset")
	var c specs.LinuxCPU
	if r != nil && r.CPU != nil {
		c = *r.CPU
	}
	for _, dir := range made {
		parent := dir[:strings.LastIndexByte(dir, '/')]
		cpus, err := m.filledCpuset(parent, "cpuset.cpus")
		if err != nil {
			return err
		}
		mems, err := m.filledCpuset(parent, "cpuset.mems")
		if err != nil {
			return err
		}
		if dir == leaf {
			m.parentCpus, m.parentMems = cpus, mems
		}
		if dir != leaf || c.Cpus == "" {
			if err := m.write(dir, "cpuset.cpus", cpus); err != nil {
				return err
			}
		}
		if dir != leaf || c.Mems == "" {
			if err := m.write(dir, "cpuset.mems", mems); err != nil {
				return err
			}
		}
	}
	return nil
}

// filledCpuset reads a v1 cpuset file of dir, filling it from dir's parent
// first when it is empty. A shared parent such as /stepbox is made by
// whichever container comes first; a second one starting at that moment can
// find it made but not yet filled, and would copy the emptiness into its own
// cgroup, where joining then fails with ENOSPC.
func (m *manager) filledCpuset(dir, file string) (string, error) {
	v, err := m.read(dir, file)
	if err != nil || v != "" {
		return v, err
	}
	h := m.hierarchyOf(dir + "/x")
	if h == nil || dir == h.Dir || !strings.HasPrefix(dir, h.Dir) {
		return v, nil // the hierarchy's root: nothing above to copy from
	}
	up, err := m.filledCpuset(dir[:strings.LastIndexByte(dir, '/')], file)
	if err != nil || up == "" {
		return up, err
	}
	if err := m.write(dir, file, up); err != nil {
		return "", err
	}
	return up, nil
}

func (m *manager) setCpuset(c *specs.LinuxCPU, fresh bool) error {
	if c.Cpus == "" && c.Mems == "" {
		return nil
	}
	type item struct{ spec, file, parentFile, parentKnown, what string }
	var dir string
	var items []item
	switch {
	case m.v1("cpuset") != "":
		dir = m.v1("cpuset")
		items = []item{{c.Cpus, "cpuset.cpus", "cpuset.cpus", m.parentCpus, "cpus"}, {c.Mems, "cpuset.mems", "cpuset.mems", m.parentMems, "memory nodes"}}
	case m.v2("cpuset") != "":
		dir = m.v2("cpuset")
		items = []item{{c.Cpus, "cpuset.cpus", "cpuset.cpus.effective", "", "cpus"}, {c.Mems, "cpuset.mems", "cpuset.mems.effective", "", "memory nodes"}}
	default:
		return errors.New("cpuset: the host mounts no cpuset controller")
	}
	parent := dir[:strings.LastIndexByte(dir, '/')]
	for _, it := range items {
		if it.spec == "" {
			continue
		}
		have := it.parentKnown
		if have == "" || !fresh {
			var err error
			if have, err = m.read(parent, it.parentFile); err != nil {
				return err
			}
		}
		if err := subset(it.spec, have); err != nil {
			return fmt.Errorf("cpuset %s %q: %w (%s/%s is %q)", it.what, it.spec, err, parent, it.parentFile, have)
		}
		if err := m.write(dir, it.file, it.spec); err != nil {
			return err
		}
	}
	return nil
}

// subset checks that every number of list want is in list have.
func subset(want, have string) error {
	w, err := ParseList(want)
	if err != nil {
		return err
	}
	h, err := ParseList(have)
	if err != nil && strings.TrimSpace(have) != "" {
		return err
	}
	in := map[int]bool{}
	for _, x := range h {
		in[x] = true
	}
	var missing []string
	for _, x := range w {
		if !in[x] {
			missing = append(missing, strconv.Itoa(x))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not available to this cgroup", strings.Join(missing, ","))
	}
	return nil
}
