package sandbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

func TestRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RestartPolicy
		bad  bool
	}{
		{"", RestartPolicy{Name: "no"}, false},
		{"no", RestartPolicy{Name: "no"}, false},
		{"always", RestartPolicy{Name: "always"}, false},
		{"on-failure", RestartPolicy{Name: "on-failure"}, false},
		{"on-failure:2", RestartPolicy{Name: "on-failure", MaxRetries: 2}, false},
		{"on-failure:-1", RestartPolicy{}, true},
		{"on-failure:x", RestartPolicy{}, true},
		{"always:3", RestartPolicy{}, true},
		{"no:1", RestartPolicy{}, true},
		{"unless-stopped", RestartPolicy{}, true},
	} {
		got, err := ParseRestartPolicy(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("%q: %+v, %v", tc.in, got, err)
		}
	}
	p := RestartPolicy{Name: "on-failure", MaxRetries: 2}
	for count, want := range []bool{true, true, false} {
		if p.restarts(3, count) != want {
			t.Errorf("on-failure:2 after %d restarts: %v", count, !want)
		}
	}
	if p.restarts(0, 0) || !(RestartPolicy{Name: "always"}).restarts(0, 99) || (RestartPolicy{Name: "no"}).restarts(1, 0) {
		t.Error("restarts")
	}
	if (RestartPolicy{Name: "on-failure"}).restarts(-1, 0) != true {
		t.Error("an unknown exit is a failure")
	}
}

