package lessons

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/nsinspect"
)

// Runner walks a learner through lessons.
type Runner struct {
	Lang  i18n.Lang
	Style ui.Style
	Out   io.Writer
	// In is where keys come from: a terminal (one key at a time) or
	// anything else (one line at a time). Nil never waits.
	In *os.File
	// Auto never waits for a key; Delay pauses after each step instead.
	Auto  bool
	Delay time.Duration
	// From starts at this step (1-based); the steps before it are applied
	// without being shown.
	From int
	// Without names the feature the lesson's failure demo leaves out.
	Without string
	// Quiet prints nothing (the transcript is the output).
	Quiet bool
	Lab   LabConfig
	// Number is the lesson's place in the course, for headings.
	Number int
}

// ErrQuit is returned when the learner quits with q; ErrInterrupted when
// with Ctrl-C (a key in raw mode, or SIGINT).
var (
	ErrQuit        = errors.New("quit")
	ErrInterrupted = errors.New("interrupted")
)

// Result is the transcript of one lesson: every step's evidence and ✓/✗.
type Result struct {
	Lesson  string       `json:"lesson"`
	Number  int          `json:"number"`
	Title   string       `json:"title"`
	Lang    i18n.Lang    `json:"lang"`
	Without string       `json:"without,omitempty"`
	Steps   []StepResult `json:"steps"`
	// Passed: every step passed, or (a demo) failed exactly where it should.
	Passed bool `json:"passed"`
}

// StepResult is one step of a transcript.
type StepResult struct {
	Number     int             `json:"number"`
	Title      string          `json:"title"`
	Syscalls   []string        `json:"syscalls"`
	Shell      string          `json:"shell,omitempty"`
	Probes     []ProbeResult   `json:"probes,omitempty"`
	Rows       []RowResult     `json:"rows"`
	Changes    []Change        `json:"changes"`
	Namespaces map[string]bool `json:"namespaces"` // true = the container's own
	Expect     string          `json:"expect"`
	OK         bool            `json:"ok"`
	// ShouldFail marks a step a --without demo is meant to break.
	ShouldFail bool   `json:"should_fail,omitempty"`
	Millis     int64  `json:"millis"`
	Error      string `json:"error,omitempty"`
}

// RowResult is one evidence row.
type RowResult struct {
	Label string `json:"label"`
	Host  string `json:"host"`
	Box   string `json:"container"`
}

func (r *Runner) t(x i18n.Text) string { return x.In(r.Lang) }

func (r *Runner) printf(format string, a ...any) {
	if !r.Quiet {
		fmt.Fprintf(r.Out, format, a...)
	}
}

