package childproc

import (
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartServer tells a server that exits first (with what it wrote), one
// that becomes ready, and one that never does (stopped, and waited for).
func TestStartServer(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	_, err := StartServer(exec.Command("sh", "-c", "echo bye; exit 3"), log, 10*time.Second, func() bool { return false })
	var exited *ExitedError
	if !errors.As(err, &exited) || exited.Log != "bye\n" {
		t.Errorf("a server that exits: %v", err)
	}
	cmd := exec.Command("sleep", "30")
	done, err := StartServer(cmd, log, 10*time.Second, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	Stop(cmd, done, time.Second)
	cmd = exec.Command("sleep", "30")
	if _, err := StartServer(cmd, log, 100*time.Millisecond, func() bool { return false }); !errors.Is(err, ErrNotReady) {
		t.Errorf("a server never ready: %v", err)
	}
	if cmd.ProcessState == nil {
		t.Error("the server never ready was not waited for")
	}
}
