package nsinspect

import (
	"bytes"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// NSEntry is one namespace on the host, as lsns(8) shows it.
type NSEntry struct {
	Inode   uint64   `json:"ns"`
	Type    string   `json:"type"`
	NProcs  int      `json:"nprocs"`
	PID     int      `json:"pid"` // lowest PID in it; 0 when only a bind mount holds it
	UID     int      `json:"uid"`
	User    string   `json:"user"`
	Command string   `json:"command"`
	Held    []string `json:"held_by,omitempty"` // nsfs bind mounts that keep it alive
	dev     uint64
}

// NSListing is the result of ListNamespaces.
type NSListing struct {
	Namespaces []NSEntry `json:"namespaces"`
	Processes  int       `json:"processes"` // processes looked at
	Denied     int       `json:"denied"`    // processes whose namespaces could not be read
}

type nsKey struct {
	dev, ino uint64
}

type procNS struct {
	pid  int
	uid  int
	inos [8]nsKey
	ok   [8]bool
}

// ListNamespaces lists every namespace that a process under r.Root is in,
// plus those held only by nsfs bind mounts in the caller's mount table
// (ip netns add). Per process it does one open of /proc/PID and eight
// fstatat(2) calls, nothing else: commands are read only for the lowest PID
// of each namespace, and no namespace is entered. Processes whose links
// cannot be read (no permission) are counted in Denied, not silently
// dropped as lsns does.
func (r Reader) ListNamespaces() (NSListing, error) {
	ents, err := os.ReadDir(r.Root)
	if err != nil {
		return NSListing{}, err
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	procs := make([]procNS, len(pids))
	// Two workers: the stats are syscalls bound by the CPU, and the build
	// machines have two.
	var wg sync.WaitGroup
	workers := 2
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(pids); i += workers {
				procs[i] = r.statNamespaces(pids[i])
			}
		}(w)
	}
	wg.Wait()

	var out NSListing
	byKey := map[nsKey]*NSEntry{}
	var order []nsKey
	for _, p := range procs {
		if p.pid == 0 {
			continue // exited while we looked
		}
		out.Processes++
		any := false
		for t, typ := range KernelNamespaces {
			if !p.ok[t] {
				continue
			}
			any = true
			k := p.inos[t]
			e := byKey[k]
			if e == nil {
				e = &NSEntry{Inode: k.ino, Type: typ, PID: p.pid, UID: p.uid, dev: k.dev}
				byKey[k] = e
				order = append(order, k)
			}
			e.NProcs++
		}
		if !any {
			out.Denied++
		}
	}
	for _, held := range r.heldNamespaces() {
		if e := byKey[held.key]; e != nil {
			e.Held = append(e.Held, held.path)
			continue
		}
		byKey[held.key] = &NSEntry{Inode: held.key.ino, Type: held.typ, Held: []string{held.path}, UID: -1, dev: held.key.dev}
		order = append(order, held.key)
	}
	users := map[int]string{}
	for _, k := range order {
		e := byKey[k]
		if e.PID > 0 {
			e.Command = r.command(e.PID)
			if _, ok := users[e.UID]; !ok {
				users[e.UID] = userName(e.UID)
			}
			e.User = users[e.UID]
		}
		out.Namespaces = append(out.Namespaces, *e)
	}
	slices.SortFunc(out.Namespaces, func(a, b NSEntry) int {
		if a.Inode != b.Inode {
			if a.Inode < b.Inode {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Type, b.Type)
	})
	return out, nil
}

func (r Reader) statNamespaces(pid int) procNS {
	p := procNS{pid: pid}
	dir := r.path(pid, "")
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return procNS{}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	// /proc/PID is owned by the process's effective uid (proc(5)).
	if err := unix.Fstat(fd, &st); err != nil {
		return procNS{}
	}
	p.uid = int(st.Uid)
	for t, typ := range KernelNamespaces {
		if unix.Fstatat(fd, "ns/"+typ, &st, 0) == nil {
			p.inos[t] = nsKey{st.Dev, st.Ino}
			p.ok[t] = true
		}
	}
	return p
}

// command is what lsns prints: the command line, or [comm] for a kernel
// thread, whose command line is empty.
func (r Reader) command(pid int) string {
	if b, err := os.ReadFile(r.path(pid, "cmdline")); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '})))
	}
	b, _ := os.ReadFile(r.path(pid, "comm"))
	return "[" + strings.TrimSpace(string(b)) + "]"
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

type heldNS struct {
	key  nsKey
	typ  string
	path string
}

// heldNamespaces finds nsfs mounts in the caller's mount table: namespaces
// kept alive by a bind mount of /proc/PID/ns/X (ip-netns(8), unshare(1)
// --net=FILE). Only the caller's mount namespace is looked at: cheap, and
// the common case.
func (r Reader) heldNamespaces() []heldNS {
	b, err := os.ReadFile(filepath.Join(r.Root, "self/mountinfo"))
	if err != nil {
		return nil
	}
	ms, err := ParseMountinfo(b)
	if err != nil {
		return nil
	}
	var out []heldNS
	for _, m := range ms {
		if m.FSType != "nsfs" {
			continue
		}
		typ, ino, err := ParseNSLink(m.Root)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		key := nsKey{ino: ino}
		if unix.Stat(m.MountPoint, &st) == nil {
			key.dev = st.Dev
		}
		out = append(out, heldNS{key: key, typ: typ, path: m.MountPoint})
	}
	return out
}

// ListNamespaces lists the live host's namespaces (Live.ListNamespaces).
func ListNamespaces() (NSListing, error) { return Live.ListNamespaces() }
