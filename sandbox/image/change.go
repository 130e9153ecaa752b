package image

import (
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stepbox/stepbox/internal/hint"
)

// ApplyChange applies one Dockerfile instruction of the kinds docker
// import and docker commit take with --change (CMD, ENTRYPOINT, ENV,
// EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR) to c.
func ApplyChange(c *ocispec.ImageConfig, change string) error {
	change = strings.TrimSpace(change)
	word, rest, _ := strings.Cut(change, " ")
	rest = strings.TrimSpace(rest)
	bad := func(why string) error {
		return hint.With(fmt.Errorf("--change %q: %s", change, why),
			`use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, e.g. --change 'CMD ["/bin/sh"]'`)
	}
	if rest == "" {
		return bad("no value")
	}
	switch strings.ToUpper(word) {
	case "CMD":
		c.Cmd = execForm(rest)
	case "ENTRYPOINT":
		c.Entrypoint = execForm(rest)
	case "ENV":
		for _, kv := range keyValues(rest) {
			k, _, _ := strings.Cut(kv, "=")
			c.Env = setEnv(c.Env, k, kv)
		}
	case "LABEL":
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range keyValues(rest) {
			k, v, _ := strings.Cut(kv, "=")
			c.Labels[k] = strings.Trim(v, `"`)
		}
	case "EXPOSE":
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			c.ExposedPorts[p] = struct{}{}
		}
	case "VOLUME":
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		vs := execForm(rest)
		if !strings.HasPrefix(rest, "[") {
			vs = strings.Fields(rest)
		}
		for _, v := range vs {
			c.Volumes[v] = struct{}{}
		}
	case "STOPSIGNAL":
		c.StopSignal = rest
	case "USER":
		c.User = rest
	case "WORKDIR":
		c.WorkingDir = rest
	default:
		return bad("unknown instruction " + word)
	}
	return nil
}

// execForm is a JSON array as it is, or a shell form run by /bin/sh -c
// (the Dockerfile reference, "Shell and exec form").
func execForm(s string) []string {
	var argv []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &argv) == nil {
		return argv
	}
	return []string{"/bin/sh", "-c", s}
}

// keyValues splits "A=1 B=2" (or the old "A 1") into "A=1" pairs.
func keyValues(s string) []string {
	if k, v, ok := strings.Cut(s, " "); ok && !strings.Contains(k, "=") {
		return []string{k + "=" + strings.TrimSpace(v)}
	}
	var out []string
	for _, f := range strings.Fields(s) {
		out = append(out, f)
	}
	return out
}

func setEnv(env []string, key, kv string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
