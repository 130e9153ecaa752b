package flock

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A second exclusive lock waits for the first; shared locks do not wait
// for each other; a symbolic link is never followed to its target.
func TestLocks(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.lock")
	for _, take := range []func() (func(), error){
		func() (func(), error) { return Dir(dir) },
		func() (func(), error) { return File(p, unix.LOCK_EX, 0o600) },
	} {
		release, err := take()
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan struct{})
		go func() {
			r, err := take()
			if err == nil {
				r()
			}
			close(got)
		}()
		select {
		case <-got:
			t.Fatal("a second exclusive lock did not wait")
		case <-time.After(50 * time.Millisecond):
		}
		release()
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("the second lock never came after the release")
		}
	}
	a, err := File(p, unix.LOCK_SH, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer a()
	b, err := File(p, unix.LOCK_SH|unix.LOCK_NB, 0o600)
	if err != nil {
		t.Fatalf("a shared lock waits for another shared one: %v", err)
	}
	b()
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("lock file %v, %v; want mode 0600", st, err)
	}
	link := filepath.Join(dir, "link.lock")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := File(link, unix.LOCK_EX, 0o600); err == nil {
		t.Error("a lock through a symbolic link was taken")
	}
	if _, err := os.Stat(filepath.Join(dir, "target")); !os.IsNotExist(err) {
		t.Error("a lock through a symbolic link made its target")
	}
}
