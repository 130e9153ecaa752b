package rootfs

import (
	"fmt"
	"strings"
)

// procCoverable are the files under /proc a bind mount may cover: what
// lxcfs serves to make top and free show the container's own figures (the
// list runc's checkProcMount allows).
var procCoverable = map[string]bool{
	"/proc/cpuinfo":                true,
	"/proc/diskstats":              true,
	"/proc/meminfo":                true,
	"/proc/stat":                   true,
	"/proc/swaps":                  true,
	"/proc/uptime":                 true,
	"/proc/loadavg":                true,
	"/proc/slabinfo":               true,
	"/proc/net/dev":                true,
	"/proc/sys/kernel/ns_last_pid": true,
}

// checkProcDest refuses mounts that land on or inside /proc (at is where the
// destination resolved to): a mount over a procfs file can hide or replace
// what the runtime and the kernel rely on, like /proc/self/attr or
// /proc/sys (CVE-2019-16884, CVE-2019-19921). procfs itself is mounted by
// mountProc, which does its own check.
func checkProcDest(at string, m *mountPlan) error {
	if at != "/proc" && !strings.HasPrefix(at, "/proc/") {
		return nil
	}
	if m.opts.IsBind() && procCoverable[at] {
		return nil
	}
	return fmt.Errorf("%s on %s: %s is inside /proc, where only a bind mount over one of lxcfs's files is allowed", m.what(), m.dest, at)
}
