package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

// runSource is what a container is made of: a plain directory (--rootfs,
// used as it is) or an image, the built-in one when none is named, which
// the container gets its own writable layer over (imagefs).
type runSource struct {
	dir   string // a plain directory
	store *image.Store
	img   *image.Image
	name  string // what the image was named by (ps shows it)
}

// source reads what run's arguments name: `run [flags] IMAGE [CMD…]`, or
// `run [flags] -- CMD…` and `run [flags] /ABS/CMD …` for a command on the
// built-in image (a name that starts with / is never an image's), or with
// --rootfs DIR a command on that directory. It returns the command's
// words. With plainBuiltin (stepbox spec) the built-in root filesystem is
// its directory, as a bundle would hold it.
func (o *runOptions) source(g *globals, paths sandbox.Paths, args []string, plainBuiltin bool) (*runSource, []string, error) {
	if o.rootfs != "" {
		abs, err := filepath.Abs(o.rootfs)
		if err != nil {
			return nil, nil, err
		}
		return &runSource{dir: abs}, args, nil
	}
	ref := ""
	if o.dashAt != 0 && len(args) > 0 && !strings.HasPrefix(args[0], "/") {
		ref, args = args[0], args[1:]
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
	}
	if ref == "" && plainBuiltin {
		dir, _, err := builtinRootfs(g, paths)
		return &runSource{dir: dir}, args, err
	}
	s, err := imageStore(g)
	if err != nil {
		return nil, nil, err
	}
	name := ref
	var img *image.Image
	if ref == "" {
		name = imagefs.BuiltinRef
		dir, m, err := builtinRootfs(g, paths)
		if err != nil {
			return nil, nil, err
		}
		if img, err = imagefs.Builtin(s, dir, m); err != nil {
			return nil, nil, err
		}
		sandbox.Tracef("run: built-in image")
	} else if img, err = s.Get(ref); errors.Is(err, image.ErrNotFound) {
		return nil, nil, hint.With(fmt.Errorf("%w: %s", image.ErrNotFound, ref),
			fmt.Sprintf("'stepbox images' lists the images; to run %s on the built-in image, put -- before it: stepbox run -- %s", ref, ref))
	} else if err != nil {
		return nil, nil, err
	}
	return &runSource{store: s, img: img, name: name}, args, nil
}

// config is the image's run configuration (empty for a plain directory).
func (src *runSource) config() ocispec.ImageConfig {
	if src.img == nil {
		return ocispec.ImageConfig{}
	}
	return src.img.Config.Config
}

// resolveUser resolves -u (or the image's User) through the container's
// /etc/passwd and /etc/group, read before the container exists.
func (src *runSource) resolveUser(u string) (specs.User, string, error) {
	if src.img == nil {
		return sandbox.ResolveUser(src.dir, u)
	}
	// Its layers, unpacked, top first.
	plan, err := src.store.MountPlan(string(src.img.ID), image.IDMap{})
	if err != nil {
		return specs.User{}, "", err
	}
	return sandbox.ResolveUserFS(imagefs.LayersFS(plan.Lower), u)
}

// command is the container's command as docker makes it: the image's
// Entrypoint (or --entrypoint, which also drops the image's Cmd) followed
// by the command line's words, or else the image's Cmd.
func (o *runOptions) command(cfg ocispec.ImageConfig, args []string) ([]string, error) {
	ep, cmd := cfg.Entrypoint, cfg.Cmd
	if o.entrypointSet {
		ep, cmd = nil, nil
		if o.entrypoint != "" {
			ep = []string{o.entrypoint}
		}
	}
	if len(args) > 0 {
		cmd = args
	}
	argv := append(slices.Clone(ep), cmd...)
	if len(argv) == 0 {
		return nil, hint.With(errors.New("no command: the image has no Cmd or Entrypoint"), "give one after the image: stepbox run IMAGE CMD…")
	}
	return argv, nil
}

// imageEnv is the environment the image's config starts the process with,
// with docker's PATH when it sets none.
func imageEnv(cfg ocispec.ImageConfig) []string {
	env := slices.Clone(cfg.Env)
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// imageAnnotations records what of the image's config the runtime reads
// later, under the names of the OCI image spec's conversion.md: the
// signal stop sends, and the ports the image declares (for the network).
func imageAnnotations(spec *specs.Spec, cfg ocispec.ImageConfig) {
	set := func(k, v string) {
		if spec.Annotations == nil {
			spec.Annotations = map[string]string{}
		}
		spec.Annotations[k] = v
	}
	if cfg.StopSignal != "" {
		set(sandbox.AnnotationStopSignal, cfg.StopSignal)
	}
	if ports := imagePorts(cfg); len(ports) > 0 {
		set(sandbox.AnnotationExposedPorts, strings.Join(ports, ","))
	}
}

// imagePorts are the ports the image exposes ("8080/tcp"), sorted.
func imagePorts(cfg ocispec.ImageConfig) []string {
	ports := make([]string, 0, len(cfg.ExposedPorts))
	for p := range cfg.ExposedPorts {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	return ports
}

// prepare gives container id its own layer over the image (nothing for
// a plain directory), saying once when it is a copy. The store's side of
// it (the in-use mark, the directories) runs in the background while the
// container is made: wait returns once it is done, and must have returned
// before the init may mount the layer (run waits in AfterClone) and before
// a failed container's layer is released.
func (src *runSource) prepare(g *globals, id string, spec *specs.Spec, warned *bool) (r *sandbox.ImageRootfs, wait func() error, err error) {
	if src.img == nil {
		return nil, func() error { return nil }, nil
	}
	p, err := imagefs.Plan(src.store, string(src.img.ID), id, spec)
	if err != nil {
		return nil, nil, err
	}
	p.Rootfs.Name = src.name
	if p.Warning != "" && !*warned {
		fmt.Fprintln(g.stderr, p.Warning)
		*warned = true
	}
	done := make(chan struct{})
	var made error
	go func() {
		made = p.Make()
		sandbox.Tracef("run: image root filesystem prepared")
		close(done)
	}()
	return p.Rootfs, func() error { <-done; return made }, nil
}

// afterClone runs first and then wait, as one AfterClone.
func afterClone(first func(int) error, wait func() error) func(int) error {
	return func(pid int) error {
		if first != nil {
			if err := first(pid); err != nil {
				return err
			}
		}
		return wait()
	}
}

// builtinRootfs returns the built-in root filesystem's directory and its
// manifest header, building it first when it is missing or holds another
// stepbox than this one.
func builtinRootfs(g *globals, p sandbox.Paths) (string, *builtinfs.Manifest, error) {
	dir := defaultRootfsDir(p)
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	m, err := builtinfs.Default(dir, self, builtinfs.BuildOptions{})
	if err != nil {
		return "", nil, hint.With(fmt.Errorf("build the default root filesystem at %s: %w", dir, err),
			"see 'stepbox rootfs', or give your own with --rootfs DIR")
	}
	return dir, m, nil
}
