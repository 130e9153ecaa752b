package imagefs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/internal/testutil/imagecheck"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
)

// The test binary is also the containers' init (sandbox's package
// initialisation runs it). The package mounts overlays and makes
// containers: none may survive it, and no store it made may keep a
// container's directory or mark.
func TestMain(m *testing.M) {
	testutil.Main(m, func() {
		for _, d := range stores {
			if left := imagecheck.Leftovers(d); len(left) > 0 {
				fmt.Fprintln(os.Stderr, "LEAK CHECK FAILED: the image store "+d+" kept:")
				for _, l := range left {
					fmt.Fprintln(os.Stderr, "  "+l)
				}
				os.Exit(1)
			}
		}
		for _, d := range cleanups {
			os.RemoveAll(d)
		}
	})
}

var stores, cleanups []string

// searchableTemp is a temporary directory that a user namespace's root
// (an unprivileged uid on the host) can walk through, as it must reach
// the store's layers to mount its overlay.
func searchableTemp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "stepbox-imagefs-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	cleanups = append(cleanups, dir)
	return dir
}

// testStore is a store of its own for one test, with the busybox image
// imported as "test/base:1". Its containers are removed when the test
// ends, and the package checks what they left.
func testStore(t *testing.T) (*image.Store, sandbox.Paths) {
	t.Helper()
	testutil.RequiresRoot(t)
	dir := searchableTemp(t)
	s, err := image.Open(filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	stores = append(stores, s.Dir())
	if _, err := s.ImportDir(baseRootfs(t), "test/base:1", image.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	p := sandbox.DefaultPaths(filepath.Join(dir, "state"))
	t.Cleanup(func() {
		states, _ := sandbox.List(p)
		for _, st := range states {
			if c, err := sandbox.Load(p, st.ID); err == nil {
				if err := c.Delete(true); err != nil {
					t.Errorf("delete %s: %v", st.ID, err)
				}
			}
		}
	})
	return s, p
}

var baseDir string

// baseRootfs is a busybox root filesystem, with a few files the tests
// change, delete or read: /etc/motd, /etc/deleteme, /srv/data/keep.
func baseRootfs(t *testing.T) string {
	t.Helper()
	if baseDir != "" {
		return baseDir
	}
	dir := filepath.Join(searchableTemp(t), "rootfs")
	testutil.BusyboxRootfs(t, dir, "")
	testutil.WriteFile(t, filepath.Join(dir, "etc/motd"), "the image's motd\n")
	testutil.WriteFile(t, filepath.Join(dir, "etc/deleteme"), "delete me\n")
	testutil.WriteFile(t, filepath.Join(dir, "srv/data/keep"), "kept\n")
	baseDir = dir
	return dir
}

// spec is a default container description running sh -c script.
func spec(script string) *specs.Spec {
	s := sandbox.DefaultSpec("", "/bin/sh", "-c", script)
	sandbox.SetNamespace(s, specs.TimeNamespace, false)
	return s
}

// box is a container of an image, prepared and created, not started.
type box struct {
	c   *sandbox.Container
	out *bytes.Buffer
	r   *sandbox.ImageRootfs
}

// create prepares a container of ref and creates it; the test's cleanup
// removes it.
func create(t *testing.T, s *image.Store, p sandbox.Paths, ref string, sp *specs.Spec) *box {
	t.Helper()
	id := sandbox.NewID()
	prep, err := Prepare(s, ref, id, sp)
	if err != nil {
		t.Fatalf("prepare %s: %v", ref, err)
	}
	b := &box{out: &bytes.Buffer{}, r: prep.Rootfs}
	c, err := sandbox.Create(p, id, sp, sandbox.Options{Image: prep.Rootfs, Stdout: b.out, Stderr: b.out})
	if err != nil {
		_ = sandbox.ReleaseImageRootfs(prep.Rootfs, id)
		t.Fatalf("create: %v", err)
	}
	b.c = c
	return b
}

// run creates, starts and waits for a container of ref running script,
// and returns it stopped (not removed) with its output.
func run(t *testing.T, s *image.Store, p sandbox.Paths, ref string, sp *specs.Spec) *box {
	t.Helper()
	b := create(t, s, p, ref, sp)
	if err := b.c.Start(); err != nil {
		t.Fatalf("start: %v (%s)", err, b.out)
	}
	done := make(chan int, 1)
	go func() { code, _ := b.c.Wait(); done <- code }()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("%v exited %d: %s", sp.Process.Args, code, b.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%v still running after 30 s", sp.Process.Args)
	}
	return b
}

// treeSum is a checksum of every name, kind, mode, owner, link target and
// content under dir: equal sums, an unchanged tree.
func treeSum(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %o %d:%d %d %d\n", rel, fi.Mode(), st.Uid, st.Gid, fi.Size(), st.Ino)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			fmt.Fprintf(h, "-> %s\n", l)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			io.Copy(h, f)
			f.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// names lists the paths under dir, relative, sorted ("etc", "etc/motd").
func names(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
