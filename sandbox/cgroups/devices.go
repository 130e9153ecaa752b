package cgroups

import (
	"fmt"
	"strconv"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// The devices controller: which device nodes the container may open (r, w)
// or create (m). It matters even in a container without CAP_MKNOD, as a
// device node can come in through a bind mount or an image.
//
// v1 (devices hierarchy): one write per rule, in the spec's order, of
// "TYPE MAJOR:MINOR ACCESS" to devices.allow or devices.deny; "a" alone to
// devices.deny clears the list and denies everything
// (Documentation/admin-guide/cgroup-v1/devices.rst). A new cgroup starts with
// its parent's list.
//
// v2 has no devices files: the rules are an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup (devices_v2.go).

func (m *manager) setDevices(devs []specs.LinuxDeviceCgroup, fresh bool) error {
	if len(devs) == 0 {
		return nil
	}
	if dir := m.v1("devices"); dir != "" {
		if !fresh {
			// Rewriting the list of a running container would deny every
			// device between the "a" and the allow rules that follow.
			if pids, err := readPids(dir + "/cgroup.procs"); err != nil || len(pids) > 0 {
				return fmt.Errorf("device rules: changing them in a running container: %w", ErrUnsupported)
			}
		}
		for _, d := range devs {
			file := "devices.deny"
			if d.Allow {
				file = "devices.allow"
			}
			if err := m.write(dir, file, deviceRule(d)); err != nil {
				return err
			}
		}
		return nil
	}
	if m.unified != "" {
		// Device programs belong to cgroup2 itself, not to a controller:
		// they work in a hybrid host's bare cgroup2 directory too.
		return m.setDevicesV2(devs, fresh)
	}
	return fmt.Errorf("device rules: the host mounts neither a v1 devices controller nor cgroup2")
}

// deviceRule is the v1 text of a rule: "c 1:3 rwm", "b *:* m", or "a".
func deviceRule(d specs.LinuxDeviceCgroup) string {
	t := d.Type
	if t == "" || t == "a" {
		return "a"
	}
	access := d.Access
	if access == "" {
		access = "rwm"
	}
	return t + " " + devNum(d.Major) + ":" + devNum(d.Minor) + " " + access
}

func devNum(p *int64) string {
	if p == nil || *p < 0 {
		return "*"
	}
	return strconv.FormatInt(*p, 10)
}
