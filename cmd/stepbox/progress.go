package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/lessons"
)

func init() { register("progress", newProgressCmd) }

var (
	msgProgLearner  = i18n.T("Progress of %s, kept in %s", "%s의 진행 상황(%s에 저장)")
	msgProgLessons  = i18n.T("lessons passed:   %d of %d", "통과한 레슨:     %d/%d")
	msgProgEx       = i18n.T("exercises solved: %d of %d, with %d hints in all", "해결한 연습 문제: %d/%d, 힌트 모두 %d개")
	msgProgLast     = i18n.T("last seen:        lesson %s, step %d of %d (stepbox learn --resume)", "마지막으로 본 곳: 레슨 %s, %d/%d단계 (stepbox learn --resume)")
	msgProgExported = i18n.T("Written to %s.", "%s에 썼습니다.")
	msgProgMore     = i18n.T("'stepbox lessons' and 'stepbox exercise list' show each one.", "'stepbox lessons'와 'stepbox exercise list'가 하나씩 보여 줍니다.")
)

func newProgressCmd(g *globals) *cobra.Command {
	var export string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "progress",
		Short: "What you have done: lessons passed, exercises solved, hints read",
		Long: `Sum up your progress: the lessons passed, the exercises solved and with how
many hints, and where you stopped. It is kept per user in
$XDG_STATE_HOME/stepbox (~/.local/state/stepbox), yours even when stepbox runs
through sudo. --export FILE.json writes all of it, lesson by lesson and
exercise by exercise, for a teacher to collect; --json prints the same.

진행 상황을 요약합니다. 통과한 레슨, 해결한 연습 문제와 그때 본 힌트 수, 멈춘 곳입니다.
사용자마다 $XDG_STATE_HOME/stepbox(~/.local/state/stepbox)에 저장되며, sudo로 실행해도
내 것으로 남습니다. --export FILE.json은 레슨과 연습 문제 하나하나를 모두 파일로 써서
선생님이 모을 수 있게 하고, --json은 같은 내용을 출력합니다.`,
		Example: "  stepbox progress\n  stepbox progress --export alice.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lang, err := g.Lang()
			if err != nil {
				return err
			}
			prog, err := lessons.LoadProgress()
			if err != nil {
				return err
			}
			if export != "" {
				if err := prog.Export(export, lang, version); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				fmt.Fprintln(g.stdout, fmt.Sprintf(msgProgExported.In(lang), export))
				return nil
			}
			r := prog.Report(lang, version)
			if asJSON {
				return writeJSON(g.stdout, r)
			}
			st := g.Style()
			fmt.Fprintln(g.stdout, st.Bold(fmt.Sprintf(msgProgLearner.In(lang), r.Learner.Name, prog.Learner().Dir)))
			fmt.Fprintln(g.stdout, "  "+fmt.Sprintf(msgProgLessons.In(lang), r.Summary.LessonsDone, r.Summary.Lessons))
			fmt.Fprintln(g.stdout, "  "+fmt.Sprintf(msgProgEx.In(lang), r.Summary.ExercisesDone, r.Summary.Exercises, r.Summary.HintsToSolve))
			if last := prog.Last; last != nil {
				fmt.Fprintln(g.stdout, "  "+fmt.Sprintf(msgProgLast.In(lang), last.Lesson, last.Step, last.Steps))
			}
			fmt.Fprintln(g.stdout, "\n"+msgProgMore.In(lang))
			return nil
		},
	}
	cmd.Flags().StringVar(&export, "export", "", "write the whole progress to FILE.json, for a teacher")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the whole progress as JSON")
	return cmd
}
