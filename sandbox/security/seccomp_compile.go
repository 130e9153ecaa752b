package security

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Filter is a seccomp profile compiled to classic BPF, ready to be installed
// on a thread with Load. It is plain data, so the runtime can compile it in
// the parent (a bad profile fails before anything exists) and hand it to the
// container's init as JSON.
type Filter struct {
	// Program is the BPF program, one sock_filter per instruction.
	Program []bpf.RawInstruction `json:"program"`
	// Flags are the SECCOMP_FILTER_FLAG_* bits for seccomp(2).
	Flags uint `json:"flags,omitempty"`
	// Skipped lists the system calls the profile names that an ABI of the
	// filter does not have (chown32 on x86_64, say). They are left out, as
	// libseccomp leaves them out; this is for showing, not an error.
	Skipped []SkippedSyscall `json:"-"`
}

// SkippedSyscall is a name the profile uses that one ABI does not have.
type SkippedSyscall struct {
	Arch specs.Arch
	Name string
}

// String disassembles the program, one instruction a line, numbered, with
// what each load reads and what each return means, for a learner to read
// next to seccomp(2).
func (f *Filter) String() string {
	ins, _ := bpf.Disassemble(f.Program)
	var b strings.Builder
	dispatch := true // before the first load of nr, jumps compare arches
	for i, in := range ins {
		note := ""
		switch in := in.(type) {
		case bpf.LoadAbsolute:
			switch {
			case in.Off == offNr:
				note = "A = system call number"
				dispatch = false
			case in.Off == offArch:
				note = "A = architecture"
			case in.Off >= offArgs && (in.Off-offArgs)%8 == 0:
				note = fmt.Sprintf("A = low half of argument %d", (in.Off-offArgs)/8)
			case in.Off >= offArgs:
				note = fmt.Sprintf("A = high half of argument %d", (in.Off-offArgs)/8)
			}
		case bpf.JumpIf:
			if dispatch {
				note = auditNames[in.Val]
			}
		case bpf.RetConstant:
			note = ActionString(in.Val)
		}
		line := fmt.Sprintf("%4d  %v", i, in)
		if note != "" {
			line = fmt.Sprintf("%-28s; %s", line, note)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

var auditNames = map[uint32]string{
	unix.AUDIT_ARCH_X86_64:  "AUDIT_ARCH_X86_64 (x86_64 and x32)",
	unix.AUDIT_ARCH_I386:    "AUDIT_ARCH_I386",
	unix.AUDIT_ARCH_AARCH64: "AUDIT_ARCH_AARCH64",
	unix.AUDIT_ARCH_ARM:     "AUDIT_ARCH_ARM",
}

// ActionString names a SECCOMP_RET_* value: "ALLOW", "ERRNO(EPERM)".
func ActionString(r uint32) string {
	data := r & unix.SECCOMP_RET_DATA
	switch r & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW:
		return "ALLOW"
	case unix.SECCOMP_RET_ERRNO:
		if n := unix.ErrnoName(unix.Errno(data)); n != "" {
			return "ERRNO(" + n + ")"
		}
		return fmt.Sprintf("ERRNO(%d)", data)
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD"
	case unix.SECCOMP_RET_TRAP:
		return "TRAP"
	case unix.SECCOMP_RET_TRACE:
		return fmt.Sprintf("TRACE(%d)", data)
	case unix.SECCOMP_RET_LOG:
		return "LOG"
	case unix.SECCOMP_RET_USER_NOTIF:
		return "USER_NOTIF"
	}
	return fmt.Sprintf("%#x", r)
}

// The layout of struct seccomp_data (linux/seccomp.h): the filter reads it
// with 32-bit loads in the host's byte order, so on the little-endian ABIs
// this compiler knows, the low half of argument i is at 16+8i and the high
// half 4 bytes later.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// maxInstructions is BPF_MAXINSNS: the kernel refuses a longer program.
const maxInstructions = 4096

// Compile turns a runtime-spec seccomp profile into a BPF program. The
// program, in order:
//
//  1. loads seccomp_data.arch and jumps to the part for that ABI; an ABI the
//     profile does not name is killed (SECCOMP_RET_KILL_PROCESS). seccomp(2)
//     asks every filter to check the architecture, because system call
//     numbers differ between ABIs: without the check, a process could reach
//     a denied call through int $0x80, where its i386 number is a different
//     call on x86_64. Killing, rather than giving the default action, is
//     what libseccomp does, and it matters when the default is to allow;
//  2. loads seccomp_data.nr and walks a binary search tree over the call
//     numbers of that ABI (for AUDIT_ARCH_X86_64 the x32 numbers, with
//     __X32_SYSCALL_BIT, are the upper part of the same tree; x32 is killed
//     when not named). Runs of numbers with the same action are merged, so
//     the tree is small and the kernel can cache its constant answers
//     (Linux 5.11's seccomp action cache);
//  3. at a leaf, returns the call's action, or for a call with argument
//     rules, tests the rules in profile order, the first that matches
//     deciding; then the call's unconditional rule, else the default.
//
// Every number comparison happens before any argument is loaded; once an
// argument is loaded, the program compares arguments and returns, and never
// again compares the accumulator with a call number, so there is no number
// to reload after a failed argument test. (github.com/elastic/
// go-seccomp-bpf gets this wrong: after a failed argument test it goes on
// comparing the argument with call numbers.)
//
// Rules follow runc's reading of the OCI profile: the arguments of one rule
// are AND-ed, except that when one rule compares the same argument more
// than once, each comparison becomes a rule of its own (OR-ed), which is
// what docker's profiles expect (moby/profiles/seccomp, runc issue 2735).
// Two unconditional rules with different actions for one call are an
// error. A name an ABI does not have is skipped, like libseccomp does.
// Arguments are compared as unsigned 64-bit values, split into two 32-bit
// halves, except on 32-bit ABIs (i386, arm), where the kernel uses only the
// low half and so does the filter.
func Compile(p *specs.LinuxSeccomp) (*Filter, error) {
	if p == nil {
		return nil, errors.New("compile seccomp: no profile")
	}
	c := compiler{}
	var err error
	if c.defaultRet, err = actionValue(p.DefaultAction, p.DefaultErrnoRet); err != nil {
		return nil, fmt.Errorf("seccomp default action: %w", err)
	}
	f := &Filter{}
	if f.Flags, err = filterFlags(p.Flags); err != nil {
		return nil, err
	}
	// SCMP_ACT_NOTIFY anywhere asks the kernel for a listener descriptor
	// when the filter is loaded (seccomp_unotify(2)), which the runtime
	// hands to listenerPath (LoadListener).
	if usesNotify(p) {
		f.Flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	} else if f.Flags&unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 {
		return nil, fmt.Errorf("seccomp flag %s needs SCMP_ACT_NOTIFY", specs.LinuxSeccompFlagWaitKillableRecv)
	}
	if err := c.chooseABIs(p.Architectures); err != nil {
		return nil, err
	}
	if err := c.parseRules(p.Syscalls); err != nil {
		return nil, err
	}
	prog, err := c.program()
	if err != nil {
		return nil, err
	}
	f.Program = prog
	f.Skipped = c.skipped
	return f, nil
}

// usesNotify reports whether any action of the profile is SCMP_ACT_NOTIFY.
func usesNotify(p *specs.LinuxSeccomp) bool {
	if p.DefaultAction == specs.ActNotify {
		return true
	}
	for _, c := range p.Syscalls {
		if c.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

// filterFlags maps the profile's flags to SECCOMP_FILTER_FLAG_* bits.
func filterFlags(flags []specs.LinuxSeccompFlag) (uint, error) {
	var out uint
	for _, fl := range flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			out |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			out |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			// Linux 5.19: a notified call waits killably once received.
			out |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		default:
			return 0, fmt.Errorf("unknown seccomp flag %q", fl)
		}
	}
	return out, nil
}

// actionValue is the SECCOMP_RET_* value of an action (seccomp(2)).
func actionValue(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(unix.EPERM) // the runtime-spec's default errnoRet
	if errnoRet != nil {
		// The kernel keeps 16 bits and caps them at MAX_ERRNO; refuse
		// what it would silently change.
		if *errnoRet > 4095 {
			return 0, fmt.Errorf("errnoRet %d is not an errno (at most 4095)", *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | data, nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActTrace:
		// With no tracer attached the call fails with ENOSYS; a tracer
		// gets data as the event message (runc passes errnoRet the same way).
		return unix.SECCOMP_RET_TRACE | data, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return unix.SECCOMP_RET_USER_NOTIF, nil
	case "":
		return 0, errors.New("no action")
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

// cond is one argument comparison.
type cond struct {
	index     uint32
	op        specs.LinuxSeccompOperator
	val, val2 uint64
}

// rule is a set of comparisons that must all hold, and the action then.
type rule struct {
	conds  []cond
	action uint32
}

// hit is one mention of a call number by the profile; ruleLo..ruleHi index
// the OR-ed alternatives in compiler.rules, none for an unconditional rule.
// It holds no pointer, so sorting thousands of them is cheap.
type hit struct {
	nr             uint32
	ord            int16 // the number's rank on its ABI (zsyscalls.go)
	order          int32 // the rule's position in the profile, to keep its order
	name           int32 // which of the rule's names
	action         uint32
	ruleLo, ruleHi int32
}

type compiler struct {
	calls      []specs.LinuxSyscall
	defaultRet uint32
	named      [numABIs]bool
	rules      []rule
	hits       [numABIs][]hit
	skipped    []SkippedSyscall
}

func (c *compiler) chooseABIs(arches []specs.Arch) error {
	if len(arches) == 0 {
		for _, a := range nativeABIs() {
			c.named[a] = true
		}
	}
	var unknown []string
	for _, name := range arches {
		if a, ok := abiByName(name); ok {
			c.named[a] = true
		} else {
			// An ABI this host cannot run (a profile for several hosts
			// names s390x too) has no calls to filter here.
			unknown = append(unknown, string(name))
		}
	}
	if !slices.Contains(c.named[:], true) {
		return fmt.Errorf("seccomp: the profile names no architecture stepbox can filter (%s); it knows %s",
			strings.Join(unknown, ", "), knownArchNames())
	}
	return nil
}

func knownArchNames() string {
	var s []string
	for _, a := range abis {
		s = append(s, string(a.name))
	}
	return strings.Join(s, ", ")
}

func (c *compiler) parseRules(calls []specs.LinuxSyscall) error {
	c.calls = calls
	for a := range numABIs {
		if c.named[a] {
			c.hits[a] = make([]hit, 0, 512)
		}
	}
	for order, sc := range calls {
		if len(sc.Names) == 0 {
			return fmt.Errorf("seccomp rule %d names no system call", order)
		}
		action, err := actionValue(sc.Action, sc.ErrnoRet)
		if err != nil {
			return fmt.Errorf("seccomp rule for %s: %w", sc.Names[0], err)
		}
		lo := len(c.rules)
		if len(sc.Args) > 0 {
			if err := c.addRules(sc, action); err != nil {
				return err
			}
		}
		hi := len(c.rules)
		for ni, name := range sc.Names {
			row, known := lookupSyscall(name)
			for a := range numABIs {
				if !c.named[a] {
					continue
				}
				if !known || row.nr[a] < 0 {
					c.skipped = append(c.skipped, SkippedSyscall{Arch: abis[a].name, Name: name})
					continue
				}
				c.hits[a] = append(c.hits[a], hit{nr: uint32(row.nr[a]), ord: row.ord[a], order: int32(order), name: int32(ni),
					action: action, ruleLo: int32(lo), ruleHi: int32(hi)})
			}
		}
	}
	return nil
}

// addRules appends the OR-ed alternatives of one profile rule.
func (c *compiler) addRules(sc specs.LinuxSyscall, action uint32) error {
	var seen [6]bool
	repeated := false
	conds := make([]cond, 0, len(sc.Args))
	for _, a := range sc.Args {
		if a.Index > 5 {
			return fmt.Errorf("seccomp rule for %s: argument index %d (a call has 6 arguments, 0 to 5)", sc.Names[0], a.Index)
		}
		switch a.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
			specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual:
		default:
			return fmt.Errorf("seccomp rule for %s: unknown operator %q", sc.Names[0], a.Op)
		}
		if seen[a.Index] {
			repeated = true
		}
		seen[a.Index] = true
		conds = append(conds, cond{index: uint32(a.Index), op: a.Op, val: a.Value, val2: a.ValueTwo})
	}
	if !repeated {
		c.rules = append(c.rules, rule{conds: conds, action: action})
		return nil
	}
	for i := range conds {
		c.rules = append(c.rules, rule{conds: conds[i : i+1], action: action})
	}
	return nil
}

// leaf is what the tree does for a run of call numbers starting at lo:
// return ret, or, when code is set, run that argument-checking block.
type leaf struct {
	lo   uint32
	ret  uint32
	code []bpf.RawInstruction
}

// program lays out the whole filter: the arch dispatch, then one tree per
// audit arch.
func (c *compiler) program() ([]bpf.RawInstruction, error) {
	type archTree struct {
		audit  uint32
		leaves []leaf
		size   int // ld nr, then the tree
	}
	var trees []archTree
	for _, audit := range []uint32{unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_I386, unix.AUDIT_ARCH_AARCH64, unix.AUDIT_ARCH_ARM} {
		leaves, ok, err := c.archLeaves(audit)
		if err != nil {
			return nil, err
		}
		if ok {
			trees = append(trees, archTree{audit: audit, leaves: leaves, size: 1 + treeSize(leaves)})
		}
	}
	dispatch := 1 + 2*len(trees) + 1 // ld arch, a jeq and a ja per arch, the kill
	total := dispatch
	for _, t := range trees {
		total += t.size
	}
	if total > maxInstructions {
		return nil, fmt.Errorf("seccomp: the filter has %d instructions, the kernel takes at most %d", total, maxInstructions)
	}

	a := asm{prog: make([]bpf.RawInstruction, 0, total)}
	a.ld(offArch)
	next := dispatch // where the next tree starts
	for i, t := range trees {
		at := 1 + 2*i // this jeq; the ja follows it
		a.jeq(t.audit, 0, 1)
		a.ja(uint32(next - (at + 2)))
		next += t.size
	}
	a.ret(unix.SECCOMP_RET_KILL_PROCESS)
	for _, t := range trees {
		a.ld(offNr)
		a.tree(t.leaves)
	}
	if a.err != nil {
		return nil, a.err
	}
	if len(a.prog) != total {
		return nil, fmt.Errorf("seccomp: internal error: laid out %d instructions, emitted %d", total, len(a.prog))
	}
	return a.prog, nil
}

// archLeaves partitions all 2^32 call numbers of one audit arch into runs,
// each with one outcome; ok is false when the profile names no ABI of it.
func (c *compiler) archLeaves(audit uint32) (leaves []leaf, ok bool, err error) {
	type segment struct {
		abi    int
		lo, hi uint32
	}
	var segs []segment
	for a := range numABIs {
		if abis[a].audit == audit {
			if c.named[a] {
				ok = true
			}
			segs = append(segs, segment{abi: a, lo: abis[a].lo, hi: abis[a].hi})
		}
	}
	if !ok {
		return nil, false, nil
	}
	add := func(l leaf) {
		if n := len(leaves); n > 0 && l.code == nil && leaves[n-1].code == nil && leaves[n-1].ret == l.ret {
			return // same answer as the run before: one run
		}
		leaves = append(leaves, l)
	}
	end := uint64(0) // next number not yet covered
	for _, s := range segs {
		if !c.named[s.abi] {
			add(leaf{lo: s.lo, ret: unix.SECCOMP_RET_KILL_PROCESS})
			end = uint64(s.hi) + 1
			continue
		}
		hits := sortHits(c.hits[s.abi], abiNumbers[s.abi])
		for i := 0; i < len(hits); {
			j := i
			for j < len(hits) && hits[j].nr == hits[i].nr {
				j++
			}
			nr := hits[i].nr
			if uint64(nr) > end {
				add(leaf{lo: uint32(end), ret: c.defaultRet})
			}
			l, err := c.callLeaf(hits[i:j], abis[s.abi].args32)
			if err != nil {
				return nil, false, err
			}
			add(l)
			end = uint64(nr) + 1
			i = j
		}
		if end <= uint64(s.hi) {
			add(leaf{lo: uint32(end), ret: c.defaultRet})
		}
		end = uint64(s.hi) + 1
	}
	if end <= 0xffffffff {
		// nr -1 is what a tracer writes to skip a call; it is no call, so
		// it gets the default like any number without a rule.
		add(leaf{lo: uint32(end), ret: c.defaultRet})
	}
	return leaves, true, nil
}

// sortHits orders hits by call number, keeping profile order among the
// hits of one number: a counting sort on the numbers' ranks, linear where a
// comparison sort of a few hundred hits took most of the compile time.
func sortHits(hits []hit, ranks int) []hit {
	start := make([]int32, ranks+1)
	for _, h := range hits {
		start[h.ord+1]++
	}
	for i := 1; i <= ranks; i++ {
		start[i] += start[i-1]
	}
	out := make([]hit, len(hits))
	for _, h := range hits {
		out[start[h.ord]] = h
		start[h.ord]++
	}
	return out
}

// stricter reports whether action a takes precedence over b: the kernel
// compares the action parts as signed values, the lowest winning
// (KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, USER_NOTIF, TRACE, LOG, ALLOW).
func stricter(a, b uint32) bool {
	return int32(a&unix.SECCOMP_RET_ACTION_FULL) < int32(b&unix.SECCOMP_RET_ACTION_FULL)
}

// callLeaf decides one call number from every rule that names it.
func (c *compiler) callLeaf(hits []hit, args32 bool) (leaf, error) {
	fallback, haveUncond := c.defaultRet, false
	conditional := false
	for _, h := range hits {
		if h.ruleLo == h.ruleHi {
			// Two unconditional rules for one call (podman's profile
			// allows setns, then denies it without CAP_SYS_ADMIN): the
			// stricter action wins, as the kernel ranks actions
			// (seccomp(2)); libseccomp does the same, as runc shows on
			// this machine whichever rule comes first.
			if !haveUncond || stricter(h.action, fallback) {
				fallback = h.action
			}
			haveUncond = true
		} else {
			conditional = true
		}
	}
	l := leaf{lo: hits[0].nr, ret: fallback}
	if !conditional {
		return l, nil
	}
	var a asm
	for _, h := range hits {
		for _, r := range c.rules[h.ruleLo:h.ruleHi] {
			a.rule(r, args32)
		}
	}
	a.ret(fallback)
	if a.err != nil {
		return leaf{}, fmt.Errorf("seccomp rule for %s: %w", c.hitName(hits[0]), a.err)
	}
	l.code = a.prog
	return l, nil
}

func (c *compiler) hitName(h hit) string { return c.calls[h.order].Names[h.name] }

// asm appends instructions; the first error sticks.
type asm struct {
	prog  []bpf.RawInstruction
	fails []int // jumps in the current rule whose true/false target is "rule failed"
	err   error
}

// failMark marks a jump target to be patched to "this rule failed".
const failMark = 0xff

func (a *asm) raw(r bpf.RawInstruction, err error) {
	if err != nil && a.err == nil {
		a.err = err
	}
	a.prog = append(a.prog, r)
}

func (a *asm) ld(off uint32) { a.raw(bpf.LoadAbsolute{Off: off, Size: 4}.Assemble()) }
func (a *asm) and(k uint32) {
	a.raw(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: k}.Assemble())
}
func (a *asm) ret(k uint32)  { a.raw(bpf.RetConstant{Val: k}.Assemble()) }
func (a *asm) ja(off uint32) { a.raw(bpf.Jump{Skip: off}.Assemble()) }
func (a *asm) jeq(k uint32, t, f uint8) {
	a.jump(bpf.JumpEqual, k, t, f)
}
func (a *asm) jgt(k uint32, t, f uint8) {
	a.jump(bpf.JumpGreaterThan, k, t, f)
}
func (a *asm) jge(k uint32, t, f uint8) {
	a.jump(bpf.JumpGreaterOrEqual, k, t, f)
}

// jump emits a conditional jump; a failMark target is remembered and
// patched when the rule ends.
func (a *asm) jump(test bpf.JumpTest, k uint32, t, f uint8) {
	if t == failMark {
		a.fails = append(a.fails, len(a.prog)<<1|1)
	}
	if f == failMark {
		a.fails = append(a.fails, len(a.prog)<<1)
	}
	a.raw(bpf.JumpIf{Cond: test, Val: k, SkipTrue: t, SkipFalse: f}.Assemble())
}

// tree emits a binary search over the runs of leaves; A holds nr.
func (a *asm) tree(leaves []leaf) {
	if len(leaves) == 1 {
		if leaves[0].code != nil {
			a.prog = append(a.prog, leaves[0].code...)
		} else {
			a.ret(leaves[0].ret)
		}
		return
	}
	m := len(leaves) / 2
	left := treeSize(leaves[:m])
	// Not a.jge: an offset of 255 here is real, not failMark.
	if left <= 255 {
		a.raw(bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: leaves[m].lo, SkipTrue: uint8(left)}.Assemble())
	} else {
		// A conditional jump reaches 255 instructions at most; jump to an
		// unconditional jump (32-bit offset) instead.
		a.raw(bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: leaves[m].lo, SkipFalse: 1}.Assemble())
		a.ja(uint32(left))
	}
	a.tree(leaves[:m])
	a.tree(leaves[m:])
}

// treeSize is the number of instructions tree emits for leaves.
func treeSize(leaves []leaf) int {
	if len(leaves) == 1 {
		if leaves[0].code != nil {
			return len(leaves[0].code)
		}
		return 1
	}
	m := len(leaves) / 2
	left := treeSize(leaves[:m])
	n := 1 + left + treeSize(leaves[m:])
	if left > 255 {
		n++
	}
	return n
}

// rule emits the comparisons of r, AND-ed, then its action; a failed
// comparison jumps past the action to whatever follows (the next rule or
// the call's fallback), which loads its own argument words again.
func (a *asm) rule(r rule, args32 bool) {
	a.fails = a.fails[:0]
	for _, c := range r.conds {
		a.compare(c, args32)
	}
	a.ret(r.action)
	end := len(a.prog)
	for _, f := range a.fails {
		at, onTrue := f>>1, f&1 == 1
		off := end - (at + 1)
		if off > 255 {
			if a.err == nil {
				a.err = fmt.Errorf("rule too long (%d instructions)", off)
			}
			continue
		}
		if onTrue {
			a.prog[at].Jt = uint8(off)
		} else {
			a.prog[at].Jf = uint8(off)
		}
	}
}

// compare emits one argument comparison: fall through when it holds, jump
// to failMark when not. Comparisons are unsigned, as libseccomp's are.
func (a *asm) compare(c cond, args32 bool) {
	lo := uint32(offArgs + 8*c.index)
	hi := lo + 4
	v, vhi := uint32(c.val), uint32(c.val>>32)
	if args32 {
		a.ld(lo)
		switch c.op {
		case specs.OpEqualTo:
			a.jeq(v, 0, failMark)
		case specs.OpNotEqual:
			a.jeq(v, failMark, 0)
		case specs.OpGreaterThan:
			a.jgt(v, 0, failMark)
		case specs.OpGreaterEqual:
			a.jge(v, 0, failMark)
		case specs.OpLessThan:
			a.jge(v, failMark, 0)
		case specs.OpLessEqual:
			a.jgt(v, failMark, 0)
		case specs.OpMaskedEqual:
			a.and(v)
			a.jeq(uint32(c.val2), 0, failMark)
		}
		return
	}
	switch c.op {
	case specs.OpEqualTo:
		a.ld(hi)
		a.jeq(vhi, 0, failMark)
		a.ld(lo)
		a.jeq(v, 0, failMark)
	case specs.OpNotEqual:
		a.ld(hi)
		a.jeq(vhi, 0, 2) // high halves differ: holds
		a.ld(lo)
		a.jeq(v, failMark, 0)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.ld(hi)
		a.jgt(vhi, 3, 0) // high half greater: holds
		a.jeq(vhi, 0, failMark)
		a.ld(lo)
		if c.op == specs.OpGreaterThan {
			a.jgt(v, 0, failMark)
		} else {
			a.jge(v, 0, failMark)
		}
	case specs.OpLessThan, specs.OpLessEqual:
		a.ld(hi)
		a.jgt(vhi, failMark, 0)
		a.jeq(vhi, 0, 2) // high half smaller: holds
		a.ld(lo)
		if c.op == specs.OpLessThan {
			a.jge(v, failMark, 0)
		} else {
			a.jgt(v, failMark, 0)
		}
	case specs.OpMaskedEqual:
		mhi, want, whi := uint32(c.val>>32), uint32(c.val2), uint32(c.val2>>32)
		switch {
		case mhi == 0 && whi == 0:
			// The high half always passes (x & 0 == 0): test the low one.
		case mhi == 0:
			a.ld(hi)
			a.and(0)
			a.jeq(whi, 0, failMark) // never equal: the rule cannot match
		default:
			a.ld(hi)
			a.and(mhi)
			a.jeq(whi, 0, failMark)
		}
		a.ld(lo)
		a.and(v)
		a.jeq(want, 0, failMark)
	}
}
