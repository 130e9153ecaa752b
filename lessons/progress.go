package lessons

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/flock"
)

// Progress is what a learner has done: lessons passed, where they stopped,
// exercises started and solved with how many hints. It is kept per learner
// in Learner.Dir/progress.json, replaced whole on every change (writeAtomic)
// under a lock, so a crash in the middle of a lesson or an exercise leaves
// the file as it was before the last change, and two commands of one
// learner (a check in the exercise's shell, a hint in another terminal)
// never lose each other's update.
type Progress struct {
	Version int `json:"version"`
	// Done is when each lesson (by id) was last passed: version 1's whole
	// file, kept as it was.
	Done map[string]time.Time `json:"done"`
	// Lessons is how far each lesson got the last time it ran.
	Lessons map[string]*LessonProgress `json:"lessons,omitempty"`
	// Exercises by id ("uts.1").
	Exercises map[string]*ExerciseProgress `json:"exercises,omitempty"`
	// Last is the step shown last, in any lesson: where --resume goes on.
	Last *Place `json:"last,omitempty"`

	learner Learner
}

// progressVersion is the file's format; version 1 had only "done".
const progressVersion = 2

// LessonProgress is the last step of a lesson a learner saw.
type LessonProgress struct {
	Step  int       `json:"step"`
	Steps int       `json:"steps"`
	At    time.Time `json:"at"`
}

// Place is a step of a lesson.
type Place struct {
	Lesson string    `json:"lesson"`
	Step   int       `json:"step"`
	Steps  int       `json:"steps"`
	At     time.Time `json:"at"`
}

// ExerciseProgress is one exercise's record.
type ExerciseProgress struct {
	Started *time.Time `json:"started,omitempty"`
	// Done is when a check first found it solved, DoneHints how many hints
	// had been read by then.
	Done      *time.Time `json:"done,omitempty"`
	DoneHints int        `json:"done_hints"`
	// Hints is how many hints were read in all (the next one shown is
	// Hints+1), Checks how many times it was checked.
	Hints     int        `json:"hints"`
	Checks    int        `json:"checks"`
	LastCheck *time.Time `json:"last_check,omitempty"`
	LastOK    bool       `json:"last_ok"`
}

// Path is the progress file of the learner.
func (l Learner) progressPath() string { return filepath.Join(l.Dir, "progress.json") }

// LoadProgress reads the current learner's progress; a missing file is no
// progress.
func LoadProgress() (*Progress, error) { return CurrentLearner().LoadProgress() }

