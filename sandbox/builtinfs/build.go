package builtinfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/flock"
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
		if m.Stepbox == nil || m.Stepbox.Path != s.Path || m.Stepbox.Size != s.Size || !m.Stepbox.ModTime.Equal(s.ModTime) {
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
	return flock.File(dir+".lock", unix.LOCK_EX, 0o644)
}

// afterFill, when set (by tests), runs once the build directory is filled
// and before its manifest is written: a build killed there must leave no
// rootfs that looks complete.
var afterFill func(tmp string)

// build makes the rootfs in a temporary sibling of dir and publishes it.
// The caller holds the build lock.
func build(dir, stepboxBinary string, opts BuildOptions) (m *Manifest, err error) {
	if err := replaceable(dir); err != nil {
		return nil, err
	}
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

// replaceable refuses to build over a directory that is not a rootfs built
// here (no manifest) and not empty: a mistyped --root must not cost someone
// their files.
func replaceable(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		kind := "something else"
		switch {
		case fi.Mode().IsRegular():
			kind = "a regular file"
		case fi.Mode()&fs.ModeSymlink != 0:
			kind = "a symlink"
		}
		return fmt.Errorf("%s is %s, not a rootfs directory: not replacing it", dir, kind)
	}
	if _, err := os.Lstat(filepath.Join(dir, ManifestName)); err == nil {
		return nil
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
		return fmt.Errorf("%s is not a rootfs stepbox built (it has no %s) and is not empty: not replacing it", dir, ManifestName)
	}
	return nil
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

// Pick says which kind of root filesystem a build with opts makes on this
// host, and for busybox-static which busybox it copies.
func Pick(opts BuildOptions) (source Source, busybox string, err error) {
	source = opts.Source
	if source == "" || source == SourceBusybox {
		busybox, err = findStaticBusybox(opts.Busybox)
		switch {
		case err == nil:
			source = SourceBusybox
		case source == SourceBusybox:
			return "", "", err
		default:
			source, err = SourceHostTools, nil
		}
	}
	return source, busybox, nil
}

// fill makes the whole tree and says which source it used.
func (b *builder) fill(stepboxBinary string, opts BuildOptions) (Source, error) {
	source, busybox, err := Pick(opts)
	if err != nil {
		return "", err
	}
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
