// Package mountinfo parses /proc/PID/mountinfo (proc(5)), the one parser
// the inspector, the cgroup layer, the rootfs setup and the test leak
// checker share.
package mountinfo

import (
	"fmt"
	"strconv"
	"strings"
)

// Entry is one line of /proc/PID/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)    (10)         (11)
//
// Root, MountPoint and Source are unescaped (the kernel writes space, tab,
// newline and backslash as \040 \011 \012 \134).
type Entry struct {
	ID         int    `json:"id"`
	Parent     int    `json:"parent"`
	Major      int    `json:"major"`
	Minor      int    `json:"minor"`
	Root       string `json:"root"`        // the path inside the filesystem that is mounted
	MountPoint string `json:"mount_point"` // relative to the process's root
	Options    string `json:"options"`     // per-mount: rw/ro, nosuid, ...
	// Optional are the raw tags of field 7: shared:N, master:N,
	// propagate_from:N, unbindable (mount_namespaces(7)).
	Optional      []string `json:"optional"`
	Shared        int      `json:"shared,omitempty"`         // peer group, 0 if not shared
	Master        int      `json:"master,omitempty"`         // peer group this mount is a slave of
	PropagateFrom int      `json:"propagate_from,omitempty"` // nearest dominant peer group seen
	Unbindable    bool     `json:"unbindable,omitempty"`
	FSType        string   `json:"fstype"`
	Source        string   `json:"source"`
	SuperOptions  string   `json:"super_options"`
}

// ReadOnly reports whether the mount itself is read-only.
func (m Entry) ReadOnly() bool { return hasOption(m.Options, "ro") }

// Propagation names the mount's propagation type: shared, slave,
// shared+slave, unbindable or private.
func (m Entry) Propagation() string {
	switch {
	case m.Shared != 0 && m.Master != 0:
		return "shared+slave"
	case m.Shared != 0:
		return "shared"
	case m.Master != 0:
		return "slave"
	case m.Unbindable:
		return "unbindable"
	}
	return "private"
}

func hasOption(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// Parse reads the text of /proc/PID/mountinfo. The optional fields
// end at a field that is exactly "-": older parsers split at the first "-"
// anywhere and broke on mount points with dashes.
func Parse(b []byte) ([]Entry, error) {
	out := []Entry{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		m, err := ParseLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ParseLine reads one line.
func ParseLine(line string) (Entry, error) {
	f := strings.Split(line, " ")
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 7 || sep < 0 || len(f) < sep+3 {
		return Entry{}, fmt.Errorf("mountinfo line %q: too few fields or no \"-\" separator", line)
	}
	var m Entry
	var err error
	if m.ID, err = strconv.Atoi(f[0]); err != nil {
		return Entry{}, fmt.Errorf("mountinfo line %q: mount id: %w", line, err)
	}
	if m.Parent, err = strconv.Atoi(f[1]); err != nil {
		return Entry{}, fmt.Errorf("mountinfo line %q: parent id: %w", line, err)
	}
	maj, min, ok := strings.Cut(f[2], ":")
	if !ok {
		return Entry{}, fmt.Errorf("mountinfo line %q: device %q is not major:minor", line, f[2])
	}
	if m.Major, err = strconv.Atoi(maj); err != nil {
		return Entry{}, fmt.Errorf("mountinfo line %q: major: %w", line, err)
	}
	if m.Minor, err = strconv.Atoi(min); err != nil {
		return Entry{}, fmt.Errorf("mountinfo line %q: minor: %w", line, err)
	}
	m.Root = Unescape(f[3])
	m.MountPoint = Unescape(f[4])
	m.Options = f[5]
	m.Optional = []string{}
	for _, tag := range f[6:sep] {
		if tag == "" {
			continue
		}
		m.Optional = append(m.Optional, tag)
		name, val, _ := strings.Cut(tag, ":")
		n, _ := strconv.Atoi(val)
		switch name {
		case "shared":
			m.Shared = n
		case "master":
			m.Master = n
		case "propagate_from":
			m.PropagateFrom = n
		case "unbindable":
			m.Unbindable = true
		}
	}
	m.FSType = f[sep+1]
	m.Source = Unescape(f[sep+2])
	m.SuperOptions = strings.Join(f[sep+3:], " ")
	return m, nil
}

// Unescape undoes the kernel's octal escapes (\040 space, \011
// tab, \012 newline, \134 backslash; fs/proc_namespace.c mangle()). A
// backslash not followed by three octal digits is kept as it is.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
