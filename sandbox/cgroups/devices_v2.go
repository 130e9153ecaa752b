package cgroups

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Device rules on cgroup v2 have no files: the kernel runs an eBPF program
// of type BPF_PROG_TYPE_CGROUP_DEVICE, attached to the cgroup, at every open
// or mknod of a device node, and denies the access when it returns 0
// (Documentation/admin-guide/cgroup-v2.rst "Device controller"). stepbox
// writes that program itself, a handful of instructions per rule, as it
// writes the seccomp filter: no compiler, no library.
//
// The program reads the access from its context, struct bpf_cgroup_dev_ctx
// (include/uapi/linux/bpf.h):
//
//	u32 access_type   the device type (BPF_DEVCG_DEV_BLOCK, _CHAR) in the low
//	                  16 bits, the access (BPF_DEVCG_ACC_MKNOD, _READ, _WRITE)
//	                  in the high 16
//	u32 major, minor
//
// and checks the rules from the last to the first, as a later rule of the
// OCI list overrides an earlier one (as writes to v1's devices.allow and
// devices.deny do): the first that matches decides. An allow rule matches
// when it covers every access asked for, a deny rule when it covers any of
// them. When no rule matches, the access is allowed, as in a v1 cgroup made
// under the root; OCI lists begin with "deny all" (Docker's, runc spec's),
// which always matches.
//
// The program is attached with BPF_F_ALLOW_MULTI, so the programs of the
// cgroups above (systemd's, a runtime's above ours) still run and must allow
// too. It stays with the cgroup, and goes when the cgroup is removed.

// bpfInsn is one eBPF instruction (struct bpf_insn): opcode, destination
// and source register in one byte, offset, immediate.
type bpfInsn struct {
	code    uint8
	regs    uint8 // dst in the low nibble, src in the high
	off     int16
	imm     int32
	comment string
}

// eBPF opcodes used here (include/uapi/linux/bpf.h, bpf_common.h).
const (
	opLdxW    = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W // dst = *(u32 *)(src + off)
	opAndK    = 0x07 | unix.BPF_AND | unix.BPF_K         // BPF_ALU64: dst &= imm
	opRshK    = 0x07 | unix.BPF_RSH | unix.BPF_K         // dst >>= imm
	opMovK    = 0x07 | unix.BPF_MOV | unix.BPF_K         // dst = imm
	opMovX    = 0x07 | unix.BPF_MOV | unix.BPF_X         // dst = src
	opJneK    = unix.BPF_JMP | 0x50 | unix.BPF_K         // if dst != imm: pc += off
	opJeqK    = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K // if dst == imm: pc += off
	opExit    = unix.BPF_JMP | 0x90                      // return r0
	regCtx    = 1                                        // r1: the context
	regType   = 2                                        // r2: device type
	regAccess = 3                                        // r3: access asked for
	regMajor  = 4                                        // r4
	regMinor  = 5                                        // r5
	regTmp    = 6                                        // r6: scratch
	accessAll = unix.BPF_DEVCG_ACC_MKNOD | unix.BPF_DEVCG_ACC_READ | unix.BPF_DEVCG_ACC_WRITE
)

// DeviceFilter is a compiled device program.
type DeviceFilter []bpfInsn

