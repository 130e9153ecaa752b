package sandbox

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fullConfig is the init configuration of a description with every part the
// init reads: mounts, maps, offsets, rlimits, sysctls, a compiled filter,
// nil and empty slices, and negative, large and zero numbers.
func fullConfig(t testing.TB) *initConfig {
	t.Helper()
	s := DefaultSpec(t.TempDir(), "sh", "-c", "echo hi")
	SetNamespace(s, specs.UserNamespace, true)
	SetNamespace(s, specs.TimeNamespace, true)
	SetTimeOffsets(s, -86400, 1<<40)
	AddBind(s, t.TempDir(), "/dst", true)
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1 << 63, Soft: 0}}
	adj := -17
	s.Process.OOMScoreAdj = &adj
	s.Process.Env = []string{} // empty, not nil
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "0", "kernel.shmmax": "1"}
	s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}
	s.Annotations = map[string]string{"k": "v with ünïcode 한국어"}
	cfg, err := prepare(s, Options{Init: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cgroups = []string{"memory", "pids"}
	cfg.PreserveFDs = 2
	return cfg
}

// The wire form carries the configuration exactly: what the init decodes
// equals what the parent had, field for field, nil and empty kept apart.
func TestWireRoundTrip(t *testing.T) {
	want := fullConfig(t)
	if want.Seccomp == nil || len(want.Seccomp.Program) == 0 {
		t.Fatal("fixture has no seccomp program")
	}
	b, err := marshalWire(want)
	if err != nil {
		t.Fatal(err)
	}
	var got initConfig
	if err := unmarshalWire(b, &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, &got); d != "" {
		t.Fatalf("round trip changed the configuration (-sent +received):\n%s", d)
	}
	if got.Spec.Process.Env == nil || got.Spec.Linux.Resources.Memory != nil {
		t.Fatal("an empty slice came back nil, or a nil pointer came back set")
	}
	j, _ := json.Marshal(want)
	t.Logf("wire %d bytes, JSON %d bytes", len(b), len(j))
}

// A cut or corrupted message is an error, never a panic or a huge
// allocation: every prefix of a good message fails, and so does one with
// bytes left over.
func TestWireTruncated(t *testing.T) {
	b, err := marshalWire(fullConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b); n++ {
		var c initConfig
		if err := unmarshalWire(b[:n], &c); err == nil {
			t.Fatalf("a message cut to %d of %d bytes decoded", n, len(b))
		}
	}
	var c initConfig
	if err := unmarshalWire(append(b, 0), &c); err == nil {
		t.Fatal("a message with a byte left over decoded")
	}
	// A length far beyond the message.
	if err := unmarshalWire([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}, &c); err == nil {
		t.Fatal("a huge length decoded")
	}
}

func FuzzWire(f *testing.F) {
	b, err := marshalWire(fullConfig(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var c initConfig
		_ = unmarshalWire(b, &c)
	})
}
