// Package build builds images from a Dockerfile with stepbox's own
// runtime and image store: parse.go reads the Dockerfile (our own parser,
// not buildkit's), expand.go substitutes variables as docker's shell
// lexer does, and the builder runs each instruction as docker's classic
// builder does: every step is an image in the store, RUN runs in a real
// container on the step before (its overlay upper directory becomes the
// step's layer), COPY and ADD lay the files out in a directory that
// becomes the layer, and the rest change only the config (an
// empty_layer history entry). A step whose cache key (the image it runs
// on, its instruction after expansion, and for COPY and ADD the content
// of what they copy) names an image made before is that image (CACHED).
package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

// BuiltinName is what FROM names the built-in image by.
const BuiltinName = "stepbox-builtin"

// Options are a build's inputs.
type Options struct {
	Store *image.Store
	Paths sandbox.Paths
	// Context is the build context's directory; Dockerfile its
	// Dockerfile (Context/Dockerfile when empty).
	Context, Dockerfile string
	Tags                []string
	BuildArgs           map[string]string
	NoCache             bool
	// Target is the stage to build (the last when empty).
	Target string
	// HostNetwork runs RUN in the host's network namespace; by default
	// RUN has a network namespace of its own with only lo.
	HostNetwork bool
	// Out gets the steps, RUN's output and the result; Quiet leaves only
	// warnings out of it.
	Out   io.Writer
	Quiet bool
	// Warn gets the warnings, one line each (Out when nil).
	Warn io.Writer
	// Step, when set, is told of each step as it begins (a terminal's
	// progress line).
	Step func(n, total int, instruction string)
	Lang i18n.Lang
	// Builtin gives the built-in image (FROM stepbox-builtin), made or
	// brought up to date first.
	Builtin func() (*image.Image, error)
}

// Result is what a build made.
type Result struct {
	Image  *image.Image
	Steps  int // steps run or found in the cache
	Cached int
}

// builder is one build.
type builder struct {
	o       Options
	df      *Dockerfile
	file    string
	ignore  *ignorer
	work    string // Paths.Lib/build/<id>: files being laid out
	stages  map[int]*image.Image
	step    int
	total   int
	cached  int
	used    map[string]bool // build args some ARG declared
	metaEnv map[string]string
}

// stage is the state of the stage being built: its image so far, and
// what docker keeps beside the image (SHELL, the ARGs in scope).
type stage struct {
	img    *image.Image // nil for scratch before its first step
	cfg    ocispec.ImageConfig
	shell  []string
	args   []string // names, in order
	argVal map[string]string
	cmdSet bool
}

// Build builds o.Context with its Dockerfile and tags the result. On any
// error nothing it started is left (no container, no mount, no layer
// half-made, no staging directory); the steps it finished stay in the
// store as the cache. ctx stops a RUN in progress.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Warn == nil {
		o.Warn = o.Out
	}
	if o.Dockerfile == "" {
		o.Dockerfile = filepath.Join(o.Context, "Dockerfile")
	}
	if st, err := os.Stat(o.Context); err != nil || !st.IsDir() {
		return nil, &Error{Msg: i18n.T(fmt.Sprintf("the build context %s is not a directory", o.Context),
			fmt.Sprintf("빌드 컨텍스트 %s는 디렉터리가 아닙니다", o.Context))}
	}
	f, err := os.Open(o.Dockerfile)
	if err != nil {
		return nil, &Error{Msg: i18n.T("cannot read the Dockerfile: "+err.Error(), "Dockerfile을 읽을 수 없습니다: "+err.Error())}
	}
	df, err := Parse(f)
	f.Close()
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			pe.File = o.Dockerfile
		}
		return nil, err
	}
	for _, t := range o.Tags {
		if _, err := image.ParseRef(t); err != nil {
			return nil, err
		}
	}
	b := &builder{o: o, df: df, file: o.Dockerfile, stages: map[int]*image.Image{}, used: map[string]bool{}}
	for _, w := range df.Warnings {
		fmt.Fprintln(o.Warn, "stepbox: warning: "+w.In(o.Lang))
	}
	if b.ignore, err = readIgnore(o.Context); err != nil {
		return nil, b.errf(0, "read .dockerignore: %v", ".dockerignore를 읽을 수 없습니다: %v", err)
	}
	if err := b.metaArgs(); err != nil {
		return nil, err
	}
	order, err := b.plan()
	if err != nil {
		return nil, err
	}
	sweep(o.Paths)
	if b.work, err = newWorkDir(o.Paths); err != nil {
		return nil, err
	}
	defer os.RemoveAll(b.work)
	var last *image.Image
	for _, i := range order {
		if last, err = b.buildStage(ctx, &df.Stages[i]); err != nil {
			return nil, err
		}
		b.stages[i] = last
	}
	for k := range o.BuildArgs {
		if !b.used[k] {
			fmt.Fprintf(o.Warn, "%s\n", i18n.T("stepbox: warning: the build argument "+k+" was not consumed by any ARG",
				"stepbox: 경고: 빌드 인자 "+k+"를 받는 ARG가 없습니다").In(o.Lang))
		}
	}
	for _, t := range o.Tags {
		if err := o.Store.Tag(string(last.ID), t); err != nil {
			return nil, err
		}
	}
	if last, err = o.Store.Get(string(last.ID)); err != nil {
		return nil, err
	}
	if o.Quiet {
		fmt.Fprintln(o.Out, last.ID)
	} else {
		fmt.Fprintf(o.Out, "Successfully built %s\n", image.ShortID(last.ID))
		for _, t := range o.Tags {
			r, _ := image.ParseRef(t)
			fmt.Fprintf(o.Out, "Successfully tagged %s\n", r)
		}
	}
	return &Result{Image: last, Steps: b.step, Cached: b.cached}, nil
}

