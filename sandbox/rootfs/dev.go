package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultDevices are the device nodes every container gets (runtime-spec
// config-linux.md, "Default Devices"); /dev/ptmx is a link to the
// container's own devpts instance instead.
func DefaultDevices() []specs.LinuxDevice {
	mode := os.FileMode(0o666)
	node := func(p string, major, minor int64) specs.LinuxDevice {
		return specs.LinuxDevice{Path: p, Type: "c", Major: major, Minor: minor, FileMode: &mode}
	}
	return []specs.LinuxDevice{
		node("/dev/null", 1, 3),
		node("/dev/zero", 1, 5),
		node("/dev/full", 1, 7),
		node("/dev/random", 1, 8),
		node("/dev/urandom", 1, 9),
		node("/dev/tty", 5, 0),
	}
}

// devLinks are the links every /dev has (runc's setupDevSymlinks; devpts.rst
// for ptmx).
var devLinks = [][2]string{
	{"/dev/fd", "/proc/self/fd"},
	{"/dev/stdin", "/proc/self/fd/0"},
	{"/dev/stdout", "/proc/self/fd/1"},
	{"/dev/stderr", "/proc/self/fd/2"},
	{"/dev/ptmx", "pts/ptmx"},
}

// makeDev fills /dev: the default devices and o.Devices, the links, and the
// empty /dev/console that BindConsole covers with the console pty. /dev is
// resolved once; the default entries are single names made relative to it.
func (s *setup) makeDev() error {
	dev, err := s.r.openDir("/dev")
	if err != nil {
		return fmt.Errorf("open %s: %w", s.r.display("/dev"), err)
	}
	defer unix.Close(dev)
	if at, ok := s.r.where(dev); !ok || at != "/dev" {
		return fmt.Errorf("%s resolves to %s: refused", s.r.display("/dev"), at)
	}
	for _, d := range DefaultDevices() {
		if err := s.device(dev, d); err != nil {
			return err
		}
	}
	for _, d := range s.o.Devices {
		p := path.Clean("/" + d.Path)
		dir, err := s.r.mkdirAll(path.Dir(p))
		if err != nil {
			return fmt.Errorf("device %s: %w", s.r.display(p), err)
		}
		d.Path = p
		err = s.device(dir, d)
		unix.Close(dir)
		if err != nil {
			return err
		}
	}
	links := devLinks
	// CONFIG_PROC_KCORE may be off: link /dev/core only to what exists.
	if unix.Access("/proc/kcore", unix.F_OK) == nil {
		links = append(links, [2]string{"/dev/core", "/proc/kcore"})
	}
	for _, l := range links {
		err := unix.Symlinkat(l[1], dev, path.Base(l[0]))
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("symlink %s -> %s: %w", s.r.display(l[0]), l[1], err)
		}
	}
	// mknod(2) makes a regular file too, without opening it.
	err = unix.Mknodat(dev, "console", unix.S_IFREG|0o666, 0)
	if err != nil && err != unix.EEXIST {
		return fmt.Errorf("make %s: %w", s.r.display("/dev/console"), err)
	}
	return nil
}

// device makes the device node d in dir, the directory d.Path names. In a
// user namespace mknod(2) is refused, so the host's node is bound onto an
// empty file (as runc and crun do): the container gets the same device,
// owned as on the host.
func (s *setup) device(dir int, d specs.LinuxDevice) error {
	p := d.Path
	name := path.Base(p)
	typ, err := deviceType(d.Type)
	if err != nil {
		return fmt.Errorf("device %s: %w", p, err)
	}
	if s.o.UserNS {
		return s.bindDevice(dir, name, d)
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	dev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	err = unix.Mknodat(dir, name, typ|perm, int(dev))
	if errors.Is(err, unix.EEXIST) {
		// The spec: an existing file that is not the device asked for is an
		// error; the same device is fine (a rootfs that ships /dev/null).
		var st unix.Stat_t
		if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("device %s: %w", s.r.display(p), err)
		}
		if st.Mode&unix.S_IFMT != typ || (typ != unix.S_IFIFO && st.Rdev != dev) {
			return fmt.Errorf("device %s: %s is already there and is not device %s %d:%d", s.r.display(p), fileKind(st.Mode), d.Type, d.Major, d.Minor)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("mknod %s: %w", s.r.display(p), err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if uid != 0 || gid != 0 {
		if err := unix.Fchownat(dir, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", s.r.display(p), err)
		}
	}
	return nil
}

// bindDevice binds the host's device node d.Path onto an empty file name in
// dir.
func (s *setup) bindDevice(dir int, name string, d specs.LinuxDevice) error {
	if d.Type == "p" {
		return fmt.Errorf("device %s: a fifo cannot be bound from the host", d.Path)
	}
	// mknod(2) of a regular file is allowed in a user namespace, and unlike
	// open(O_CREAT) it never opens an existing device.
	err := unix.Mknodat(dir, name, unix.S_IFREG|0o666, 0)
	if err != nil && err != unix.EEXIST {
		return fmt.Errorf("make %s to bind the device onto: %w", s.r.display(d.Path), err)
	}
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.r.display(d.Path), err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", s.r.display(d.Path), err)
	}
	if k := st.Mode & unix.S_IFMT; k != unix.S_IFREG && k != unix.S_IFCHR && k != unix.S_IFBLK {
		return fmt.Errorf("device %s: %s is in the way", s.r.display(d.Path), fileKind(st.Mode))
	}
	return s.r.mountOn(fd, d.Path, d.Path, "", unix.MS_BIND, "")
}

// deviceType maps the OCI device type letter to the mknod(2) file type.
func deviceType(t string) (uint32, error) {
	switch t {
	case "c", "u":
		return unix.S_IFCHR, nil
	case "b":
		return unix.S_IFBLK, nil
	case "p":
		return unix.S_IFIFO, nil
	}
	return 0, fmt.Errorf("unknown device type %q (want c, u, b or p)", t)
}

// reopenDevNull points stdin, stdout and stderr that are the host's /dev/null
// at the container's own, so the container holds no descriptor on a host
// device file (runc's reOpenDevNull).
func reopenDevNull() error {
	var null unix.Stat_t
	fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("open the container's /dev/null: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &null); err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		var st unix.Stat_t
		if unix.Fstat(i, &st) != nil {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == null.Rdev && st.Dev != null.Dev {
			if err := unix.Dup3(fd, i, 0); err != nil {
				return fmt.Errorf("reopen fd %d on /dev/null: %w", i, err)
			}
		}
	}
	return nil
}
