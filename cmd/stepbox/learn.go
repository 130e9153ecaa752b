package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/lessons"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

func init() {
	register("lessons", newLessonsCmd)
	register("learn", newLearnCmd)
	register("tour", newTourCmd)
	register("agent", newAgentCmd)
}

type learnOptions struct {
	auto    bool
	delay   time.Duration
	from    int
	json    bool
	without string
	rootfs  string

	// Classroom controls.
	pauseAt   []string
	step      int
	noExplain bool
	wide      bool
	large     bool
	record    string
	resume    bool
}

func (o *learnOptions) flags(cmd *cobra.Command, single bool) {
	f := cmd.Flags()
	f.BoolVar(&o.auto, "auto", false, "run every step without waiting for a key")
	f.DurationVar(&o.delay, "delay", 0, "pause after each step (implies --auto), e.g. 3s for a projector")
	f.BoolVar(&o.json, "json", false, "print a JSON transcript of every step instead of the lesson (implies --auto)")
	f.StringVar(&o.rootfs, "rootfs", "", "root filesystem for the lessons (default: the built-in one)")
	f.StringSliceVar(&o.pauseAt, "pause-at", nil, "wait for a key after these steps even with --auto or --delay: N, or LESSON.N (in a tour)")
	f.BoolVar(&o.noExplain, "no-explain", false, "evidence only, for a second pass: no explanations, system calls or commands")
	f.BoolVar(&o.wide, "wide", false, "lay out for a projector: 120 columns, the host's output beside the container's")
	f.BoolVar(&o.large, "large", false, "large print: every line within 60 columns")
	f.StringVar(&o.record, "record", "", "record what is shown to FILE.cast (asciicast v2, with a marker at each step): 'stepbox replay' or 'asciinema play' plays it")
	if single {
		f.IntVar(&o.from, "from", 1, "start at this step; the steps before it are applied silently")
		f.IntVar(&o.step, "step", 0, "show this one step only (the steps before it are applied silently)")
		f.StringVar(&o.without, "without", "", "run the lesson's failure demo: leave this feature out and see what breaks")
		f.BoolVar(&o.resume, "resume", false, "go on where you stopped: the lesson and step you saw last (or, with LESSON, the step you saw last in it)")
	}
}

// width is the layout the flags ask for.
func (o *learnOptions) width() (int, error) {
	switch {
	case o.wide && o.large:
		return 0, usagef("--wide and --large exclude each other: choose one")
	case o.wide:
		return lessons.WidthWide, nil
	case o.large:
		return lessons.WidthLarge, nil
	}
	return lessons.WidthNormal, nil
}

// pauses reads --pause-at: for each lesson (by its number), the steps after
// which to wait. A bare N is a step of the one lesson learn runs.
func (o *learnOptions) pauses(only int) (map[int][]int, error) {
	out := map[int][]int{}
	for _, spec := range o.pauseAt {
		lesson, step := only, spec
		if l, s, ok := strings.Cut(spec, "."); ok {
			n, _, err := lessons.Find(l)
			if err != nil {
				return nil, usageError{err}
			}
			lesson, step = n, s
		}
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || lesson < 0 {
			return nil, usagef("--pause-at %q: give a step number, or LESSON.STEP in a tour (mount.2, 3.2)", spec)
		}
		out[lesson] = append(out[lesson], n)
	}
	return out, nil
}

func newLessonsCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lessons",
		Short: "List the course",
		Long: `List the lessons of the course in order, with what each one shows and
whether you have done it.

코스의 레슨을 순서대로 보여 줍니다. 각 레슨이 무엇을 보여 주는지, 이미 끝냈는지도 함께 표시합니다.`,
		Example: "  stepbox lessons\n  stepbox lessons --lang ko",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lang, _ := g.Lang()
			prog, _ := lessons.LoadProgress()
			if asJSON {
				type row struct {
					Number  int    `json:"number"`
					ID      string `json:"id"`
					Title   string `json:"title"`
					Summary string `json:"summary"`
					Demo    string `json:"without"`
					Done    bool   `json:"done"`
					// DoneAt is when it was last passed, LastStep the step
					// seen last, ExercisesDone of Exercises solved.
					DoneAt        *time.Time `json:"done_at,omitempty"`
					LastStep      int        `json:"last_step"`
					Steps         int        `json:"steps"`
					Exercises     int        `json:"exercises"`
					ExercisesDone int        `json:"exercises_done"`
				}
				var rows []row
				for i, l := range lessons.Catalogue() {
					r := row{Number: i, ID: l.ID, Title: l.Title.In(lang), Summary: l.Summary.In(lang), Demo: l.Demo.Feature,
						Steps: len(l.Steps), Exercises: len(l.Exercises), ExercisesDone: exercisesDone(prog, l)}
					if d, ok := prog.Done[l.ID]; ok {
						r.Done, r.DoneAt = true, &d
					}
					if lp := prog.Lessons[l.ID]; lp != nil {
						r.LastStep = lp.Step
					}
					rows = append(rows, r)
				}
				return writeJSON(g.stdout, rows)
			}
			st := g.Style()
			t := ui.Table{Header: []string{"#", "ID", i18n.T("LESSON", "레슨").In(lang), i18n.T("DONE", "완료").In(lang), i18n.T("EXERCISES", "연습").In(lang)},
				MaxWidth: 80, Shrink: []int{2}, Style: st}
			for i, l := range lessons.Catalogue() {
				done := ""
				if d, ok := prog.Done[l.ID]; ok {
					done = st.Good("✓") + " " + d.Local().Format("01-02 15:04")
				} else if lp := prog.Lessons[l.ID]; lp != nil {
					done = fmt.Sprintf(i18n.T("step %d/%d", "%d/%d단계").In(lang), lp.Step, lp.Steps)
				}
				ex := ""
				if len(l.Exercises) > 0 {
					ex = fmt.Sprintf("%d/%d", exercisesDone(prog, l), len(l.Exercises))
				}
				t.Add(strconv.Itoa(i), l.ID, l.Title.In(lang), done, ex)
				t.Add("", "", st.Faint(l.Summary.In(lang)), "", "")
			}
			if err := t.Render(g.stdout); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "\n"+i18n.T("Run one with 'stepbox learn N', or all with 'stepbox tour'; go on where you stopped with 'stepbox learn --resume'; exercises: 'stepbox exercise list'.",
				"'stepbox learn N'으로 하나를, 'stepbox tour'로 전체를 실행하세요. 멈춘 곳에서 이어 가려면 'stepbox learn --resume', 연습 문제는 'stepbox exercise list'입니다.").In(lang))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// exercisesDone counts the exercises of l the learner solved.
func exercisesDone(p *lessons.Progress, l *lessons.Lesson) int {
	n := 0
	for _, ex := range l.Exercises {
		if p.Exercise(ex.ID()).Done != nil {
			n++
		}
	}
	return n
}

func newLearnCmd(g *globals) *cobra.Command {
	o := &learnOptions{}
	cmd := &cobra.Command{
		Use:   "learn LESSON",
		Short: "Run one lesson, step by step",
		Long: `Run one lesson (by number or id, see 'stepbox lessons'). Each step explains what
the kernel does, shows the system call and the command you could type, does it
for real, and shows the evidence from the host and from inside.

Keys after each step: Enter next, s a shell inside the container as it stands,
r repeat, q quit. Everything the lesson made is removed on every way out.

레슨 하나를 단계별로 실행합니다. 단계가 끝날 때마다 Enter는 다음, s는 컨테이너 안 셸,
r은 다시, q는 끝내기입니다.`,
		Example: `  stepbox learn uts
  stepbox learn 2 --lang ko
  stepbox learn uts --without uts      # the failure demo
  stepbox learn mount --auto --delay 3s --pause-at 2
  stepbox learn pid --step 3 --wide    # one step, on a projector
  stepbox learn pid --no-explain       # the evidence again, for a second pass
  stepbox learn uts --record uts.cast  # then: stepbox replay uts.cast
  stepbox learn --resume               # where you stopped
  stepbox learn pid --json > pid.json`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !o.resume {
				return usagef("name a lesson (see 'stepbox lessons'), or go on where you stopped with --resume")
			}
			var n int
			var l *lessons.Lesson
			var err error
			if o.resume && !lessons.InDemoNamespace() {
				if n, l, o.from, err = resumePlace(g, args); err != nil {
					return err
				}
			} else if n, l, err = lessons.Find(args[0]); err != nil {
				return usageError{err}
			}
			if o.without != "" && l.Demo.Feature != o.without {
				return usagef("lesson %s has no demo without %q: use --without %s", l.ID, o.without, l.Demo.Feature)
			}
			if o.without != "" && !lessons.InDemoNamespace() {
				return runDemo(g, cmd.Context())
			}
			return runLessons(cmd.Context(), g, o, []int{n})
		},
	}
	o.flags(cmd, true)
	return cmd
}

func newTourCmd(g *globals) *cobra.Command {
	o := &learnOptions{}
	cmd := &cobra.Command{
		Use:   "tour",
		Short: "Run the whole course, ending with a full container checked by verify",
		Long: `Run every lesson in order, from a plain process to a full container, and end
by checking the final container with the inspector (every namespace isolated).

코스 전체를 순서대로 실행하고, 마지막 컨테이너를 검사기로 확인합니다.`,
		Example: "  stepbox tour\n  stepbox tour --auto\n  stepbox tour --lang ko --delay 2s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var all []int
			for i := range lessons.Catalogue() {
				all = append(all, i)
			}
			return runLessons(cmd.Context(), g, o, all)
		},
	}
	o.flags(cmd, false)
	return cmd
}