// Run runs one lesson and tears down everything it made, whatever happens.
func (r *Runner) Run(ctx context.Context, ls *Lesson) (res *Result, err error) {
	res = &Result{Lesson: ls.ID, Number: r.Number, Title: r.t(ls.Title), Lang: r.Lang, Without: r.Without}
	lab := NewLab(r.Lab)
	defer func() {
		if cerr := lab.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	var demo *Demo
	if r.Without != "" {
		if ls.Demo.Feature != r.Without {
			return res, fmt.Errorf("lesson %s has no demo without %q (it has: %s)", ls.ID, r.Without, ls.Demo.Feature)
		}
		demo = &ls.Demo
		lab.filter = demo.Remove
		if demo.Setup != nil {
			demo.Setup(lab)
		}
	}
	for _, prior := range catalogueBefore(ls.ID) {
		if prior.Keep != nil {
			prior.Keep(lab)
		}
	}
	// A program the lesson needs and this system lacks is one line now,
	// not a ✗ in the middle of the lesson.
	if missing := missingTools(ls, lab); len(missing) > 0 {
		return res, needsError(ls, missing)
	}
	r.heading(ls)
	if demo != nil {
		r.printf("%s %s\n%s\n", r.Style.Warn(r.t(wDemo)), r.Style.Bold(demo.Feature), wrap(r.t(demo.Explain), 78, "  "))
		r.printf("%s\n\n", wrap(r.t(wDemoNS), 78, "  "))
	}
	var prev *nsinspect.Snapshot
	passed := true
	steps := ls.Steps
	if demo != nil {
		steps = append(slices.Clip(steps), demo.Extra...)
	}
	for i := 0; i < len(steps); i++ {
		if err := ctx.Err(); err != nil {
			return res, ErrInterrupted
		}
		st := &steps[i]
		n := i + 1
		if n < r.From {
			if st.Apply != nil {
				if err := st.Apply(lab); err != nil {
					return res, fmt.Errorf("step %d: %w", n, err)
				}
			}
			continue
		}
		start := time.Now()
		sr, ev, err := r.step(lab, len(steps), st, n, prev, true)
		sr.Millis = time.Since(start).Milliseconds()
		if err != nil {
			sr.Error = err.Error()
			res.Steps = append(res.Steps, sr)
			return res, fmt.Errorf("step %d (%s): %w", n, r.t(st.Title), err)
		}
		if demo != nil {
			sr.ShouldFail = slices.Contains(demo.Fails, n)
			if sr.OK == sr.ShouldFail {
				passed = false
			}
		} else if !sr.OK {
			passed = false
		}
		r.verdict(sr, demo)
		res.Steps = append(res.Steps, sr)
		prev = &ev.Inside
		for {
			key, err := r.wait(ctx)
			if err != nil {
				return res, err
			}
			if key == 's' {
				r.printf("\n%s\n", r.Style.Note(r.t(wShellIn)))
				if err := lab.Shell(r.In, r.Out); err != nil {
					r.printf("%s\n", r.Style.Bad(err.Error()))
				}
				r.printf("%s\n", r.Style.Note(r.t(wShellOut)))
				continue
			}
			if key == 'r' {
				again, ev2, err := r.step(lab, len(steps), st, n, prev, false)
				if err != nil {
					return res, err
				}
				r.verdict(again, demo)
				res.Steps[len(res.Steps)-1] = again
				_ = ev2
				continue
			}
			break
		}
	}
	res.Passed = passed
	if ls.Outro.En != "" {
		r.printf("%s\n\n", wrap(r.t(ls.Outro), 78, ""))
	}
	switch {
	case demo != nil && passed:
		r.printf("%s\n", r.Style.Good(r.t(wDemoOK)))
	case demo != nil:
		r.printf("%s\n", r.Style.Bad(r.t(wDemoBad)))
	case passed:
		r.printf("%s\n", r.Style.Good(r.t(wPassed)))
	default:
		r.printf("%s\n", r.Style.Bad(r.t(wFailed)))
	}
	return res, nil
}

func (r *Runner) heading(ls *Lesson) {
	title := fmt.Sprintf("%s %d · %s", r.t(wLesson), r.Number, r.t(ls.Title))
	r.printf("\n%s\n", r.Style.Bold(rule(title, 80)))
	if ls.Intro.En != "" {
		r.printf("%s\n\n", wrap(r.t(ls.Intro), 78, ""))
	}
}

// step applies (when apply is set), observes and renders one step.
func (r *Runner) step(lab *Lab, total int, st *Step, n int, prev *nsinspect.Snapshot, apply bool) (StepResult, *Evidence, error) {
	sr := StepResult{Number: n, Title: r.t(st.Title), Shell: st.Shell, Expect: r.t(st.Expect.Text)}
	for _, sc := range st.Syscalls {
		sr.Syscalls = append(sr.Syscalls, sc.String())
	}
	r.printf("%s %d/%d · %s\n\n", r.Style.Bold(r.t(wStep)), n, total, r.Style.Bold(r.t(st.Title)))
	r.printf("%s\n\n", wrap(r.t(st.Explain), 78, "  "))
	for i, sc := range st.Syscalls {
		label := ""
		if i == 0 {
			label = r.t(wSyscall)
		}
		r.printf("  %s  %s\n", ui.Pad(label, 12), r.Style.Note(sc.String()))
	}
	if st.Shell != "" {
		for i, line := range strings.Split(st.Shell, "\n") {
			label := ""
			if i == 0 {
				label = r.t(wByHand)
			}
			r.printf("  %s  %s\n", ui.Pad(label, 12), line)
		}
	}
	r.printf("\n")
	if apply && st.Apply != nil {
		if err := st.Apply(lab); err != nil {
			return sr, nil, err
		}
	}
	ev, err := observe(lab, st, prev)
	if err != nil {
		return sr, nil, err
	}
	sr.Probes = ev.Probes
	for _, p := range ev.Probes {
		where := wInside
		if p.Where == "host" {
			where = wOnHost
		}
		label := "(" + r.t(where) + ")"
		r.printf("  %s %s   %s\n", r.Style.Faint("$"), ui.Truncate(expand(lab, p.Cmd), 72-ui.Width(label)), r.Style.Faint(label))
		r.printf("%s", indentOutput(p.Output, 12, r.t(wMoreLines)))
	}
	if len(ev.Probes) > 0 {
		r.printf("\n")
	}
	t := ui.Table{Header: []string{"", r.t(wHost), r.t(wContainer)}, MaxWidth: 78, Shrink: []int{1, 2}, Style: r.Style}
	for _, row := range st.Rows {
		rr := RowResult{Label: r.t(row.Label), Host: row.Host(ev), Box: row.Box(ev)}
		sr.Rows = append(sr.Rows, rr)
		t.Add("  "+rr.Label, rr.Host, rr.Box)
	}
	if len(st.Rows) > 0 && !r.Quiet {
		t.Render(r.Out)
		r.printf("\n")
	}
	if prev != nil {
		sr.Changes = changes(*prev, ev.Inside, ev.Host)
		if len(sr.Changes) == 0 {
			r.printf("  %s\n", r.Style.Faint(r.t(wNoChange)))
		} else {
			r.printf("  %s\n", r.t(wChanged))
			for i, c := range sr.Changes {
				if i == 8 {
					r.printf("    … %d %s\n", len(sr.Changes)-8, r.t(wMoreLines))
					break
				}
				r.printf("    %s\n", ui.Truncate(r.localize(c).String(), 74))
			}
		}
		r.printf("\n")
	}
	sr.Namespaces = map[string]bool{}
	for _, typ := range courseNamespaces {
		sr.Namespaces[typ] = ev.Isolated(typ)
	}
	r.printf("%s\n\n", r.picture(sr.Namespaces))
	sr.OK = st.Expect.Check == nil || st.Expect.Check(ev)
	return sr, ev, nil
}

// courseNamespaces are the eight namespace types as /proc/PID/ns names them.
var courseNamespaces = []string{"uts", "pid", "mnt", "ipc", "net", "user", "cgroup", "time"}

// picture draws the eight namespaces: ● the container's own, ○ the host's.
func (r *Runner) picture(iso map[string]bool) string {
	var b strings.Builder
	b.WriteString("  " + r.t(wNamespaces) + "  ")
	for _, typ := range courseNamespaces {
		if iso[typ] {
			b.WriteString(r.Style.Good("●") + typ + " ")
		} else {
			b.WriteString(r.Style.Faint("○"+typ) + " ")
		}
	}
	b.WriteString("\n  " + strings.Repeat(" ", ui.Width(r.t(wNamespaces))+2) +
		r.Style.Faint("● "+r.t(wOwn)+"  ○ "+r.t(wShared)))
	return b.String()
}

func (r *Runner) verdict(sr StepResult, demo *Demo) {
	mark := r.Style.Good("✓")
	if !sr.OK {
		mark = r.Style.Bad("✗")
	}
	line := mark + " " + sr.Expect
	if demo != nil && !sr.OK && sr.ShouldFail {
		line += "  " + r.Style.Warn("("+r.t(wExpectedBad)+" "+demo.Feature+")")
	}
	r.printf("  %s\n\n", line)
}

// wait returns the learner's choice after a step: '\n' (next), 's', 'r'.
func (r *Runner) wait(ctx context.Context) (byte, error) {
	if r.Auto || r.In == nil {
		if r.Delay > 0 {
			select {
			case <-time.After(r.Delay):
			case <-ctx.Done():
				return 0, ErrInterrupted
			}
		}
		if ctx.Err() != nil {
			return 0, ErrInterrupted
		}
		return '\n', nil
	}
	r.printf("%s ", r.Style.Faint(r.t(wPrompt)))
	defer r.printf("\n\n")
	fd := int(r.In.Fd())
	if term.IsTerminal(fd) {
		st, err := term.MakeRaw(fd)
		if err == nil {
			defer term.Restore(fd, st)
		}
		buf := make([]byte, 1)
		for {
			if _, err := r.In.Read(buf); err != nil {
				return 0, ErrQuit
			}
			switch buf[0] {
			case '\r', '\n', ' ':
				return '\n', nil
			case 's', 'S', 'r', 'R':
				return buf[0] | 0x20, nil
			case 'q', 'Q', 4: // q, Ctrl-D
				return 0, ErrQuit
			case 3: // Ctrl-C, which raw mode delivers as a key
				return 0, ErrInterrupted
			}
		}
	}
	line, err := bufio.NewReader(r.In).ReadString('\n')
	if err != nil && line == "" {
		return 0, ErrQuit
	}
	switch strings.TrimSpace(strings.ToLower(line)) {
	case "s":
		return 's', nil
	case "r":
		return 'r', nil
	case "q":
		return 0, ErrQuit
	}
	return '\n', nil
}

// observe gathers the evidence after a step.
func observe(lab *Lab, st *Step, prev *nsinspect.Snapshot) (*Evidence, error) {
	ev := &Evidence{Prev: prev}
	var err error
	if ev.Inside, err = lab.InsideSnapshot(); err != nil {
		return nil, err
	}
	if ev.Outside, err = lab.OutsideSnapshot(); err != nil {
		return nil, err
	}
	if ev.Host, err = nsinspect.Take(os.Getpid()); err != nil {
		return nil, err
	}
	for _, p := range st.Probes {
		cmd := expand(lab, p.Cmd)
		var out Output
		if p.Where == Host {
			out, err = lab.Host(cmd)
		} else {
			out, err = lab.Inside(cmd)
		}
		if err != nil {
			return nil, err
		}
		ev.Probes = append(ev.Probes, ProbeResult{Where: p.Where.String(), Cmd: p.Cmd, Output: out.Output, Code: out.Code})
	}
	return ev, nil
}

func indentOutput(out string, max int, more string) string {
	out = strings.TrimRight(out, "\n")
	if out == "" {
		return ""
	}
	lines := strings.Split(out, "\n")
	var b strings.Builder
	for i, l := range lines {
		if i == max {
			fmt.Fprintf(&b, "    … %d %s\n", len(lines)-max, more)
			break
		}
		b.WriteString("    " + ui.Truncate(l, 74) + "\n")
	}
	return b.String()
}

// rule pads a title with a line to width columns.
func rule(title string, width int) string {
	s := "━━ " + title + " "
	if n := width - ui.Width(s); n > 0 {
		s += strings.Repeat("━", n)
	}
	return s
}

// wrap folds text to width columns at spaces, indenting every line;
// paragraphs (blank lines) are kept.
func wrap(text string, width int, indent string) string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		line := indent
		for _, w := range strings.Fields(para) {
			if ui.Width(line)+ui.Width(w)+1 > width && strings.TrimSpace(line) != "" {
				out = append(out, strings.TrimRight(line, " "))
				line = indent
			}
			line += w + " "
		}
		out = append(out, strings.TrimRight(line, " "), "")
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n")
}

