package lessons

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/internal/hint"
)

// catalogue is the course in teaching order (../shared/notes/teaching-
// anchors.md §2): UTS first, PID before mount so that "why do I still see
// everything?" motivates the mount namespace, user late because it changes
// the privilege model, cgroup right after, time last, then the whole.
var catalogue []*Lesson

// register adds a lesson; each lesson's file calls it from init, in an order
// fixed by courseOrder.
func register(l *Lesson) {
	linkExercises(l)
	catalogue = append(catalogue, l)
}

// courseOrder lists lesson ids in teaching order; a lesson file that is not
// listed here is a mistake the tests catch.
var courseOrder = []string{"process", "uts", "pid", "mount", "rootfs", "ipc", "net", "user", "cgroupns", "time", "limits", "security", "full", "images", "ship"}

// Catalogue returns the lessons in teaching order.
func Catalogue() []*Lesson {
	out := make([]*Lesson, 0, len(courseOrder))
	for _, id := range courseOrder {
		for _, l := range catalogue {
			if l.ID == id {
				out = append(out, l)
			}
		}
	}
	return out
}

// Find looks a lesson up by number ("3") or id ("mount").
func Find(name string) (int, *Lesson, error) {
	all := Catalogue()
	if n, err := strconv.Atoi(name); err == nil {
		if n >= 0 && n < len(all) {
			return n, all[n], nil
		}
	}
	for i, l := range all {
		if strings.EqualFold(l.ID, name) {
			return i, l, nil
		}
	}
	ids := make([]string, len(all))
	for i, l := range all {
		ids[i] = fmt.Sprintf("%d %s", i, l.ID)
	}
	return 0, nil, hint.With(fmt.Errorf("unknown lesson %q", name),
		"see 'stepbox lessons'; the course is: "+strings.Join(ids, ", "))
}

// catalogueBefore returns the lessons taught before id.
func catalogueBefore(id string) []*Lesson {
	var out []*Lesson
	for _, l := range Catalogue() {
		if l.ID == id {
			break
		}
		out = append(out, l)
	}
	return out
}
