package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/build"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

func init() { register("build", newBuildCmd) }

type buildOptions struct {
	tags      []string
	file      string
	buildArgs []string
	noCache   bool
	target    string
	progress  string
	network   string
	quiet     bool
}

func newBuildCmd(g *globals) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build [flags] CONTEXT",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from the Dockerfile in CONTEXT (or -f FILE), with stepbox's own
parser and runtime, one image per step as docker's classic builder makes them:
RUN runs in a real container on the step before (no network unless --network
host), and what it wrote becomes the step's layer; COPY and ADD copy from the
context (.dockerignore applies) or, with --from, from an earlier stage or an
image; the other instructions change only the config. A step whose
instruction, base and copied files are unchanged is taken from the cache
(CACHED) and gives the same image; --no-cache builds every step again.

FROM names an image in the store, scratch, or stepbox-builtin (the built-in
image); stepbox build does not pull. HEALTHCHECK, ONBUILD, MAINTAINER and
ADD of a URL are refused with the line they are on.

Dockerfile로 이미지를 빌드합니다. stepbox 자체 파서와 런타임으로, docker의 예전 빌더처럼 단계마다
이미지를 하나씩 만듭니다. RUN은 이전 단계 위의 실제 컨테이너에서 실행되고(--network host가
아니면 네트워크 없음) 그 컨테이너가 쓴 것이 그 단계의 레이어가 됩니다. COPY와 ADD는 컨텍스트
(.dockerignore 적용)나 --from의 앞선 스테이지, 이미지에서 복사합니다. 명령, 바탕 이미지, 복사한
파일이 그대로인 단계는 캐시에서 가져오고(CACHED) 같은 이미지가 됩니다. --no-cache는 모든 단계를
다시 빌드합니다.`,
		Example: `  stepbox build -t hello:v1 .
  stepbox build -t app --build-arg VERSION=2 -f build/Dockerfile .
  stepbox build --target build --no-cache -t app:build .
  stepbox history hello:v1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.tags, "tag", "t", nil, "name and tag the image NAME[:TAG] (more than once for several)")
	f.StringVarP(&o.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile; - reads it from standard input)")
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "set an ARG: KEY=VALUE (KEY alone takes it from the environment)")
	f.BoolVar(&o.noCache, "no-cache", false, "build every step again, the cache unused")
	f.StringVar(&o.target, "target", "", "build the stage of this name (AS NAME) and the ones it needs, not the last")
	f.StringVar(&o.progress, "progress", "auto", "auto, plain (one line a step, the RUN output as it comes) or quiet")
	f.StringVar(&o.network, "network", "none", "none (RUN has only lo) or host (RUN uses the host's network)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image ID (same as --progress quiet)")
	return cmd
}

func runBuild(g *globals, o *buildOptions, ctxDir string) error {
	lang, err := g.Lang()
	if err != nil {
		return err
	}
	switch o.progress {
	case "auto", "plain", "tty":
	case "quiet":
		o.quiet = true
	default:
		return usagef("unknown --progress %q: use auto, plain or quiet", o.progress)
	}
	if o.network != "none" && o.network != "host" && o.network != "default" {
		return usagef("unknown --network %q: a build uses none or host", o.network)
	}
	args := map[string]string{}
	for _, a := range o.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return usagef("--build-arg %q: use KEY=VALUE", a)
		}
		if !ok {
			var set bool
			if v, set = os.LookupEnv(k); !set {
				continue // docker: KEY alone and not in the environment is unset
			}
		}
		args[k] = v
	}
	abs, err := filepath.Abs(ctxDir)
	if err != nil {
		return err
	}
	file := o.file
	if file == "-" {
		return usagef("-f - (a Dockerfile from standard input) is not supported: give a file")
	}
	if file != "" {
		if file, err = filepath.Abs(file); err != nil {
			return err
		}
	}
	s, err := imageStore(g)
	if err != nil {
		return err
	}
	paths := runPaths(g)
	// Ctrl-C or a TERM stops the RUN in progress; the build then removes
	// its container and staging files before it exits.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	out, warn := g.stdout, g.stderr
	var onStep func(int, int, string)
	if status := newBuildStatus(g, o.progress, o.quiet); status != nil {
		defer status.done()
		out, warn, onStep = status.writer(out), status.writer(warn), status.step
	}
	_, err = build.Build(ctx, build.Options{
		Store: s, Paths: paths, Context: abs, Dockerfile: file, Tags: o.tags, BuildArgs: args,
		NoCache: o.noCache, Target: o.target, HostNetwork: o.network == "host",
		Out: out, Warn: warn, Quiet: o.quiet, Lang: lang, Step: onStep,
		Builtin: func() (*image.Image, error) {
			dir, m, err := builtinRootfs(g, paths)
			if err != nil {
				return nil, err
			}
			return imagefs.Builtin(s, dir, m)
		},
	})
	if err != nil {
		var be *build.Error
		if errors.As(err, &be) {
			return errors.New(be.In(lang))
		}
		if errors.Is(err, context.Canceled) {
			return hint.With(errors.New("build stopped: nothing of the unfinished step is left"), "the steps done before stay in the cache")
		}
		return err
	}
	return nil
}
