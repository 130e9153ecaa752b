package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/sandbox/image"
)

func init() {
	register("images", func(g *globals) *cobra.Command { return newImagesCmd(g, "images") })
	register("image", newImageCmd)
	register("history", func(g *globals) *cobra.Command { return newHistoryCmd(g, "history") })
	register("tag", func(g *globals) *cobra.Command { return newTagCmd(g, "tag") })
	register("rmi", func(g *globals) *cobra.Command { return newRmiCmd(g, "rmi") })
	register("load", func(g *globals) *cobra.Command { return newLoadCmd(g, "load") })
	register("save", func(g *globals) *cobra.Command { return newSaveCmd(g, "save") })
	register("import", func(g *globals) *cobra.Command { return newImportCmd(g, "import") })
}

// imageStore opens the image store under the state root's Lib.
func imageStore(g *globals) (*image.Store, error) {
	return image.Open(filepath.Join(runPaths(g).Lib, "images"))
}

// newImageCmd is `stepbox image …`, docker's management command: the same
// commands under the names docker gives them there.
func newImageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images (ls, inspect, history, tag, rm, prune, load, save, import, pull, push)",
		Long: `Manage the image store: the same commands as images, history, tag, rmi,
load, save, import, pull and push, under docker's "image" names.

이미지 저장소를 다룹니다. images, history, tag, rmi, load, save, import, pull, push와 같은
명령을 docker의 "image" 하위 명령 이름으로 씁니다.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImagesCmd(g, "ls"), newImageInspectCmd(g), newHistoryCmd(g, "history"),
		newTagCmd(g, "tag"), newRmiCmd(g, "rm"), newPruneCmd(g), newLoadCmd(g, "load"),
		newSaveCmd(g, "save"), newImportCmd(g, "import"), newPullCmd(g, "pull"), newPushCmd(g, "push"), newBuildCmd(g))
	return cmd
}

func newImagesCmd(g *globals, use string) *cobra.Command {
	var all, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   use,
		Short: "List images",
		Long: `List the images in the store: repository, tag, ID (the first 12 hex digits of
the SHA-256 of its config), when it was made, and the size of its files.

An image is a directory of the files a program needs, written out as tar
files stacked in layers; 'stepbox image inspect' shows where each layer is
unpacked on disk.

