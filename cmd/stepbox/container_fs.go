package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

// What a container did to its files: export, commit and diff, as docker
// has them. Each reads the container's own layer (its overlayfs upper
// directory in the image store) beside its image's layers (imagefs).

func init() {
	register("export", newExportCmd)
	register("commit", newCommitCmd)
	register("diff", newDiffCmd)
}

// findOne finds the one container a command names.
func findOne(g *globals, ref string) (*sandbox.Container, error) {
	return sandbox.Find(runPaths(g), ref)
}

func newExportCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [-o FILE] CONTAINER",
		Short: "Write a container's files as one flat tar",
		Long: `Write a container's whole filesystem, its image's files with its own changes
on top, as one flat tar (no layers, no config), as docker export does: what
'stepbox import' makes an image of again. What the container mounts (/proc,
volumes) is not in it. The container may be running or stopped.

컨테이너의 파일 시스템 전체(이미지의 파일 위에 컨테이너가 바꾼 것을 얹은 모습)를 레이어 없는
tar 하나로 씁니다(docker export와 같음). 'stepbox import'로 다시 이미지를 만들 수 있습니다.`,
		Example: "  stepbox export -o web.tar web\n  stepbox export web | tar -t | head",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("export"); err != nil {
				return err
			}
			c, err := findOne(g, args[0])
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				if _, ok := terminal(g.stdout); ok {
					return usagef("refusing to write a tar to a terminal: give -o FILE or redirect the output")
				}
				return imagefs.Export(c.State(), g.stdout)
			}
			return writeAtomic(output, func(w io.Writer) error { return imagefs.Export(c.State(), w) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

// writeAtomic writes a file beside path and renames it onto path when
// whole, so a failure leaves no half file under the name asked for.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	err = write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newCommitCmd(g *globals) *cobra.Command {
	var changes []string
	var message, author string
	var pause bool
	cmd := &cobra.Command{
		Use:   "commit [-c CHANGE] [-m MSG] [-a AUTHOR] [--pause=false] CONTAINER [NAME[:TAG]]",
		Short: "Make a new image of a container's changes",
		Long: `Make a new image from a container: its own layer (everything it wrote,
and its deletions as whiteouts) becomes one more layer on top of its image,
as docker commit does. --change applies Dockerfile instructions to the new
image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER,
VOLUME, WORKDIR); 'stepbox history' shows the new layer with -m's message. A
running container is paused (frozen in its cgroup) while its layer is read,
unless --pause=false. The new image's ID is printed.

컨테이너가 쓴 것(자기 레이어, 지운 파일은 화이트아웃)을 이미지 위에 레이어 하나로 더 얹어 새
이미지를 만듭니다(docker commit과 같음). 실행 중인 컨테이너는 읽는 동안 cgroup freezer로
잠시 멈춥니다(--pause=false면 멈추지 않음). 새 이미지의 ID를 출력합니다.`,
		Example: "  stepbox commit web course/web:v2\n  stepbox commit -m 'add the page' -c 'CMD [\"httpd\", \"-f\"]' web course/web:v2",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("commit"); err != nil {
				return err
			}
			ref, err := refArg(args, 1)
			if err != nil {
				return err
			}
			c, err := findOne(g, args[0])
			if err != nil {
				return err
			}
			img, err := imagefs.Commit(c, ref, imagefs.CommitOptions{Changes: changes, Message: message, Author: author, Pause: pause})
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction to the image's config")
	f.StringVarP(&message, "message", "m", "", "commit message (in the image's history)")
	f.StringVarP(&author, "author", "a", "", "author (e.g. \"Kim <kim@example.com>\")")
	f.BoolVarP(&pause, "pause", "p", true, "pause a running container while its layer is read")
	return cmd
}

func newDiffCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "List what a container changed in its image",
		Long: `List the files and directories a container added (A), changed (C) or
deleted (D) in its image, as docker diff does, from its own layer: an added
or changed file is in its overlayfs upper directory; a deleted one is a
whiteout there.

컨테이너가 이미지에서 더한(A), 바꾼(C), 지운(D) 파일과 디렉터리를 보여 줍니다(docker diff와
같음). 컨테이너 자신의 레이어(overlayfs의 upper 디렉터리)에서 읽습니다.`,
		Example: "  stepbox diff web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("diff"); err != nil {
				return err
			}
			c, err := findOne(g, args[0])
			if err != nil {
				return err
			}
			changes, err := imagefs.Diff(c)
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Fprintln(g.stdout, ch)
			}
			return nil
		},
	}
}

// refArg is the image reference args[i] names, normalised (image.ParseRef),
// or "" when there is none; a malformed one is a usage error.
func refArg(args []string, i int) (string, error) {
	if len(args) <= i {
		return "", nil
	}
	ref, err := image.ParseRef(args[i])
	if err != nil {
		return "", usageError{err}
	}
	return ref, nil
}
