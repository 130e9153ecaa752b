package rootfs

import (
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stepbox/stepbox/internal/testutil"
)

// On a host whose "/" is shared (every systemd host), a mount made in a new
// mount namespace propagates back unless the namespace makes its mounts
// private first. The outer helper plays that host; nothing the container's
// Setup does may show up in it, for any rootfs propagation.
func TestSetupNothingPropagatesToASharedHost(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, prop := range []string{"", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"} {
		t.Run("propagation="+prop, func(t *testing.T) {
			leaks := testutil.Snapshot()
			root := testRootfs(t, false)
			src := t.TempDir()
			o := defaultOptions(root)
			o.Propagation = prop
			o.Mounts = append(o.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "rshared"}})
			rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Outer: true, Probes: []probe{{Op: "mountinfo", Path: "/"}}})
			if rep.SetupErr != "" {
				t.Fatal(rep.SetupErr)
			}
			in := rep.Inner
			if in.SetupErr != "" || in.FinalizeErr != "" {
				t.Fatalf("setup: %s; finalize: %s", in.SetupErr, in.FinalizeErr)
			}
			if len(rep.Leftover) > 0 {
				t.Errorf("mounts propagated to the shared host: %s", strings.Join(rep.Leftover, "; "))
			}
			// The container's "/" has the propagation asked for.
			wantProp := map[string]string{"shared": "shared", "rshared": "shared", "unbindable": "unbindable", "runbindable": "unbindable"}[prop]
			if prop == "slave" || prop == "rslave" {
				wantProp = "master"
			}
			if got := in.Results["mountinfo /"].Out; got != wantProp {
				t.Errorf("propagation of / inside = %q, want %q", got, wantProp)
			}
			leaks.Check(t, time.Second)
		})
	}
}

// Chroot mode enters the root without pivot_root: the lesson's unsafe
// variant. The host's tree stays mounted, and a process with CAP_SYS_CHROOT
// climbs out with the textbook breakout; after pivot_root the same breakout
// finds nothing, because the old root is gone from the namespace.
func TestSetupChrootModeAndBreakout(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, mode := range []Mode{Chroot, PivotRoot} {
		t.Run(mode.String(), func(t *testing.T) {
			leaks := testutil.Snapshot()
			host, check := sentinel(t)
			root := testRootfs(t, false)
			o := defaultOptions(root)
			o.Mode = mode
			// Probes run in order of the list; the breakout comes last.
			rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Probes: append(containerProbes(),
				probe{Op: "chroot-escape", Path: host + "/sentinel"})})
			esc := rep.Results["chroot-escape "+host+"/sentinel"]
			delete(rep.Results, "chroot-escape "+host+"/sentinel")
			checkContainer(t, rep)
			if mode == Chroot && esc.Out != "untouched\n" {
				t.Errorf("chroot breakout = %+v; the lesson expects it to reach the host", esc)
			}
			if mode == PivotRoot && esc.Err != "ENOENT" {
				t.Errorf("chroot breakout after pivot_root = %+v, want ENOENT", esc)
			}
			check()
			leaks.Check(t, time.Second)
		})
	}
}

// The rootfs may be an overlayfs mount (an image's layers): every step must
// work there too, including making mount targets, which copies up.
func TestSetupOnOverlayfs(t *testing.T) {
	testutil.RequiresRoot(t)
	leaks := testutil.Snapshot()
	lower := testRootfs(t, false)
	scratch := t.TempDir()
	upper, work, merged := scratch+"/upper", scratch+"/work", scratch+"/merged"
	for _, d := range []string{upper, work, merged} {
		testutil.WriteFile(t, d+"/.keep", "")
	}
	src := t.TempDir()
	testutil.WriteFile(t, src+"/f", "bound\n")
	o := defaultOptions(lower)
	o.Mounts = append(o.Mounts, specs.Mount{Destination: "/new/dir", Type: "bind", Source: src, Options: []string{"bind", "ro"}})
	rep, _ := runHelper(t, nsConfig{}, helperConfig{Options: o, Overlay: true, Upper: upper, Work: work, Merged: merged,
		Probes: append(containerProbes(), probe{Op: "fstype", Path: "/"}, probe{Op: "read", Path: "/new/dir/f"})})
	checkContainer(t, rep)
	want(t, rep, "fstype", "/", "overlay", "")
	want(t, rep, "read", "/new/dir/f", "bound\n", "")
	if !hostHas(upper+"/new/dir") || hostHas(lower+"/new") {
		t.Error("the mount target was not made in the upper layer only")
	}
	leaks.Check(t, time.Second)
}
