package builtinfs

import (
	"path"

	"golang.org/x/sys/unix"
)

// ToolDirs are where a command is looked up in a root filesystem, in the
// order of the PATH the runtime gives a container.
var ToolDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// HasTool reports whether the root filesystem at root has the command name
// in one of ToolDirs: an executable regular file, after following its
// symbolic links as the container would, inside root (openat2(2)
// RESOLVE_IN_ROOT: busybox's applet links, a merged-/usr host's
// bin -> usr/bin, Debian's /etc/alternatives). root "/" is the host.
func HasTool(root, name string) bool {
	dirfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(dirfd)
	for _, d := range ToolDirs {
		fd, err := unix.Openat2(dirfd, path.Join(d, name), &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			continue
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return true
		}
	}
	return false
}

// toolPackages names the Debian package that has each command the course
// and the built-in root filesystem use, for the one line that says how to
// get a missing one.
var toolPackages = map[string]string{
	"sh": "dash", "awk": "mawk", "ip": "iproute2", "ping": "iputils-ping",
	"ps": "procps", "free": "procps", "pkill": "procps", "pgrep": "procps", "sysctl": "procps",
	"top": "procps", "uptime": "procps", "kill": "procps",
	"mount": "mount", "umount": "mount", "findmnt": "util-linux", "nsenter": "util-linux",
	"unshare": "util-linux", "lsns": "util-linux", "setsid": "util-linux", "setpriv": "util-linux",
	"renice": "bsdutils", "dmesg": "util-linux", "more": "util-linux", "ipcs": "util-linux",
	"hostname": "hostname", "grep": "grep", "sed": "sed", "find": "findutils", "xargs": "findutils",
	"less": "less", "diff": "diffutils", "which": "debianutils", "clear": "ncurses-bin",
	"capsh": "libcap2-bin", "busybox": "busybox-static", "tar": "tar",
	"docker-registry": "docker-registry",
}

// Package is the Debian package that has the command name: coreutils for
// the commands it does not list otherwise (ls, cat, dd, stat, …).
func Package(name string) string {
	if p, ok := toolPackages[name]; ok {
		return p
	}
	return "coreutils"
}
