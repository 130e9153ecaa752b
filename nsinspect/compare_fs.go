package nsinspect

import (
	"path"
	"strconv"
	"strings"
)

func checkRootPivot(t, r Snapshot) Check {
	c := Check{ID: "root.pivot", Category: "filesystem", Title: "root directory"}
	if t.Root.Err != nil {
		return unknownCheck(c, "target", t.Root.Err)
	}
	if r.Root.Err != nil {
		return unknownCheck(c, "reference", r.Root.Err)
	}
	text := func(d RootDir) string { return d.Link + " (ino " + strconv.FormatUint(d.Inode, 10) + ")" }
	c.Target, c.Reference = text(t.Root), text(r.Root)
	if t.Root.Dev == r.Root.Dev && t.Root.Inode == r.Root.Inode {
		c.Status = Fail
		c.Detail = "host's /: every host file its ids may read is in reach"
		c.Remediation = "pivot_root(2) into a root filesystem of its own"
		return c
	}
	c.Status = Pass
	c.Detail = "own root: its / is another directory than the reference's (pivot_root or chroot)"
	return c
}

// rootMount is the mount a process's / resolves through.
func rootMount(ms []Mount) (Mount, bool) { return At(ms, "/") }

func checkPropagation(t, r Snapshot) Check {
	c := Check{ID: "mnt.propagation", Category: "filesystem", Title: "mount propagation of /"}
	if t.Mounts.Err != nil {
		return unknownCheck(c, "target", t.Mounts.Err)
	}
	if r.Mounts.Err != nil {
		return unknownCheck(c, "reference", r.Mounts.Err)
	}
	tm, ok1 := rootMount(t.Mounts.Entries)
	rm, ok2 := rootMount(r.Mounts.Entries)
	if !ok1 || !ok2 {
		c.Status, c.Detail = Unknown, "no / mount: the mount table has none"
		return c
	}
	c.Target, c.Reference = propText(tm), propText(rm)
	if t.Namespace("mnt").Same(r.Namespace("mnt")) {
		c.Status, c.Detail = Skipped, "same mount namespace: see ns.mnt"
		return c
	}
	hostGroups := map[int]bool{}
	for _, m := range r.Mounts.Entries {
		if m.Shared != 0 {
			hostGroups[m.Shared] = true
		}
	}
	var sharedWithHost []string
	for _, m := range t.Mounts.Entries {
		if m.Shared != 0 && hostGroups[m.Shared] {
			sharedWithHost = append(sharedWithHost, m.MountPoint)
		}
	}
	switch {
	case tm.Shared != 0 && hostGroups[tm.Shared]:
		c.Status = Fail
		c.Detail = "shared with host: / is in the host's peer group shared:" + strconv.Itoa(tm.Shared) + ", mounts propagate both ways"
		c.Remediation = "mount --make-rprivate / (or rslave) before pivot_root"
	case len(sharedWithHost) > 0:
		c.Status = Warn
		c.Detail = "mounts shared with the host: " + strings.Join(sharedWithHost, ", ")
	case tm.Master != 0:
		c.Status, c.Detail = Pass, "slave: receives the host's mount events, sends none back"
	default:
		c.Status, c.Detail = Pass, tm.Propagation()+": no mount events cross to the host"
	}
	return c
}

func propText(m Mount) string {
	if len(m.Optional) == 0 {
		return "private"
	}
	return strings.Join(m.Optional, " ")
}

// sensitiveHostPaths are host directories whose bind mount into a container
// hands it the host (docker-bench-security 5.5, CIS Docker 5.5).
var sensitiveHostPaths = []string{"/", "/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/lib/modules", "/var/lib/docker", "/var/lib/kubelet"}

// runtimeSockets give whoever connects control of the container runtime,
// which means root on the host; a read-only mount does not stop connect(2).
var runtimeSockets = []string{"docker.sock", "containerd.sock", "crio.sock", "podman.sock", "dockershim.sock"}

// hostPathOf finds where a target mount comes from in the reference's view:
// a reference mount of the same device whose root is a prefix of the
// target's root.
func hostPathOf(m Mount, ref []Mount) (string, bool) {
	best, bestLen := "", -1
	for _, rm := range ref {
		if rm.Major != m.Major || rm.Minor != m.Minor {
			continue
		}
		rel, ok := strings.CutPrefix(m.Root, rm.Root)
		if !ok || (rel != "" && !strings.HasPrefix(rel, "/") && rm.Root != "/") {
			continue
		}
		if len(rm.Root) > bestLen {
			best, bestLen = path.Join(rm.MountPoint, rel), len(rm.Root)
		}
	}
	return best, bestLen >= 0
}

