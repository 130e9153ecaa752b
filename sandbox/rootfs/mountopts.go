package rootfs

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// MountOptions is what ParseMountOptions makes of an OCI mount's option
// strings (runtime-spec config.md, "Linux mount options").
type MountOptions struct {
	// Flags are the mount(2) flags the options set (MS_RDONLY, MS_NOSUID,
	// MS_BIND, MS_REC, …).
	Flags uintptr
	// Cleared are the flags the options explicitly turn off ("rw" clears
	// MS_RDONLY, "suid" MS_NOSUID, …). A fresh mount simply leaves them out;
	// a bind mount, which inherits its source's flags, clears them.
	Cleared uintptr
	// Propagation holds the propagation changes (MS_PRIVATE, MS_SLAVE|MS_REC,
	// …) in the order given; they are applied after the mount exists.
	Propagation []uintptr
	// RecursiveSet and RecursiveClear are MOUNT_ATTR_* bits for the
	// recursive options (rro, rnosuid, …), applied with mount_setattr(2)
	// AT_RECURSIVE to the mount and every mount below it.
	RecursiveSet, RecursiveClear uint64
	// Data is everything else, comma-joined, for mount(2)'s data argument
	// (size=, mode=, newinstance, gid=, …).
	Data string
	// CopyUp asks that a tmpfs start with a copy of what the directory it
	// covers held (the "tmpcopyup" extension).
	CopyUp bool
}

// IsBind reports whether the options make a bind mount ("bind" or "rbind").
func (o MountOptions) IsBind() bool { return o.Flags&unix.MS_BIND != 0 }

type flagOption struct {
	flag  uintptr
	clear bool
}

// flagOptions are the options mount(8) documents as filesystem-independent.
var flagOptions = map[string]flagOption{
	"async":         {unix.MS_SYNCHRONOUS, true},
	"atime":         {unix.MS_NOATIME, true},
	"bind":          {unix.MS_BIND, false},
	"defaults":      {0, false},
	"dev":           {unix.MS_NODEV, true},
	"diratime":      {unix.MS_NODIRATIME, true},
	"dirsync":       {unix.MS_DIRSYNC, false},
	"exec":          {unix.MS_NOEXEC, true},
	"iversion":      {unix.MS_I_VERSION, false},
	"lazytime":      {unix.MS_LAZYTIME, false},
	"loud":          {unix.MS_SILENT, true},
	"mand":          {unix.MS_MANDLOCK, false},
	"noatime":       {unix.MS_NOATIME, false},
	"nodev":         {unix.MS_NODEV, false},
	"nodiratime":    {unix.MS_NODIRATIME, false},
	"noexec":        {unix.MS_NOEXEC, false},
	"noiversion":    {unix.MS_I_VERSION, true},
	"nolazytime":    {unix.MS_LAZYTIME, true},
	"nomand":        {unix.MS_MANDLOCK, true},
	"norelatime":    {unix.MS_RELATIME, true},
	"nostrictatime": {unix.MS_STRICTATIME, true},
	"nosuid":        {unix.MS_NOSUID, false},
	"nosymfollow":   {unix.MS_NOSYMFOLLOW, false},
	"rbind":         {unix.MS_BIND | unix.MS_REC, false},
	"relatime":      {unix.MS_RELATIME, false},
	"remount":       {unix.MS_REMOUNT, false},
	"ro":            {unix.MS_RDONLY, false},
	"rw":            {unix.MS_RDONLY, true},
	"silent":        {unix.MS_SILENT, false},
	"strictatime":   {unix.MS_STRICTATIME, false},
	"suid":          {unix.MS_NOSUID, true},
	"symfollow":     {unix.MS_NOSYMFOLLOW, true},
	"sync":          {unix.MS_SYNCHRONOUS, false},
}

// propagationOptions map the shared-subtree options to mount(2) flags
// (Documentation/filesystems/sharedsubtree.rst).
var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type recursiveOption struct {
	attr  uint64
	clear bool
}

// recursiveOptions are the AT_RECURSIVE options of runtime-spec 1.1, made
// with mount_setattr(2) (Linux 5.12).
var recursiveOptions = map[string]recursiveOption{
	"rro":            {unix.MOUNT_ATTR_RDONLY, false},
	"rrw":            {unix.MOUNT_ATTR_RDONLY, true},
	"rnosuid":        {unix.MOUNT_ATTR_NOSUID, false},
	"rsuid":          {unix.MOUNT_ATTR_NOSUID, true},
	"rnodev":         {unix.MOUNT_ATTR_NODEV, false},
	"rdev":           {unix.MOUNT_ATTR_NODEV, true},
	"rnoexec":        {unix.MOUNT_ATTR_NOEXEC, false},
	"rexec":          {unix.MOUNT_ATTR_NOEXEC, true},
	"rnodiratime":    {unix.MOUNT_ATTR_NODIRATIME, false},
	"rdiratime":      {unix.MOUNT_ATTR_NODIRATIME, true},
	"rnosymfollow":   {unix.MOUNT_ATTR_NOSYMFOLLOW, false},
	"rsymfollow":     {unix.MOUNT_ATTR_NOSYMFOLLOW, true},
	"rnoatime":       {unix.MOUNT_ATTR_NOATIME, false},
	"rstrictatime":   {unix.MOUNT_ATTR_STRICTATIME, false},
	"rrelatime":      {unix.MOUNT_ATTR_RELATIME, false},
	"ratime":         {unix.MOUNT_ATTR_NOATIME, true},
	"rnorelatime":    {unix.MOUNT_ATTR_RELATIME, true},
	"rnostrictatime": {unix.MOUNT_ATTR_STRICTATIME, true},
}

