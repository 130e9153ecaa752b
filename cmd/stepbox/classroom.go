package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/stepbox/stepbox/internal/cast"
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/lessons"
)

// What the classroom controls say.
var (
	msgResuming  = i18n.T("Going on where you stopped: lesson %d (%s), step %d.", "멈췄던 곳에서 이어 갑니다: 레슨 %d(%s), %d단계.")
	msgRecording = i18n.T("Recorded to %s: play it with 'stepbox replay %s' or 'asciinema play %s'.", "%s에 녹화했습니다. 'stepbox replay %s' 또는 'asciinema play %s'로 재생하세요.")
	msgRecordBad = i18n.T("the recording %s stopped early: %v", "%s에 녹화하다가 중간에 멈췄습니다: %v")
)

// resumePlace is the lesson and step `learn --resume [LESSON]` starts at.
func resumePlace(g *globals, args []string) (int, *lessons.Lesson, int, error) {
	lang, err := g.Lang()
	if err != nil {
		return 0, nil, 0, err
	}
	prog, _ := lessons.LoadProgress()
	id := ""
	if len(args) > 0 {
		id = args[0]
	}
	n, l, step, err := prog.Resume(id)
	if err != nil {
		return 0, nil, 0, usageError{err}
	}
	fmt.Fprintln(g.stdout, g.Style().Note(fmt.Sprintf(msgResuming.In(lang), n, l.ID, step)))
	return n, l, step, nil
}

// recording is a --record file being written while the lesson is shown.
type recording struct {
	file *os.File
	cast *cast.Writer
	out  io.Writer
	path string
}

// startRecording opens path and writes the asciicast header: the size of
// the terminal the lesson is shown on, or the layout's width.
func startRecording(g *globals, o *learnOptions, width int, which []int) (*recording, error) {
	if o.json {
		return nil, usagef("--record records what is shown, and --json shows nothing: choose one")
	}
	lang, _ := g.Lang()
	cols, rows := width, 40
	if f, ok := terminal(g.stdout); ok {
		if c, r, err := term.GetSize(int(f.Fd())); err == nil && c > 0 {
			cols, rows = c, r
		}
	}
	title := "stepbox tour"
	if len(which) == 1 {
		l := lessons.Catalogue()[which[0]]
		title = fmt.Sprintf("stepbox learn %s · %s", l.ID, l.Title.In(lang))
	}
	f, err := os.OpenFile(o.record, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	env := map[string]string{"TERM": os.Getenv("TERM"), "SHELL": os.Getenv("SHELL")}
	if env["TERM"] == "" {
		env["TERM"] = "xterm-256color"
	}
	w, err := cast.NewWriter(f, cast.Header{Width: cols, Height: rows, Title: title, Env: env})
	if err != nil {
		f.Close()
		return nil, err
	}
	return &recording{file: f, cast: w, out: io.MultiWriter(g.stdout, w), path: o.record}, nil
}

// close ends the recording and says where it is.
func (r *recording) close(g *globals) {
	lang, _ := g.Lang()
	err := r.cast.Err()
	if cerr := r.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(g.stderr, fmt.Sprintf(msgRecordBad.In(lang), r.path, err))
		return
	}
	q := shellQuote(r.path)
	fmt.Fprintln(g.stderr, g.Style().Faint(fmt.Sprintf(msgRecording.In(lang), r.path, q, q)))
}

// shellQuote quotes s for a shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"$\\*?;&|<>()`!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
