package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// set applies every section of r; fresh is true for a cgroup New just made
// (nothing to read back: it has the kernel's defaults).
func (m *manager) set(r *specs.LinuxResources, fresh bool) error {
	if r == nil {
		return nil
	}
	if err := m.setMemory(r.Memory, fresh); err != nil {
		return err
	}
	if err := m.setCPU(r.CPU, fresh); err != nil {
		return err
	}
	if err := m.setPids(r.Pids, fresh); err != nil {
		return err
	}
	if err := m.setDevices(r.Devices, fresh); err != nil {
		return err
	}
	if err := m.setHugetlb(r.HugepageLimits); err != nil {
		return err
	}
	return m.setUnified(r.Unified)
}

// setHugetlb writes hugepage limits: v1 hugetlb.SIZE.limit_in_bytes, v2
// hugetlb.SIZE.max.
func (m *manager) setHugetlb(limits []specs.LinuxHugepageLimit) error {
	if len(limits) == 0 {
		return nil
	}
	dir, suffix := m.v1("hugetlb"), ".limit_in_bytes"
	if dir == "" {
		dir, suffix = m.v2("hugetlb"), ".max"
	}
	if dir == "" {
		return errors.New("hugepage limits: the host mounts no hugetlb controller")
	}
	for _, l := range limits {
		file := "hugetlb." + l.Pagesize + suffix
		if !m.has(dir, file) {
			return fmt.Errorf("hugepage limit: this kernel has no %s-pages (no %s/%s)", l.Pagesize, dir, file)
		}
		if err := m.write(dir, file, strconv.FormatUint(l.Limit, 10)); err != nil {
			return err
		}
	}
	return nil
}

// setUnified writes the OCI linux.resources.unified map: cgroup v2 file name
// to value, as given, in name order.
func (m *manager) setUnified(u map[string]string) error {
	if len(u) == 0 {
		return nil
	}
	if m.unified == "" {
		return errors.New("unified resources need cgroup v2, and this host has no cgroup2 mount")
	}
	for _, k := range sortedKeys(u) {
		err := m.write(m.unified, k, u[k])
		if errors.Is(err, unix.ENOENT) {
			c, _, _ := strings.Cut(k, ".")
			return fmt.Errorf("%w (the %s controller is not in the cgroup2 hierarchy here, which has: %s)", err, c, strings.Join(m.layout.Unified.Controllers, " "))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
