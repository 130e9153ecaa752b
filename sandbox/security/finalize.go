package security

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// Finalize gives the calling thread the payload's identity and privileges.
// It must run on the thread that will execve(2) the payload, locked to its
// goroutine with runtime.LockOSThread: the capability sets, the bounding
// set, keepcaps and no_new_privs belong to a thread, not to the process
// (capabilities(7), prctl(2)), and execve keeps only the calling thread.
//
// The steps, in the order the kernel requires:
//
//  1. check caps (CheckCapabilities), before anything changes;
//  2. drop from the bounding set every capability not in caps.Bounding
//     (prctl PR_CAPBSET_DROP; needs CAP_SETPCAP, so it comes while the
//     thread is still privileged);
//  3. PR_SET_KEEPCAPS, so that the permitted set survives the switch from
//     uid 0 to another uid (which otherwise clears it);
//  4. setgroups(additionalGids), setresgid(gid), setresuid(uid), for this
//     thread too: the kernel keeps credentials per thread. (Go's syscall
//     package would apply them to every thread, by signalling each one,
//     three rounds on every start, while the capability sets stay per
//     thread anyway; a process that goes on beside its payload gives its
//     other threads the payload's identity and capabilities with
//     AllThreadsGroups and AllThreads);
//  5. capset(2) the effective, permitted and inheritable sets of this
//     thread (the uid switch emptied the effective set);
//  6. clear the ambient set and raise caps.Ambient (PR_CAP_AMBIENT_RAISE):
//     a payload that is not root keeps across execve only its ambient
//     capabilities, because its binary has no file capabilities
//     (capabilities(7), "Transformation of capabilities during execve()").
//     A root payload gets its bounding set as effective anyway: the kernel
//     treats root's file sets as full;
//  7. clear keepcaps;
//  8. set no_new_privs when asked (prctl PR_SET_NO_NEW_PRIVS).
//
// A nil caps leaves the capability sets alone (a user other than root still
// loses them at execve). The seccomp filter comes after this (Filter.Load),
// except when noNewPrivs is false and the payload will lack CAP_SYS_ADMIN:
// the kernel then refuses the filter, so it must be loaded before Finalize,
// and allow what Finalize calls (docker's default profile does). Confine
// does both in the right order. The umask is the caller's.
func Finalize(user specs.User, caps *specs.LinuxCapabilities, noNewPrivs bool) error {
	var sets capSets
	if caps != nil {
		var err error
		if sets, err = parseCapSets(caps); err != nil {
			return err
		}
		if err := sets.check(); err != nil {
			return err
		}
		if err := dropBounding(sets.bounding); err != nil {
			return err
		}
	}
	if caps != nil {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", err)
		}
	}
	if err := setIDs(user); err != nil {
		return err
	}
	if caps != nil {
		if err := capset(sets); err != nil {
			return err
		}
		if err := setAmbient(sets.ambient); err != nil {
			return err
		}
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_KEEPCAPS, 0): %w", err)
		}
	}
	if noNewPrivs {
		return SetNoNewPrivileges()
	}
	return nil
}

// Confine is Finalize and filter.Load (nil: no filter) in the order that
// works: with no_new_privs, the filter comes last, so it needs to allow
// only what runs between it and execve; without no_new_privs, it comes
// first, while the thread still has CAP_SYS_ADMIN, which the kernel then
// demands (seccomp(2), EACCES). Call it on the locked thread that will
// execve the payload, as late as possible.
func Confine(user specs.User, caps *specs.LinuxCapabilities, noNewPrivs bool, filter *Filter) error {
	if filter != nil && !noNewPrivs {
		if err := filter.Load(); err != nil {
			return fmt.Errorf("load seccomp filter before dropping privileges: %w", err)
		}
	}
	if err := Finalize(user, caps, noNewPrivs); err != nil {
		return err
	}
	if filter != nil && noNewPrivs {
		if err := filter.Load(); err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
	}
	return nil
}

// dropBounding removes from the thread's bounding set every capability the
// kernel knows that keep lacks, unnamed future ones included.
func dropBounding(keep uint64) error {
	for c := 0; c <= LastCap(); c++ {
		if keep&(1<<c) != 0 || !inBoundingSet(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			err = fmt.Errorf("prctl(PR_CAPBSET_DROP, %s): %w", capName(c), err)
			if errors.Is(err, unix.EPERM) {
				return hint.With(err, "dropping from the bounding set needs CAP_SETPCAP; call Finalize before any other capability change")
			}
			return err
		}
	}
	return nil
}

