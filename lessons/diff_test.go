package lessons

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stepbox/stepbox/nsinspect"
)

// A step's "what changed" lines: namespaces by name, then the learner's
// order; a list tells what left and what came, an entry held twice counts
// twice, and nothing unchanged has a line.
func TestChanges(t *testing.T) {
	ns := func(uts, net uint64) []nsinspect.Namespace {
		return []nsinspect.Namespace{{Type: "uts", Inode: uts}, {Type: "net", Inode: net}}
	}
	mounts := func(points ...string) nsinspect.Mounts {
		var m nsinspect.Mounts
		for _, p := range points {
			m.Entries = append(m.Entries, nsinspect.Mount{MountPoint: p, FSType: "tmpfs"})
		}
		return m
	}
	host := nsinspect.Snapshot{Namespaces: ns(1, 2), UTS: nsinspect.UTS{Hostname: "host"}}
	prev := nsinspect.Snapshot{Namespaces: ns(1, 2), UTS: nsinspect.UTS{Hostname: "host"}, Mounts: mounts("/", "/tmp", "/tmp")}
	cur := nsinspect.Snapshot{Namespaces: ns(11, 2), UTS: nsinspect.UTS{Hostname: "box"}, Mounts: mounts("/", "/tmp", "/run")}
	cur.Namespaces = append(cur.Namespaces, nsinspect.Namespace{Type: "ipc", Inode: 12})
	want := []Change{
		{What: "ns/ipc", After: "own"},
		{What: "ns/uts", Before: "host's", After: "own"},
		{What: "hostname", Before: "host", After: "box"},
		{What: "mount", Before: "/tmp (tmpfs)"},
		{What: "mount", After: "/run (tmpfs)"},
	}
	if diff := cmp.Diff(want, changes(prev, cur, host)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got := changes(cur, cur, host); len(got) != 0 {
		t.Errorf("a step against itself: %v", got)
	}
	if got := (Change{What: "mount", Before: "/tmp (tmpfs)"}).String(); got != "- mount /tmp (tmpfs)" {
		t.Errorf("a removed entry reads %q", got)
	}
}
