package lessons

import (
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

// envProgressWriter makes the test binary a helper that records checks of
// an exercise as fast as it can, until it is killed.
const envProgressWriter = "STEPBOX_TEST_PROGRESS_WRITER"

// TestProgressWriterHelper is not a test: it is the body of the helper.
func TestProgressWriterHelper(t *testing.T) {
	dir := os.Getenv(envProgressWriter)
	if dir == "" {
		t.Skip("helper process only")
	}
	p, _ := Learner{Dir: dir}.LoadProgress()
	for {
		if err := p.ExerciseChecked("uts.1", false); err != nil {
			os.Exit(2)
		}
	}
}

// A crash at any moment of a write (a learner's laptop losing power, a
// SIGKILL mid-exercise) leaves the progress file as it was before the
// write, or after it: never a part. A helper writes as fast as it can and
// is killed at random times; after each kill the file reads back whole,
// and no check recorded before is lost.
func TestProgressSurvivesCrashes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stepbox")
	last := 0
	for i := 0; i < 20; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestProgressWriterHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), envProgressWriter+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rand.Intn(60)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		b, err := os.ReadFile(filepath.Join(dir, "progress.json"))
		if err != nil {
			continue // killed before its first write
		}
		var p Progress
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("after a crash the file is not whole: %v\n%s", err, b)
		}
		n := p.Exercises["uts.1"].Checks
		if n < last {
			t.Fatalf("after a crash %d checks are recorded, %d were before", n, last)
		}
		last = n
	}
	if last == 0 {
		t.Fatal("the helper recorded nothing")
	}
	// The next change clears what the crashes left half-made.
	p, _ := Learner{Dir: dir}.LoadProgress()
	if err := p.ExerciseChecked("uts.1", true); err != nil {
		t.Fatal(err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".progress.json-*.tmp")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	if e := p.Exercise("uts.1"); e.Done == nil || e.Checks != last+1 || !e.LastOK {
		t.Errorf("after the crashes: %+v", e)
	}
}

// Version 1's file (only "done") reads as it was, and the next write keeps it.
func TestProgressReadsVersion1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stepbox")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "progress.json"), []byte(`{"done": {"uts": "2026-11-01T10:00:00Z"}}`), 0o644)
	p, err := Learner{Dir: dir}.LoadProgress()
	if err != nil || p.Done["uts"].IsZero() {
		t.Fatalf("%v %+v", err, p)
	}
	if err := p.Reached("pid", 2, 4); err != nil {
		t.Fatal(err)
	}
	q, _ := Learner{Dir: dir}.LoadProgress()
	if q.Version != progressVersion || q.Done["uts"].IsZero() || q.Lessons["pid"].Step != 2 {
		t.Errorf("after a write: %+v", q)
	}
}

// --resume goes on at the step seen last; once that lesson passed on its
// last step, at the next lesson not passed.
func TestResume(t *testing.T) {
	p := newProgress(Learner{Dir: t.TempDir()})
	if n, l, step, _ := p.Resume(""); n != 0 || l.ID != "process" || step != 1 {
		t.Errorf("nothing done: %d %s %d", n, l.ID, step)
	}
	now := time.Now().UTC()
	p.Last = &Place{Lesson: "pid", Step: 3, Steps: 4, At: now}
	p.Lessons["pid"] = &LessonProgress{Step: 3, Steps: 4, At: now}
	if _, l, step, _ := p.Resume(""); l.ID != "pid" || step != 3 {
		t.Errorf("stopped at pid 3: %s %d", l.ID, step)
	}
	p.Done["process"], p.Done["uts"] = now, now
	p.Last = &Place{Lesson: "pid", Step: 4, Steps: 4, At: now}
	p.Done["pid"] = now.Add(time.Second)
	if _, l, step, _ := p.Resume(""); l.ID != "mount" || step != 1 {
		t.Errorf("pid passed: %s %d", l.ID, step)
	}
	if _, l, step, _ := p.Resume("pid"); l.ID != "pid" || step != 3 {
		// The lesson named: its own last step (3, from Lessons).
		t.Errorf("resume pid: %s %d", l.ID, step)
	}
}

// learnerDir makes a state directory that uid owns, below directories
// anyone may cross, as a home directory is.
func learnerDir(t *testing.T, uid int) string {
	t.Helper()
	base, err := os.MkdirTemp("", "stepbox-learner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	home := filepath.Join(base, "state")
	os.Mkdir(home, 0o700)
	os.Chown(home, uid, uid)
	return home
}

// Under sudo the progress is the invoking user's: written where their
// $XDG_STATE_HOME says, with their ids, so the files are theirs; two
// learners on one machine each have their own; and a link a learner
// planted cannot make root write where the learner could not.
func TestProgressPerLearnerUnderSudo(t *testing.T) {
	testutil.RequiresRoot(t)
	homes := map[int]string{}
	for _, uid := range []int{1000, 1001} {
		homes[uid] = learnerDir(t, uid)
		t.Setenv("XDG_STATE_HOME", homes[uid])
		t.Setenv("SUDO_UID", strconv.Itoa(uid))
		t.Setenv("SUDO_GID", strconv.Itoa(uid))
		t.Setenv("SUDO_USER", "learner"+strconv.Itoa(uid))
		l := CurrentLearner()
		if l.UID != uid || l.Dir != filepath.Join(homes[uid], "stepbox") || l.Name != "learner"+strconv.Itoa(uid) {
			t.Fatalf("learner %+v", l)
		}
		p, _ := l.LoadProgress()
		for i := 0; i < uid-999; i++ {
			if _, err := p.NextHint("uts.1", 3); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"stepbox", "stepbox/progress.json", "stepbox/progress.lock"} {
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(homes[uid], f), &st); err != nil || int(st.Uid) != uid || int(st.Gid) != uid {
				t.Errorf("%s of uid %d: owner %d:%d, %v", f, uid, st.Uid, st.Gid, err)
			}
		}
	}
	for uid, want := range map[int]int{1000: 1, 1001: 2} {
		p, _ := Learner{Dir: filepath.Join(homes[uid], "stepbox")}.LoadProgress()
		if got := p.Exercise("uts.1").Hints; got != want {
			t.Errorf("uid %d read %d hints, want %d: the learners share a file", uid, got, want)
		}
	}
	// A learner points their state at root's: root, acting for them,
	// cannot write there.
	victim := t.TempDir()
	os.Chmod(victim, 0o755)
	trap := learnerDir(t, 1000)
	os.Symlink(victim, filepath.Join(trap, "stepbox"))
	t.Setenv("XDG_STATE_HOME", trap)
	t.Setenv("SUDO_UID", "1000")
	t.Setenv("SUDO_GID", "1000")
	p, _ := CurrentLearner().LoadProgress()
	if err := p.MarkDone("uts"); err == nil {
		t.Error("root wrote through the learner's link into a directory the learner may not write")
	}
	if _, err := os.Stat(filepath.Join(victim, "progress.json")); err == nil {
		t.Error("the file landed in root's directory")
	}
}
