package cgroups

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runDeviceFilter interprets the few eBPF instructions CompileDeviceFilter
// emits, on a struct bpf_cgroup_dev_ctx, so the program's meaning is tested
// without a kernel (the kernel runs it in TestRealDeviceRules).
func runDeviceFilter(t *testing.T, p DeviceFilter, devType, access, major, minor uint32) uint64 {
	t.Helper()
	ctx := []uint32{access<<16 | devType, major, minor}
	var r [11]uint64
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc >= len(p) || steps > 4096 {
			t.Fatalf("program ran off its end or looped:\n%s", p)
		}
		in := p[pc]
		dst, src := in.regs&0xf, in.regs>>4
		switch in.code {
		case opLdxW:
			if src != regCtx || in.off%4 != 0 || int(in.off/4) >= len(ctx) {
				t.Fatalf("bad context load at %d: %s", pc, in.asm())
			}
			r[dst] = uint64(ctx[in.off/4])
		case opAndK:
			r[dst] &= uint64(int64(in.imm))
		case opRshK:
			r[dst] >>= uint64(in.imm)
		case opMovK:
			r[dst] = uint64(int64(in.imm))
		case opMovX:
			r[dst] = r[src]
		case opJneK:
			if r[dst] != uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case opJeqK:
			if r[dst] == uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case opExit:
			return r[0]
		default:
			t.Fatalf("unknown opcode %#x at %d", in.code, pc)
		}
	}
}

// dockerDevices is docker's default device list, in its order.
func dockerDevices() []specs.LinuxDeviceCgroup {
	dev := func(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
		if major >= 0 {
			d.Major = ptr(major)
		}
		if minor >= 0 {
			d.Minor = ptr(minor)
		}
		return d
	}
	return []specs.LinuxDeviceCgroup{
		dev(false, "", -1, -1, "rwm"),
		dev(true, "c", -1, -1, "m"), dev(true, "b", -1, -1, "m"),
		dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 5, "rwm"), dev(true, "c", 1, 7, "rwm"),
		dev(true, "c", 1, 8, "rwm"), dev(true, "c", 1, 9, "rwm"), dev(true, "c", 5, 0, "rwm"),
		dev(true, "c", 5, 1, "rwm"), dev(true, "c", 136, -1, "rwm"), dev(true, "c", 5, 2, "rwm"),
		dev(true, "c", 10, 200, "rwm"),
	}
}

const (
	blk, chr         = unix.BPF_DEVCG_DEV_BLOCK, unix.BPF_DEVCG_DEV_CHAR
	mknod, read, wri = unix.BPF_DEVCG_ACC_MKNOD, unix.BPF_DEVCG_ACC_READ, unix.BPF_DEVCG_ACC_WRITE
)

func TestDeviceFilterDockerDefaults(t *testing.T) {
	p, err := CompileDeviceFilter(dockerDevices())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("docker's default device rules, compiled:\n%s", p)
	for _, c := range []struct {
		what                      string
		typ, access, major, minor uint32
		allowed                   bool
	}{
		{"read and write /dev/null", chr, read | wri, 1, 3, true},
		{"read /dev/urandom", chr, read, 1, 9, true},
		{"a pty", chr, read | wri, 136, 4, true},
		{"read /dev/sda", blk, read, 8, 0, false},
		{"write /dev/mem", chr, wri, 1, 1, false},
		{"read /dev/kmsg", chr, read, 1, 11, false},
		{"mknod any char device", chr, mknod, 1, 1, true},
		{"mknod any block device", blk, mknod, 8, 0, true},
		{"mknod and read /dev/sda", blk, mknod | read, 8, 0, false},
		{"/dev/net/tun", chr, read | wri, 10, 200, true},
		{"block device 1:3 (not /dev/null)", blk, read, 1, 3, false},
	} {
		if got := runDeviceFilter(t, p, c.typ, c.access, c.major, c.minor) == 1; got != c.allowed {
			t.Errorf("%s: allowed %v, want %v", c.what, got, c.allowed)
		}
	}
}

// referenceVerdict is the rule semantics written plainly: the last rule
// that matches decides; an allow rule must cover every access asked for, a
// deny rule any of them; none matching allows.
func referenceVerdict(devs []specs.LinuxDeviceCgroup, typ, access, major, minor uint32) bool {
	for i := len(devs) - 1; i >= 0; i-- {
		d := devs[i]
		if (d.Type == "b" && typ != blk) || (d.Type == "c" && typ != chr) {
			continue
		}
		if (d.Major != nil && *d.Major >= 0 && uint32(*d.Major) != major) || (d.Minor != nil && *d.Minor >= 0 && uint32(*d.Minor) != minor) {
			continue
		}
		var ra uint32
		for _, c := range accessOrAll(d.Access) {
			ra |= map[rune]uint32{'m': mknod, 'r': read, 'w': wri}[c]
		}
		if d.Allow && access&^ra == 0 {
			return true
		}
		if !d.Allow && access&ra != 0 {
			return false
		}
	}
	return true
}

func TestDeviceFilterMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"", "a", "b", "c"}
	accesses := []string{"", "r", "w", "m", "rw", "rm", "wm", "rwm"}
	num := func() *int64 {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return ptr[int64](-1)
		}
		return ptr(int64(rng.IntN(3)))
	}
	for round := 0; round < 300; round++ {
		var devs []specs.LinuxDeviceCgroup
		for n := rng.IntN(6); n > 0; n-- {
			devs = append(devs, specs.LinuxDeviceCgroup{Allow: rng.IntN(2) == 0, Type: types[rng.IntN(4)], Major: num(), Minor: num(), Access: accesses[rng.IntN(8)]})
		}
		p, err := CompileDeviceFilter(devs)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []uint32{blk, chr} {
			for access := uint32(1); access <= 7; access++ {
				for major := uint32(0); major < 3; major++ {
					for minor := uint32(0); minor < 3; minor++ {
						got := runDeviceFilter(t, p, typ, access, major, minor) == 1
						if want := referenceVerdict(devs, typ, access, major, minor); got != want {
							var rules []string
							for _, d := range devs {
								rules = append(rules, fmt.Sprintf("%v %s", d.Allow, deviceRule(d)))
							}
							t.Fatalf("rules %s; type %d access %d %d:%d: program says %v, rules say %v\n%s", strings.Join(rules, "; "), typ, access, major, minor, got, want, p)
						}
					}
				}
			}
		}
	}
}

func TestDeviceFilterStopsAtCatchAll(t *testing.T) {
	// Everything before a rule that matches every access is dead code.
	p, err := CompileDeviceFilter([]specs.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3)},
		{Allow: false, Access: "rwm"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 8 || !strings.Contains(p.String(), "deny a *:* rwm") {
		t.Errorf("want the loads, then deny and exit:\n%s", p)
	}
}
