package builtinfs

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
)

// elfInfo is what the default rootfs builder needs to know of an executable
// or shared library: how the dynamic loader will load it (ld.so(8)).
type elfInfo struct {
	Class   elf.Class
	Machine elf.Machine
	Interp  string   // PT_INTERP: the loader the kernel starts, "" if none
	Needed  []string // DT_NEEDED: the libraries it names
	RunPath []string // DT_RUNPATH, or DT_RPATH when there is no RUNPATH
}

// Static reports whether the file runs with nothing else: no loader to start
// and no library to load. A static-pie has a dynamic section for its own
// relocations but neither of these.
func (e *elfInfo) Static() bool { return e.Interp == "" && len(e.Needed) == 0 }

// errNotELF is returned for files that are not ELF (scripts, data).
var errNotELF = errors.New("not an ELF file")

// readELF reads the ELF facts of the file at p.
func readELF(p string) (*elfInfo, error) {
	f, err := elf.Open(p)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s: %w", p, errNotELF)
		}
		return nil, err
	}
	defer f.Close()
	info := &elfInfo{Class: f.Class, Machine: f.Machine}
	for _, prog := range f.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, prog.Filesz)
		if _, err := prog.ReadAt(b, 0); err != nil {
			return nil, fmt.Errorf("%s: read PT_INTERP: %w", p, err)
		}
		info.Interp = strings.TrimRight(string(b), "\x00")
	}
	if f.Section(".dynamic") == nil && dynamicProg(f) == nil {
		return info, nil
	}
	// DynString fails on files without a dynamic string table: that only
	// means there is nothing to load.
	info.Needed, _ = f.DynString(elf.DT_NEEDED)
	if rp, _ := f.DynString(elf.DT_RUNPATH); len(rp) > 0 {
		info.RunPath = splitPath(rp)
	} else if rp, _ := f.DynString(elf.DT_RPATH); len(rp) > 0 {
		info.RunPath = splitPath(rp)
	}
	return info, nil
}

func dynamicProg(f *elf.File) *elf.Prog {
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return p
		}
	}
	return nil
}

func splitPath(list []string) []string {
	var out []string
	for _, l := range list {
		for _, d := range strings.Split(l, ":") {
			if d != "" {
				out = append(out, d)
			}
		}
	}
	return out
}

// libraryDirs are the directories the loader searches after the object's
// own RUNPATH when /etc/ld.so.cache is not used: the multiarch directories
// of Debian and Ubuntu, the lib64 of Fedora, SUSE and Arch, and the plain lib
// of the rest and of musl (ld.so(8), "the default path").
func libraryDirs(m elf.Machine, c elf.Class) []string {
	var triplets []string
	switch m {
	case elf.EM_X86_64:
		triplets = []string{"x86_64-linux-gnu"}
	case elf.EM_AARCH64:
		triplets = []string{"aarch64-linux-gnu"}
	case elf.EM_386:
		triplets = []string{"i386-linux-gnu"}
	case elf.EM_ARM:
		triplets = []string{"arm-linux-gnueabihf", "arm-linux-gnueabi"}
	case elf.EM_RISCV:
		triplets = []string{"riscv64-linux-gnu"}
	case elf.EM_PPC64:
		triplets = []string{"powerpc64le-linux-gnu"}
	case elf.EM_S390:
		triplets = []string{"s390x-linux-gnu"}
	}
	var dirs []string
	for _, t := range triplets {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if c == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// resolveLibraries finds, on the host under hostRoot ("/" but for tests),
// the loader and every shared library the executable at bin needs, directly
// or through other libraries, as the loader would: the needing object's
// RUNPATH ($ORIGIN is its directory), then the default directories, taking
// only files of the same ELF class and machine. It returns host paths as the
// loader would open them (not with symlinks resolved), in the order found.
func resolveLibraries(hostRoot, bin string) ([]string, error) {
	top, err := readELF(path.Join(hostRoot, bin))
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	if top.Interp != "" {
		if _, err := os.Stat(path.Join(hostRoot, top.Interp)); err != nil {
			return nil, fmt.Errorf("%s: its loader %s: %w", bin, top.Interp, err)
		}
		out = append(out, top.Interp)
		seen[top.Interp] = true
	}
	type pending struct {
		name, from string
		runpath    []string
	}
	queue := []pending{}
	add := func(info *elfInfo, from string) {
		for _, n := range info.Needed {
			queue = append(queue, pending{name: n, from: from, runpath: info.RunPath})
		}
	}
	add(top, bin)
	byName := map[string]string{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if _, done := byName[p.name]; done {
			continue
		}
		lib, info, err := findLibrary(hostRoot, p.name, p.from, p.runpath, top)
		if err != nil {
			return nil, err
		}
		byName[p.name] = lib
		if !seen[lib] {
			seen[lib] = true
			out = append(out, lib)
		}
		add(info, lib)
	}
	return out, nil
}

// findLibrary looks for the library name that from needs.
func findLibrary(hostRoot, name, from string, runpath []string, like *elfInfo) (string, *elfInfo, error) {
	var candidates []string
	if strings.Contains(name, "/") {
		candidates = []string{name}
	} else {
		for _, d := range runpath {
			d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", "$ORIGIN"), "$ORIGIN", path.Dir(from))
			candidates = append(candidates, path.Join(d, name))
		}
		for _, d := range libraryDirs(like.Machine, like.Class) {
			candidates = append(candidates, path.Join(d, name))
		}
	}
	for _, c := range candidates {
		info, err := readELF(path.Join(hostRoot, c))
		if err != nil || info.Class != like.Class || info.Machine != like.Machine {
			continue
		}
		return c, info, nil
	}
	return "", nil, fmt.Errorf("%s needs %s, which is in none of %s", from, name, strings.Join(candidates, " "))
}
