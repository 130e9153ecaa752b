package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/image"
)

// progress draws one updating line on standard error when it is a
// terminal, and nothing otherwise (a pipe, a file, a CI log).
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	verb  string
	last  time.Time
	drawn bool
	ended bool // the last byte was drawn
}

func newProgress(g *globals, verb string, quiet bool) *progress {
	f, ok := terminal(g.stderr)
	if quiet || !ok {
		return nil
	}
	return &progress{w: f, verb: verb}
}

// report is the callback for image.LoadOptions and SaveOptions; nil when
// nothing is drawn.
func (p *progress) report() func(image.Progress) {
	if p == nil {
		return nil
	}
	return func(u image.Progress) {
		p.mu.Lock()
		defer p.mu.Unlock()
		end := u.Bytes == u.Total && !p.ended
		if time.Since(p.last) < 100*time.Millisecond && !end {
			return
		}
		p.ended = p.ended || end
		p.last = time.Now()
		layer := ""
		if u.Layers > 0 {
			layer = fmt.Sprintf(" layer %d/%d", u.Layer, u.Layers)
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s%s  %s / %s", p.verb, layer, humanSize(u.Bytes), humanSize(u.Total))
		p.drawn = true
	}
}

func (p *progress) done() {
	if p != nil && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

func newLoadCmd(g *globals, use string) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   use,
		Short: "Load images from a docker-save or OCI archive",
		Long: `Load the images of an archive made by 'docker save', 'stepbox save',
'skopeo copy … docker-archive:' or '… oci-archive:' (gzip, zstd or plain),
or of an OCI image layout directory, from -i FILE or standard input. Every
layer is checked against its digests and unpacked by stepbox's own
extractor, which refuses names that leave the layer (../x, /etc/x, a write
through a symlink, a link out of it): such an archive loads nothing.

docker save, skopeo 등이 만든 이미지 묶음(tar, gzip/zstd 가능)이나 OCI 이미지
레이아웃 디렉터리에서 이미지를 불러옵니다. 레이어마다 digest를 확인하고, 레이어 밖을
가리키는 이름(../x, /etc/x, 심볼릭 링크를 거친 쓰기)이 있으면 아무것도 들이지 않습니다.`,
		Example: "  stepbox load -i busybox.tar\n  docker save alpine | stepbox load\n  stepbox load -i ./oci-layout-dir",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			p := newProgress(g, "Loading", quiet)
			opts := image.LoadOptions{Progress: p.report()}
			var loaded []image.Loaded
			if input == "" || input == "-" {
				if _, ok := terminal(g.stdin); ok {
					return usagef("no archive: give -i FILE or pipe one in")
				}
				loaded, err = s.Load(g.stdin, opts)
				if err != nil {
					err = fmt.Errorf("load from standard input: %w", err)
				}
			} else {
				loaded, err = s.LoadPath(input, opts)
			}
			p.done()
			for _, l := range loaded {
				if len(l.Tags) == 0 {
					fmt.Fprintf(g.stdout, "Loaded image ID: %s\n", l.ID)
				}
				for _, t := range l.Tags {
					fmt.Fprintf(g.stdout, "Loaded image: %s\n", t)
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from this file or OCI layout directory instead of standard input")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress")
	return cmd
}

func newSaveCmd(g *globals, use string) *cobra.Command {
	var output, format string
	cmd := &cobra.Command{
		Use:   use + " IMAGE...",
		Short: "Save images to a tar archive (docker-save or OCI layout)",
		Long: `Write one or more images to a tar archive, in docker save's format (the
default, which 'docker load' and 'skopeo … docker-archive:' read) or with
--format oci as an OCI image layout ('skopeo … oci-archive:', umoci,
podman). The archive is made beside -o FILE and renamed onto it when whole.

이미지를 tar 묶음으로 저장합니다. 기본은 docker save 형식이고, --format oci를 주면 OCI
이미지 레이아웃 형식입니다. 파일은 다 쓴 뒤에야 -o FILE 이름으로 바뀝니다.`,
		Example: "  stepbox save -o box.tar course/box:v1\n  stepbox save --format oci -o box-oci.tar course/box:v1 busybox",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := image.Format(format)
			if f != image.FormatDocker && f != image.FormatOCI {
				return usagef("unknown --format %q: use docker or oci", format)
			}
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			p := newProgress(g, "Saving", false)
			opts := image.SaveOptions{Format: f, Progress: p.report()}
			if output == "" || output == "-" {
				if _, ok := terminal(g.stdout); ok {
					return usagef("refusing to write an archive to a terminal: give -o FILE or redirect the output")
				}
				err = s.Save(g.stdout, args, opts)
				p.done()
				return err
			}
			err = writeAtomic(output, func(w io.Writer) error { return s.Save(w, args, opts) })
			p.done()
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&format, "format", "docker", "docker (docker save's format) or oci (an OCI image layout)")
	return cmd
}

func newImportCmd(g *globals, use string) *cobra.Command {
	var changes []string
	var message string
	cmd := &cobra.Command{
		Use:   use + " FILE|- [NAME[:TAG]]",
		Short: "Make a one-layer image from a filesystem tar",
		Long: `Make an image of one layer from a tar of a whole filesystem (what
'docker export' or 'tar -C DIR -c .' writes; gzip, zstd or plain), read
from FILE or standard input (-), and name it NAME[:TAG]. --change sets the
image's config with Dockerfile instructions (CMD, ENTRYPOINT, ENV, EXPOSE,
LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR).

파일 시스템 전체를 묶은 tar(docker export나 'tar -C DIR -c .'의 결과)로 레이어 하나짜리
이미지를 만듭니다. --change로 CMD, ENV 같은 설정을 줄 수 있습니다.`,
		Example: "  stepbox import rootfs.tar course/base:v1\n  tar -C rootfs -c . | stepbox import - course/base --change 'CMD [\"/bin/sh\"]'",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := &ocispec.ImageConfig{}
			for _, c := range changes {
				if err := image.ApplyChange(cfg, c); err != nil {
					return usageError{err}
				}
			}
			ref, err := refArg(args, 1)
			if err != nil {
				return err
			}
			var in io.Reader = g.stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return hint.With(fmt.Errorf("import %s: %w", args[0], err), "give a tar file, or - for standard input")
				}
				defer f.Close()
				in = f
			} else if _, ok := terminal(g.stdin); ok {
				return usagef("import -: standard input is a terminal: pipe a tar in")
			}
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			by := "stepbox import " + args[0]
			if len(changes) > 0 {
				by += " --change " + strings.Join(changes, " --change ")
			}
			img, err := s.ImportTar(in, ref, image.ImportOptions{Config: cfg, CreatedBy: by, Comment: message})
			if err != nil {
				return hint.With(fmt.Errorf("import %s: %w", args[0], err), "give a tar of a filesystem with relative names (tar -C DIR -c .)")
			}
			fmt.Fprintln(g.stdout, img.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "a Dockerfile instruction for the image's config (repeatable)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "a comment for the image's history")
	return cmd
}
