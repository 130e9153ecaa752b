package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/mattn/go-runewidth"

	"github.com/stepbox/stepbox/internal/cast"
	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/lessons"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// screenOf plays bytes written to a terminal of cols×rows and returns the
// rows it ends with, trailing spaces cut: enough of a terminal for what
// stepbox and asciinema write (text, \r, \n, \b, and escape sequences,
// which change nothing on the screen here).
func screenOf(data string, cols, rows int) []string {
	grid := [][]rune{make([]rune, cols)}
	x, y := 0, 0
	newline := func() {
		y++
		if y == len(grid) {
			grid = append(grid, make([]rune, cols))
		}
	}
	rs := []rune(data)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\x1b': // CSI ... final byte, OSC ... BEL or ST, or ESC X
			if i+1 < len(rs) && rs[i+1] == '[' {
				for i += 2; i < len(rs) && (rs[i] < 0x40 || rs[i] > 0x7e); i++ {
				}
			} else if i+1 < len(rs) && rs[i+1] == ']' {
				for i += 2; i < len(rs) && rs[i] != '\a' && !(rs[i] == '\x1b' && i+1 < len(rs) && rs[i+1] == '\\'); i++ {
				}
			} else {
				i++
			}
		case r == '\r':
			x = 0
		case r == '\n':
			newline()
		case r == '\b':
			if x > 0 {
				x--
			}
		case r < ' ':
		default:
			w := runewidth.RuneWidth(r)
			if x+w > cols {
				x = 0
				newline()
			}
			grid[y][x] = r
			for k := 1; k < w; k++ {
				grid[y][x+k] = 0xFFFF // the second column of a wide rune
			}
			x += w
		}
	}
	if len(grid) > rows {
		grid = grid[len(grid)-rows:]
	}
	out := make([]string, len(grid))
	for i, row := range grid {
		var b strings.Builder
		for _, r := range row {
			switch r {
			case 0:
				b.WriteRune(' ')
			case 0xFFFF:
			default:
				b.WriteRune(r)
			}
		}
		out[i] = strings.TrimRight(b.String(), " ")
	}
	return out
}