func checkSensitiveMounts(t, r Snapshot) Check {
	c := Check{ID: "mnt.sensitive", Category: "filesystem", Title: "host paths mounted inside"}
	if t.Mounts.Err != nil {
		return unknownCheck(c, "target", t.Mounts.Err)
	}
	if r.Mounts.Err != nil {
		return unknownCheck(c, "reference", r.Mounts.Err)
	}
	c.Target, c.Reference = strconv.Itoa(len(t.Mounts.Entries))+" mounts", strconv.Itoa(len(r.Mounts.Entries))+" mounts"
	if t.Namespace("mnt").Same(r.Namespace("mnt")) {
		c.Status, c.Detail = Skipped, "same mount namespace: it sees every host mount (see ns.mnt)"
		return c
	}
	var bad, readonly []string
	for _, m := range t.Mounts.Entries {
		hp, ok := hostPathOf(m, r.Mounts.Entries)
		if !ok {
			continue
		}
		desc := hp + " at " + m.MountPoint
		socket := false
		for _, s := range runtimeSockets {
			if path.Base(hp) == s || path.Base(m.MountPoint) == s {
				socket = true
			}
		}
		sensitive := socket
		for _, p := range sensitiveHostPaths {
			if hp == p {
				sensitive = true
			}
		}
		switch {
		case !sensitive:
		case socket || hp == "/" || !m.ReadOnly():
			bad = append(bad, desc)
		default:
			readonly = append(readonly, desc+" (ro)")
		}
	}
	switch {
	case len(bad) > 0:
		c.Status = Fail
		c.Detail = "host paths mounted: " + strings.Join(append(bad, readonly...), ", ")
		c.Remediation = "do not bind-mount host system directories or runtime sockets into a container"
	case len(readonly) > 0:
		c.Status = Warn
		c.Detail = "host paths mounted read-only: " + strings.Join(readonly, ", ")
	default:
		c.Status, c.Detail = Pass, "none: no host system directory or runtime socket is mounted"
	}
	return c
}

// masked reports whether a mount at exactly p hides it: runc binds
// /dev/null over files and mounts an empty read-only tmpfs over directories.
func masked(ms []Mount, p string) bool {
	found, hidden := false, false
	for _, m := range ms {
		if m.MountPoint == p {
			found = true
			hidden = m.ReadOnly() || strings.HasSuffix(m.Root, "/null") || m.FSType == "tmpfs"
		}
	}
	return found && hidden
}

func checkMasked(t, r Snapshot) Check {
	c := Check{ID: "proc.masked", Category: "filesystem", Title: "masked /proc and /sys paths"}
	if t.Mounts.Err != nil {
		return unknownCheck(c, "target", t.Mounts.Err)
	}
	var open []string
	present := 0
	for _, p := range MaskedPaths {
		if !t.Paths.Exists(p) {
			continue
		}
		present++
		if !masked(t.Mounts.Entries, p) {
			open = append(open, p)
		}
	}
	c.Target = strconv.Itoa(present-len(open)) + "/" + strconv.Itoa(present) + " masked"
	c.Reference = "-"
	if len(open) > 0 {
		c.Status = Fail
		c.Detail = "not masked: readable " + strings.Join(open, ", ")
		c.Remediation = "bind /dev/null over files and an empty read-only tmpfs over directories (runc's maskedPaths)"
		return c
	}
	c.Status, c.Detail = Pass, "all hidden: every masked path that exists is hidden"
	return c
}

func checkReadonly(t, r Snapshot) Check {
	c := Check{ID: "proc.readonly", Category: "filesystem", Title: "read-only /proc paths"}
	if t.Mounts.Err != nil {
		return unknownCheck(c, "target", t.Mounts.Err)
	}
	var writable []string
	present := 0
	for _, p := range ReadonlyPaths {
		if !t.Paths.Exists(p) {
			continue
		}
		present++
		if m, ok := At(t.Mounts.Entries, p); !ok || !m.ReadOnly() {
			writable = append(writable, p)
		}
	}
	c.Target = strconv.Itoa(present-len(writable)) + "/" + strconv.Itoa(present) + " read-only"
	c.Reference = "-"
	if len(writable) > 0 {
		c.Status = Fail
		c.Detail = "writable: " + strings.Join(writable, ", ") + " (kernel settings for the whole host)"
		c.Remediation = "bind each over itself read-only (runc's readonlyPaths)"
		return c
	}
	c.Status, c.Detail = Pass, "all read-only: every such path that exists is read-only"
	return c
}
