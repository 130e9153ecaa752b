package lessons

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// Needs are the programs a lesson runs: Inside its container, and on the
// Host as witnesses. Every lesson also runs sh on both sides (the agent's
// commands and the host's probes are shell command lines). "stepbox" inside
// is the root filesystem's /bin/stepbox, or the running binary while the
// container still uses the host's files.
type Needs struct {
	Inside []string
	Host   []string
}

// CourseNeeds is every program the whole course runs, inside its containers
// and on the host, each sorted: what `stepbox doctor` lists, and what a
// root filesystem must hold for every lesson to run on it.
func CourseNeeds() (inside, host []string) {
	inside, host = []string{"sh"}, []string{"sh"}
	for _, l := range Catalogue() {
		inside = append(inside, l.Needs.Inside...)
		host = append(host, l.Needs.Host...)
	}
	slices.Sort(inside)
	slices.Sort(host)
	return slices.Compact(inside), slices.Compact(host)
}

// MissingTool is a program a lesson needs and cannot find.
type MissingTool struct {
	Tool  string
	Where string // "inside" or "host"
	Root  string // the root filesystem it was looked for in
}

// missingTools lists what lesson l needs and the lab cannot give it: each
// Inside program is looked up in every root the lesson's container may
// have (the host's files before the root filesystem lesson, the lab's
// root filesystem after), each Host program on the host.
func missingTools(l *Lesson, lab *Lab) []MissingTool {
	var out []MissingTool
	roots := []string{lab.rootfs}
	if lab.usesHostFiles() {
		roots = append(roots, "/")
	}
	inside := append([]string{"sh"}, l.Needs.Inside...)
	for _, root := range roots {
		for _, t := range inside {
			if t == "stepbox" && root == "/" {
				continue // the agent puts its own directory in the PATH
			}
			if !builtinfs.HasTool(root, t) {
				out = append(out, MissingTool{Tool: t, Where: "inside", Root: root})
			}
		}
	}
	for _, t := range append([]string{"sh"}, l.Needs.Host...) {
		if t != "stepbox" && !builtinfs.HasTool("/", t) {
			out = append(out, MissingTool{Tool: t, Where: "host", Root: "/"})
		}
	}
	return out
}

// usesHostFiles reports whether the lab's next container would use the
// host's files rather than the root filesystem: no mount namespace yet,
// or one that starts as a copy of the host's.
func (l *Lab) usesHostFiles() bool {
	spec := cloneSpec(l.spec)
	opts := l.opts
	if l.filter != nil {
		l.filter(spec, &opts)
	}
	return !sandbox.HasNamespace(spec, specs.MountNamespace) || opts.HostRoot
}

// needsError is the one line that stops a lesson before it starts: which
// program is missing where, and how to get it.
func needsError(l *Lesson, missing []MissingTool) error {
	var what, pkgs []string
	builtin, own := false, false
	for _, m := range missing {
		where := "on the host"
		if m.Where == "inside" && m.Root != "/" {
			where = "in the root filesystem " + m.Root
			if _, err := builtinfs.ReadManifest(m.Root); err == nil {
				builtin = true
			} else {
				own = true
			}
		}
		what = append(what, m.Tool+" "+where)
		if p := builtinfs.Package(m.Tool); !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	h := "install Debian's " + strings.Join(pkgs, ", ")
	switch {
	case builtin:
		h += ", then rebuild the built-in root filesystem: stepbox rootfs --rebuild"
	case own:
		h = "put it into your --rootfs, or leave --rootfs out to use the built-in one"
	}
	return hint.With(fmt.Errorf("lesson %s cannot run: it needs %s, and there is none", l.ID, strings.Join(what, "; ")), h)
}
