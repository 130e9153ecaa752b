package lessons

import (
	"encoding/json"
	"os"
	"time"

	"github.com/stepbox/stepbox/internal/i18n"
)

// ProgressReport is a learner's progress as a teacher collects it
// (`stepbox progress --export FILE.json`): every lesson and exercise of the
// course, done or not, with when, how far, and with how many hints.
type ProgressReport struct {
	SchemaVersion int       `json:"schema_version"`
	ToolVersion   string    `json:"tool_version"`
	Exported      time.Time `json:"exported"`
	Learner       struct {
		Name string `json:"name"`
		UID  int    `json:"uid"`
	} `json:"learner"`
	Host      string           `json:"host"`
	Summary   ProgressSummary  `json:"summary"`
	Lessons   []LessonReport   `json:"lessons"`
	Exercises []ExerciseReport `json:"exercises"`
}

// ProgressSummary counts what was done.
type ProgressSummary struct {
	Lessons       int `json:"lessons"`
	LessonsDone   int `json:"lessons_done"`
	Exercises     int `json:"exercises"`
	ExercisesDone int `json:"exercises_done"`
	// HintsToSolve is how many hints the solved exercises took in all.
	HintsToSolve int `json:"hints_to_solve"`
}

// LessonReport is one lesson of a report.
type LessonReport struct {
	Number int        `json:"number"`
	ID     string     `json:"id"`
	Title  string     `json:"title"`
	Done   *time.Time `json:"done"`
	// LastStep of Steps is the step seen last (0: never started).
	LastStep int `json:"last_step"`
	Steps    int `json:"steps"`
}

// ExerciseReport is one exercise of a report.
type ExerciseReport struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	ExerciseProgress
}

// Report is p as a teacher reads it, in lang.
func (p *Progress) Report(lang i18n.Lang, toolVersion string) ProgressReport {
	r := ProgressReport{SchemaVersion: 1, ToolVersion: toolVersion, Exported: time.Now().UTC(),
		Lessons: []LessonReport{}, Exercises: []ExerciseReport{}}
	r.Learner.Name, r.Learner.UID = p.learner.Name, p.learner.UID
	r.Host, _ = os.Hostname()
	for n, l := range Catalogue() {
		lr := LessonReport{Number: n, ID: l.ID, Title: l.Title.In(lang), Steps: len(l.Steps)}
		if d, ok := p.Done[l.ID]; ok {
			d := d
			lr.Done = &d
			r.Summary.LessonsDone++
		}
		if lp := p.Lessons[l.ID]; lp != nil {
			lr.LastStep = lp.Step
		}
		r.Lessons = append(r.Lessons, lr)
		for _, ex := range l.Exercises {
			e := p.Exercise(ex.ID())
			r.Exercises = append(r.Exercises, ExerciseReport{ID: ex.ID(), Title: ex.Title.In(lang), ExerciseProgress: e})
			if e.Done != nil {
				r.Summary.ExercisesDone++
				r.Summary.HintsToSolve += e.DoneHints
			}
		}
	}
	r.Summary.Lessons, r.Summary.Exercises = len(r.Lessons), len(r.Exercises)
	return r
}

// Export writes the report to path, replacing it whole, as the learner:
// under sudo, the file is theirs.
func (p *Progress) Export(path string, lang i18n.Lang, toolVersion string) error {
	b, _ := json.MarshalIndent(p.Report(lang, toolVersion), "", "  ")
	return p.learner.as(func() error { return writeAtomic(path, append(b, '\n')) })
}