// expand fills a probe's placeholders: {pid} is the container's pid on the
// host, {peer} the second container's, {rootfs} the root filesystem's host
// path; {stepbox} the command line with the lab's --root, {box} the
// detached container's name and {expect} the namespaces `stepbox run`
// makes on this kernel (the full lesson's last step); {a}, {b} and
// {published} the bridge step's containers and port (the network lesson);
// {key} what the lesson Set.
func expand(lab *Lab, cmd string) string {
	if !strings.Contains(cmd, "{") {
		return cmd
	}
	sb, err := lab.stepboxCommand()
	if err != nil {
		sb = "stepbox"
	}
	expect := "all"
	if strings.Contains(cmd, "{expect}") && !timeNSWorks(lab) {
		expect = "uts,pid,mnt,ipc,net,user,cgroup"
	}
	pairs := []string{"{pid}", strconv.Itoa(lab.Pid()), "{peer}", strconv.Itoa(lab.PeerPid()),
		"{rootfs}", lab.Rootfs(), "{stepbox}", sb, "{box}", lab.detachedName(), "{expect}", expect,
		"{a}", lab.bridgeA(), "{b}", lab.bridgeB(), "{published}", notedByLab(lab, "bridge.published")}
	for k, v := range lab.vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(cmd)
}

// localize translates the namespace words of a change for the reader.
func (r *Runner) localize(c Change) Change {
	word := func(v string) string {
		switch v {
		case "own":
			return r.t(wOwn)
		case "host's":
			return r.t(wShared)
		}
		return v
	}
	c.Before, c.After = word(c.Before), word(c.After)
	return c
}
