package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/lessons"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register("exercise", newExerciseCmd) }

// What the exercise commands say.
var (
	msgExID        = i18n.T("ID", "ID")
	msgExTitle     = i18n.T("EXERCISE", "연습 문제")
	msgExDone      = i18n.T("DONE", "완료")
	msgExHints     = i18n.T("HINTS", "힌트")
	msgExListEnd   = i18n.T("Start one with 'stepbox exercise start ID' (as root).", "'stepbox exercise start ID'로 시작하세요(root 권한 필요).")
	msgExNeedsRoot = i18n.T("an exercise's shell runs in namespaces of its own, which need root", "연습 문제의 셸은 자기만의 네임스페이스에서 돌기 때문에 root 권한이 필요합니다")
	msgExCheckRoot = i18n.T("a check reads the namespaces of the exercise's processes, which needs root", "검사는 연습 문제 프로세스의 네임스페이스를 읽어야 해서 root 권한이 필요합니다")
	msgExSudo      = i18n.T("run it with sudo", "sudo로 실행하세요")
	msgExStopped   = i18n.T("Exercise %s ended. Everything made in it is removed.", "%s 연습 문제를 끝냈습니다. 그 안에서 만든 것은 모두 지웠습니다.")
	msgExHintsNone = i18n.T("%d hints, the last one the answer: stepbox exercise hint %s", "힌트 %d개, 마지막은 정답: stepbox exercise hint %s")
)

func newExerciseCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "exercise",
		Aliases: []string{"ex"},
		Short:   "Do a lesson's exercises yourself, checked against the live kernel",
		Long: `Each lesson has exercises: a task in words, done by you with the system's own
tools (unshare, nsenter, ip, mount, the cgroup files) or with stepbox, in a
shell 'stepbox exercise start' opens inside a throwaway namespace, where what
you break is never the real host. 'stepbox exercise check' judges what is
there now, read from the kernel: ✓ with what it saw, or ✗ with what is wrong
and a first hint. 'stepbox exercise hint' gives the next hint; the last one is
the answer. Your progress (done, when, with how many hints) is kept in
$XDG_STATE_HOME/stepbox, yours even under sudo.

레슨마다 연습 문제가 있습니다. 말로 된 과제를 시스템의 도구(unshare, nsenter, ip, mount,
cgroup 파일)나 stepbox로 직접 해 봅니다. 'stepbox exercise start'가 일회용
네임스페이스 안에 셸을 열어 주므로 무엇을 망가뜨려도 실제 호스트는 안전합니다.
'stepbox exercise check'는 입력한 명령이 아니라 지금 커널의 상태를 읽어 판정하고(✓와 본 것,
또는 ✗와 틀린 점, 첫 힌트), 'stepbox exercise hint'는 다음 힌트를 줍니다. 마지막 힌트가
정답입니다. 진행 상황은 sudo로 실행해도 내 $XDG_STATE_HOME/stepbox에 남습니다.`,
		Example: `  stepbox exercise list
  sudo stepbox exercise start uts.1
  stepbox exercise check          # in the exercise's shell
  stepbox exercise hint
  stepbox ex check --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newExListCmd(g), newExShowCmd(g), newExStartCmd(g), newExCheckCmd(g), newExHintCmd(g), newExStopCmd(g), newExSessionCmd(g))
	return cmd
}

func findExercise(name string) (*lessons.Exercise, error) {
	ex, err := lessons.FindExercise(name)
	if err != nil {
		return nil, usageError{err}
	}
	return ex, nil
}

func newExListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [LESSON]",
		Short: "List the exercises, with what you did",
		Args:  cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lang, err := g.Lang()
			if err != nil {
				return err
			}
			all := lessons.Exercises()
			if len(args) == 1 {
				_, l, err := lessons.Find(args[0])
				if err != nil {
					return usageError{err}
				}
				all = l.Exercises
			}
			prog, _ := lessons.LoadProgress()
			if asJSON {
				type row struct {
					ID    string `json:"id"`
					Title string `json:"title"`
					lessons.ExerciseProgress
				}
				rows := []row{}
				for _, ex := range all {
					rows = append(rows, row{ex.ID(), ex.Title.In(lang), prog.Exercise(ex.ID())})
				}
				return writeJSON(g.stdout, rows)
			}
			st := g.Style()
			t := ui.Table{Header: []string{msgExID.In(lang), msgExTitle.In(lang), msgExDone.In(lang), msgExHints.In(lang)},
				MaxWidth: 80, Shrink: []int{1}, Style: st}
			for _, ex := range all {
				e := prog.Exercise(ex.ID())
				done, hints := "", ""
				if e.Done != nil {
					done = st.Good("✓") + " " + e.Done.Local().Format("2006-01-02 15:04")
					hints = strconv.Itoa(e.DoneHints)
				} else if e.Hints > 0 {
					hints = strconv.Itoa(e.Hints)
				}
				t.Add(ex.ID(), ex.Title.In(lang), done, hints)
			}
			if err := t.Render(g.stdout); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "\n"+msgExListEnd.In(lang))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newExShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an exercise's task without starting it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lang, err := g.Lang()
			if err != nil {
				return err
			}
			ex, err := findExercise(args[0])
			if err != nil {
				return err
			}
			lessons.ShowTask(g.stdout, ex, lang, g.Style(), 80)
			fmt.Fprintln(g.stdout, "\n"+g.Style().Faint(fmt.Sprintf(msgExHintsNone.In(lang), len(ex.Ladder()), ex.ID())))
			return nil
		},
	}
}

func exNeedsRoot(g *globals, why i18n.Text) error {
	if os.Geteuid() == 0 {
		return nil
	}
	lang, _ := g.Lang()
	return hint.With(errors.New(why.In(lang)), msgExSudo.In(lang))
}

func newExStartCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start ID",
		Short: "Open a shell for an exercise, in a throwaway namespace",
		Long: `Open a shell for exercise ID (LESSON.N, see 'stepbox exercise list') in new UTS,