func (b *builder) errf(line int, en, ko string, a ...any) *Error {
	e := errAt(line, en, ko, a...)
	e.File = b.file
	return e
}

// metaArgs works out the ARGs before the first FROM.
func (b *builder) metaArgs() error {
	b.metaEnv = map[string]string{}
	lx := lexer{escape: b.df.Escape, lookup: func(k string) (string, bool) { v, ok := b.metaEnv[k]; return v, ok }}
	for _, in := range b.df.MetaArgs {
		kvs, err := keyValues(in.Rest, b.df.Escape, false)
		if err != nil {
			return b.errf(in.Line, "ARG: %v", "ARG: %v", err)
		}
		for _, kv := range kvs {
			v := kv[1]
			if bv, ok := b.o.BuildArgs[kv[0]]; ok {
				v = bv
				b.used[kv[0]] = true
			} else if v != "\x00" {
				if v, err = lx.word(v); err != nil {
					return b.errf(in.Line, "ARG: %v", "ARG: %v", err)
				}
			} else {
				v = ""
			}
			b.metaEnv[kv[0]] = v
		}
	}
	return nil
}

// fromRef is a stage's FROM image, with the ARGs before FROM expanded.
func (b *builder) fromRef(st *Stage) (string, error) {
	lx := lexer{escape: b.df.Escape, lookup: func(k string) (string, bool) { v, ok := b.metaEnv[k]; return v, ok }}
	f := strings.Fields(st.From.Rest)
	ref, err := lx.word(f[0])
	if err != nil || ref == "" {
		return "", b.errf(st.From.Line, "FROM %s: no image after expansion", "FROM %s: 치환하고 나니 이미지가 없습니다", f[0])
	}
	return ref, nil
}

