package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Freeze stops a counting shell where it stands and Thaw lets it count on,
// with cgroup2's cgroup.freeze where the container has a cgroup2 directory
// (a hybrid host's bare one included) and with the v1 freezer where it has
// none; the kernel's own view (cgroup.events, freezer.state) agrees.
func TestRealFreeze(t *testing.T) {
	l := realLayout(t)
	variants := map[string]*Layout{l.Mode.String(): l}
	if l.Mode == Hybrid && l.V1Hierarchy("freezer") != nil {
		v1 := *l
		v1.Unified, v1.Mode = nil, V1
		variants["v1 freezer"] = &v1
	}
	for name, l := range variants {
		t.Run(name, func(t *testing.T) {
			m := newReal(t, l, nil)
			count := filepath.Join(t.TempDir(), "count")
			h := startShell(t, fmt.Sprintf("read x; while :; do echo . >> %s; done", count))
			if err := m.Apply(h.pid()); err != nil {
				t.Fatal(err)
			}
			h.release(t)
			// The file's size: it only grows while the shell runs.
			read := func() int64 {
				fi, err := os.Stat(count)
				if err != nil {
					return 0
				}
				return fi.Size()
			}
			for deadline := time.Now().Add(5 * time.Second); read() == 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if err := m.Freeze(true); err != nil {
				t.Fatal(err)
			}
			a := read()
			time.Sleep(100 * time.Millisecond)
			if b := read(); a != b || a == 0 {
				t.Errorf("frozen, the file grew from %d to %d bytes", a, b)
			}
			mm := m.(*manager)
			if mm.unified != "" {
				if ev, _ := readFile(mm.unified + "/cgroup.events"); !strings.Contains(ev, "frozen 1") {
					t.Errorf("cgroup.events: %q", ev)
				}
			} else if st, _ := readFile(mm.v1("freezer") + "/freezer.state"); strings.TrimSpace(st) != "FROZEN" {
				t.Errorf("freezer.state: %q", st)
			}
			if err := m.Freeze(false); err != nil {
				t.Fatal(err)
			}
			a = read()
			time.Sleep(100 * time.Millisecond)
			if b := read(); a == b {
				t.Errorf("thawed, the file stayed at %d bytes", a)
			}
		})
	}
}

// A container with neither a cgroup2 directory nor a v1 freezer cannot be
// frozen, and says so.
func TestFreezeWithoutFreezer(t *testing.T) {
	m := &manager{paths: map[string]string{"memory": "/nonexistent"}}
	if err := m.Freeze(true); !errors.Is(err, ErrNoFreezer) {
		t.Errorf("Freeze without a freezer: %v", err)
	}
}
