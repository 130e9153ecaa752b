package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/cgroups"
)

func ociPauseCmd(g *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER_ID",
		Short: "pause suspends all processes inside the container",
		Long:  "Freeze every process of the container (the cgroup freezer): they keep their memory and get no CPU until resume.",
		Args:  ociArgs("pause", 1, true),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			return notRunning(c.Pause())
		},
	}
}

func ociResumeCmd(g *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume CONTAINER_ID",
		Short: "resumes all processes that have been previously paused",
		Args:  ociArgs("resume", 1, true),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			if err := c.Resume(); err != nil {
				if errors.Is(err, sandbox.ErrWrongState) {
					return errors.New("container not paused")
				}
				return err
			}
			return nil
		},
	}
}

type ociUpdateFlags struct {
	resources                                     string
	memory, memorySwap, memoryReservation         string
	cpuShares, cpuQuota, cpuPeriod                int64
	cpuRtPeriod, cpuRtRuntime                     int64
	cpusetCpus, cpusetMems                        string
	pidsLimit                                     int64
	blkioWeight                                   uint16
	kernelMemory, kernelMemoryTCP, l3Cache, memBW string
}

func ociUpdateCmd(g *ociGlobals) *cobra.Command {
	f := &ociUpdateFlags{}
	cmd := &cobra.Command{
		Use:   "update [flags] CONTAINER_ID",
		Short: "update container resource constraints",
		Long: `Change the cgroup limits of a created or running container: from a
linux.resources JSON (-r FILE, or - for standard input, as containerd sends
it), or from the flags.`,
		Args: ociArgs("update", 1, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			r, err := f.build(cmd, g.stdin)
			if err != nil {
				return err
			}
			return notRunning(c.Update(r))
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.resources, "resources", "r", "", "path to a file with the resources to update, or - for standard input")
	fl.StringVar(&f.memory, "memory", "", "memory limit (in bytes)")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "total memory usage (memory + swap); set -1 to enable unlimited swap")
	fl.StringVar(&f.memoryReservation, "memory-reservation", "", "memory reservation or soft_limit (in bytes)")
	fl.Int64Var(&f.cpuShares, "cpu-shares", 0, "CPU shares (relative weight vs. other containers)")
	fl.Int64Var(&f.cpuQuota, "cpu-quota", 0, "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period")
	fl.Int64Var(&f.cpuPeriod, "cpu-period", 0, "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default")
	fl.Int64Var(&f.cpuRtPeriod, "cpu-rt-period", 0, "CPU realtime period to be used for hardcapping (in usecs)")
	fl.Int64Var(&f.cpuRtRuntime, "cpu-rt-runtime", 0, "CPU realtime hardcap limit (in usecs)")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPU(s) to use")
	fl.StringVar(&f.cpusetMems, "cpuset-mems", "", "memory node(s) to use")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "maximum number of pids allowed in the container")
	fl.Uint16Var(&f.blkioWeight, "blkio-weight", 0, "specifies per cgroup weight, range is from 10 to 1000 (not supported)")
	fl.StringVar(&f.kernelMemory, "kernel-memory", "", "kernel memory limit (ignored by this kernel, not supported)")
	fl.StringVar(&f.kernelMemoryTCP, "kernel-memory-tcp", "", "kernel TCP memory limit (not supported)")
	fl.StringVar(&f.l3Cache, "l3-cache-schema", "", "the string of Intel RDT/CAT L3 cache schema (not supported)")
	fl.StringVar(&f.memBW, "mem-bw-schema", "", "the string of Intel RDT/MBA memory bandwidth schema (not supported)")
	return cmd
}

