package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/lessons"
)

func init() { register("escape-chroot", newEscapeCmd) }

// newEscapeCmd is the chroot breakout the root filesystem lesson runs inside
// its container: it exists to show why a container enters its root with
// pivot_root(2), not chroot(2).
func newEscapeCmd(g *globals) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "escape-chroot [CMD [ARG...]]",
		Short: "Try the classic chroot breakout (for the root filesystem lesson)",
		Long: `Try the classic way out of a chroot(2) jail: keep a handle on the current root,
chroot into a subdirectory, fchdir back to the handle, climb with "..", and
chroot at the top. If that reaches a root other than the one this process was
given, run CMD there (default /bin/sh); if not, say so and exit 1.

It exists for the lesson 'stepbox learn rootfs': under pivot_root it finds no
way out, and in the failure demo (--without pivot_root) it reaches the host's
files. Every system call it makes is printed, unless --quiet.

chroot(2) 감옥을 빠져나가는 고전적인 방법을 시도합니다. 지금 루트의 핸들을 잡아 둔 채
하위 디렉터리로 chroot하고, fchdir로 핸들에 돌아가 ".."로 끝까지 올라간 뒤, 꼭대기에서
chroot합니다. 처음 받은 루트가 아닌 곳에 닿으면 거기서 CMD(기본값 /bin/sh)를 실행하고,
아니면 그렇다고 알리고 1로 끝납니다.

'stepbox learn rootfs' 레슨을 위한 명령입니다. pivot_root로 들어간 컨테이너에서는
나갈 길을 찾지 못하고, 실패 데모(--without pivot_root)에서는 호스트의 파일에 닿습니다.
--quiet가 없으면 부르는 시스템 콜을 모두 출력합니다.`,
		Example: "  stepbox escape-chroot head -n1 /etc/os-release",
		Hidden:  true,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			trace := g.stdout
			if quiet {
				trace = io.Discard
			}
			escaped, err := lessons.EscapeChroot(trace)
			if err != nil {
				return err
			}
			if !escaped {
				if quiet {
					fmt.Fprintln(g.stderr, "STILL IN: the top is the root we were given")
				}
				return withCode(exitError, nil)
			}
			if len(args) == 0 {
				args = []string{"/bin/sh"}
			}
			// Looked up after the breakout: the command is the host's.
			path, err := exec.LookPath(args[0])
			if err != nil {
				return withCode(127, fmt.Errorf("outside the root: %w", err))
			}
			if f, ok := g.stdout.(*os.File); ok {
				f.Sync()
			}
			return fmt.Errorf("exec %s: %w", path, syscall.Exec(path, args, os.Environ()))
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only what CMD prints")
	// Everything after CMD belongs to CMD: `escape-chroot head -n1 FILE`.
	cmd.Flags().SetInterspersed(false)
	return cmd
}
