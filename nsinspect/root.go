package nsinspect

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// RootDir identifies a process's root directory: /proc/PID/root followed
// to the directory it names (proc(5)). A process that pivoted or chrooted
// has a root that is not its reference's.
type RootDir struct {
	Link  string      `json:"link"` // readlink text, "/" unless chrooted from the reader's view
	Dev   uint64      `json:"dev"`
	Inode uint64      `json:"inode"`
	Err   *FieldError `json:"error,omitempty"`
}

// Known reports whether the root was read.
func (d RootDir) Known() bool { return d.Err == nil && (d.Dev != 0 || d.Inode != 0) }

func (r Reader) rootDir(pid int) RootDir {
	p := r.path(pid, "root")
	var d RootDir
	link, err := os.Readlink(p)
	if err != nil {
		return RootDir{Err: newFieldError("readlink", p, err)}
	}
	d.Link = link
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		if !r.live() && errors.Is(err, unix.ENOENT) {
			return d // fixture: link text only
		}
		return RootDir{Link: link, Err: newFieldError("stat", p, err)}
	}
	d.Dev, d.Inode = st.Dev, st.Ino
	return d
}