func capName(c int) string {
	if c < len(capabilityNames) {
		return capabilityNames[c]
	}
	return fmt.Sprintf("capability %d", c)
}

// setIDs switches groups, gid and uid, in that order: after setresuid the
// thread may no longer have CAP_SETGID to change the others.
func setIDs(u specs.User) error {
	gids := make([]uint32, len(u.AdditionalGids))
	copy(gids, u.AdditionalGids)
	if err := threadSetgroups(gids); err != nil {
		if !nothingToSet(err, len(gids)) {
			return fmt.Errorf("setgroups %v: %w", u.AdditionalGids, err)
		}
	}
	if err := threadSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); err != nil {
		return hint.With(fmt.Errorf("setresgid %d: %w", u.GID, err), "in a user namespace the gid must be mapped")
	}
	if err := threadSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); err != nil {
		return hint.With(fmt.Errorf("setresuid %d: %w", u.UID, err), "in a user namespace the uid must be mapped")
	}
	return nil
}

// threadSyscall makes a system call that changes only the calling
// thread's credentials.
func threadSyscall(trap, a1, a2, a3 uintptr) error {
	if _, _, e := unix.RawSyscall(trap, a1, a2, a3); e != 0 {
		return e
	}
	return nil
}

func threadSetgroups(gids []uint32) error {
	var pin runtime.Pinner // the kernel reads the list through a uintptr
	defer pin.Unpin()
	return threadSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(pinned(&pin, gids)), 0)
}

// pinned is the address of s's first element, pinned (nil for an empty
// s): an address handed to the kernel as a uintptr must not move with a
// stack that grows meanwhile.
func pinned[T any](pin *runtime.Pinner, s []T) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	pin.Pin(&s[0])
	return unsafe.Pointer(&s[0])
}

// A process that goes on running beside its payload (the minimal init)
// gives its other threads what Finalize gave the payload's thread, so that
// none of them keeps more than the payload has, in two calls:
// AllThreadsGroups before Finalize, and AllThreads after it, at a moment
// the process waits anyway. Each signals every thread once per system call
// (syscall.AllThreadsSyscall), and the kernel's answer must be the same on
// every thread: setgroups(2) needs CAP_SETGID, which the payload's thread
// may no longer have after Finalize, so the groups come first; the uid, gid
// and capability sets it keeps are ones it may set again. The bounding and
// ambient sets and no_new_privs matter only to execve(2), which only the
// Finalized thread does.
//
// Where the binary uses cgo, Go cannot make such calls (ENOTSUP); the
// groups and ids then go through the C library's setxid, which reaches
// every thread too, but a root payload's init keeps full capabilities on
// its other threads. This is why the container init is built without cgo,
// and the C constructor that exec needs lives in a binary of its own
// (cmd/stepbox-exec; DESIGN.md, "Entering a running container").

// AllThreadsGroups sets the supplementary groups of every thread.
func AllThreadsGroups(user specs.User) error {
	gids := make([]uint32, len(user.AdditionalGids))
	copy(gids, user.AdditionalGids)
	var pin runtime.Pinner
	defer pin.Unpin()
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(pinned(&pin, gids)), 0)
	switch {
	case e == syscall.ENOTSUP:
		// Only the groups: the ids would take this thread's privileges
		// before Finalize needs them.
		if err := syscall.Setgroups(intIDs(user.AdditionalGids)); err != nil && !nothingToSet(err, len(gids)) {
			return fmt.Errorf("setgroups: %w", err)
		}
		return nil
	case e != 0 && nothingToSet(e, len(gids)):
		return nil
	case e != 0:
		return fmt.Errorf("setgroups %v on every thread: %w", user.AdditionalGids, e)
	}
	return nil
}

// started are the process's ids as it began, which every thread but a
// Finalized one still has when AllThreads runs: a thread the runtime makes
// later is cloned from one of those, or, while the main thread is locked
// (the init's is), from the runtime's template thread (runtime.newm never
// clones a locked thread's state). A round of AllThreads that would set the
// ids they already have is skipped: a root payload's init pays for the
// capabilities' round alone, each round a stop of the world and a signal
// to every thread.
var started = func() (s startIDs) {
	s.uid[0], s.uid[1], s.uid[2] = unix.Getresuid()
	s.gid[0], s.gid[1], s.gid[2] = unix.Getresgid()
	return s
}()

type startIDs struct{ uid, gid [3]int }

