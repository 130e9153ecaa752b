package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/hint"
)

// ResolveUser turns docker's -u value (UID, NAME, UID:GID, NAME:GROUP) into
// the process user, reading the container's own /etc/passwd and /etc/group
// (passwd(5), group(5)) through an os.Root, so that symlinks in a hostile
// rootfs cannot make stepbox read a host file. It also returns the user's
// home directory ("/" when unknown). As in docker, a numeric uid that is not
// in /etc/passwd gets gid 0.
func ResolveUser(rootfs, spec string) (specs.User, string, error) {
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		// No databases to read: numeric ids still resolve.
		return ResolveUserFS(emptyFS{}, spec)
	}
	defer r.Close()
	return ResolveUserFS(r.FS(), spec)
}

// ResolveUserFS is ResolveUser reading /etc/passwd and /etc/group from
// fsys ("etc/passwd"): an image's layers (imagefs.LayersFS), say.
func ResolveUserFS(fsys fs.FS, spec string) (specs.User, string, error) {
	bad := func(why string) error {
		return hint.With(fmt.Errorf("invalid user %q: %s", spec, why), "-u takes UID[:GID] or NAME[:GROUP]")
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" || (hasGroup && groupPart == "") {
		return specs.User{}, "", bad("empty name")
	}
	passwd := readDB(fsys, "etc/passwd")
	u := specs.User{}
	home := "/"
	found := false
	if id, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		u.UID = uint32(id)
		for _, e := range passwd {
			if len(e) >= 6 && e[2] == userPart {
				u.GID, home, found = parseID(e[3]), e[5], true
				break
			}
		}
	} else {
		for _, e := range passwd {
			if len(e) >= 6 && e[0] == userPart {
				u.UID, u.GID, home, found = parseID(e[2]), parseID(e[3]), e[5], true
				break
			}
		}
		if !found {
			return specs.User{}, "", bad("no such user in the container's /etc/passwd")
		}
	}
	groups := readDB(fsys, "etc/group")
	if hasGroup {
		if id, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			u.GID = uint32(id)
		} else {
			ok := false
			for _, g := range groups {
				if len(g) >= 3 && g[0] == groupPart {
					u.GID, ok = parseID(g[2]), true
					break
				}
			}
			if !ok {
				return specs.User{}, "", bad("no such group in the container's /etc/group")
			}
		}
	}
	if found {
		name := ""
		for _, e := range passwd {
			if len(e) >= 3 && parseID(e[2]) == u.UID {
				name = e[0]
				break
			}
		}
		for _, g := range groups {
			if len(g) >= 4 && name != "" && containsField(g[3], name) && parseID(g[2]) != u.GID {
				u.AdditionalGids = append(u.AdditionalGids, parseID(g[2]))
			}
		}
	}
	if home == "" {
		home = "/"
	}
	return u, home, nil
}

func containsField(list, name string) bool {
	for _, m := range strings.Split(list, ",") {
		if m == name {
			return true
		}
	}
	return false
}

func parseID(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// readDB reads a colon-separated database of the rootfs; a missing or
// unreadable file is an empty one.
func readDB(fsys fs.FS, name string) [][]string {
	f, err := fsys.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	s := bufio.NewScanner(io.LimitReader(f, 4<<20))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}