func TestNextBackoff(t *testing.T) {
	d := time.Duration(0)
	var got []time.Duration
	for range 4 {
		d = nextBackoff(d, time.Second)
		got = append(got, d)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	if !slicesEqual(got, want) {
		t.Errorf("back-off %v, want %v", got, want)
	}
	if nextBackoff(800*time.Millisecond, 11*time.Second) != firstBackoff || nextBackoff(50*time.Second, 0) != maxBackoff {
		t.Error("reset after a good run, or the bound")
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMonitorArgs(t *testing.T) {
	a := monitorArgs{mode: "watch", dir: "/run/stepbox/x", exe: 5, pid: 42, out: 6, err: 7, pty: -1, in: 8, log: 9,
		status: 256, stopped: true, delay: 1500 * time.Millisecond}
	k, v, _ := strings.Cut(a.env(), "=")
	t.Setenv(k, v)
	saved := os.Args
	defer func() { os.Args = saved }()
	os.Args = []string{monitorComm, monitorArg, a.dir}
	got, ok := parseMonitorArgs()
	if !ok || got != a {
		t.Errorf("round trip: %+v, %v; want %+v", got, ok, a)
	}
	t.Setenv(k, strings.Replace(v, "v="+monitorProtocol, "v=0", 1))
	if got, ok := parseMonitorArgs(); ok || got.exe != 5 || got.mode != "watch" {
		t.Errorf("another protocol: ok %v, %+v", ok, got)
	}
}

// The log is written as CRI records and read back as the payload wrote it:
// each stream to its own writer, partial lines joined, tail counting lines.
func TestLogRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &logWriter{fd: int(f.Fd())}
	w.write("stdout", []byte("one\ntw"))
	w.write("stderr", []byte("oops\n"))
	w.write("stdout", []byte("o\nthree\nfour"))
	f.Close()
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d records:\n%s", len(lines), b)
	}
	for i, want := range []string{" stdout F one", " stdout P tw", " stderr F oops", " stdout F o", " stdout F three", " stdout P four"} {
		if !strings.HasSuffix(lines[i], want) || len(lines[i]) != len(logTimeFormat)-5+len(want) {
			t.Errorf("record %d: %q, want TIME%s", i, lines[i], want)
		}
		if _, err := time.Parse(time.RFC3339Nano, strings.Fields(lines[i])[0]); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	print := func(n int, ts bool) (string, string) {
		var out, errb bytes.Buffer
		p := &logPrinter{out: &out, err: &errb, timestamps: ts}
		p.print(tail(b, n))
		return out.String(), errb.String()
	}
	if out, errs := print(-1, false); out != "one\ntwo\nthree\nfour" || errs != "oops\n" {
		t.Errorf("all: %q, %q", out, errs)
	}
	if out, errs := print(2, false); out != "three\nfour" || errs != "" {
		t.Errorf("tail 2: %q, %q", out, errs)
	}
	if out, _ := print(0, false); out != "" {
		t.Errorf("tail 0: %q", out)
	}
	if out, _ := print(-1, true); strings.Count(out, "Z ") != 4 || !strings.Contains(out, "Z two\n") {
		t.Errorf("timestamps once per line: %q", out)
	}
}

// Names are taken by symlink(2): one container per name, a stale name is
// taken back, and ids, names and unique prefixes all resolve.
func TestNames(t *testing.T) {
	p := DefaultPaths(t.TempDir())
	mk := func(id string) {
		if err := os.MkdirAll(p.containerDir(id), 0o711); err != nil {
			t.Fatal(err)
		}
		if err := writeState(p.containerDir(id), State{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := "abc123"+strings.Repeat("0", 58), "abd456"+strings.Repeat("0", 58)
	mk(a)
	mk(b)
	if err := reserveName(p, "web", a); err != nil {
		t.Fatal(err)
	}
	if err := reserveName(p, "web", b); !errors.Is(err, ErrNameInUse) {
		t.Errorf("second reservation: %v", err)
	}
	for ref, want := range map[string]string{"web": a, a: a, "abc": a, "abd4": b} {
		if got, err := Resolve(p, ref); err != nil || got != want {
			t.Errorf("resolve %q: %q, %v", ref, got, err)
		}
	}
	if _, err := Resolve(p, "ab"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	for _, ref := range []string{"nope", "../x", "", "names"} {
		if _, err := Resolve(p, ref); !errors.Is(err, ErrNoContainer) {
			t.Errorf("resolve %q: %v", ref, err)
		}
	}
	// Its container gone without releasing it, the name is free again.
	os.RemoveAll(p.containerDir(a))
	if err := reserveName(p, "web", b); err != nil {
		t.Errorf("stale name: %v", err)
	}
	releaseName(p, "web", a) // not a's any more: stays
	if got, _ := Resolve(p, "web"); got != b {
		t.Errorf("web is %q, want %q", got, b)
	}
	releaseName(p, "web", b)
	if _, err := os.Lstat(p.nameLink("web")); err == nil {
		t.Error("the name is still taken")
	}
	if n := GenerateName(); ValidateID(n) != nil || !strings.Contains(n, "_") {
		t.Errorf("generated name %q", n)
	}
	if id := NewContainerID(); len(id) != 64 || ValidateID(id) != nil {
		t.Errorf("id %q", id)
	}
}

// The whole life through the library, with the test binary as stepbox: it
// runs the monitor's lean phases itself (no stepbox-init beside it).
func TestDetachedLife(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	p := DefaultPaths(t.TempDir())
	spec := DefaultSpec(rootfsDir(t), "sh", "-c", "trap 'echo term; exit 3' TERM; echo out; echo err >&2; while :; do sleep 0.1; done")
	id := NewContainerID()
	if _, err := RunDetached(p, id, spec, DetachOptions{Name: "life", Init: true}); err != nil {
		t.Fatal(err)
	}
	c, err := Find(p, "life")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove(true) })
	st := c.State()
	if st.Status != Running || st.Detached == nil || !st.Detached.monitorAlive() {
		t.Fatalf("state %+v", st)
	}
	if procs, err := c.Processes(); err != nil || len(procs) < 2 || procs[0].CPid != 1 {
		t.Errorf("processes %+v, %v", procs, err)
	}
	// The trap is set once "out" is in the log.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var out bytes.Buffer
		_ = c.Logs(context.Background(), LogOptions{Tail: -1}, &out, &out)
		if strings.Contains(out.String(), "out") || time.Now().After(deadline) {
			break
		}
	}
	if err := c.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	st, err = c.WaitStopped(context.Background())
	if err != nil || st.ExitCode == nil || *st.ExitCode != 3 || st.Finished.Before(st.Started) {
		t.Errorf("after stop: %+v, %v", st, err)
	}
	var out, errb bytes.Buffer
	if err := c.Logs(context.Background(), LogOptions{Tail: -1}, &out, &errb); err != nil || out.String() != "out\nterm\n" || !strings.HasPrefix(errb.String(), "err\n") {
		t.Errorf("logs %q %q, %v", out.String(), errb.String(), err)
	}
	if len(st.CgroupPaths) != 0 {
		t.Errorf("cgroups still recorded after the exit: %v", st.CgroupPaths)
	}
	if err := c.Remove(false); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(p, "life"); !errors.Is(err, ErrNoContainer) {
		t.Errorf("after rm: %v", err)
	}
	l.Check(t, 5*time.Second)
}