// onPTY runs argv on a terminal of cols×rows and returns what it showed
// and its exit code.
func onPTY(t *testing.T, cols, rows int, argv ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en", "TERM=xterm")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out syncBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, ptmx); close(copied) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("%v did not end; it showed:\n%s", argv, out.String())
	}
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// A recording of the tour holds the terminal's size, every byte the tour
// showed as a terminal shows it, and a marker at every step; asciinema (as
// Debian ships it) reads it whole and plays it to the end at 100 times the
// speed, and stepbox replay ends on the same screen.
func TestRecordTourPlaysBack(t *testing.T) {
	testutil.RequiresRoot(t)
	asciinema := testutil.RequiresCommand(t, "asciinema")
	root := builtinRoot(t, builtinfs.SourceBusybox)
	rec := filepath.Join(t.TempDir(), "tour.cast")
	r := runIn(t, root, "tour", "--auto", "--record", rec)
	if r.code != 0 {
		t.Fatalf("tour: exit %d\n%s", r.code, r.stderr)
	}
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	h, evs, err := cast.Read(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.Width != 80 || h.Height < 24 || h.Timestamp == 0 {
		t.Errorf("header %+v", h)
	}
	var shown strings.Builder
	var marks []string
	for _, e := range evs {
		switch e.Code {
		case cast.Output:
			shown.WriteString(e.Data)
		case cast.Marker:
			marks = append(marks, e.Data)
		}
	}
	if want := strings.ReplaceAll(r.stdout, "\n", "\r\n"); shown.String() != want {
		t.Errorf("the recording's output (%d bytes) is not what the tour showed (%d bytes)", shown.Len(), len(want))
	}
	steps := 0
	for _, l := range lessons.Catalogue() {
		steps += len(l.Steps)
	}
	if len(marks) != steps || !strings.HasPrefix(marks[0], "Lesson 0 · Step 1/") {
		t.Errorf("%d markers for %d steps: %q…", len(marks), steps, marks[:min(3, len(marks))])
	}
	// asciinema cat writes every output event at once (it wants a
	// terminal too); play keeps the pauses, a hundred times shorter.
	catted, code := onPTY(t, h.Width, h.Height, asciinema, "cat", rec)
	if code != 0 {
		t.Fatalf("asciinema cat: exit %d\n%s", code, catted)
	}
	played, code := onPTY(t, h.Width, h.Height, asciinema, "play", "-s", "100", rec)
	if code != 0 {
		t.Fatalf("asciinema play: exit %d\n%s", code, played)
	}
	replayed, code := onPTY(t, h.Width, h.Height, stepboxBin, "replay", "--speed", "100", rec)
	if code != 0 {
		t.Fatalf("stepbox replay: exit %d\n%s", code, replayed)
	}
	want := screenOf(shown.String(), h.Width, h.Height)
	for name, got := range map[string][]string{"asciinema cat": screenOf(catted, h.Width, h.Height),
		"asciinema play": screenOf(played, h.Width, h.Height), "stepbox replay": screenOf(replayed, h.Width, h.Height)} {
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s ends on another screen:\n%s\n--- want:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if !strings.Contains(strings.Join(want, "\n"), "All steps passed.") {
		t.Errorf("the final screen is not the tour's end:\n%s", strings.Join(want, "\n"))
	}
	if r := run(t, "replay", "--markers", rec); r.code != 0 || strings.Count(r.stdout, "Step ") != steps {
		t.Errorf("replay --markers: exit %d\n%s", r.code, r.stdout)
	}
}

// learn --resume goes on at the step seen last: after `learn uts --step 2`
// it shows steps 2 and 3 of uts, not 1; then the lesson counts as passed.
func TestLearnResume(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	if r := runIn(t, root, "learn", "uts", "--auto", "--step", "2"); r.code != 0 || strings.Contains(r.stdout, "Step 1/3") {
		t.Fatalf("--step 2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runIn(t, root, "learn", "--resume", "--auto")
	if r.code != 0 || !strings.Contains(r.stdout, "Going on where you stopped: lesson 1 (uts), step 2.") ||
		strings.Contains(r.stdout, "Step 1/3") || !strings.Contains(r.stdout, "Step 2/3") || !strings.Contains(r.stdout, "Step 3/3") {
		t.Fatalf("--resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rows []struct {
		ID       string `json:"id"`
		Done     bool   `json:"done"`
		LastStep int    `json:"last_step"`
	}
	r = run(t, "lessons", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || rows[1].ID != "uts" || !rows[1].Done || rows[1].LastStep != 3 {
		t.Errorf("lessons --json after --resume: %v %+v", err, rows)
	}
	// Now uts is over: --resume goes to the next lesson not passed.
	if r := runIn(t, root, "learn", "--resume", "--auto", "--step", "1"); !strings.Contains(r.stdout, "lesson 0 (process), step 1.") {
		t.Errorf("--resume after uts passed:\n%s", r.stdout)
	}
}

// The exercise commands that need no session: list, show, hint (the ladder
// ends with the answer, shown again after), progress --export; and the
// one-line errors of a check with no exercise open and of an unknown one.
func TestExerciseCommands(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
		Hints int    `json:"hints"`
	}
	r := run(t, "exercise", "list", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != len(lessons.Exercises()) || len(list) < 26 {
		t.Fatalf("exercise list --json: %v, %d exercises", err, len(list))
	}
	if r := run(t, "ex", "show", "uts.1"); r.code != 0 || !strings.Contains(r.stdout, "Exercise uts.1 · A hostname of its own") {
		t.Errorf("ex show: exit %d\n%s", r.code, r.stdout)
	}
	ex, _ := lessons.FindExercise("uts.1")
	n := len(ex.Ladder())
	for i := 1; i <= n+1; i++ {
		r := run(t, "exercise", "hint", "uts.1")
		want := "Hint " + strconv.Itoa(min(i, n)) + " of " + strconv.Itoa(n)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("hint %d: exit %d, want %q:\n%s", i, r.code, want, r.stdout)
		}
		if i >= n && !strings.Contains(r.stdout, strings.TrimSpace(ex.Answer)) {
			t.Errorf("the last hint is not the answer:\n%s", r.stdout)
		}
	}
	if r := run(t, "--lang", "ko", "exercise", "hint", "uts.2"); !strings.Contains(r.stdout, "힌트 1/3") {
		t.Errorf("a hint in Korean:\n%s", r.stdout)
	}
	export := filepath.Join(t.TempDir(), "learner.json")
	if r := run(t, "progress", "--export", export); r.code != 0 {
		t.Fatalf("progress --export: exit %d %s", r.code, r.stderr)
	}
	var rep lessons.ProgressReport
	b, _ := os.ReadFile(export)
	if err := json.Unmarshal(b, &rep); err != nil || rep.Summary.Exercises != len(list) || len(rep.Lessons) != len(lessons.Catalogue()) {
		t.Fatalf("the export: %v\n%s", err, b)
	}
	for _, e := range rep.Exercises {
		if e.ID == "uts.1" && (e.Hints != n || e.Done != nil) {
			t.Errorf("uts.1 in the export: %+v", e)
		}
	}
	if r := run(t, "exercise", "start", "uts.9"); r.code != 2 {
		t.Errorf("an unknown exercise: exit %d, want 2", r.code)
	}
	if os.Geteuid() == 0 {
		r := run(t, "exercise", "check")
		if r.code != 1 || !strings.Contains(r.stderr, "no exercise is open") || !strings.Contains(r.stderr, "stepbox exercise start") {
			t.Errorf("check without an exercise: exit %d, %q", r.code, r.stderr)
		}
		oneLine(t, "check without an exercise", r)
	}
}

// Two learners on one machine, each through sudo: each has their own
// progress, in their own state directory, in files they own.
func TestTwoLearners(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, uid := range []string{"1000", "1001"} {
		base, _ := os.MkdirTemp("", "stepbox-learner-")
		t.Cleanup(func() { os.RemoveAll(base) })
		os.Chmod(base, 0o755)
		state := filepath.Join(base, "state")
		os.Mkdir(state, 0o700)
		n, _ := strconv.Atoi(uid)
		os.Chown(state, n, n)
		env := []string{"env", "XDG_STATE_HOME=" + state, "SUDO_UID=" + uid, "SUDO_GID=" + uid, "SUDO_USER=u" + uid}
		for i := 0; i < n-998; i++ {
			if r := stepbox(t, env, "exercise", "hint", "pid.1"); r.code != 0 {
				t.Fatalf("hint as %s: %s", uid, r.stderr)
			}
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(state, "stepbox", "progress.json"), &st); err != nil || st.Uid != uint32(n) {
			t.Errorf("learner %s's progress: owner %d, %v", uid, st.Uid, err)
		}
		var rep lessons.ProgressReport
		r := stepbox(t, env, "progress", "--json")
		json.Unmarshal([]byte(r.stdout), &rep)
		for _, e := range rep.Exercises {
			if e.ID == "pid.1" && e.Hints != n-998 {
				t.Errorf("learner %s read %d hints of pid.1, want %d", uid, e.Hints, n-998)
			}
		}
		if rep.Learner.Name != "u"+uid || rep.Learner.UID != n {
			t.Errorf("learner %+v", rep.Learner)
		}
	}
}

// A crash of the command that opened an exercise (killed mid-exercise)
// loses nothing: the progress file is whole and has the check; the shell
// goes on; a check from another terminal still reads it; and stop ends it
// with everything it made, and what held it, removed.
func TestExerciseSurvivesACrash(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	root := filepath.Join(filepath.Dir(stepboxBin), "crash-root")
	t.Cleanup(func() { os.RemoveAll(root) })
	cmd := exec.Command(stepboxBin, "--root", root, "exercise", "start", "uts.1")
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "STEPBOX_LANG=en", "TERM=xterm")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out syncBuffer
	go io.Copy(&out, ptmx)
	t.Cleanup(func() { stepbox(t, nil, "--root", root, "exercise", "stop"); cmd.Process.Kill(); cmd.Wait() })
	waitShown := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), what); {
			if time.Now().After(deadline) {
				t.Fatalf("never saw %q:\n%s", what, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitShown("[uts.1]")
	ptmx.Write([]byte("unshare --uts sh -c 'hostname box; exec sleep 1000' &\r"))
	ptmx.Write([]byte("sleep 0.3; stepbox exercise check; echo checked-''done\r"))
	waitShown("checked-done")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	b, err := os.ReadFile(filepath.Join(state, "stepbox", "progress.json"))
	var p lessons.Progress
	if err != nil || json.Unmarshal(b, &p) != nil {
		t.Fatalf("the progress after the crash: %v\n%s", err, b)
	}
	if e := p.Exercises["uts.1"]; e == nil || e.Started == nil || e.Done == nil || e.Checks != 1 {
		t.Errorf("uts.1 after the crash: %+v", e)
	}
	r := stepbox(t, nil, "--root", root, "exercise", "check", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"ok": true`) {
		t.Errorf("a check after the crash: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	if r := stepbox(t, nil, "--root", root, "exercise", "stop"); r.code != 0 || !strings.Contains(r.stdout, "ended") {
		t.Errorf("stop: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "run", "exercises")); len(ents) != 0 {
		t.Errorf("the session's directory is left: %v", ents)
	}
	l.Check(t, 10*time.Second)
}
