package lessons

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// Learner is the person whose progress a command records: the user who ran
// it, or, when root runs it through sudo, the user who typed sudo. The
// lessons need root, but what a learner did is theirs: it lives in their
// $XDG_STATE_HOME, in files they own, and two learners on one machine never
// share one.
type Learner struct {
	UID, GID int
	Name     string
	// Dir is $XDG_STATE_HOME/stepbox, or ~/.local/state/stepbox (the XDG
	// base directory specification).
	Dir string
	// actFor is set when root works for another user (sudo): files are then
	// made with that user's filesystem ids, so they are theirs, and a link
	// they planted cannot make root write where they could not.
	actFor bool
}

// CurrentLearner works out the learner from the process's ids and, under
// sudo, SUDO_UID, SUDO_GID and SUDO_USER (sudo(8) sets them).
func CurrentLearner() Learner {
	l := Learner{UID: os.Getuid(), GID: os.Getgid()}
	if os.Geteuid() == 0 {
		uid, err1 := strconv.Atoi(os.Getenv("SUDO_UID"))
		gid, err2 := strconv.Atoi(os.Getenv("SUDO_GID"))
		if err1 == nil && err2 == nil && uid > 0 {
			l.UID, l.GID, l.actFor = uid, gid, true
			l.Name = os.Getenv("SUDO_USER")
		}
	}
	home := os.Getenv("HOME")
	if u, err := user.LookupId(strconv.Itoa(l.UID)); err == nil {
		if l.Name == "" {
			l.Name = u.Username
		}
		if l.actFor || home == "" {
			home = u.HomeDir // sudo sets HOME to root's
		}
	}
	if l.Name == "" {
		l.Name = "uid " + strconv.Itoa(l.UID)
	}
	state := os.Getenv("XDG_STATE_HOME")
	if state == "" {
		if home == "" {
			home = "/root"
		}
		state = filepath.Join(home, ".local", "state")
	}
	l.Dir = filepath.Join(state, "stepbox")
	return l
}

// as runs f with the learner's filesystem ids on a thread of its own, so
// that whatever f makes belongs to the learner and is checked against the
// learner's permissions (setfsuid(2): the thread also loses the capabilities
// that would override them). Without actFor, f runs as it is.
func (l Learner) as(f func() error) error {
	if !l.actFor {
		return f()
	}
	runtime.LockOSThread()
	_, _ = unix.SetfsgidRetGid(l.GID)
	_, _ = unix.SetfsuidRetUid(l.UID)
	if cur, _ := unix.SetfsuidRetUid(-1); cur != l.UID {
		restoreFS()
		return fmt.Errorf("act as uid %d for its files: setfsuid refused", l.UID)
	}
	err := f()
	restoreFS()
	return err
}

// restoreFS gives the locked thread back root's filesystem ids; a thread
// that cannot have them back stays locked, and Go ends it with its
// goroutine instead of reusing it.
func restoreFS() {
	_, _ = unix.SetfsuidRetUid(0)
	_, _ = unix.SetfsgidRetGid(0)
	uid, _ := unix.SetfsuidRetUid(-1)
	gid, _ := unix.SetfsgidRetGid(-1)
	if uid == 0 && gid == 0 {
		runtime.UnlockOSThread()
	}
}

// writeAtomic replaces path with data so that a reader, or a crash at any
// moment, sees either the old file or the new one, never a part: a
// temporary file in the same directory, synced, then renamed over path
// (rename(2) is atomic), then the directory synced.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