func (s startIDs) uidsAre(id uint32) bool { return s.uid == [3]int{int(id), int(id), int(id)} }
func (s startIDs) gidsAre(id uint32) bool { return s.gid == [3]int{int(id), int(id), int(id)} }

// AllThreads gives every thread the identity Finalize gave the calling one
// and, for root, its capability sets. For another user the switch from uid
// 0 clears a thread's sets (it has no keepcaps), the way execve clears the
// payload's when it has no ambient capabilities; the payload's own thread
// keeps its sets until it has started the payload (ClearThreadCaps).
func AllThreads(user specs.User, caps *specs.LinuxCapabilities) error {
	var sets capSets
	if caps != nil {
		var err error
		if sets, err = parseCapSets(caps); err != nil {
			return err
		}
	}
	hdr := []unix.CapUserHeader{{Version: unix.LINUX_CAPABILITY_VERSION_3}}
	d := capData(sets)
	data := d[:]
	var pin runtime.Pinner
	defer pin.Unpin()
	steps := []struct {
		name       string
		trap       uintptr
		a1, a2, a3 uintptr
		skip       bool
	}{
		{"setresgid", unix.SYS_SETRESGID, uintptr(user.GID), uintptr(user.GID), uintptr(user.GID), started.gidsAre(user.GID)},
		{"setresuid", unix.SYS_SETRESUID, uintptr(user.UID), uintptr(user.UID), uintptr(user.UID), started.uidsAre(user.UID)},
		{"capset", unix.SYS_CAPSET, uintptr(pinned(&pin, hdr)), uintptr(pinned(&pin, data)), 0, caps == nil || user.UID != 0},
	}
	for _, st := range steps {
		if st.skip {
			continue
		}
		_, _, e := syscall.AllThreadsSyscall(st.trap, st.a1, st.a2, st.a3)
		if e == syscall.ENOTSUP {
			return cgoAllThreads(user)
		}
		if e != 0 {
			return fmt.Errorf("%s on every thread: %w", st.name, e)
		}
	}
	return nil
}

// ClearThreadCaps empties the calling thread's capability sets, for the
// thread that started a payload that is not root and stays beside it (see
// AllThreads).
func ClearThreadCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset (none): %w", err)
	}
	return nil
}

// cgoAllThreads is AllThreads's identity part for a cgo binary (the groups
// are AllThreadsGroups's).
func cgoAllThreads(user specs.User) error {
	if err := syscall.Setresgid(int(user.GID), int(user.GID), int(user.GID)); err != nil {
		return fmt.Errorf("setresgid: %w", err)
	}
	if err := syscall.Setresuid(int(user.UID), int(user.UID), int(user.UID)); err != nil {
		return fmt.Errorf("setresuid: %w", err)
	}
	return nil
}

func intIDs(ids []uint32) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

// nothingToSet reports whether err, from setgroups(2) with n groups, only
// says what does not matter: in a user namespace whose setgroups file says
// "deny" (an unprivileged one, user_namespaces(7)) setgroups always fails,
// and with no groups asked for there is nothing to do.
func nothingToSet(err error, n int) bool {
	return errors.Is(err, syscall.EPERM) && n == 0 && setgroupsDenied()
}

func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && bytes.Equal(bytes.TrimSpace(b), []byte("deny"))
}

// capData lays s out for capset(2), version 3: two 32-bit words per set.
func capData(s capSets) [2]unix.CapUserData {
	var data [2]unix.CapUserData
	for i := range data {
		shift := 32 * i
		data[i].Effective = uint32(s.effective >> shift)
		data[i].Permitted = uint32(s.permitted >> shift)
		data[i].Inheritable = uint32(s.inheritable >> shift)
	}
	return data
}

// capset sets the thread's effective, permitted and inheritable sets.
func capset(s capSets) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := capData(s)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset (effective %s, permitted %s, inheritable %s): %w",
			maskString(s.effective), maskString(s.permitted), maskString(s.inheritable), err)
	}
	return nil
}

func maskString(m uint64) string { return fmt.Sprintf("%#x", m) }

// setAmbient makes the thread's ambient set exactly amb.
func setAmbient(amb uint64) error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		if errors.Is(err, unix.EINVAL) && amb == 0 {
			return nil // a kernel before 4.3 has no ambient set
		}
		return fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", err)
	}
	for c := range capabilityNames {
		if amb&(1<<c) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_CAP_AMBIENT_RAISE, %s): %w", capabilityNames[c], err)
		}
	}
	return nil
}
