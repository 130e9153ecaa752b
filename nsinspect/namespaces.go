package nsinspect

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// NamespaceTypes are the entries of /proc/PID/ns, in the order reports use
// (namespaces(7)). The *_for_children links name the namespace the
// process's future children will join; they differ from pid and time after
// unshare(CLONE_NEWPID) or unshare(CLONE_NEWTIME) until the next fork.
var NamespaceTypes = []string{
	"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
	"time", "time_for_children", "user", "uts",
}

// KernelNamespaces are the eight kinds of namespace, without the
// *_for_children links: the names --expect and lsns use.
var KernelNamespaces = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// InitInodes are the inode numbers the kernel gives its initial namespaces
// (include/linux/proc_ns.h, fixed since Linux 3.8; time since 5.6). A process
// whose namespace has another inode is not in the initial one. Only the mount
// and network namespaces get a dynamic inode even at boot.
var InitInodes = map[string]uint64{
	"ipc":    0xEFFFFFFF,
	"uts":    0xEFFFFFFE,
	"user":   0xEFFFFFFD,
	"pid":    0xEFFFFFFC,
	"cgroup": 0xEFFFFFFB,
	"time":   0xEFFFFFFA,
}

// Namespace identifies one namespace of a process. Two processes share a
// namespace exactly when Dev and Inode are both equal (namespaces(7):
// "if two processes are in the same namespace, the device IDs and inode
// numbers of their /proc/PID/ns/xxx symbolic links will be the same").
type Namespace struct {
	Type  string      `json:"type"`
	Link  string      `json:"link,omitempty"` // readlink text, "uts:[4026531838]"
	Dev   uint64      `json:"dev"`            // st_dev of the nsfs inode; 0 on fixture trees
	Inode uint64      `json:"inode"`
	Err   *FieldError `json:"error,omitempty"`
}

// Known reports whether the namespace was read.
func (n Namespace) Known() bool { return n.Err == nil && n.Inode != 0 }

// Same reports whether n and o are provably the same namespace. Devices are
// compared only when both are known: fixture trees carry inodes alone.
func (n Namespace) Same(o Namespace) bool {
	if !n.Known() || !o.Known() || n.Inode != o.Inode {
		return false
	}
	return n.Dev == 0 || o.Dev == 0 || n.Dev == o.Dev
}

// ParseNSLink splits the text of a /proc/PID/ns/X link, "type:[inode]".
func ParseNSLink(s string) (typ string, inode uint64, err error) {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || len(s) < colon+3 || s[colon+1] != '[' || s[len(s)-1] != ']' {
		return "", 0, errf("namespace link %q is not type:[inode]", s)
	}
	inode, err = strconv.ParseUint(s[colon+2:len(s)-1], 10, 64)
	if err != nil {
		return "", 0, errf("namespace link %q: bad inode: %w", s, err)
	}
	return s[:colon], inode, nil
}

// namespace reads /proc/PID/ns/typ: readlink for the text, stat (following
// the link into nsfs) for the device and inode.
func (r Reader) namespace(pid int, typ string) Namespace {
	ns := Namespace{Type: typ}
	p := r.path(pid, "ns/"+typ)
	link, err := os.Readlink(p)
	if err != nil {
		ns.Err = newFieldError("readlink", p, err)
		return ns
	}
	ns.Link = link
	var st unix.Stat_t
	switch err := unix.Stat(p, &st); {
	case err == nil:
		ns.Dev, ns.Inode = st.Dev, st.Ino
	case errors.Is(err, unix.ENOENT) && !r.live():
		// A fixture tree holds the link text only.
		if _, ino, perr := ParseNSLink(link); perr == nil {
			ns.Inode = ino
		} else {
			ns.Err = parseError(p, perr)
		}
	default:
		ns.Err = newFieldError("stat", p, err)
	}
	return ns
}

func (r Reader) namespaces(pid int) []Namespace {
	out := make([]Namespace, 0, len(NamespaceTypes))
	for _, t := range NamespaceTypes {
		out = append(out, r.namespace(pid, t))
	}
	return out
}

// selfNamespace stats the calling thread's own namespace of a type.
func selfNamespace(typ string) Namespace {
	p := "/proc/thread-self/ns/" + typ
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return Namespace{Type: typ, Err: newFieldError("stat", p, err)}
	}
	return Namespace{Type: typ, Dev: st.Dev, Inode: st.Ino}
}
