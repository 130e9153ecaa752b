package security

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCapabilityTable(t *testing.T) {
	if len(capabilityNames) != unix.CAP_LAST_CAP+1 {
		t.Fatalf("%d names, x/sys knows %d capabilities", len(capabilityNames), unix.CAP_LAST_CAP+1)
	}
	for i, n := range capabilityNames {
		if n == "" || !strings.HasPrefix(n, "CAP_") {
			t.Errorf("capability %d has no name", i)
		}
	}
	for name, want := range map[string]int{"CAP_CHOWN": 0, "CAP_SYS_ADMIN": 21, "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40} {
		if got, ok := CapabilityNumber(name); !ok || got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Skip("no /proc/sys/kernel/cap_last_cap")
	}
	if want, _ := strconv.Atoi(strings.TrimSpace(string(b))); LastCap() != want {
		t.Errorf("LastCap %d, the kernel says %d", LastCap(), want)
	}
}

func TestNormalizeCapability(t *testing.T) {
	for _, in := range []string{"net_admin", "NET_ADMIN", "CAP_NET_ADMIN", "cap_net_admin", " Net_Admin "} {
		if got, err := NormalizeCapability(in); err != nil || got != "CAP_NET_ADMIN" {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"NET_ADMN", "CAP_", "", "ALL", "CAP_CAP_CHOWN", "41"} {
		if got, err := NormalizeCapability(in); err == nil {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}

func TestDefaultCapabilities(t *testing.T) {
	d := DefaultCapabilities()
	if len(d) != 14 {
		t.Fatalf("%d default capabilities, docker has 14", len(d))
	}
	for _, c := range d {
		if _, err := NormalizeCapability(c); err != nil {
			t.Error(err)
		}
	}
	if slices.Contains(d, "CAP_SYS_ADMIN") || slices.Contains(d, "CAP_NET_ADMIN") {
		t.Error("a dangerous capability among the defaults")
	}
}

// boundingFromStatus reads the process's bounding set from /proc.
func boundingFromStatus(t *testing.T) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapBnd:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatal("no CapBnd in /proc/self/status")
	return 0
}

func TestAllCapabilities(t *testing.T) {
	all := AllCapabilities()
	bnd := boundingFromStatus(t)
	for c := 0; c <= min(LastCap(), len(capabilityNames)-1); c++ {
		if got, want := slices.Contains(all, capabilityNames[c]), bnd&(1<<c) != 0; got != want {
			t.Errorf("%s: in AllCapabilities %v, in CapBnd %v", capabilityNames[c], got, want)
		}
	}
	t.Logf("%d capabilities available here", len(all))
}

func TestMerge(t *testing.T) {
	all := AllCapabilities()
	without := func(list []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(c string) bool { return slices.Contains(drop, c) })
	}
	sorted := func(list []string) []string {
		out := slices.Clone(list)
		slices.SortFunc(out, func(a, b string) int {
			x, _ := CapabilityNumber(a)
			y, _ := CapabilityNumber(b)
			return x - y
		})
		return out
	}
	base := DefaultCapabilities()
	for _, tc := range []struct {
		what      string
		add, drop []string
		want      []string
	}{
		{"nothing", nil, nil, sorted(base)},
		{"add one", []string{"sys_admin"}, nil, sorted(append(slices.Clone(base), "CAP_SYS_ADMIN"))},
		{"drop one", nil, []string{"NET_RAW"}, sorted(without(base, "CAP_NET_RAW"))},
		{"add and drop the same: added", []string{"NET_RAW"}, []string{"NET_RAW"}, sorted(base)},
		{"add twice", []string{"NET_ADMIN", "cap_net_admin"}, nil, sorted(append(slices.Clone(base), "CAP_NET_ADMIN"))},
		{"drop ALL", nil, []string{"ALL"}, nil},
		{"drop all (any case)", nil, []string{"all"}, nil},
		{"drop ALL, add some", []string{"CHOWN", "KILL"}, []string{"ALL"}, []string{"CAP_CHOWN", "CAP_KILL"}},
		{"add ALL", []string{"ALL"}, nil, all},
		{"add ALL, drop some", []string{"ALL"}, []string{"SYS_ADMIN", "NET_ADMIN"}, without(all, "CAP_SYS_ADMIN", "CAP_NET_ADMIN")},
		{"add ALL and drop ALL: docker gives all", []string{"ALL"}, []string{"ALL"}, all},
	} {
		got, err := Merge(base, tc.add, tc.drop)
		if err != nil {
			t.Errorf("%s: %v", tc.what, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.what, got, tc.want)
		}
	}
	if _, err := Merge(base, []string{"NET_ADMN"}, nil); err == nil || !strings.Contains(err.Error(), "--cap-add") {
		t.Errorf("unknown add: %v", err)
	}
	if _, err := Merge(base, nil, []string{"SYS_ADMN"}); err == nil || !strings.Contains(err.Error(), "--cap-drop") {
		t.Errorf("unknown drop: %v", err)
	}
}

func TestCheckCapabilities(t *testing.T) {
	if err := CheckCapabilities(SpecCapabilities(DefaultCapabilities())); err != nil {
		t.Fatal(err)
	}
	if err := CheckCapabilities(nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		caps specs.LinuxCapabilities
		want string
	}{
		{"unknown name", specs.LinuxCapabilities{Bounding: []string{"CAP_FLY"}}, "unknown capability"},
		{"effective not permitted", specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}}, "not permitted"},
		{"inheritable beyond bounding", specs.LinuxCapabilities{Inheritable: []string{"CAP_KILL"}}, "not in the bounding set"},
		{"ambient not inheritable", specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}}, "ambient"},
	} {
		if err := CheckCapabilities(&tc.caps); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.what, err, tc.want)
		}
	}
	// A capability the runtime lacks (CAP_SYS_RESOURCE on the build
	// machines) is refused with a clear error.
	for c := range capabilityNames {
		if c <= LastCap() && !inBoundingSet(c) {
			err := CheckCapabilities(SpecCapabilities([]string{capabilityNames[c]}))
			if err == nil || !strings.Contains(err.Error(), "bounding set") {
				t.Errorf("%s, missing here: %v", capabilityNames[c], err)
			}
			if slices.Contains(AllCapabilities(), capabilityNames[c]) {
				t.Errorf("%s, missing here, is in AllCapabilities", capabilityNames[c])
			}
			t.Logf("%s is not in this runtime's bounding set: %v", capabilityNames[c], err)
		}
	}
}
