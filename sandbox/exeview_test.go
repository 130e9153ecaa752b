package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
)

// The view shows the file's own bytes, refuses writing whatever the mode,
// leaves no mount behind in any namespace, and refuses a path that no longer
// names the file opened (a swap between the check and the view).
func TestReadOnlyView(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "bin")
	if err := os.WriteFile(p, []byte("\x7fELF payload"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	view, err := readOnlyView(src, p)
	if err != nil {
		t.Skipf("no read-only view on this kernel (the memfd copy serves): %v", err)
	}
	defer view.Close()
	b := make([]byte, 64)
	n, _ := view.ReadAt(b, 0)
	if string(b[:n]) != "\x7fELF payload" {
		t.Errorf("the view reads %q", b[:n])
	}
	self := "/proc/self/fd/" + strconv.Itoa(int(view.Fd()))
	if _, err := os.OpenFile(self, os.O_WRONLY, 0); !errors.Is(err, unix.EROFS) {
		t.Errorf("opening the view for writing: %v, want EROFS", err)
	}
	if err := unix.Fchmod(int(view.Fd()), 0o777); !errors.Is(err, unix.EROFS) {
		t.Errorf("chmod of the view: %v, want EROFS", err)
	}
	// A file renamed over the path after the open: not the one checked.
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("\x7fELF other"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, p); err != nil {
		t.Fatal(err)
	}
	if v, err := readOnlyView(src, p); err == nil {
		v.Close()
		t.Error("a view of a file swapped in after the open")
	}
}