// String shows the program as commented assembly, one instruction a line.
func (p DeviceFilter) String() string {
	var b strings.Builder
	for i, in := range p {
		fmt.Fprintf(&b, "%3d: %s", i, in.asm())
		if in.comment != "" {
			fmt.Fprintf(&b, "\t; %s", in.comment)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (in bpfInsn) asm() string {
	dst, src := in.regs&0xf, in.regs>>4
	switch in.code {
	case opLdxW:
		return fmt.Sprintf("r%d = *(u32 *)(r%d + %d)", dst, src, in.off)
	case opAndK:
		return fmt.Sprintf("r%d &= %#x", dst, in.imm)
	case opRshK:
		return fmt.Sprintf("r%d >>= %d", dst, in.imm)
	case opMovK:
		return fmt.Sprintf("r%d = %d", dst, in.imm)
	case opMovX:
		return fmt.Sprintf("r%d = r%d", dst, src)
	case opJneK:
		return fmt.Sprintf("if r%d != %d goto +%d", dst, in.imm, in.off)
	case opJeqK:
		return fmt.Sprintf("if r%d == %d goto +%d", dst, in.imm, in.off)
	case opExit:
		return "exit"
	}
	return fmt.Sprintf("code %#x", in.code)
}

func ins(code uint8, dst, src uint8, off int16, imm int32, comment string) bpfInsn {
	return bpfInsn{code: code, regs: dst | src<<4, off: off, imm: imm, comment: comment}
}

// CompileDeviceFilter turns OCI device rules into the eBPF program above.
func CompileDeviceFilter(devs []specs.LinuxDeviceCgroup) (DeviceFilter, error) {
	p := DeviceFilter{
		ins(opLdxW, regType, regCtx, 0, 0, "access_type"),
		ins(opAndK, regType, 0, 0, 0xffff, "device type: 1 block, 2 char"),
		ins(opLdxW, regAccess, regCtx, 0, 0, "access_type"),
		ins(opRshK, regAccess, 0, 0, 16, "access: 1 mknod, 2 read, 4 write"),
		ins(opLdxW, regMajor, regCtx, 4, 0, "major"),
		ins(opLdxW, regMinor, regCtx, 8, 0, "minor"),
	}
	for i := len(devs) - 1; i >= 0; i-- {
		d := devs[i]
		if err := validateDevice(d); err != nil {
			return nil, err
		}
		access := uint32(0)
		for _, c := range accessOrAll(d.Access) {
			access |= map[rune]uint32{'m': unix.BPF_DEVCG_ACC_MKNOD, 'r': unix.BPF_DEVCG_ACC_READ, 'w': unix.BPF_DEVCG_ACC_WRITE}[c]
		}
		verdict, word := int32(0), "deny"
		if d.Allow {
			verdict, word = 1, "allow"
		}
		// The tests of one rule; each jumps to the next rule when it
		// fails, and the offsets are filled in once the block's length
		// is known.
		var block []bpfInsn
		switch d.Type {
		case "b":
			block = append(block, ins(opJneK, regType, 0, 0, unix.BPF_DEVCG_DEV_BLOCK, "not a block device"))
		case "c":
			block = append(block, ins(opJneK, regType, 0, 0, unix.BPF_DEVCG_DEV_CHAR, "not a char device"))
		}
		if d.Major != nil && *d.Major >= 0 {
			block = append(block, ins(opJneK, regMajor, 0, 0, int32(*d.Major), "another major"))
		}
		if d.Minor != nil && *d.Minor >= 0 {
			block = append(block, ins(opJneK, regMinor, 0, 0, int32(*d.Minor), "another minor"))
		}
		if access != accessAll {
			block = append(block, ins(opMovX, regTmp, regAccess, 0, 0, ""))
			if d.Allow {
				// allow only when every access asked for is allowed
				block = append(block,
					ins(opAndK, regTmp, 0, 0, int32(accessAll&^access), "access this rule does not allow"),
					ins(opJneK, regTmp, 0, 0, 0, "asked for some"))
			} else {
				// deny when any access asked for is denied
				block = append(block,
					ins(opAndK, regTmp, 0, 0, int32(access), "access this rule denies"),
					ins(opJeqK, regTmp, 0, 0, 0, "asked for none"))
			}
		}
		block = append(block,
			ins(opMovK, 0, 0, 0, verdict, word+" "+deviceText(d)),
			ins(opExit, 0, 0, 0, 0, ""))
		for j := range block {
			if block[j].code == opJneK || block[j].code == opJeqK {
				block[j].off = int16(len(block) - j - 1)
			}
		}
		p = append(p, block...)
		if len(block) == 2 {
			// matches everything: the rules before it can never decide
			return p, nil
		}
	}
	return append(p,
		ins(opMovK, 0, 0, 0, 1, "no rule matched: allow"),
		ins(opExit, 0, 0, 0, 0, "")), nil
}

// deviceText shows a rule in devices.list's form: "c 1:3 rwm", "a *:* rwm".
func deviceText(d specs.LinuxDeviceCgroup) string {
	t := d.Type
	if t == "" {
		t = "a"
	}
	return t + " " + devNum(d.Major) + ":" + devNum(d.Minor) + " " + accessOrAll(d.Access)
}

func accessOrAll(a string) string {
	if a == "" {
		return "rwm"
	}
	return a
}

// bytes encodes the program as the kernel reads it (little-endian struct
// bpf_insn on the machines stepbox runs on).
func (p DeviceFilter) bytes() []byte {
	b := make([]byte, 0, 8*len(p))
	for _, in := range p {
		b = append(b, in.code, in.regs)
		b = binary.LittleEndian.AppendUint16(b, uint16(in.off))
		b = binary.LittleEndian.AppendUint32(b, uint32(in.imm))
	}
	return b
}

// setDevicesV2 compiles the rules and attaches the program to the cgroup2
// directory. On a fake tree it only compiles them.
func (m *manager) setDevicesV2(devs []specs.LinuxDeviceCgroup, fresh bool) error {
	if !fresh {
		// A second program would run beside the first, both having to
		// allow; replacing it needs BPF_F_REPLACE and the old one's fd.
		return fmt.Errorf("device rules: changing them after the cgroup is made: %w", ErrUnsupported)
	}
	p, err := CompileDeviceFilter(devs)
	if err != nil {
		return err
	}
	if m.layout.Fake() {
		return nil
	}
	prog, err := loadDeviceProgram(p)
	if err != nil {
		return err
	}
	defer unix.Close(prog)
	dir, err := unix.Open(m.unified, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", m.unified, err)
	}
	defer unix.Close(dir)
	attr := struct {
		targetFd, attachBpfFd, attachType, attachFlags, replaceBpfFd uint32
	}{uint32(dir), uint32(prog), unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI, 0}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); errno != 0 {
		return fmt.Errorf("bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE) to %s: %w", m.unified, errno)
	}
	return nil
}

// loadDeviceProgram loads p with bpf(BPF_PROG_LOAD) and returns its fd. When
// the verifier refuses it, the error carries the verifier's log.
func loadDeviceProgram(p DeviceFilter) (int, error) {
	code := p.bytes()
	// The program calls no kernel helper, so it needs no license: only
	// GPL-only helpers look at it.
	license := []byte("\x00")
	name := [16]byte{}
	copy(name[:], "stepbox_devices")
	load := func(logBuf []byte) (int, error) {
		attr := struct {
			progType, insnCnt  uint32
			insns, license     uint64
			logLevel, logSize  uint32
			logBuf             uint64
			kernVersion, flags uint32
			name               [16]byte
			ifindex, attach    uint32
		}{
			progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
			insnCnt:  uint32(len(p)),
			insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
			license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
			name:     name,
			attach:   unix.BPF_CGROUP_DEVICE,
		}
		if logBuf != nil {
			attr.logLevel, attr.logSize = 1, uint32(len(logBuf))
			attr.logBuf = uint64(uintptr(unsafe.Pointer(&logBuf[0])))
		}
		fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		runtime.KeepAlive(code)
		runtime.KeepAlive(license)
		runtime.KeepAlive(logBuf)
		if errno != 0 {
			return -1, errno
		}
		unix.CloseOnExec(int(fd))
		return int(fd), nil
	}
	fd, err := load(nil)
	if err == nil {
		return fd, nil
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EACCES) {
		logBuf := make([]byte, 64<<10)
		if _, err2 := load(logBuf); err2 != nil {
			if i := strings.IndexByte(string(logBuf), 0); i > 0 {
				return -1, fmt.Errorf("bpf(BPF_PROG_LOAD) of the device program: %w; the verifier said: %s", err, strings.TrimSpace(string(logBuf[:i])))
			}
		}
	}
	return -1, fmt.Errorf("bpf(BPF_PROG_LOAD) of the device program: %w", err)
}
