package lessons

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/ui"
)

// CheckReport is one check of an exercise, as `stepbox exercise check
// --json` prints it for grading.
type CheckReport struct {
	SchemaVersion int    `json:"schema_version"`
	Exercise      string `json:"exercise"`
	Lesson        string `json:"lesson"`
	Title         string `json:"title"`
	OK            bool   `json:"ok"`
	// Key names what is wrong ("host-renamed"); empty when OK.
	Key   string   `json:"key,omitempty"`
	Seen  []string `json:"seen"`
	Wrong string   `json:"wrong,omitempty"`
	Hint  string   `json:"hint,omitempty"`
	// HintsRead of Hints (the answer is the last) were read so far.
	HintsRead int        `json:"hints_read"`
	Hints     int        `json:"hints"`
	Checks    int        `json:"checks"`
	Done      *time.Time `json:"done,omitempty"`
	Learner   string     `json:"learner"`
	Time      time.Time  `json:"time"`
}

// Judge checks the session's exercise against the kernel now, records the
// check in the learner's progress, and reports it in lang.
func Judge(s *Session, l Learner, lang i18n.Lang) (*CheckReport, error) {
	ex, err := FindExercise(s.Exercise)
	if err != nil {
		return nil, err
	}
	sc, err := s.Scene()
	if err != nil {
		return nil, err
	}
	v := ex.Check(sc)
	r := &CheckReport{SchemaVersion: 1, Exercise: ex.ID(), Lesson: ex.lesson.ID, Title: ex.Title.In(lang),
		OK: v.OK, Seen: []string{}, Hints: len(ex.Ladder()), Learner: l.Name, Time: time.Now().UTC()}
	if !v.OK {
		r.Key, r.Wrong, r.Hint = v.Key, v.Wrong.In(lang), v.Hint.In(lang)
	}
	for _, t := range v.Seen {
		r.Seen = append(r.Seen, t.In(lang))
	}
	prog, err := l.LoadProgress()
	if err == nil {
		err = prog.ExerciseChecked(ex.ID(), v.OK)
	}
	e := prog.Exercise(ex.ID())
	r.HintsRead, r.Checks, r.Done = e.Hints, e.Checks, e.Done
	return r, err
}

// Render shows a check to the learner within width columns.
func (r *CheckReport) Render(w io.Writer, lang i18n.Lang, st ui.Style, width int) {
	mark, word := st.Good("✓"), wExSolved
	if !r.OK {
		mark, word = st.Bad("✗"), wExNotYet
	}
	fmt.Fprintf(w, "%s\n", hang(fmt.Sprintf("%s: %s · %s", word.In(lang), r.Exercise, r.Title), width, mark+" ", "  "))
	if len(r.Seen) > 0 {
		fmt.Fprintf(w, "  %s\n", st.Faint(wExSeen.In(lang)))
		for _, s := range r.Seen {
			fmt.Fprintf(w, "%s\n", hang(s, width, "    ", "      "))
		}
	}
	if !r.OK {
		fmt.Fprintf(w, "  %s\n%s\n", st.Bad(wExWrong.In(lang)), wrap(r.Wrong, width, "    "))
		fmt.Fprintf(w, "  %s\n%s\n", st.Warn(wExFirstHint.In(lang)), wrap(r.Hint, width, "    "))
		fmt.Fprintf(w, "%s\n", st.Faint(wrap(fmt.Sprintf(wExMoreHints.In(lang), r.HintsRead, r.Hints), width, "  ")))
	}
}

// Hint reads the next hint of exercise ex in the learner's progress: its
// number and its text (the answer last, and again after that).
func Hint(ex *Exercise, l Learner, lang i18n.Lang) (int, int, string, error) {
	ladder := ex.Ladder()
	prog, err := l.LoadProgress()
	if err != nil {
		return 0, 0, "", err
	}
	n, err := prog.NextHint(ex.ID(), len(ladder))
	if err != nil {
		return 0, 0, "", err
	}
	return n, len(ladder), ladder[n-1].In(lang), nil
}

// ShowTask writes an exercise's title and task within width columns.
func ShowTask(w io.Writer, ex *Exercise, lang i18n.Lang, st ui.Style, width int) {
	title := fmt.Sprintf("%s %s · %s", wExercise.In(lang), ex.ID(), ex.Title.In(lang))
	fmt.Fprintf(w, "%s\n%s\n", st.Bold(rule(title, width)), wrap(ex.Task.In(lang), width-2, ""))
}

// ShowHint writes hint n of of for exercise ex.
func ShowHint(w io.Writer, ex *Exercise, n, of int, text string, lang i18n.Lang, st ui.Style, width int) {
	head := fmt.Sprintf("%s · %s", ex.ID(), fmt.Sprintf(wExHint.In(lang), n, of))
	fmt.Fprintf(w, "%s\n", st.Warn(head))
	for i, para := range splitParagraphs(text) {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if isCode(para) {
			fmt.Fprintln(w, para)
			continue
		}
		fmt.Fprintln(w, wrap(para, width-2, "  "))
	}
}

// splitParagraphs cuts text at blank lines.
func splitParagraphs(text string) []string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return out
}

// isCode reports whether a paragraph is indented commands, to be shown as
// they are.
func isCode(p string) bool { return strings.HasPrefix(p, "    ") }
