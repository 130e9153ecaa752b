// Package cgroups puts a container in its own control group and sets its
// limits, on cgroup v1, cgroup v2 and the hybrid of both, by writing the
// cgroup files itself so that every write can be shown: a limit is a write
// to a file.
//
// # Layouts
//
// HostLayout reads /proc/self/mountinfo once and says which hierarchy owns
// each controller: V1 (one "cgroup" mount per controller or group of
// controllers), V2 (one "cgroup2" mount at /sys/fs/cgroup owning them all) or
// Hybrid (v1 mounts for the controllers, and a cgroup2 mount, often at
// /sys/fs/cgroup/unified, owning what v1 left, often nothing). A controller
// lives in one hierarchy only, so the manager picks v1 or v2 files per
// controller. DetectLayout(root) does the same on a fake tree made by a
// test; Layout.Own reads the caller's own cgroups from /proc/self/cgroup.
//
// # The manager
//
//	m, err := cgroups.New("/stepbox/<id>", spec.Linux.Resources) // mkdir + limits
//	err = m.Apply(pid)                      // pid into every cgroup.procs
//	err = m.Set(resources)                  // update a running container
//	st, err := m.Stats()                    // memory, cpu, pids counters
//	pids, err := m.Procs()                  // every process inside
//	err = m.Kill()                          // SIGKILL all, even while forking
//	err = m.Destroy()                       // Kill, then rmdir everything
//	paths := m.Paths()                      // "memory" → /sys/fs/cgroup/memory/stepbox/<id>, …
//	m, err = cgroups.Load(paths)            // the same manager, from a state file
//	for _, w := range m.Writes() { fmt.Println(w) } // echo 33554432 > …/memory.max
//	f, err := m.FD()                        // pure v2: for clone3 CLONE_INTO_CGROUP
//
// New and Load use HostLayout; Layout.New and Layout.Load take a layout,
// such as a fake tree's.
//
// The path is the OCI linux.cgroupsPath: absolute from each hierarchy's
// root, or relative to the caller's own cgroup. New makes the directory in
// every hierarchy it uses:
//
//   - v1: cpu, cpuacct, cpuset, memory, pids, freezer and devices; hugetlb
//     only when the spec has hugepage limits. Not blkio, net_cls, net_prio,
//     perf_event, rdma or misc: stepbox sets none of their limits (it refuses
//     the blockIO, network and rdma sections with ErrUnsupported), and each
//     directory costs a mkdir and an rmdir per container. A new v1 cpuset
//     gets its parent's cpuset.cpus and cpuset.mems, without which the kernel
//     refuses to put a process in it.
//   - v2: the cgroup2 directory, after enabling cpu, cpuset, memory and pids
//     (those the hierarchy owns) in every ancestor's cgroup.subtree_control.
//   - hybrid: the cgroup2 directory too, bare, without controllers: there
//     cgroup.kill and cgroup.events work, so it tracks and kills every
//     process of the container with one write, and its cpu.stat counts the
//     container's CPU time. So with Linux 5.14 or later (cgroup.kill) a
//     hybrid host joins neither the v1 freezer nor cpuacct.
//
// On any failure New removes everything it made and returns an error naming
// the file and the value (a *WriteError):
//
//	write /sys/fs/cgroup/memory/stepbox/x/memory.limit_in_bytes = 12: invalid argument
//
// Validate checks the values before anything is made; what needs the
// machine (a cpuset the parent lacks, a limit below the usage) is checked
// where it is written.
//
// # Resources
//
//	OCI linux.resources     v1 file                         v2 file
//	memory.limit            memory.limit_in_bytes           memory.max
//	memory.swap             memory.memsw.limit_in_bytes     memory.swap.max = swap - limit
//	memory.reservation      memory.soft_limit_in_bytes      memory.low
//	memory.swappiness       memory.swappiness               refused
//	memory.disableOOMKiller memory.oom_control              refused
//	cpu.shares              cpu.shares                      cpu.weight (SharesToWeight)
//	cpu.quota, cpu.period   cpu.cfs_quota_us, _period_us    cpu.max "quota period"
//	cpu.burst               cpu.cfs_burst_us                cpu.max.burst
//	cpu.realtime*           cpu.rt_runtime_us, _period_us   refused
//	cpu.idle                cpu.idle                        cpu.idle
//	cpu.cpus, cpu.mems      cpuset.cpus, cpuset.mems        cpuset.cpus, cpuset.mems
//	pids.limit              pids.max ("max" if <= 0)        pids.max
//	devices                 devices.allow, devices.deny     an eBPF program (bpf(2))
//	hugepageLimits          hugetlb.SIZE.limit_in_bytes     hugetlb.SIZE.max
//	unified                 refused                         the named files
//
// Device rules on cgroup v2 are not files: CompileDeviceFilter turns them
// into an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE, a few
// instructions per rule, checked last rule first (a later rule overrides an
// earlier one, as in v1), and New attaches it to the cgroup2 directory with
// BPF_F_ALLOW_MULTI, so programs above it still apply. DeviceFilter.String
// shows the program. A hybrid host without a v1 devices hierarchy gets the
// program on its bare cgroup2 directory. Device rules cannot be changed
// after New (Set refuses them with ErrUnsupported once a process is in a v1
// cgroup, and always on v2), and the program is not among Writes, as it is
// not a file.
//
// OCI's memory.swap is memory plus swap, like docker's --memory-swap; -1 is
// no limit. A memory or cpu value of 0 means "not set", as in runc. The
// deprecated kernel memory limits are ignored (v1 kmem limits do nothing
// since Linux 5.16, and v2 has none).
//
// # Killing and removing
//
// Kill writes 1 to cgroup.kill where there is a cgroup2 directory (Linux
// 5.14), which kills every process of the subtree including ones forked
// meanwhile, and waits on cgroup.events with poll(2) until it says
// "populated 0". On v1 (or without cgroup.kill) it freezes the cgroup
// (freezer.state FROZEN, or v2 cgroup.freeze), SIGKILLs each process in
// cgroup.procs, thaws it so they die, and repeats until none is left, for at
// most ten seconds. Destroy kills, then removes every directory, the
// cgroups below it first, and retries while the kernel finishes the exits
// (EBUSY). Parents left empty, like /stepbox after the last container, are
// removed too (rmdir -p); a parent that still has a child stays. Destroy is
// idempotent: a directory already gone is done.
//
// Stats.Pids.Current counts tasks until they are reaped: right after Kill,
// killed processes whose parent has not waited for them yet are zombies,
// out of cgroup.procs (Procs is empty) but still in pids.current.
//
// # Cost
//
// On the hybrid build machine (BenchmarkLifecycle) New takes about 0.4 ms
// beside another container and 0.7 ms when it also makes /stepbox, Apply
// 0.2 ms, and Destroy of an exited container 0.2 to 0.35 ms; they are
// mkdir, write and rmdir calls and nothing else (no reads but the parent's
// cpuset, no sleeps). One cost is the kernel's: a write to cgroup.procs
// migrates a process and takes cgroup_threadgroup_rwsem for writing, which
// after a quiet spell waits for an RCU grace period (5 to 20 ms here;
// kernel/rcu/sync.c). A container's init need not pay it, as it can be born
// in its cgroups: on cgroup2 with FD (clone3 CLONE_INTO_CGROUP), on v1 by
// being cloned from a thread that JoinThread moved there (a thread moving
// itself takes no such lock) and that moves back afterwards; a hybrid host
// uses both. StartIn does all of it (BenchmarkStartInCgroup,
// TestRealBornInCgroup).
//
// # Docker's flags
//
// Flags.Resources turns docker's --memory, --memory-swap,
// --memory-reservation, --cpus, --cpu-shares, --cpuset-cpus, --cpuset-mems
// and --pids-limit into OCI resources with docker's units and rules;
// ParseMemory ("64m") and ParseCPUs ("0.5" → quota 50000 per period 100000)
// are the parsers.
package cgroups