// stageByName finds an earlier stage named (or numbered) ref.
func (b *builder) stageByName(ref string, before int) (int, bool) {
	for i := 0; i < before; i++ {
		if b.df.Stages[i].Name != "" && b.df.Stages[i].Name == strings.ToLower(ref) {
			return i, true
		}
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < before {
		return n, true
	}
	return 0, false
}

// plan lists the stages the target needs, in order (buildkit skips the
// others; docker's classic builder built them all).
func (b *builder) plan() ([]int, error) {
	target := len(b.df.Stages) - 1
	if b.o.Target != "" {
		i, ok := b.stageByName(b.o.Target, len(b.df.Stages))
		if !ok || b.df.Stages[i].Name == "" && b.o.Target != strconv.Itoa(i) {
			return nil, b.errf(0, "no stage named %q (--target)", "%q라는 스테이지가 없습니다(--target)", b.o.Target)
		}
		target = i
	}
	need := map[int]bool{}
	var visit func(i int) error
	visit = func(i int) error {
		if need[i] {
			return nil
		}
		need[i] = true
		st := &b.df.Stages[i]
		ref, err := b.fromRef(st)
		if err != nil {
			return err
		}
		if j, ok := b.stageByName(ref, i); ok {
			if err := visit(j); err != nil {
				return err
			}
		}
		for _, in := range st.Steps {
			if from, ok := in.Flag("from"); ok && in.Cmd == "COPY" {
				if j, ok := b.stageByName(from, i); ok {
					if err := visit(j); err != nil {
						return err
					}
				} else if b.stageNamedLater(from, i) {
					return b.errf(in.Line, "COPY --from=%s names a stage that comes later: a stage can copy only from stages before it",
						"COPY --from=%s는 뒤에 오는 스테이지입니다. 앞선 스테이지에서만 복사할 수 있습니다", from)
				}
			}
		}
		return nil
	}
	if err := visit(target); err != nil {
		return nil, err
	}
	var order []int
	for i := 0; i <= target; i++ {
		if need[i] {
			order = append(order, i)
			b.total += 1 + len(b.df.Stages[i].Steps)
		}
	}
	return order, nil
}

func (b *builder) stageNamedLater(ref string, i int) bool {
	for j := i; j < len(b.df.Stages); j++ {
		if b.df.Stages[j].Name == strings.ToLower(ref) {
			return true
		}
	}
	return false
}

// say prints a line of progress (not with Quiet).
func (b *builder) say(format string, a ...any) {
	if !b.o.Quiet {
		fmt.Fprintf(b.o.Out, format+"\n", a...)
	}
}

func (b *builder) header(in Instruction) {
	b.step++
	b.say("Step %d/%d : %s", b.step, b.total, in.Original())
	if b.o.Step != nil {
		b.o.Step(b.step, b.total, in.Original())
	}
}

// buildStage runs one stage's steps and returns its image.
func (b *builder) buildStage(ctx context.Context, st *Stage) (*image.Image, error) {
	b.header(st.From)
	ref, err := b.fromRef(st)
	if err != nil {
		return nil, err
	}
	s := &stage{shell: []string{"/bin/sh", "-c"}, argVal: map[string]string{}}
	switch {
	case strings.EqualFold(ref, "scratch"):
		b.say(" ---> scratch")
	default:
		if j, ok := b.stageByName(ref, st.Index); ok {
			s.img = b.stages[j]
		} else if s.img, err = b.baseImage(ref); err != nil {
			return nil, b.errf(st.From.Line, "FROM %s: %v", "FROM %s: %v", ref, err)
		}
		s.cfg = s.img.Config.Config
		b.say(" ---> %s", image.ShortID(s.img.ID))
	}
	// docker (and buildah) give a stage the default PATH when its image
	// sets none, first in Env; a later ENV PATH replaces it in place.
	if _, ok := envOf(s.cfg.Env, "PATH"); !ok {
		s.cfg = cloneConfig(s.cfg)
		s.cfg.Env = append([]string{"PATH=" + defaultPath}, s.cfg.Env...)
	}
	for _, in := range st.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b.header(in)
		if err := b.dispatch(ctx, s, st, in); err != nil {
			return nil, err
		}
	}
	if s.img == nil {
		// FROM scratch and nothing that made an image: an empty one.
		img, err := b.commit(s, in0(st), "", "", nil)
		if err != nil {
			return nil, err
		}
		s.img = img
	}
	return s.img, nil
}

func in0(st *Stage) Instruction { return st.From }

// baseImage finds FROM's image in the store; stepbox-builtin is the
// built-in image, made first when it must be.
func (b *builder) baseImage(ref string) (*image.Image, error) {
	if name, tag := image.SplitRef(ref); (name == BuiltinName || name == "docker.io/library/"+BuiltinName) && (tag == "" || tag == "latest") {
		if b.o.Builtin == nil {
			return nil, errors.New("no built-in image here")
		}
		return b.o.Builtin()
	}
	img, err := b.o.Store.Get(ref)
	if errors.Is(err, image.ErrNotFound) {
		return nil, fmt.Errorf("no image %s in the store: stepbox build does not pull; run 'stepbox pull %s' first, or use stepbox-builtin", ref, ref)
	}
	return img, err
}

