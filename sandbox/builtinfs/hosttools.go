package builtinfs

import (
	"fmt"
	"os"
	"path"
	"strings"
)

// RequiredTools are the commands a host-tools rootfs cannot do without
// (issue 3): the lessons run them inside.
var RequiredTools = []string{"sh", "ls", "cat", "ps", "mount", "hostname", "id", "ip", "sleep"}

// DefaultTools are the commands a host-tools rootfs gets: the required ones
// and the everyday ones a learner reaches for; those the host lacks are left
// out.
var DefaultTools = append(append([]string(nil), RequiredTools...),
	"echo", "printf", "true", "false", "test", "env", "pwd", "uname", "date",
	"mkdir", "rmdir", "rm", "touch", "cp", "mv", "ln", "chmod", "chown",
	"stat", "readlink", "realpath", "basename", "dirname",
	"head", "tail", "wc", "sort", "uniq", "cut", "tr", "tee", "grep", "sed", "find", "xargs",
	"df", "du", "free", "kill", "pkill", "pgrep", "nproc", "whoami", "groups",
	"umount", "nsenter", "unshare", "lsns", "dmesg", "sysctl", "setsid", "timeout", "yes",
	"dd", "awk", "findmnt", "stty", "tty", "less", "more", "setpriv", "renice", "nice", "ipcs",
	"uptime", "top", "diff", "which", "clear",
)

// toolDirs are searched, in this order, for a tool of a host-tools rootfs.
var toolDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// fillHostTools makes a rootfs of the host's own tools and the shared
// libraries they load.
func (b *builder) fillHostTools(tools []string) error {
	if tools == nil {
		tools = DefaultTools
	}
	// The top-level links of a merged-/usr host (bin -> usr/bin, …) come
	// first, so every path below is made as the host has it.
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		if st, err := os.Lstat(d); err == nil && st.Mode()&os.ModeSymlink != 0 {
			if _, err := b.addHost(d); err != nil {
				return err
			}
		}
	}
	required := map[string]bool{}
	for _, t := range RequiredTools {
		required[t] = true
	}
	var missing []string
	found := map[string]bool{}
	for _, t := range tools {
		p := findTool(t)
		if p == "" {
			if required[t] {
				missing = append(missing, t)
			}
			continue
		}
		found[t] = true
		if err := b.addWithLibraries(p); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
	}
	for _, t := range RequiredTools {
		if !found[t] && !contains(missing, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		var pkgs []string
		for _, t := range missing {
			if p := Package(t); !contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
		return fmt.Errorf("the host has no %s (looked in %s): install %s, or busybox-static",
			strings.Join(missing, ", "), strings.Join(toolDirs, " "), strings.Join(pkgs, " "))
	}
	// Before glibc 2.34 the "files" NSS service is a library the C
	// library loads by name; id and ps need it to name users.
	if ls := findTool("ls"); ls != "" {
		if info, err := readELF(ls); err == nil && info.Interp != "" {
			if lib, _, err := findLibrary("/", "libnss_files.so.2", ls, nil, info); err == nil {
				if _, err := b.addHost(lib); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// findTool returns where the host has the command name, or "".
func findTool(name string) string {
	for _, d := range toolDirs {
		p := path.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
