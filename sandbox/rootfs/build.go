package rootfs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultDir is where the default root filesystem is built unless the
// caller chooses another place (the CLI puts it under --root).
const DefaultDir = "/var/lib/stepbox/rootfs/default"

// Source says what a default root filesystem is made of.
type Source string

const (
	// SourceBusybox is a static busybox from the host with its applet
	// links: no shared library needed, the same on every host.
	SourceBusybox Source = "busybox-static"
	// SourceHostTools is the host's own shell and core tools with the
	// shared libraries they load, for hosts without a static busybox.
	SourceHostTools Source = "host-tools"
)

// BuildOptions tune how the default root filesystem is made.
type BuildOptions struct {
	// Source forces one kind; empty picks busybox-static when the host has
	// a static busybox, host-tools otherwise.
	Source Source
	// Busybox lists where to look for busybox; nil means
	// DefaultBusyboxPaths.
	Busybox []string
	// Tools are the commands a host-tools rootfs gets; nil means
	// DefaultTools. The RequiredTools must be among them and on the host.
	Tools []string
}

// DefaultBusyboxPaths are where hosts install busybox.
var DefaultBusyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox", "/usr/sbin/busybox"}

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
)

// toolDirs are searched, in this order, for a tool of a host-tools rootfs.
var toolDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// Default returns the manifest of the default root filesystem at dir,
// building it first when it is missing, unfinished, of another source than
// opts asks for, or holds another stepbox than stepboxBinary (the running
// binary, "" to skip it). On the usual path, a rootfs already built, it reads
// only the manifest's header: the returned manifest then has no Files; use
// ReadManifest for them.
//
// Concurrent calls, in one process or many, build once: a flock(2) on
// dir+".lock" orders the builders, and a second one finds the rootfs the
// first built.
func Default(dir, stepboxBinary string, opts BuildOptions) (*Manifest, error) {
	if m, err := current(dir, stepboxBinary, opts); err == nil {
		return m, nil
	}
	unlock, err := lockBuild(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if m, err := current(dir, stepboxBinary, opts); err == nil {
		return m, nil
	}
	return build(dir, stepboxBinary, opts)
}

// Build builds the default root filesystem at dir anew, replacing what is
// there (stepbox rootfs --rebuild). The new tree is made beside it and
// swapped in with one rename, so dir is at every moment either the old
// rootfs or the new one, never a half-made one. The old tree is then
// removed: containers still running on it lose their files.
func Build(dir, stepboxBinary string, opts BuildOptions) (*Manifest, error) {
	unlock, err := lockBuild(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return build(dir, stepboxBinary, opts)
}

// current returns the manifest header of dir if the rootfs there is
// complete and up to date.
func current(dir, stepboxBinary string, opts BuildOptions) (*Manifest, error) {
	m, err := readManifestHeader(dir)
	if err != nil {
		return nil, err
	}
	if opts.Source != "" && m.Source != opts.Source {
		return nil, fmt.Errorf("%s is a %s rootfs, %s asked for", dir, m.Source, opts.Source)
	}
	if stepboxBinary != "" {
		s, err := stamp(stepboxBinary)
		if err != nil {
			return nil, err
		}
		if m.Stepbox == nil || *m.Stepbox != *s {
			return nil, fmt.Errorf("%s holds another stepbox", dir)
		}
	}
	return m, nil
}

func stamp(p string) (*Stamp, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("stepbox binary: %w", err)
	}
	return &Stamp{Path: p, Size: st.Size(), ModTime: st.ModTime().UTC()}, nil
}

// lockBuild takes the build lock of dir, waiting for another builder.
func lockBuild(dir string) (unlock func(), err error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("rootfs directory %q: not an absolute path", dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("make %s: %w", filepath.Dir(dir), err)
	}
	f, err := os.OpenFile(dir+".lock", os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open build lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s.lock: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// afterFill, when set (by tests), runs once the build directory is filled
// and before its manifest is written: a build killed there must leave no
// rootfs that looks complete.
var afterFill func(tmp string)

// build makes the rootfs in a temporary sibling of dir and publishes it.
// The caller holds the build lock.
func build(dir, stepboxBinary string, opts BuildOptions) (m *Manifest, err error) {
	parent, base := filepath.Split(dir)
	// Builds killed before publishing left their directories: with the
	// lock held, nobody else is using them.
	stale, _ := filepath.Glob(filepath.Join(parent, "."+base+".build-*"))
	for _, s := range stale {
		_ = os.RemoveAll(s)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".build-")
	if err != nil {
		return nil, fmt.Errorf("build rootfs: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("build rootfs: %w", err)
	}
	b, err := newBuilder(tmp)
	if err != nil {
		return nil, err
	}
	defer b.root.Close()
	m = &Manifest{Format: manifestFormat, Built: time.Now().UTC().Truncate(time.Second)}
	if m.Source, err = b.fill(stepboxBinary, opts); err != nil {
		return nil, fmt.Errorf("build %s rootfs in %s: %w", sourceOr(opts.Source), tmp, err)
	}
	if stepboxBinary != "" {
		if m.Stepbox, err = stamp(stepboxBinary); err != nil {
			return nil, err
		}
	}
	if afterFill != nil {
		afterFill(tmp)
	}
	m.Files = b.list()
	m.Count = len(m.Files)
	data, err := m.encode()
	if err != nil {
		return nil, err
	}
	if err := b.root.WriteFile(ManifestName, data, 0o444); err != nil {
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	// Everything on disk before the rename makes it visible, so a crash
	// cannot publish a rootfs whose files were never written.
	if err := syncfs(tmp); err != nil {
		return nil, err
	}
	if err := publish(tmp, dir); err != nil {
		return nil, err
	}
	return m, nil
}

func sourceOr(s Source) Source {
	if s == "" {
		return "default"
	}
	return s
}

func syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// publish moves the finished tmp to dir in one step: a plain rename when dir
// does not exist, an exchange of the two (renameat2(2) RENAME_EXCHANGE) when
// it does, after which the old tree, now at tmp, is removed.
func publish(tmp, dir string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if err != unix.EEXIST && err != unix.ENOTEMPTY {
		return fmt.Errorf("rename %s to %s: %w", tmp, dir, err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("swap %s and %s: %w", tmp, dir, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove the old rootfs (now %s): %w", tmp, err)
	}
	return nil
}

// builder fills a directory through an os.Root, which refuses to follow any
// link out of it: the tree holds copies of the host's links, absolute ones
// too (/usr/bin/awk -> /etc/alternatives/awk), and a write through one of
// them must never land on the host.
type builder struct {
	root    *os.Root
	entries map[string]File // by path inside the rootfs
}

func newBuilder(dir string) (*builder, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &builder{root: r, entries: map[string]File{"/": {Path: "/", Type: "dir", Mode: "0755", From: "layout"}}}, nil
}

func rel(p string) string {
	if p = strings.TrimPrefix(path.Clean("/"+p), "/"); p == "" {
		return "."
	}
	return p
}

// list returns the entries sorted by path.
func (b *builder) list() []File {
	out := make([]File, 0, len(b.entries))
	for _, f := range b.entries {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// mkdir makes the directory p (its parent must exist) with exactly mode.
func (b *builder) mkdir(p string, mode fs.FileMode, from string) error {
	p = path.Clean("/" + p)
	if e, ok := b.entries[p]; ok {
		if e.Type != "dir" {
			return fmt.Errorf("mkdir %s: a %s is there", p, e.Type)
		}
		return nil
	}
	if err := b.root.Mkdir(rel(p), 0o700); err != nil {
		return err
	}
	// Chmod, not the mode of mkdir: the umask would trim it.
	if err := b.root.Chmod(rel(p), mode); err != nil {
		return err
	}
	b.entries[p] = File{Path: p, Type: "dir", Mode: modeString(mode), From: from}
	return nil
}

// mkdirAll makes p and its missing parents, mode 0755.
func (b *builder) mkdirAll(p, from string) error {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	if _, ok := b.entries[p]; ok {
		return nil
	}
	if err := b.mkdirAll(path.Dir(p), from); err != nil {
		return err
	}
	return b.mkdir(p, 0o755, from)
}

// symlink makes the link p -> target; the same link already there is fine.
func (b *builder) symlink(p, target, from string) error {
	p = path.Clean("/" + p)
	if e, ok := b.entries[p]; ok {
		if e.Type == "symlink" && e.Link == target {
			return nil
		}
		return fmt.Errorf("symlink %s -> %s: a %s is there", p, target, e.Type)
	}
	if err := b.root.Symlink(target, rel(p)); err != nil {
		return err
	}
	b.entries[p] = File{Path: p, Type: "symlink", Mode: "0777", Link: target, From: from}
	return nil
}

// writeFile writes a file made by the builder.
func (b *builder) writeFile(p string, data []byte, mode fs.FileMode) error {
	p = path.Clean("/" + p)
	if err := b.root.WriteFile(rel(p), data, 0o600); err != nil {
		return err
	}
	if err := b.root.Chmod(rel(p), mode); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	b.entries[p] = File{Path: p, Type: "file", Mode: modeString(mode), Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), From: "generated"}
	return nil
}

// copyFile copies the host file from to p with the permission bits of mode,
// less set-user-ID and set-group-ID: a copy of the host's setuid mount(8)
// must not give a container's unprivileged user the host's privileges.
func (b *builder) copyFile(p, from string, mode fs.FileMode, origin string) error {
	p = path.Clean("/" + p)
	if e, ok := b.entries[p]; ok {
		if e.Type == "file" {
			return nil
		}
		return fmt.Errorf("copy %s to %s: a %s is there", from, p, e.Type)
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := b.root.OpenFile(rel(p), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if err = errors.Join(err, out.Close()); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	mode = mode.Perm()
	if err := b.root.Chmod(rel(p), mode); err != nil {
		return err
	}
	b.entries[p] = File{Path: p, Type: "file", Mode: modeString(mode), Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), From: origin}
	return nil
}

// addHost copies the host path p to the same path in the rootfs. Each
// symlink met on the way, in the directories or at the end, is made as the
// same link and then followed, as the kernel would follow it: so /bin/sh on
// a merged-/usr host gives the links bin -> usr/bin and usr/bin/sh -> dash
// and the file usr/bin/dash, and the container resolves /bin/sh as the host
// does. It returns the path of the file at the end of the links.
func (b *builder) addHost(p string) (string, error) {
	rest := splitComponents(p)
	cur := "/"
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		st, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			if links++; links > 40 {
				return "", &os.PathError{Op: "copy", Path: p, Err: unix.ELOOP}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", err
			}
			if err := b.symlink(next, target, next); err != nil {
				return "", err
			}
			if path.IsAbs(target) {
				cur = "/"
			}
			rest = append(splitComponents(target), rest...)
		case st.IsDir():
			if err := b.mkdir(next, st.Mode().Perm()|st.Mode()&fs.ModeSticky, next); err != nil {
				return "", err
			}
			cur = next
		case st.Mode().IsRegular():
			if len(rest) > 0 {
				return "", &os.PathError{Op: "copy", Path: p, Err: unix.ENOTDIR}
			}
			if err := b.copyFile(next, next, st.Mode(), next); err != nil {
				return "", err
			}
			return next, nil
		default:
			return "", fmt.Errorf("copy %s: %s is a %s", p, next, st.Mode().Type())
		}
	}
	return cur, nil
}

func splitComponents(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// resolve follows the links the builder made, inside the rootfs, and
// returns where p really is ("/bin/stepbox" is "/usr/bin/stepbox" when
// /bin -> usr/bin).
func (b *builder) resolve(p string) string {
	rest := splitComponents(p)
	cur := "/"
	for hops := 0; len(rest) > 0 && hops < 40; {
		c := rest[0]
		rest = rest[1:]
		if c == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		if e, ok := b.entries[next]; ok && e.Type == "symlink" {
			hops++
			if path.IsAbs(e.Link) {
				cur = "/"
			}
			rest = append(splitComponents(e.Link), rest...)
			continue
		}
		cur = next
	}
	return cur
}

// addWithLibraries copies the host executable p and, if it is dynamically
// linked, its loader and libraries.
func (b *builder) addWithLibraries(p string) error {
	real, err := b.addHost(p)
	if err != nil {
		return err
	}
	libs, err := resolveLibraries("/", real)
	if errors.Is(err, errNotELF) {
		return nil // a script: its interpreter is one of the tools
	}
	if err != nil {
		return err
	}
	for _, l := range libs {
		if _, err := b.addHost(l); err != nil {
			return fmt.Errorf("%s needs %s: %w", p, l, err)
		}
	}
	return nil
}

// fill makes the whole tree and says which source it used.
func (b *builder) fill(stepboxBinary string, opts BuildOptions) (Source, error) {
	source := opts.Source
	var busybox string
	if source == "" || source == SourceBusybox {
		var err error
		busybox, err = findStaticBusybox(opts.Busybox)
		switch {
		case err == nil:
			source = SourceBusybox
		case source == SourceBusybox:
			return "", err
		default:
			source = SourceHostTools
		}
	}
	var err error
	switch source {
	case SourceBusybox:
		err = b.fillBusybox(busybox)
	case SourceHostTools:
		err = b.fillHostTools(opts.Tools)
	default:
		err = fmt.Errorf("unknown rootfs source %q", source)
	}
	if err != nil {
		return "", err
	}
	if err := b.layout(source); err != nil {
		return "", err
	}
	if stepboxBinary != "" {
		if err := b.addStepbox(stepboxBinary); err != nil {
			return "", err
		}
	}
	return source, nil
}

// layout makes the directories and /etc files every container expects.
func (b *builder) layout(source Source) error {
	dirs := []struct {
		p    string
		mode fs.FileMode
	}{
		{"/proc", 0o555}, {"/sys", 0o555}, {"/dev", 0o755}, {"/etc", 0o755},
		{"/root", 0o700}, {"/home", 0o755}, {"/tmp", 0o777 | fs.ModeSticky},
		{"/var", 0o755}, {"/var/tmp", 0o777 | fs.ModeSticky}, {"/run", 0o755},
		{"/mnt", 0o755}, {"/opt", 0o755}, {"/usr", 0o755},
	}
	for _, d := range dirs {
		if err := b.mkdir(d.p, d.mode, "layout"); err != nil {
			return err
		}
	}
	files := []struct{ p, content string }{
		{"/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"/etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"},
		{"/etc/hostname", "stepbox\n"},
		{"/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
		// No name server: a container reaches no network unless one is
		// given to it, and then its runtime writes this file.
		{"/etc/resolv.conf", ""},
		// glibc tools (host-tools) look users up through NSS; "files"
		// is built into glibc since 2.34, and read from libnss_files
		// before.
		{"/etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"},
		{"/etc/os-release", "NAME=\"stepbox\"\nID=stepbox\nPRETTY_NAME=\"stepbox default rootfs (" + string(source) + ")\"\nHOME_URL=\"https://github.com/stepbox/stepbox\"\n"},
	}
	for _, f := range files {
		if err := b.writeFile(f.p, []byte(f.content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// addStepbox copies the stepbox binary in as /bin/stepbox, with its
// libraries if it is not the static build it should be.
func (b *builder) addStepbox(bin string) error {
	st, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("stepbox binary: %w", err)
	}
	dst := b.resolve("/bin/stepbox")
	if err := b.copyFile(dst, bin, st.Mode(), "stepbox "+bin); err != nil {
		return fmt.Errorf("copy stepbox: %w", err)
	}
	libs, err := resolveLibraries("/", bin)
	if err != nil {
		return fmt.Errorf("stepbox binary %s: %w", bin, err)
	}
	for _, l := range libs {
		if _, err := b.addHost(l); err != nil {
			return fmt.Errorf("stepbox needs %s: %w", l, err)
		}
	}
	return nil
}