// env is what $VAR expands to in the stage: its ARGs, and its ENV over
// them (docker's rule: ENV wins).
func (s *stage) lookup(k string) (string, bool) {
	for i := len(s.cfg.Env) - 1; i >= 0; i-- {
		if kk, v, _ := strings.Cut(s.cfg.Env[i], "="); kk == k {
			return v, true
		}
	}
	if slices.Contains(s.args, k) {
		return s.argVal[k], true
	}
	return "", false
}

func (b *builder) lexer(s *stage) lexer { return lexer{escape: b.df.Escape, lookup: s.lookup} }

// key is a step's cache key: the image it runs on, its instruction as it
// runs, and what else it depends on (the files COPY reads, the ARGs RUN
// gets as its environment).
func key(parent *image.Image, createdBy, extra string) string {
	h := sha256.New()
	if parent != nil {
		io.WriteString(h, string(parent.ID))
	} else {
		io.WriteString(h, "scratch")
	}
	fmt.Fprintf(h, "\x00%s\x00%s", createdBy, extra)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// cachedStep looks the step up; on a hit the stage goes on from the
// image found.
func (b *builder) cachedStep(s *stage, k string) bool {
	if b.o.NoCache {
		return false
	}
	img, err := b.o.Store.CachedStep(k)
	if err != nil || img == nil {
		return false
	}
	s.img, s.cfg = img, img.Config.Config
	b.cached++
	b.say(" ---> CACHED %s", image.ShortID(img.ID))
	return true
}

// commit makes the step's image from s's config and upper (none for a
// config-only step), unless the cache has it.
func (b *builder) commit(s *stage, in Instruction, createdBy, upper string, exclude []string) (*image.Image, error) {
	base := ""
	if s.img != nil {
		base = string(s.img.ID)
	}
	img, err := b.o.Store.AddStep(base, image.StepOptions{Config: s.cfg, CreatedBy: createdBy, Upper: upper, Exclude: exclude,
		Key: key(s.img, createdBy, "")})
	if err != nil {
		return nil, b.errf(in.Line, "%s: %v", "%s: %v", in.Cmd, err)
	}
	return img, nil
}

// configStep is a step that changes only the config: change s.cfg, then
// an image with an empty_layer history entry.
func (b *builder) configStep(s *stage, in Instruction, createdBy string, change func(*ocispec.ImageConfig) error) error {
	k := key(s.img, createdBy, "")
	if b.cachedStep(s, k) {
		return nil
	}
	start := time.Now()
	cfg := cloneConfig(s.cfg)
	if err := change(&cfg); err != nil {
		return b.errf(in.Line, "%s: %v", "%s: %v", in.Cmd, err)
	}
	s.cfg = cfg
	img, err := b.o.Store.AddStep(imageID(s.img), image.StepOptions{Config: s.cfg, CreatedBy: createdBy, Key: k})
	if err != nil {
		return b.errf(in.Line, "%s: %v", "%s: %v", in.Cmd, err)
	}
	s.img = img
	b.say(" ---> %s (%s)", image.ShortID(img.ID), since(start))
	return nil
}

func imageID(img *image.Image) string {
	if img == nil {
		return ""
	}
	return string(img.ID)
}

func since(t time.Time) string {
	return strconv.FormatFloat(time.Since(t).Seconds(), 'f', 2, 64) + "s"
}

func cloneConfig(c ocispec.ImageConfig) ocispec.ImageConfig {
	c.Env = slices.Clone(c.Env)
	c.Cmd = slices.Clone(c.Cmd)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	if c.Labels != nil {
		m := map[string]string{}
		for k, v := range c.Labels {
			m[k] = v
		}
		c.Labels = m
	}
	if c.ExposedPorts != nil {
		m := map[string]struct{}{}
		for k := range c.ExposedPorts {
			m[k] = struct{}{}
		}
		c.ExposedPorts = m
	}
	if c.Volumes != nil {
		m := map[string]struct{}{}
		for k := range c.Volumes {
			m[k] = struct{}{}
		}
		c.Volumes = m
	}
	return c
}

// dispatch runs one instruction of a stage.
func (b *builder) dispatch(ctx context.Context, s *stage, st *Stage, in Instruction) error {
	lx := b.lexer(s)
	bad := func(err error) error { return b.errf(in.Line, "%s: %v", "%s: %v", in.Cmd, err) }
	switch in.Cmd {
	case "ARG":
		kvs, err := keyValues(in.Rest, b.df.Escape, false)
		if err != nil {
			return bad(err)
		}
		for _, kv := range kvs {
			name, v := kv[0], kv[1]
			if bv, ok := b.o.BuildArgs[name]; ok {
				v = bv
			} else if v == "\x00" {
				v = b.metaEnv[name] // a global ARG's value, or empty
			} else if v, err = lx.word(v); err != nil {
				return bad(err)
			}
			b.used[name] = true
			if !slices.Contains(s.args, name) {
				s.args = append(s.args, name)
			}
			s.argVal[name] = v
		}
		b.say(" ---> %s", shortOr(s.img))
		return nil
	case "SHELL":
		s.shell = slices.Clone(in.List)
		b.say(" ---> %s", shortOr(s.img))
		return nil
	case "ENV":
		kvs, err := keyValues(in.Rest, b.df.Escape, true)
		if err != nil {
			return bad(err)
		}
		var parts []string
		env := slices.Clone(s.cfg.Env)
		for _, kv := range kvs {
			// Each value sees the ones before it on the same line (docker).
			look := lexer{escape: b.df.Escape, lookup: func(k string) (string, bool) {
				for i := len(env) - 1; i >= 0; i-- {
					if kk, v, _ := strings.Cut(env[i], "="); kk == k {
						return v, true
					}
				}
				return s.lookup(k)
			}}
			v, err := look.word(kv[1])
			if err != nil {
				return bad(err)
			}
			env = setEnv(env, kv[0], v)
			parts = append(parts, kv[0]+"="+v)
		}
		return b.configStep(s, in, "ENV "+strings.Join(parts, " "), func(c *ocispec.ImageConfig) error { c.Env = env; return nil })
	case "LABEL":
		kvs, err := keyValues(in.Rest, b.df.Escape, true)
		if err != nil {
			return bad(err)
		}
		labels := map[string]string{}
		var parts []string
		for _, kv := range kvs {
			k, err := lx.word(kv[0])
			if err != nil {
				return bad(err)
			}
			v, err := lx.word(kv[1])
			if err != nil {
				return bad(err)
			}
			labels[k] = v
			parts = append(parts, k+"="+v)
		}
		return b.configStep(s, in, "LABEL "+strings.Join(parts, " "), func(c *ocispec.ImageConfig) error {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for k, v := range labels {
				c.Labels[k] = v
			}
			return nil
		})
	case "EXPOSE":
		words, err := lx.words(in.Rest)
		if err != nil {
			return bad(err)
		}
		var ports []string
		for _, w := range words {
			p, err := port(w)
			if err != nil {
				return bad(err)
			}
			ports = append(ports, p)
		}
		return b.configStep(s, in, "EXPOSE "+strings.Join(ports, " "), func(c *ocispec.ImageConfig) error {
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				c.ExposedPorts[p] = struct{}{}
			}
			return nil
		})
	case "VOLUME":
		vols, err := b.list(lx, in)
		if err != nil {
			return bad(err)
		}
		for _, v := range vols {
			if v == "" {
				return bad(errors.New("a volume needs a path"))
			}
		}
		return b.configStep(s, in, "VOLUME "+jsonList(vols), func(c *ocispec.ImageConfig) error {
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			for _, v := range vols {
				c.Volumes[v] = struct{}{}
			}
			return nil
		})
	case "USER":
		u, err := lx.word(in.Rest)
		if err != nil {
			return bad(err)
		}
		return b.configStep(s, in, "USER "+u, func(c *ocispec.ImageConfig) error { c.User = u; return nil })
	case "STOPSIGNAL":
		sig, err := lx.word(in.Rest)
		if err != nil {
			return bad(err)
		}
		return b.configStep(s, in, "STOPSIGNAL "+sig, func(c *ocispec.ImageConfig) error { c.StopSignal = sig; return nil })
	case "CMD":
		cmd := b.command(s, in)
		s.cmdSet = true
		return b.configStep(s, in, "CMD "+jsonList(cmd), func(c *ocispec.ImageConfig) error { c.Cmd = cmd; return nil })
	case "ENTRYPOINT":
		ep := b.command(s, in)
		return b.configStep(s, in, "ENTRYPOINT "+jsonList(ep), func(c *ocispec.ImageConfig) error {
			c.Entrypoint = ep
			// docker: an ENTRYPOINT resets a CMD the base image set.
			if !s.cmdSet {
				c.Cmd = nil
			}
			return nil
		})
	case "WORKDIR":
		return b.workdir(s, in)
	case "RUN":
		return b.run(ctx, s, in)
	case "COPY", "ADD":
		return b.copy(s, st, in)
	}
	return b.errf(in.Line, "unknown instruction %s", "알 수 없는 명령 %s", in.Cmd)
}

