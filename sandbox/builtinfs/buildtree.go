package builtinfs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// builder fills a directory through an os.Root, which refuses to follow any
// link out of it: the tree holds copies of the host's links, absolute ones
// too (/usr/bin/awk -> /etc/alternatives/awk), and a write through one of
// them must never land on the host.
type builder struct {
	root    *os.Root
	entries map[string]File // by path inside the rootfs
}

func newBuilder(dir string) (*builder, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &builder{root: r, entries: map[string]File{"/": {Path: "/", Type: "dir", Mode: "0755", From: "layout"}}}, nil
}

func rel(p string) string {
	if p = strings.TrimPrefix(path.Clean("/"+p), "/"); p == "" {
		return "."
	}
	return p
}

// list returns the entries sorted by path.
func (b *builder) list() []File {
	out := make([]File, 0, len(b.entries))
	for _, f := range b.entries {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// mkdir makes the directory p (its parent must exist) with exactly mode.
func (b *builder) mkdir(p string, mode fs.FileMode, from string) error {
	p = path.Clean("/" + p)
	if e, ok := b.entries[p]; ok {
		if e.Type != "dir" {
			return fmt.Errorf("mkdir %s: a %s is there", p, e.Type)
		}
		return nil
	}
	if err := b.root.Mkdir(rel(p), 0o700); err != nil {
		return err
	}
	// Chmod, not the mode of mkdir: the umask would trim it.
	if err := b.root.Chmod(rel(p), mode); err != nil {
		return err
	}
	b.entries[p] = File{Path: p, Type: "dir", Mode: modeString(mode), From: from}
	return nil
}

// mkdirAll makes p and its missing parents, mode 0755.
func (b *builder) mkdirAll(p, from string) error {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	if _, ok := b.entries[p]; ok {
		return nil
	}
	if err := b.mkdirAll(path.Dir(p), from); err != nil {
		return err
	}
	return b.mkdir(p, 0o755, from)
}

// symlink makes the link p -> target; the same link already there is fine.
func (b *builder) symlink(p, target, from string) error {
	p = path.Clean("/" + p)
	if e, ok := b.entries[p]; ok {
		if e.Type == "symlink" && e.Link == target {
			return nil
		}
		return fmt.Errorf("symlink %s -> %s: a %s is there", p, target, e.Type)
	}
	if err := b.root.Symlink(target, rel(p)); err != nil {
		return err
	}
	b.entries[p] = File{Path: p, Type: "symlink", Mode: "0777", Link: target, From: from}
	return nil
}

// writeFile writes a file made by the builder.
func (b *builder) writeFile(p string, data []byte, mode fs.FileMode) error {
	p = path.Clean("/" + p)
	if err := b.root.WriteFile(rel(p), data, 0o600); err != nil {
		return err
	}
	if err := b.root.Chmod(rel(p), mode); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	b.entries[p] = File{Path: p, Type: "file", Mode: modeString(mode), Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), From: "generated"}
	return nil
}

// copyFile copies the host file from to p with the permission bits of mode,
// less set-user-ID and set-group-ID: a copy of the host's setuid mount(8)
// must not give a container's unprivileged user the host's privileges.
func (b *builder) copyFile(p, from string, mode fs.FileMode, origin string) error {
	p = path.Clean("/" + p)
	if e, ok := b.entries[p]; ok {
		if e.Type == "file" {
			return nil
		}
		return fmt.Errorf("copy %s to %s: a %s is there", from, p, e.Type)
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := b.root.OpenFile(rel(p), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if err = errors.Join(err, out.Close()); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	mode = mode.Perm()
	if err := b.root.Chmod(rel(p), mode); err != nil {
		return err
	}
	b.entries[p] = File{Path: p, Type: "file", Mode: modeString(mode), Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), From: origin}
	return nil
}

// addHost copies the host path p to the same path in the rootfs. Each
// symlink met on the way, in the directories or at the end, is made as the
// same link and then followed, as the kernel would follow it: so /bin/sh on
// a merged-/usr host gives the links bin -> usr/bin and usr/bin/sh -> dash
// and the file usr/bin/dash, and the container resolves /bin/sh as the host
// does. It returns the path of the file at the end of the links.
func (b *builder) addHost(p string) (string, error) {
	rest := splitComponents(p)
	cur := "/"
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		st, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			if links++; links > 40 {
				return "", &os.PathError{Op: "copy", Path: p, Err: unix.ELOOP}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", err
			}
			if err := b.symlink(next, target, next); err != nil {
				return "", err
			}
			if path.IsAbs(target) {
				cur = "/"
			}
			rest = append(splitComponents(target), rest...)
		case st.IsDir():
			if err := b.mkdir(next, st.Mode().Perm()|st.Mode()&fs.ModeSticky, next); err != nil {
				return "", err
			}
			cur = next
		case st.Mode().IsRegular():
			if len(rest) > 0 {
				return "", &os.PathError{Op: "copy", Path: p, Err: unix.ENOTDIR}
			}
			if err := b.copyFile(next, next, st.Mode(), next); err != nil {
				return "", err
			}
			return next, nil
		default:
			return "", fmt.Errorf("copy %s: %s is a %s", p, next, st.Mode().Type())
		}
	}
	return cur, nil
}

func splitComponents(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// resolve follows the links the builder made, inside the rootfs, and
// returns where p really is ("/bin/stepbox" is "/usr/bin/stepbox" when
// /bin -> usr/bin).
func (b *builder) resolve(p string) string {
	rest := splitComponents(p)
	cur := "/"
	for hops := 0; len(rest) > 0 && hops < 40; {
		c := rest[0]
		rest = rest[1:]
		if c == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		if e, ok := b.entries[next]; ok && e.Type == "symlink" {
			hops++
			if path.IsAbs(e.Link) {
				cur = "/"
			}
			rest = append(splitComponents(e.Link), rest...)
			continue
		}
		cur = next
	}
	return cur
}

// addWithLibraries copies the host executable p and, if it is dynamically
// linked, its loader and libraries.
func (b *builder) addWithLibraries(p string) error {
	real, err := b.addHost(p)
	if err != nil {
		return err
	}
	libs, err := resolveLibraries("/", real)
	if errors.Is(err, errNotELF) {
		return nil // a script: its interpreter is one of the tools
	}
	if err != nil {
		return err
	}
	for _, l := range libs {
		if _, err := b.addHost(l); err != nil {
			return fmt.Errorf("%s needs %s: %w", p, l, err)
		}
	}
	return nil
}
