package lessons

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/i18n"
)

// An exercise asks the learner to do something with the system's own tools
// (unshare, nsenter, ip, mount, the cgroup files) or with stepbox, in a
// shell that `stepbox exercise start` opens in a throwaway namespace. Its
// check judges the kernel's live state, what the learner's processes, cgroups
// and containers are now, never the commands that were typed; a ✗ says what
// is wrong now and gives a first hint for that very problem. The hints form
// a ladder of up to three, the last one the answer.
//
// Each lesson holds its exercises (Lesson.Exercises), written in a file of
// their own beside the lesson's (ex01_uts.go beside l01_uts.go). Lessons 13
// (images and layers) and 14 get theirs with the lessons themselves: an
// exNN_ID.go file, and an Exercises line in the lesson; the tests ask for
// at least two per lesson from then on (exercisesPending).
type Exercise struct {
	Title i18n.Text
	// Task is the exercise in words: what to make, and what must be true
	// of it when it is checked.
	Task i18n.Text
	// Needs are the programs the task and the answer run on the host (in
	// the exercise's shell), checked before the shell opens.
	Needs []string
	// Rootfs gives the exercise's shell a copy of the built-in root
	// filesystem of its own, in $ROOTFS.
	Rootfs bool
	// Hints are read one at a time (`stepbox exercise hint`); after them
	// comes the answer.
	Hints []i18n.Text
	// Answer is the commands that do the task, typed into the exercise's
	// shell as they stand (the tests type them). Learners see it last.
	Answer string
	// Check judges the exercise's live state.
	Check func(s *Scene) Verdict

	lesson *Lesson
	n      int
}

// Verdict is what a check found.
type Verdict struct {
	OK bool
	// Seen is the evidence: what the check read in the kernel.
	Seen []i18n.Text
	// Wrong is what is wrong now (✗ only), Hint a first hint for it.
	Wrong i18n.Text
	Hint  i18n.Text
	// Key names the problem for graders and tests: "host-renamed".
	Key string
}

// ID is the exercise's name on the command line: LESSON.N ("uts.1").
func (e *Exercise) ID() string { return e.lesson.ID + "." + strconv.Itoa(e.n) }

// Lesson is the lesson the exercise belongs to.
func (e *Exercise) Lesson() *Lesson { return e.lesson }

// N is the exercise's number in its lesson, from 1.
func (e *Exercise) N() int { return e.n }

// Ladder is every hint in order, the answer last.
func (e *Exercise) Ladder() []i18n.Text {
	out := append([]i18n.Text(nil), e.Hints...)
	return append(out, i18n.T(wAnswer.En+"\n\n"+indentLines(e.Answer, "    "), wAnswer.Ko+"\n\n"+indentLines(e.Answer, "    ")))
}

func indentLines(s, indent string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = indent + l
	}
	return strings.Join(lines, "\n")
}

// exercisesPending are the lessons whose exercises are written with the
// lesson itself, by number: the tests do not ask them for two yet.
var exercisesPending = map[int]string{}

// linkExercises gives every exercise of l its lesson and number.
func linkExercises(l *Lesson) {
	for i, e := range l.Exercises {
		e.lesson, e.n = l, i+1
	}
}

// Exercises lists every exercise of the course, in order.
func Exercises() []*Exercise {
	var out []*Exercise
	for _, l := range Catalogue() {
		linkExercises(l)
		out = append(out, l.Exercises...)
	}
	return out
}

// FindExercise looks an exercise up as LESSON.N, the lesson by id or number
// ("uts.1", "1.1").
func FindExercise(name string) (*Exercise, error) {
	lesson, num, ok := strings.Cut(name, ".")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return nil, hint.With(fmt.Errorf("exercise %q: name it LESSON.N", name), "e.g. uts.1 or 1.1; 'stepbox exercise list' shows them all")
	}
	_, l, err := Find(lesson)
	if err != nil {
		return nil, err
	}
	linkExercises(l)
	if n < 1 || n > len(l.Exercises) {
		return nil, hint.With(fmt.Errorf("lesson %s has no exercise %d", l.ID, n),
			fmt.Sprintf("it has %d; 'stepbox exercise list %s' shows them", len(l.Exercises), l.ID))
	}
	return l.Exercises[n-1], nil
}

// Words of the exercises.
var (
	wExercise    = i18n.T("Exercise", "연습 문제")
	wAnswer      = i18n.T("The answer, as commands to type:", "정답(입력할 명령):")
	wExShellIn   = i18n.T("This shell runs in a throwaway namespace made for the exercise: its host is called exercise-host, its cgroups are a subtree of their own ($STEPBOX_CG_MEMORY, $STEPBOX_CG_PIDS), and whatever you break here goes when you leave.", "이 셸은 연습 문제를 위해 만든 일회용 네임스페이스 안에서 돕니다. 호스트 이름은 exercise-host이고, cgroup도 따로 떼어 낸 하위 트리($STEPBOX_CG_MEMORY, $STEPBOX_CG_PIDS)입니다. 여기서 무엇을 망가뜨려도 셸을 나가면 모두 사라집니다.")
	wExKeys      = i18n.T("stepbox exercise check: is it done?   stepbox exercise hint: a hint   exit: leave", "stepbox exercise check: 다 됐나?   stepbox exercise hint: 힌트   exit: 나가기")
	wExLeft      = i18n.T("Left the exercise. Everything made in it is removed.", "연습 문제를 나왔습니다. 그 안에서 만든 것은 모두 지웠습니다.")
	wExSolved    = i18n.T("Solved", "해결")
	wExNotYet    = i18n.T("Not yet", "아직")
	wExSeen      = i18n.T("seen:", "확인한 것:")
	wExWrong     = i18n.T("wrong now:", "지금 틀린 점:")
	wExFirstHint = i18n.T("hint:", "힌트:")
	wExMoreHints = i18n.T("More help: stepbox exercise hint (%d of %d read).", "도움이 더 필요하면 stepbox exercise hint (%d/%d개 읽음).")
	wExHint      = i18n.T("Hint %d of %d", "힌트 %d/%d")
	wExTask      = i18n.T("Task", "과제")
)
