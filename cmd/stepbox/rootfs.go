package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

func init() { register("rootfs", newRootfsCmd) }

func defaultRootfsDir(p sandbox.Paths) string { return filepath.Join(p.Lib, "rootfs", "default") }

// defaultRootfs returns the built-in root filesystem, building it first
// when it is missing or holds another stepbox than this one.
func defaultRootfs(g *globals, p sandbox.Paths) (string, error) {
	dir, _, err := builtinRootfs(g, p)
	return dir, err
}

func newRootfsCmd(g *globals) *cobra.Command {
	var rebuild, verify, asJSON bool
	var source string
	cmd := &cobra.Command{
		Use:   "rootfs",
		Short: "Show (or rebuild) the built-in root filesystem",
		Long: `Show where the built-in root filesystem is and what it holds. It is built on
first use, with no download: from a static busybox if the host has one,
otherwise from the host's own shell and core tools with the libraries they
need; stepbox itself is /bin/stepbox inside. A manifest records every file
and its SHA-256.

An image is just "a directory of the files an application needs": this is
that directory.

내장 루트 파일 시스템의 위치와 내용을 보여 줍니다. 처음 쓸 때 내려받기 없이 만들어지며,
이미지는 결국 "애플리케이션에 필요한 파일을 모아 둔 디렉터리"라는 것을 직접 볼 수 있습니다.`,
		Example: `  stepbox rootfs
  stepbox rootfs --rebuild
  stepbox rootfs --rebuild --source host-tools
  stepbox rootfs --verify --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lang, _ := g.Lang()
			dir := defaultRootfsDir(runPaths(g))
			self, err := os.Executable()
			if err != nil {
				return err
			}
			opts := builtinfs.BuildOptions{Source: builtinfs.Source(source)}
			switch opts.Source {
			case "", builtinfs.SourceBusybox, builtinfs.SourceHostTools:
			default:
				return usagef("unknown --source %q: use %s or %s", source, builtinfs.SourceBusybox, builtinfs.SourceHostTools)
			}
			var m *builtinfs.Manifest
			switch {
			case rebuild:
				if m, err = builtinfs.Build(dir, self, opts); err == nil {
					// The built-in image follows its root filesystem.
					var s *image.Store
					if s, err = imageStore(g); err == nil {
						_, err = imagefs.Builtin(s, dir, m)
					}
				}
			case verify:
				if _, err = builtinfs.Default(dir, self, opts); err == nil {
					m, err = builtinfs.Verify(dir)
				}
			default:
				if _, err = builtinfs.Default(dir, self, opts); err == nil {
					m, err = builtinfs.ReadManifest(dir)
				}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, struct {
					Path string `json:"path"`
					*builtinfs.Manifest
				}{dir, m})
			}
			st := g.Style()
			var size int64
			dirs := map[string]int{}
			for _, f := range m.Files {
				size += f.Size
				top := strings.SplitN(strings.TrimPrefix(f.Path, "/"), "/", 2)[0]
				dirs["/"+top]++
			}
			fmt.Fprintf(g.stdout, "%s %s\n", st.Bold(i18n.T("Root filesystem:", "루트 파일 시스템:").In(lang)), dir)
			fmt.Fprintf(g.stdout, "  %s %s\n", i18n.T("made from:", "만든 재료:").In(lang), m.Source)
			fmt.Fprintf(g.stdout, "  %s %s\n", i18n.T("built:    ", "만든 시각:").In(lang), m.Built.Local().Format("2006-01-02 15:04:05"))
			fmt.Fprintf(g.stdout, "  %s %d, %.1f MiB\n", i18n.T("entries:  ", "항목 수:  ").In(lang), m.Count, float64(size)/(1<<20))
			if verify {
				fmt.Fprintf(g.stdout, "  %s\n", st.Good(i18n.T("✓ every file matches its SHA-256 in the manifest", "✓ 모든 파일이 매니페스트의 SHA-256과 일치합니다").In(lang)))
			}
			var tops []string
			for d := range dirs {
				tops = append(tops, d)
			}
			sort.Strings(tops)
			fmt.Fprintf(g.stdout, "  %s", i18n.T("top level:", "최상위:  ").In(lang))
			for _, d := range tops {
				fmt.Fprintf(g.stdout, " %s(%d)", d, dirs[d])
			}
			fmt.Fprintf(g.stdout, "\n  %s %s\n", i18n.T("manifest: ", "매니페스트:").In(lang), filepath.Join(dir, builtinfs.ManifestName))
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&rebuild, "rebuild", false, "build it anew")
	f.BoolVar(&verify, "verify", false, "check every file against the manifest's SHA-256")
	f.StringVar(&source, "source", "", "with --rebuild: busybox-static or host-tools (default: busybox when the host has a static one)")
	f.BoolVar(&asJSON, "json", false, "print the manifest as JSON")
	return cmd
}
