package nsinspect

import (
	"testing"
)

// The fuzz targets feed every parser arbitrary bytes: /proc content is the
// kernel's, but a fixture tree, a future kernel or a hostile container's
// bind mount over /proc can hold anything. Parsers may reject input; they
// must never panic, and what they accept must be self-consistent.
// Seeds live in testdata/fuzz/<Name>/ (go test runs them as plain tests).

func FuzzParseStatus(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatus(b)
		if err != nil {
			return
		}
		for _, set := range []CapSet{s.Caps.Effective, s.Caps.Bounding} {
			if CapSetOf(set.Mask()).Hex != set.Hex {
				t.Errorf("cap set %q does not round-trip", set.Hex)
			}
		}
		_ = capSummary(s.Caps.Effective)
	})
}

func FuzzParseMountinfo(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseMountinfo(b)
		if err != nil {
			return
		}
		for _, m := range ms {
			_ = m.Propagation()
			_, _ = hostPathOf(m, ms)
		}
		_, _ = At(ms, "/proc/sys")
		_ = masked(ms, "/proc/kcore")
	})
}

func FuzzUnescapeMountField(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		if u := UnescapeMountField(s); len(u) > len(s) {
			t.Errorf("unescaping %q grew it to %q", s, u)
		}
	})
}

func FuzzParseIDMap(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseIDMap(b)
		if err != nil {
			return
		}
		_, _ = Outside(m, 0)
		_, _ = Outside(m, 4294967295)
		_ = FormatIDMap(m)
	})
}

func FuzzParseCgroup(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if es, err := ParseCgroup(b); err == nil {
			_ = mainCgroup(es)
		}
	})
}

func FuzzParseNSLink(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		_, _, _ = ParseNSLink(s)
	})
}

func FuzzParseTimeOffsets(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseTimeOffsets(b)
	})
}

func FuzzParseSysVIPC(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseSysVIPC(b)
	})
}

func FuzzParseLinkDump(f *testing.F) {
	f.Fuzz(func(t *testing.T, links, addrs []byte) {
		for _, i := range ParseLinkDump(links, addrs) {
			if i.Flags == nil || i.Addrs == nil {
				t.Error("nil slice in an interface")
			}
		}
	})
}

// FuzzCompare runs every check on a target whose status, mount table and
// cgroups are arbitrary (when they parse): judging must not panic either.
func FuzzCompare(f *testing.F) {
	host, err := fixtures.Take(1)
	if err != nil {
		f.Fatal(err)
	}
	base, err := fixtures.Take(100)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t1fffffffff\nCapBnd:\t0\nNSpid:\t1\n"),
		[]byte("1 0 0:1 / / rw shared:1 - ext4 /dev/root rw\n"), []byte("0::/\n"))
	f.Fuzz(func(t *testing.T, status, mountinfo, cgroup []byte) {
		s := base
		if st, err := ParseStatus(status); err == nil {
			s.Status = st
		}
		if ms, err := ParseMountinfo(mountinfo); err == nil {
			s.Mounts = Mounts{Entries: ms}
			s.Paths = Paths{}
		}
		if cg, err := ParseCgroup(cgroup); err == nil {
			s.Cgroups = Cgroups{Entries: cg, Inside: cg}
		}
		checks := Compare(s, host)
		if len(checks) != len(CheckIDs) {
			t.Fatalf("%d checks", len(checks))
		}
		_ = Summarize(s.PID, s.Status.Name, checks)
		_, _ = Verify(checks, VerifyOptions{Expect: KernelNamespaces, Strict: true})
	})
}
