package builtinfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"
)

// DefaultBusyboxPaths are where hosts install busybox.
var DefaultBusyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox", "/usr/sbin/busybox"}

// findStaticBusybox returns the first busybox among candidates (nil means
// DefaultBusyboxPaths) that runs without a loader or libraries: only a
// static one works in any rootfs. `file` is not needed: the ELF program
// headers and dynamic section say it.
func findStaticBusybox(candidates []string) (string, error) {
	if candidates == nil {
		candidates = DefaultBusyboxPaths
	}
	var why []string
	for _, c := range candidates {
		info, err := readELF(c)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				why = append(why, err.Error())
			}
			continue
		}
		if !info.Static() {
			why = append(why, fmt.Sprintf("%s is dynamically linked (loader %q, needs %s)", c, info.Interp, strings.Join(info.Needed, " ")))
			continue
		}
		return c, nil
	}
	if len(why) == 0 {
		return "", fmt.Errorf("no busybox on this host (looked for %s; Debian and Ubuntu have it in the busybox-static package)", strings.Join(candidates, ", "))
	}
	return "", fmt.Errorf("no static busybox on this host: %s", strings.Join(why, "; "))
}

// fallbackApplets are linked when busybox cannot list its own applets: the
// commands the lessons and the required tools use.
var fallbackApplets = []string{
	"bin/sh", "bin/ash", "bin/ls", "bin/cat", "bin/ps", "bin/mount", "bin/umount", "bin/hostname",
	"bin/sleep", "bin/echo", "bin/mkdir", "bin/rm", "bin/touch", "bin/grep", "bin/uname",
	"bin/stat", "bin/readlink", "bin/kill", "bin/cp", "bin/mv", "bin/ln", "bin/chmod",
	"bin/date", "bin/df", "bin/dmesg", "bin/pwd", "bin/true", "bin/false", "bin/sed",
	"sbin/ip", "usr/bin/id", "usr/bin/env", "usr/bin/head", "usr/bin/tail", "usr/bin/wc",
	"usr/bin/sort", "usr/bin/find", "usr/bin/free", "usr/bin/nsenter", "usr/bin/unshare", "usr/bin/top",
}

// Applets are the command names the busybox at path answers to.
func Applets(busybox string) []string {
	var names []string
	for _, a := range busyboxApplets(busybox) {
		names = append(names, path.Base(a))
	}
	return names
}

// busyboxApplets asks busybox where its applets belong ("usr/bin/env"),
// with --list-full, or --list (all in bin) for builds without it.
func busyboxApplets(busybox string) []string {
	run := func(arg string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, busybox, arg).Output()
		if err != nil {
			return nil
		}
		return strings.Fields(string(out))
	}
	if full := run("--list-full"); len(full) > 0 {
		return full
	}
	var applets []string
	for _, a := range run("--list") {
		applets = append(applets, "bin/"+a)
	}
	if len(applets) > 0 {
		return applets
	}
	return fallbackApplets
}

// fillBusybox makes a rootfs of a static busybox and a link for each applet.
func (b *builder) fillBusybox(busybox string) error {
	for _, d := range []string{"/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin"} {
		if err := b.mkdir(d, 0o755, "layout"); err != nil {
			return err
		}
	}
	st, err := os.Stat(busybox)
	if err != nil {
		return err
	}
	if err := b.copyFile("/bin/busybox", busybox, st.Mode(), busybox); err != nil {
		return err
	}
	for _, a := range busyboxApplets(busybox) {
		p := path.Clean("/" + a)
		if p == "/bin/busybox" || strings.Contains(a, "..") {
			continue
		}
		if err := b.mkdirAll(path.Dir(p), "layout"); err != nil {
			return err
		}
		// Relative links, so the rootfs works wherever it is mounted.
		target := relativeTo(path.Dir(p), "/bin/busybox")
		if err := b.symlink(p, target, "busybox applet"); err != nil {
			return err
		}
	}
	return nil
}

// relativeTo returns the path of target relative to the directory dir.
func relativeTo(dir, target string) string {
	d := splitComponents(dir)
	t := splitComponents(target)
	i := 0
	for i < len(d) && i < len(t)-1 && d[i] == t[i] {
		i++
	}
	return strings.Repeat("../", len(d)-i) + strings.Join(t[i:], "/")
}
