package image

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

// Several stepbox commands at once on one store (each with its own Store,
// as separate processes would have: flock(2) locks are per open file):
// loads of the same image, prunes and removals. The store ends consistent:
// every image it lists can be mounted, and a last prune leaves nothing.
func TestConcurrentLoadsAndPrunes(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := filepath.Join(t.TempDir(), "images")
	arch := gz(dockerArchive(t, []string{"three:v1"}, threeLayers(t)...))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := Open(dir)
			if err != nil {
				errs <- err
				return
			}
			switch i % 3 {
			case 0, 1:
				_, err = s.Load(bytes.NewReader(arch), LoadOptions{})
			case 2:
				_, err = s.Prune(false)
			}
			if err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s, _ := Open(dir)
	img, err := s.Get("three:v1")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := s.MountPlan("three:v1", IDMap{})
	if err != nil || len(plan.Lower) != 3 {
		t.Fatalf("mount plan %+v, %v", plan, err)
	}
	if _, err := s.Remove(string(img.ID), true); err != nil {
		t.Fatal(err)
	}
	storeEmpty(t, s)
}

// A load killed half-way (SIGKILL, no chance to clean up) leaves no blob,
// layer or image: its temporary files are removed when the store is next
// opened.
func TestKilledLoadLeavesNothing(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := filepath.Join(t.TempDir(), "images")
	// A plain archive read from a pipe is copied to tmp/ first; gzip it so
	// the copy is also what is half-done.
	arch := gz(dockerArchive(t, []string{"three:v1"}, threeLayers(t)...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.Write(arch[:len(arch)/2])
	// Wait until the load is writing into tmp/.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ents, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		if len(ents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the load never started writing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	in.Close()
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) == 0 {
		t.Fatal("the killed load left nothing in tmp/: the test proves nothing")
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Errorf("images after a killed load: %v", imgs)
	}
	storeEmpty(t, s)
}