// build turns -r or the flags into the resources to set.
func (f *ociUpdateFlags) build(cmd *cobra.Command, stdin io.Reader) (*specs.LinuxResources, error) {
	fl := cmd.Flags()
	for _, name := range []string{"blkio-weight", "kernel-memory", "kernel-memory-tcp", "l3-cache-schema", "mem-bw-schema", "cpu-rt-period", "cpu-rt-runtime"} {
		if fl.Changed(name) {
			return nil, fmt.Errorf("--%s is not supported by stepbox", name)
		}
	}
	r := &specs.LinuxResources{}
	if f.resources != "" {
		var in io.Reader = stdin
		if f.resources != "-" {
			file, err := os.Open(f.resources)
			if err != nil {
				return nil, err
			}
			defer file.Close()
			in = file
		}
		if err := json.NewDecoder(in).Decode(r); err != nil {
			return nil, fmt.Errorf("decode resources: %w", err)
		}
	}
	mem := func(name, v string, dst **int64) error {
		if !fl.Changed(name) {
			return nil
		}
		n, err := parseBytes(v)
		if err != nil {
			return fmt.Errorf("invalid value for %s: %w", name, err)
		}
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		*dst = &n
		return nil
	}
	var limit, swap, reservation *int64
	if err := mem("memory", f.memory, &limit); err != nil {
		return nil, err
	}
	if err := mem("memory-swap", f.memorySwap, &swap); err != nil {
		return nil, err
	}
	if err := mem("memory-reservation", f.memoryReservation, &reservation); err != nil {
		return nil, err
	}
	if r.Memory != nil {
		if limit != nil {
			r.Memory.Limit = limit
		}
		if swap != nil {
			r.Memory.Swap = swap
		}
		if reservation != nil {
			r.Memory.Reservation = reservation
		}
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	if fl.Changed("cpu-shares") {
		v := uint64(f.cpuShares)
		cpu().Shares = &v
	}
	if fl.Changed("cpu-quota") {
		v := f.cpuQuota
		cpu().Quota = &v
	}
	if fl.Changed("cpu-period") {
		v := uint64(f.cpuPeriod)
		cpu().Period = &v
	}
	if fl.Changed("cpuset-cpus") {
		cpu().Cpus = f.cpusetCpus
	}
	if fl.Changed("cpuset-mems") {
		cpu().Mems = f.cpusetMems
	}
	if fl.Changed("pids-limit") {
		r.Pids = &specs.LinuxPids{Limit: &f.pidsLimit}
	}
	return r, nil
}

// parseBytes reads a byte count: a number, -1, or docker's 64m, 1g, ….
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	return cgroups.ParseMemory(s)
}

// The events runc prints (runc's types.Event), as far as stepbox's cgroup
// counters go.
type ociEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

type ociStats struct {
	CPU    ociCPU    `json:"cpu"`
	Memory ociMemory `json:"memory"`
	Pids   ociPids   `json:"pids"`
}

type ociCPU struct {
	Usage struct {
		Total  uint64 `json:"total,omitempty"`
		Kernel uint64 `json:"kernel"`
		User   uint64 `json:"user"`
	} `json:"usage"`
	Throttling struct {
		Periods          uint64 `json:"periods,omitempty"`
		ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
		ThrottledTime    uint64 `json:"throttledTime,omitempty"`
	} `json:"throttling"`
}

type ociMemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type ociMemory struct {
	Usage ociMemoryEntry    `json:"usage,omitempty"`
	Raw   map[string]uint64 `json:"raw,omitempty"`
}

type ociPids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

func toOCIStats(s *cgroups.Stats) ociStats {
	var o ociStats
	o.CPU.Usage.Total = uint64(s.CPU.Usage)
	o.CPU.Usage.Kernel = uint64(s.CPU.System)
	o.CPU.Usage.User = uint64(s.CPU.User)
	o.CPU.Throttling.Periods = s.CPU.Periods
	o.CPU.Throttling.ThrottledPeriods = s.CPU.Throttled
	o.CPU.Throttling.ThrottledTime = uint64(s.CPU.ThrottledTime)
	o.Memory.Usage.Usage = uint64(max(s.Memory.Usage, 0))
	o.Memory.Usage.Max = uint64(max(s.Memory.Peak, 0))
	o.Memory.Usage.Limit = ^uint64(0)
	if s.Memory.Limit >= 0 {
		o.Memory.Usage.Limit = uint64(s.Memory.Limit)
	}
	o.Memory.Usage.Failcnt = s.Memory.Events["max"]
	o.Memory.Raw = s.Memory.Events
	o.Pids.Current = uint64(max(s.Pids.Current, 0))
	if s.Pids.Limit > 0 {
		o.Pids.Limit = uint64(s.Pids.Limit)
	}
	return o
}

func ociEventsCmd(g *ociGlobals) *cobra.Command {
	var stats bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "events [--stats] [--interval D] CONTAINER_ID",
		Short: "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
		Long: `Print the container's resource usage as JSON events: once with --stats, else
every --interval until the container stops, with an "oom" event whenever the
OOM killer kills in it.`,
		Args: ociArgs("events", 1, true),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			if interval <= 0 {
				return errors.New("duration interval must be greater than 0")
			}
			enc := json.NewEncoder(g.stdout)
			var lastOOM uint64
			for first := true; ; first = false {
				if c.OCIStatus() == sandbox.Stopped {
					if first {
						return errors.New("container not running")
					}
					return nil
				}
				s, err := c.Stats()
				if err != nil {
					return notRunning(err)
				}
				if !first && s.Memory.OOMKills > lastOOM {
					if err := enc.Encode(ociEvent{Type: "oom", ID: c.ID}); err != nil {
						return err
					}
				}
				lastOOM = s.Memory.OOMKills
				if err := enc.Encode(ociEvent{Type: "stats", ID: c.ID, Data: toOCIStats(s)}); err != nil {
					return err
				}
				if stats {
					return nil
				}
				time.Sleep(interval)
			}
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "display the container's stats then exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "set the stats collection interval")
	return cmd
}
