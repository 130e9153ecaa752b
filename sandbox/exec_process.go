package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/hint"
)

// ExecSettings are what docker exec lets a caller change of the process it
// starts: the command, -e, -u, -w and -t. Everything else comes from the
// container's own description.
type ExecSettings struct {
	Args []string
	// Env adds KEY=VALUE pairs to the container's environment, replacing
	// a KEY it has.
	Env []string
	// User is docker's -u (UID[:GID] or NAME[:GROUP], looked up in the
	// container's /etc/passwd and /etc/group); "" keeps the container's.
	User string
	// Cwd is the working directory; "" keeps the container's.
	Cwd string
	// Terminal gives the process a terminal of its own (docker exec -t).
	Terminal bool
}

// ExecProcess derives the process Exec starts from the container's own
// description (runc exec's defaults): its environment, user, working
// directory, capabilities, no_new_privs, rlimits and OOM score, with s
// applied. The seccomp filter is not part of a process: Exec always uses
// the container's.
func (c *Container) ExecProcess(s ExecSettings) (*specs.Process, error) {
	if c.spec == nil || c.spec.Process == nil {
		return nil, fmt.Errorf("container %s: no description recorded", c.ID)
	}
	base := c.spec.Process
	p := &specs.Process{
		Terminal:        s.Terminal,
		User:            base.User,
		Args:            slices.Clone(s.Args),
		Env:             slices.Clone(base.Env),
		Cwd:             base.Cwd,
		Capabilities:    cloneCaps(base.Capabilities),
		Rlimits:         slices.Clone(base.Rlimits),
		NoNewPrivileges: base.NoNewPrivileges,
		OOMScoreAdj:     base.OOMScoreAdj,
	}
	p.User.AdditionalGids = slices.Clone(base.User.AdditionalGids)
	if s.Cwd != "" {
		if !filepath.IsAbs(s.Cwd) {
			return nil, hint.With(fmt.Errorf("working directory %q is not absolute", s.Cwd), "-w takes an absolute path inside the container")
		}
		p.Cwd = s.Cwd
	}
	if s.User != "" {
		u, home, err := ResolveUser(c.State().Rootfs, s.User)
		if err != nil {
			return nil, err
		}
		p.User = u
		// HOME follows the user, as in docker, unless -e sets it.
		p.Env = setEnv(p.Env, "HOME="+home)
	}
	if s.Terminal && !hasEnv(p.Env, "TERM") {
		p.Env = append(p.Env, "TERM=xterm")
	}
	env, err := MergeEnv(p.Env, s.Env)
	if err != nil {
		return nil, err
	}
	p.Env = env
	return p, nil
}

// MergeEnv applies docker's -e flags to env: KEY=VALUE sets KEY, replacing
// a KEY env has; a bare KEY takes the caller's own value, or nothing when
// the caller has none.
func MergeEnv(env, flags []string) ([]string, error) {
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, hint.With(fmt.Errorf("invalid environment variable %q", kv), "-e takes KEY=VALUE")
		}
		if !ok {
			hv, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = hv
		}
		env = setEnv(env, k+"="+v)
	}
	return env, nil
}

// setEnv replaces kv's key in env, or appends kv.
func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	out := slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
	return append(out, kv)
}

func hasEnv(env []string, key string) bool {
	return slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
}

func cloneCaps(c *specs.LinuxCapabilities) *specs.LinuxCapabilities {
	if c == nil {
		return nil
	}
	return &specs.LinuxCapabilities{
		Bounding:    slices.Clone(c.Bounding),
		Effective:   slices.Clone(c.Effective),
		Inheritable: slices.Clone(c.Inheritable),
		Permitted:   slices.Clone(c.Permitted),
		Ambient:     slices.Clone(c.Ambient),
	}
}