// runDemo re-runs this very command line inside a throwaway namespace.
func runDemo(g *globals, ctx context.Context) error {
	in, _ := g.stdin.(*os.File)
	out, _ := g.stdout.(*os.File)
	errf, _ := g.stderr.(*os.File)
	if in == nil || out == nil || errf == nil {
		return errors.New("a failure demo needs real standard streams")
	}
	code, err := lessons.RunInThrowawayNamespace(sandbox.DefaultPaths(g.StateRoot()), os.Args[1:], in, out, errf)
	if err != nil {
		return err
	}
	if code != 0 {
		return withCode(code, nil)
	}
	return nil
}

func runLessons(ctx context.Context, g *globals, o *learnOptions, which []int) error {
	lang, err := g.Lang()
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return hint.With(errors.New("the lessons make real namespaces, mounts and cgroups and need root"), "run it with sudo")
	}
	paths := sandbox.DefaultPaths(g.StateRoot())
	root := o.rootfs
	var builtin func() (string, error)
	if root == "" {
		var m *builtinfs.Manifest
		if root, m, err = builtinRootfs(g, paths); err != nil {
			return err
		}
		// The built-in image, for the lessons that run on an image: made
		// from the built-in root filesystem when first asked for.
		builtin = func() (string, error) {
			s, err := imageStore(g)
			if err != nil {
				return "", err
			}
			img, err := imagefs.Builtin(s, root, m)
			if err != nil {
				return "", err
			}
			return string(img.ID), nil
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	in, _ := g.stdin.(*os.File)
	r := &lessons.Runner{
		Lang: lang, Style: g.Style(), Out: g.stdout, In: in,
		Auto: o.auto || o.delay > 0 || o.json, Delay: o.delay, From: o.from,
		Without: o.without, Quiet: o.json,
		Lab: lessons.LabConfig{Paths: paths, Rootfs: root, Self: self, Image: builtin},
	}
	if r.Width, err = o.width(); err != nil {
		return err
	}
	single := -1
	if len(which) == 1 {
		single = which[0]
	}
	pauses, err := o.pauses(single)
	if err != nil {
		return err
	}
	r.NoExplain, r.Only = o.noExplain, o.step
	if o.step > 0 && o.from > 1 {
		return usagef("--step and --from exclude each other: --step shows one step, --from starts at one")
	}
	prog, _ := lessons.LoadProgress()
	if o.without == "" {
		r.OnStep = func(ls *lessons.Lesson, step, steps int) { _ = prog.Reached(ls.ID, step, steps) }
	}
	if o.record != "" {
		rec, err := startRecording(g, o, r.Width, which)
		if err != nil {
			return err
		}
		defer rec.close(g)
		r.Out, r.Mark = rec.out, rec.cast.Marker
	}
	var results []*lessons.Result
	failed := false
	all := lessons.Catalogue()
	for _, n := range which {
		r.Number = n
		r.PauseAt = pauses[n]
		res, err := r.Run(ctx, all[n])
		if res != nil {
			results = append(results, res)
		}
		if errors.Is(err, lessons.ErrQuit) || errors.Is(err, lessons.ErrInterrupted) || ctx.Err() != nil {
			if !o.json {
				fmt.Fprintln(g.stdout, g.Style().Note(lessons.Stopped.In(lang)))
			}
			if errors.Is(err, lessons.ErrQuit) {
				return nil
			}
			return withCode(130, nil) // the shell's code for SIGINT
		}
		if err != nil {
			if o.json {
				writeTranscript(g, results)
			}
			return err
		}
		if res.Passed && o.without == "" && o.step == 0 {
			_ = prog.MarkDone(all[n].ID)
		}
		failed = failed || !res.Passed
	}
	if o.json {
		if err := writeTranscript(g, results); err != nil {
			return err
		}
	}
	if failed {
		return withCode(exitFindings, nil)
	}
	return nil
}

func writeTranscript(g *globals, results []*lessons.Result) error {
	return writeJSON(g.stdout, map[string]any{"schema_version": 1, "tool_version": version, "lessons": results})
}

func newAgentCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "agent",
		Short:  "Answer a lesson runner from inside a container (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lessons.RunAgent(g.stdin, g.stdout)
		},
	}
}

func init() { register("tutorials", newTutorialsCmd) }

func newTutorialsCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:    "tutorials",
		Short:  "Render the markdown tutorials from the lessons (make tutorials)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lessons.WriteTutorials(out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "tutorials", "directory to write into")
	return cmd
}
