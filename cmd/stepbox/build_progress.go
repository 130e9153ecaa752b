package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-runewidth"
	"golang.org/x/term"
)

// buildStatus is the progress line a build keeps at the bottom of a
// terminal: the step running and how long it has run, redrawn every tenth
// of a second and cleared while a line of output (a step's header, RUN's
// output) is written above it, as docker's and podman's builders do. On a
// pipe, or with --progress plain or quiet, there is none.
type buildStatus struct {
	mu      sync.Mutex
	tty     *os.File // standard error, a terminal
	text    string
	began   time.Time
	shown   bool
	midLine bool // output ended without a newline: redraw after the next
	stop    chan struct{}
	stopped sync.WaitGroup
}

// newBuildStatus returns the status line for mode, or nil where none is
// drawn.
func newBuildStatus(g *globals, mode string, quiet bool) *buildStatus {
	f, ok := terminal(g.stderr)
	if quiet || (mode != "auto" && mode != "tty") || !ok {
		return nil
	}
	s := &buildStatus{tty: f, stop: make(chan struct{})}
	s.stopped.Add(1)
	go func() {
		defer s.stopped.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.mu.Lock()
				s.draw()
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// step is build.Options.Step.
func (s *buildStatus) step(n, total int, instruction string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.text = fmt.Sprintf("[%d/%d] %s", n, total, instruction)
	s.began = time.Now()
	s.draw()
}

// draw writes the line anew, cut to the terminal's width. Called locked.
func (s *buildStatus) draw() {
	if s.text == "" || s.midLine {
		return
	}
	width := 80
	if w, _, err := term.GetSize(int(s.tty.Fd())); err == nil && w > 0 {
		width = w
	}
	elapsed := fmt.Sprintf(" %.1fs", time.Since(s.began).Seconds())
	line := runewidth.Truncate(s.text, width-1-len(elapsed), "…") + elapsed
	fmt.Fprint(s.tty, "\r\x1b[K\x1b[7m"+line+"\x1b[0m")
	s.shown = true
}

// clear takes the line away. Called locked.
func (s *buildStatus) clear() {
	if s.shown {
		fmt.Fprint(s.tty, "\r\x1b[K")
		s.shown = false
	}
}

// writer wraps w, which shares the terminal, so that what it writes is
// never mixed into the status line.
func (s *buildStatus) writer(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.clear()
		n, err := w.Write(p)
		if len(p) > 0 {
			s.midLine = p[len(p)-1] != '\n'
		}
		s.draw()
		return n, err
	})
}

// done stops the redrawing and leaves the terminal as output left it.
func (s *buildStatus) done() {
	close(s.stop)
	s.stopped.Wait()
	s.mu.Lock()
	s.clear()
	s.mu.Unlock()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