// ParseMountOptions turns OCI mount options into mount(2) flags, propagation
// changes, recursive attributes and filesystem data. Later options override
// earlier ones ("ro,rw" is read-write), as with mount(8). Options it does not
// know go to Data, as the spec asks. idmap and ridmap are refused: stepbox
// does not make id-mapped mounts, and the spec forbids ignoring them.
func ParseMountOptions(options []string) (MountOptions, error) {
	var o MountOptions
	var data []string
	for _, opt := range options {
		if f, ok := flagOptions[opt]; ok {
			if f.clear {
				o.Flags &^= f.flag
				o.Cleared |= f.flag
			} else {
				o.Flags |= f.flag
				o.Cleared &^= f.flag
			}
			continue
		}
		if p, ok := propagationOptions[opt]; ok {
			o.Propagation = append(o.Propagation, p)
			continue
		}
		if r, ok := recursiveOptions[opt]; ok {
			o.setRecursive(r)
			continue
		}
		switch opt {
		case "tmpcopyup":
			o.CopyUp = true
		case "idmap", "ridmap":
			return MountOptions{}, fmt.Errorf("mount option %q: id-mapped mounts are not supported", opt)
		case "":
		default:
			data = append(data, opt)
		}
	}
	o.Data = strings.Join(data, ",")
	return o, nil
}

// setRecursive records one recursive option. The access-time modes are one
// field of mount_setattr(2): changing it needs MOUNT_ATTR__ATIME in the clear
// mask, and turning a mode off means going back to the kernel's default,
// relatime.
func (o *MountOptions) setRecursive(r recursiveOption) {
	const atimeModes = unix.MOUNT_ATTR_NOATIME | unix.MOUNT_ATTR_STRICTATIME | unix.MOUNT_ATTR_RELATIME
	if r.attr&atimeModes != 0 || r.attr == unix.MOUNT_ATTR_RELATIME {
		o.RecursiveClear |= unix.MOUNT_ATTR__ATIME
		o.RecursiveSet &^= unix.MOUNT_ATTR__ATIME
		if !r.clear {
			o.RecursiveSet |= r.attr
		}
		return
	}
	if r.clear {
		o.RecursiveSet &^= r.attr
		o.RecursiveClear |= r.attr
	} else {
		o.RecursiveSet |= r.attr
		o.RecursiveClear &^= r.attr
	}
}

// attrFlags maps the per-mount flags of mount(2) to the attributes of
// mount_setattr(2); flags that belong to the superblock (sync, dirsync,
// lazytime, iversion, mand) have no per-mount form and cannot be changed by a
// bind mount without changing the source filesystem for everyone.
var attrFlags = []struct {
	flag uintptr
	attr uint64
}{
	{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
	{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
	{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	{unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// bindAttrs returns the mount_setattr(2) change that gives a bind mount the
// per-mount flags its options ask for: set what was set, clear what was
// cleared, leave the rest as the source had it.
func (o MountOptions) bindAttrs() (set, clear uint64) {
	for _, f := range attrFlags {
		if o.Flags&f.flag != 0 {
			set |= f.attr
		} else if o.Cleared&f.flag != 0 {
			clear |= f.attr
		}
	}
	switch {
	case o.Flags&unix.MS_NOATIME != 0:
		set, clear = set|unix.MOUNT_ATTR_NOATIME, clear|unix.MOUNT_ATTR__ATIME
	case o.Flags&unix.MS_STRICTATIME != 0:
		set, clear = set|unix.MOUNT_ATTR_STRICTATIME, clear|unix.MOUNT_ATTR__ATIME
	case o.Flags&unix.MS_RELATIME != 0, o.Cleared&(unix.MS_NOATIME|unix.MS_STRICTATIME) != 0:
		set, clear = set|unix.MOUNT_ATTR_RELATIME, clear|unix.MOUNT_ATTR__ATIME
	}
	return set, clear
}

// hasData reports whether a filesystem option key (like "mode") is in data.
func hasData(data, key string) bool {
	for _, d := range strings.Split(data, ",") {
		if k, _, _ := strings.Cut(d, "="); k == key {
			return true
		}
	}
	return false
}

// KnownMountOptions lists every option ParseMountOptions gives a meaning
// (the features document's mountOptions); others go to the filesystem.
func KnownMountOptions() []string {
	var out []string
	for k := range flagOptions {
		out = append(out, k)
	}
	for k := range propagationOptions {
		out = append(out, k)
	}
	for k := range recursiveOptions {
		out = append(out, k)
	}
	out = append(out, "tmpcopyup")
	slices.Sort(out)
	return out
}