func shortOr(img *image.Image) string {
	if img == nil {
		return "scratch"
	}
	return image.ShortID(img.ID)
}

// command is CMD's or ENTRYPOINT's argv: the JSON form as it is, the
// shell form through SHELL.
func (b *builder) command(s *stage, in Instruction) []string {
	if in.JSON {
		return slices.Clone(in.List)
	}
	return append(slices.Clone(s.shell), in.Rest)
}

// list is VOLUME's (or another list instruction's) words: the JSON form
// with each element expanded, or the shell form split.
func (b *builder) list(lx lexer, in Instruction) ([]string, error) {
	if !in.JSON {
		return lx.words(in.Rest)
	}
	var out []string
	for _, w := range in.List {
		v, err := lx.word(w)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func jsonList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// port is EXPOSE's word as the config keeps it ("80/tcp").
func port(w string) (string, error) {
	p, proto, ok := strings.Cut(w, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return "", fmt.Errorf("invalid protocol in %q", w)
	}
	lo, hi, _ := strings.Cut(p, "-")
	for _, n := range []string{lo, hi} {
		if n == "" && n == hi {
			continue
		}
		if v, err := strconv.Atoi(n); err != nil || v < 1 || v > 65535 {
			return "", fmt.Errorf("invalid port %q", w)
		}
	}
	return p + "/" + proto, nil
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if kk, _, _ := strings.Cut(kv, "="); kk == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// workdir sets WorkingDir, and makes the directory in a layer of its
// own when the image lacks it (docker: WORKDIR creates it even when no
// later instruction uses it).
func (b *builder) workdir(s *stage, in Instruction) error {
	w, err := b.lexer(s).word(in.Rest)
	if err != nil {
		return b.errf(in.Line, "WORKDIR: %v", "WORKDIR: %v", err)
	}
	if !path.IsAbs(w) {
		base := s.cfg.WorkingDir
		if base == "" {
			base = "/"
		}
		w = path.Join(base, w)
	}
	w = path.Clean(w)
	createdBy := "WORKDIR " + w
	k := key(s.img, createdBy, "")
	if b.cachedStep(s, k) {
		return nil
	}
	start := time.Now()
	s.cfg = cloneConfig(s.cfg)
	s.cfg.WorkingDir = w
	stage, err := b.stageDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	_, made, err := b.layDirs(s, stage, w, nil)
	if err != nil {
		return b.errf(in.Line, "WORKDIR: %v", "WORKDIR: %v", err)
	}
	upper := ""
	if made {
		upper = stage
	}
	img, err := b.o.Store.AddStep(imageID(s.img), image.StepOptions{Config: s.cfg, CreatedBy: createdBy, Upper: upper, Key: k})
	if err != nil {
		return b.errf(in.Line, "WORKDIR: %v", "WORKDIR: %v", err)
	}
	s.img = img
	b.say(" ---> %s (%s)", image.ShortID(img.ID), since(start))
	return nil
}

// lowers are the image's unpacked layers, top first.
func (b *builder) lowers(img *image.Image) ([]string, error) {
	if img == nil {
		return nil, nil
	}
	plan, err := b.o.Store.MountPlan(string(img.ID), image.IDMap{})
	if err != nil {
		return nil, err
	}
	return plan.Lower, nil
}

// view opens the image's files read-only (imagefs.View).
func (b *builder) view(img *image.Image) (string, func(), error) {
	l, err := b.lowers(img)
	if err != nil {
		return "", nil, err
	}
	return imagefs.View(l)
}

// sortedKeys is for stable output.
func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