저장소의 이미지를 보여 줍니다. 이미지는 프로그램에 필요한 파일을 모은 디렉터리를
tar 파일로 묶어 층(레이어)으로 쌓은 것입니다. 각 레이어가 디스크 어디에 풀려 있는지는
'stepbox image inspect'로 볼 수 있습니다.`,
		Example: "  stepbox images\n  stepbox images -q\n  stepbox images --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "" && format != "json" && format != "table" {
				return usagef("unknown --format %q: use table or json", format)
			}
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			imgs, err := s.List()
			if err != nil {
				return err
			}
			if !all {
				// A build's intermediate images (one per step, its cache)
				// show only with -a, as docker's.
				imgs = slices.DeleteFunc(imgs, func(i *image.Image) bool { return i.Intermediate })
			}
			if quiet {
				for _, img := range imgs {
					fmt.Fprintln(g.stdout, image.ShortID(img.ID))
				}
				return nil
			}
			type row struct{ repo, tag string }
			rows := func(img *image.Image) []row {
				if len(img.Tags) == 0 {
					return []row{{"<none>", "<none>"}}
				}
				var out []row
				for _, t := range img.Tags {
					r, tag := image.SplitRef(t)
					out = append(out, row{r, tag})
				}
				return out
			}
			if format == "json" {
				enc := json.NewEncoder(g.stdout)
				for _, img := range imgs {
					for _, r := range rows(img) {
						if err := enc.Encode(map[string]any{
							"ID": image.ShortID(img.ID), "Repository": r.repo, "Tag": r.tag,
							"CreatedAt": img.Created().Format(time.RFC3339), "CreatedSince": since(img.Created()),
							"Size": humanSize(img.Size), "VirtualSize": img.Size, "Containers": len(img.UsedBy),
						}); err != nil {
							return err
						}
					}
				}
				return nil
			}
			t := ui.Table{Header: []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}, Gap: 3, Style: g.Style()}
			for _, img := range imgs {
				for _, r := range rows(img) {
					t.Add(r.repo, r.tag, image.ShortID(img.ID), since(img.Created()), humanSize(img.Size))
				}
			}
			return t.Render(g.stdout)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all images, a build's intermediate ones (its cache) too")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print image IDs only")
	cmd.Flags().StringVar(&format, "format", "", "json: one JSON object a line")
	return cmd
}

// since says how long ago t was, as docker does ("3 days ago").
func since(t time.Time) string {
	d := time.Since(t)
	unit := func(n int, s string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s ago", n, s)
		}
		return fmt.Sprintf("%d %ss ago", n, s)
	}
	switch {
	case d < time.Minute:
		return "Less than a minute ago"
	case d < time.Hour:
		return unit(int(d.Minutes()), "minute")
	case d < 48*time.Hour:
		return unit(int(d.Hours()), "hour")
	case d < 14*24*time.Hour:
		return unit(int(d.Hours()/24), "day")
	case d < 60*24*time.Hour:
		return unit(int(d.Hours()/24/7), "week")
	case d < 2*365*24*time.Hour:
		return unit(int(d.Hours()/24/30), "month")
	}
	return unit(int(d.Hours()/24/365), "year")
}

// humanSize prints bytes in docker's decimal units ("7.8MB").
func humanSize(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if f < 1000 {
			if u == "B" {
				return fmt.Sprintf("%dB", n)
			}
			return fmt.Sprintf("%.3g%s", f, u)
		}
		f /= 1000
	}
	return fmt.Sprintf("%.3gPB", f)
}

// inspectedImage is `image inspect`'s JSON for one image: docker's fields,
// and where the store keeps each layer.
type inspectedImage struct {
	ID           string           `json:"Id"`
	RepoTags     []string         `json:"RepoTags"`
	RepoDigests  []string         `json:"RepoDigests"`
	Manifest     string           `json:"Manifest"`
	Created      time.Time        `json:"Created"`
	Author       string           `json:"Author,omitempty"`
	Architecture string           `json:"Architecture"`
	Os           string           `json:"Os"`
	Config       any              `json:"Config"`
	Size         int64            `json:"Size"`
	RootFS       any              `json:"RootFS"`
	Layers       []inspectedLayer `json:"Layers"`
	History      any              `json:"History,omitempty"`
	Containers   []string         `json:"Containers"`
}

type inspectedLayer struct {
	Digest    string `json:"Digest"`
	DiffID    string `json:"DiffID"`
	MediaType string `json:"MediaType"`
	Size      int64  `json:"Size"`
	Blob      string `json:"Blob"`
	Dir       string `json:"Dir"`
}

func newImageInspectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect IMAGE...",
		Short: "Show images as JSON",
		Long: `Show each image as JSON: its config (Env, Cmd, Entrypoint, WorkingDir, User,
ExposedPorts, …), its layers with the blob file and the directory each is
unpacked into, its history and the containers that use it.

이미지를 JSON으로 보여 줍니다. 설정(Env, Cmd 등), 레이어마다 tar 파일(blob)과 풀려
있는 디렉터리, 이력, 그 이미지를 쓰는 컨테이너가 나옵니다.`,
		Example: "  stepbox image inspect busybox\n  stepbox image inspect 3f57d9401f8d",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			var out []inspectedImage
			for _, ref := range args {
				img, err := s.Get(ref)
				if err != nil {
					return err
				}
				layers := s.Layers(img)
				in := inspectedImage{ID: string(img.ID), RepoTags: img.Tags, Manifest: string(img.ManifestDigest),
					Created: img.Created(), Author: img.Config.Author, Architecture: img.Config.Architecture,
					Os: img.Config.OS, Config: img.Config.Config, Size: img.Size, RootFS: img.Config.RootFS,
					History: img.Config.History, Containers: img.UsedBy}
				if in.RepoTags == nil {
					in.RepoTags = []string{}
				}
				in.RepoDigests = img.RepoDigests
				if in.RepoDigests == nil {
					in.RepoDigests = []string{}
				}
				if in.Containers == nil {
					in.Containers = []string{}
				}
				for _, l := range layers {
					in.Layers = append(in.Layers, inspectedLayer{Digest: string(l.Digest), DiffID: string(l.DiffID),
						MediaType: l.MediaType, Size: l.Size, Blob: l.Blob, Dir: l.Dir})
				}
				out = append(out, in)
			}
			enc := json.NewEncoder(g.stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(out)
		},
	}
}

func newHistoryCmd(g *globals, use string) *cobra.Command {
	var noTrunc, quiet bool
	cmd := &cobra.Command{
		Use:   use + " IMAGE",
		Short: "Show how an image was made, layer by layer",
		Long: `Show the history of an image, newest first: when each step was made, by