// LoadProgress reads l's progress. A damaged file is not worth refusing to
// teach over: it reads as no progress (and the next change replaces it).
func (l Learner) LoadProgress() (*Progress, error) {
	p := newProgress(l)
	var b []byte
	err := l.as(func() error {
		var err error
		b, err = os.ReadFile(l.progressPath())
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	if json.Unmarshal(b, p) != nil {
		p = newProgress(l)
	}
	p.fill()
	return p, nil
}

func newProgress(l Learner) *Progress {
	p := &Progress{learner: l}
	p.fill()
	return p
}

func (p *Progress) fill() {
	p.Version = progressVersion
	if p.Done == nil {
		p.Done = map[string]time.Time{}
	}
	if p.Lessons == nil {
		p.Lessons = map[string]*LessonProgress{}
	}
	if p.Exercises == nil {
		p.Exercises = map[string]*ExerciseProgress{}
	}
}

// Learner is whose progress it is.
func (p *Progress) Learner() Learner { return p.learner }

// Update changes the learner's progress with f under the learner's lock,
// on the file as it is now (not as p was read), saves it, and leaves the
// result in p.
func (p *Progress) Update(f func(p *Progress)) error {
	l := p.learner
	return l.as(func() error {
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return err
		}
		unlock, err := flock.File(filepath.Join(l.Dir, "progress.lock"), unix.LOCK_EX, 0o644)
		if err != nil {
			return err
		}
		defer unlock()
		// Temporary files a crash left behind; under the lock no other
		// writer has one open.
		if old, _ := filepath.Glob(filepath.Join(l.Dir, ".progress.json-*.tmp")); len(old) > 0 {
			for _, o := range old {
				os.Remove(o)
			}
		}
		cur := newProgress(l)
		if b, err := os.ReadFile(l.progressPath()); err == nil {
			if json.Unmarshal(b, cur) != nil {
				cur = newProgress(l)
			}
			cur.fill()
		}
		f(cur)
		b, _ := json.MarshalIndent(cur, "", "  ")
		if err := writeAtomic(l.progressPath(), append(b, '\n')); err != nil {
			return err
		}
		*p = *cur
		return nil
	})
}

// MarkDone records a passed lesson and saves.
func (p *Progress) MarkDone(id string) error {
	return p.Update(func(p *Progress) { p.Done[id] = time.Now().UTC() })
}

// Reached records that step of a lesson of steps was shown: where the
// learner is now, and where --resume goes on.
func (p *Progress) Reached(id string, step, steps int) error {
	now := time.Now().UTC()
	return p.Update(func(p *Progress) {
		p.Lessons[id] = &LessonProgress{Step: step, Steps: steps, At: now}
		p.Last = &Place{Lesson: id, Step: step, Steps: steps, At: now}
	})
}

// Exercise is the record of exercise id, or an empty one.
func (p *Progress) Exercise(id string) ExerciseProgress {
	if e := p.Exercises[id]; e != nil {
		return *e
	}
	return ExerciseProgress{}
}

func (p *Progress) exercise(id string) *ExerciseProgress {
	e := p.Exercises[id]
	if e == nil {
		e = &ExerciseProgress{}
		p.Exercises[id] = e
	}
	return e
}

// ExerciseStarted records that a session of exercise id began.
func (p *Progress) ExerciseStarted(id string) error {
	now := time.Now().UTC()
	return p.Update(func(p *Progress) {
		e := p.exercise(id)
		if e.Started == nil {
			e.Started = &now
		}
	})
}

// ExerciseChecked records a check of exercise id and its outcome; the first
// that passes marks it done with the hints read so far.
func (p *Progress) ExerciseChecked(id string, ok bool) error {
	now := time.Now().UTC()
	return p.Update(func(p *Progress) {
		e := p.exercise(id)
		e.Checks++
		e.LastCheck, e.LastOK = &now, ok
		if ok && e.Done == nil {
			e.Done, e.DoneHints = &now, e.Hints
		}
	})
}

// NextHint counts one more hint of exercise id read, up to max, and returns
// the number of the hint to show (1-based): the last one again once all
// were read.
func (p *Progress) NextHint(id string, max int) (int, error) {
	n := 0
	err := p.Update(func(p *Progress) {
		e := p.exercise(id)
		if e.Hints < max {
			e.Hints++
		}
		n = e.Hints
	})
	return n, err
}

// Resume is where `learn --resume` goes on: in lesson id (or, with "", the
// lesson of the step seen last), at the step seen last, the lesson's
// number and the step. A lesson whose last step was seen and which passed
// since is over: then the next lesson not passed, from its first step.
func (p *Progress) Resume(id string) (int, *Lesson, int, error) {
	all := Catalogue()
	if id != "" {
		n, l, err := Find(id)
		if err != nil {
			return 0, nil, 0, err
		}
		step := 1
		if lp := p.Lessons[l.ID]; lp != nil && lp.Step <= len(l.Steps) {
			step = lp.Step
		}
		return n, l, step, nil
	}
	if last := p.Last; last != nil {
		if n, l, err := Find(last.Lesson); err == nil {
			done, passed := p.Done[l.ID]
			over := last.Step >= len(l.Steps) && passed && !done.Before(last.At.Add(-time.Second))
			if !over {
				return n, l, max(1, min(last.Step, len(l.Steps))), nil
			}
		}
	}
	for n, l := range all {
		if _, ok := p.Done[l.ID]; !ok {
			return n, l, 1, nil
		}
	}
	return 0, all[0], 1, nil
}