IPC, network, mount and cgroup namespaces made for it: its host is called
exercise-host, its cgroups are a subtree of their own, and everything made in it
is removed when you leave with exit.

연습 문제 ID(LESSON.N)를 위한 셸을 새로 만든 UTS, IPC, 네트워크, 마운트, cgroup
네임스페이스 안에 엽니다. 호스트 이름은 exercise-host이고 cgroup도 따로 떼어 낸
하위 트리이며, exit로 나가면 그 안에서 만든 것은 모두 지워집니다.`,
		Example: "  sudo stepbox exercise start uts.1\n  sudo stepbox ex start 10.2 --lang ko",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lang, err := g.Lang()
			if err != nil {
				return err
			}
			ex, err := findExercise(args[0])
			if err != nil {
				return err
			}
			if err := exNeedsRoot(g, msgExNeedsRoot); err != nil {
				return err
			}
			in, _ := g.stdin.(*os.File)
			out, _ := g.stdout.(*os.File)
			errf, _ := g.stderr.(*os.File)
			if in == nil || out == nil || errf == nil {
				return errors.New("an exercise's shell needs real standard streams")
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			code, err := lessons.StartExercise(lessons.ExerciseConfig{
				Paths: sandbox.DefaultPaths(g.StateRoot()), Exercise: ex, Lang: lang,
				Learner: lessons.CurrentLearner(), Self: self, Stdin: in, Stdout: out, Stderr: errf,
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, g.Style().Note(fmt.Sprintf(msgExStopped.In(lang), ex.ID())))
			if code != 0 {
				return withCode(code, nil)
			}
			return nil
		},
	}
}

func newExCheckCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the open exercise against the live kernel",
		Long: `Check the exercise that is open (this shell's, or your latest from another
terminal) against what the kernel says now: ✓ with what was seen, or ✗ with
what is wrong now and a first hint. --json prints the check for grading. The
exit code is 0 for ✓ and 3 for ✗.

열려 있는 연습 문제(이 셸의 것, 또는 다른 터미널에서는 가장 최근 것)를 지금 커널이 말하는
상태로 판정합니다. ✓면 확인한 것을, ✗면 지금 틀린 점과 첫 힌트를 보여 줍니다. --json은
채점용으로 출력합니다. 종료 코드는 ✓이면 0, ✗이면 3입니다.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lang, err := g.Lang()
			if err != nil {
				return err
			}
			if err := exNeedsRoot(g, msgExCheckRoot); err != nil {
				return err
			}
			l := lessons.CurrentLearner()
			s, err := lessons.FindSession(sandbox.DefaultPaths(g.StateRoot()), l)
			if err != nil {
				return err
			}
			r, err := lessons.Judge(s, l, lang)
			if r == nil {
				return err
			}
			if err != nil {
				fmt.Fprintln(g.stderr, "stepbox: "+err.Error())
			}
			if asJSON {
				if err := writeJSON(g.stdout, r); err != nil {
					return err
				}
			} else {
				r.Render(g.stdout, lang, g.Style(), 78)
			}
			if !r.OK {
				return withCode(exitFindings, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the check as JSON")
	return cmd
}

func newExHintCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "hint [ID]",
		Short: "The next hint of the open exercise (or of ID); the last is the answer",
		Args:  cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lang, err := g.Lang()
			if err != nil {
				return err
			}
			l := lessons.CurrentLearner()
			var ex *lessons.Exercise
			if len(args) == 1 {
				if ex, err = findExercise(args[0]); err != nil {
					return err
				}
			} else {
				s, err := lessons.FindSession(sandbox.DefaultPaths(g.StateRoot()), l)
				if err != nil {
					return err
				}
				if ex, err = lessons.FindExercise(s.Exercise); err != nil {
					return err
				}
			}
			n, of, text, err := lessons.Hint(ex, l, lang)
			if err != nil {
				return err
			}
			lessons.ShowHint(g.stdout, ex, n, of, text, lang, g.Style(), 80)
			return nil
		},
	}
}

func newExStopCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "End your open exercise from another terminal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lang, err := g.Lang()
			if err != nil {
				return err
			}
			if err := exNeedsRoot(g, msgExNeedsRoot); err != nil {
				return err
			}
			paths := sandbox.DefaultPaths(g.StateRoot())
			s, err := lessons.FindSession(paths, lessons.CurrentLearner())
			if err != nil {
				return err
			}
			if err := s.Stop(paths); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, fmt.Sprintf(msgExStopped.In(lang), s.Exercise))
			return nil
		},
	}
}

// newExSessionCmd is the exercise's own process, inside its throwaway
// namespaces (lessons.RunSession).
func newExSessionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "session DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, _ := g.stdin.(*os.File)
			out, _ := g.stdout.(*os.File)
			if in == nil || out == nil {
				return errors.New("an exercise's shell needs real standard streams")
			}
			code, err := lessons.RunSession(args[0], in, out)
			if err != nil {
				return err
			}
			if code != 0 {
				return withCode(code, nil)
			}
			return nil
		},
	}
}