what, and how much its layer holds (0B for a step that only changed the
config).

이미지가 만들어진 과정을 최근 것부터 보여 줍니다. 각 단계가 언제, 무엇으로 만들어졌고
그 레이어에 얼마나 들어 있는지 나옵니다(설정만 바꾼 단계는 0B).`,
		Example: "  stepbox history busybox",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			img, err := s.Get(args[0])
			if err != nil {
				return err
			}
			hist := s.History(img)
			if quiet {
				fmt.Fprintln(g.stdout, image.ShortID(img.ID))
				return nil
			}
			t := ui.Table{Header: []string{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}, Gap: 3, Style: g.Style()}
			for i, h := range hist {
				id := "<missing>"
				if i == 0 {
					id = image.ShortID(img.ID)
				}
				by := strings.ReplaceAll(h.CreatedBy, "\n", " ")
				if !noTrunc && len([]rune(by)) > 45 {
					by = string([]rune(by)[:44]) + "…"
				}
				created := "<unknown>"
				if !h.Created.IsZero() {
					created = since(h.Created)
				}
				t.Add(id, created, by, humanSize(h.Size), h.Comment)
			}
			return t.Render(g.stdout)
		},
	}
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not shorten the CREATED BY column")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print the image ID only")
	return cmd
}

func newTagCmd(g *globals, use string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " SOURCE TARGET",
		Short: "Give an image another name",
		Long: `Give the image SOURCE (a name or an ID) the name TARGET (NAME[:TAG], ":latest"
when no tag is given). A tag already on another image moves to this one.

이미지 SOURCE에 TARGET이라는 이름(NAME[:TAG])을 하나 더 붙입니다.`,
		Example: "  stepbox tag busybox course/box:v1",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			return s.Tag(args[0], args[1])
		},
	}
}

func newRmiCmd(g *globals, use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   use + " IMAGE...",
		Short: "Remove images",
		Long: `Remove images. A name of an image with other names is only untagged; the
image itself goes with its last name, with the layers no other image needs.
An image a container uses is not removed; with -f it loses its names and
stays for the container.

이미지를 지웁니다. 이름이 여럿이면 그 이름만 떼고, 마지막 이름과 함께 이미지와 다른
이미지가 쓰지 않는 레이어가 지워집니다. 컨테이너가 쓰는 이미지는 지우지 않으며, -f를
주면 이름만 떼고 컨테이너를 위해 남겨 둡니다.`,
		Example: "  stepbox rmi course/box:v1\n  stepbox rmi -f 3f57d9401f8d",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				r, err := s.Remove(ref, force)
				if r != nil {
					for _, l := range r.Lines() {
						fmt.Fprintln(g.stdout, l)
					}
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "untag an image in use (it stays for its containers), or remove an image with several tags by ID")
	return cmd
}

func newPruneCmd(g *globals) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove unused images and layers",
		Long: `Remove dangling images (no name, no container), or with -a every image no
container uses, and every blob and unpacked layer that no image needs.

이름도 없고 컨테이너도 쓰지 않는 이미지(-a를 주면 컨테이너가 쓰지 않는 모든 이미지)와
어떤 이미지도 쓰지 않는 blob과 레이어를 지웁니다.`,
		Example: "  stepbox image prune -f\n  stepbox image prune -a -f",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				if _, ok := terminal(g.stdin); ok {
					what := "all dangling images"
					if all {
						what = "all images without at least one container associated to them"
					}
					fmt.Fprintf(g.stdout, "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what)
					line, _ := bufio.NewReader(g.stdin).ReadString('\n')
					if a := strings.TrimSpace(strings.ToLower(line)); a != "y" && a != "yes" {
						return nil
					}
				}
			}
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			r, err := s.Prune(all)
			if err != nil {
				return err
			}
			if lines := r.Lines(); len(lines) > 0 {
				fmt.Fprintln(g.stdout, "Deleted Images:")
				for _, l := range lines {
					fmt.Fprintln(g.stdout, strings.ToLower(l[:1])+l[1:])
				}
				fmt.Fprintln(g.stdout)
			}
			fmt.Fprintf(g.stdout, "Total reclaimed space: %s\n", humanSize(r.Reclaimed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every image no container uses, not only dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}
