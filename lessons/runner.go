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

	// Classroom controls. Width is the layout's width in columns (0 is
	// WidthNormal; WidthWide, WidthLarge). NoExplain shows the evidence
	// only, for a second pass: no introduction, explanations, system calls
	// or commands by hand. PauseAt lists steps after which an unattended
	// run waits for a key all the same. Only, when set, shows that step
	// alone (the ones before it are applied silently, as with From) and
	// ends the lesson there.
	Width     int
	NoExplain bool
	PauseAt   []int
	Only      int
	// Mark, when set, is told the label of every step as it starts (a
	// recording's marker).
	Mark func(label string)
	// OnStep, when set, is told every step shown (the learner's progress,
	// where --resume goes on).
	OnStep func(ls *Lesson, step, steps int)
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
		r.printf("%s %s\n%s\n", r.Style.Warn(r.t(wDemo)), r.Style.Bold(demo.Feature), wrap(r.t(demo.Explain), r.width()-2, "  "))
		r.printf("%s\n\n", wrap(r.t(wDemoNS), r.width()-2, "  "))
	}
	var prev *nsinspect.Snapshot
	passed := true
	steps := ls.Steps
	if demo != nil {
		steps = append(slices.Clip(steps), demo.Extra...)
	}
	from := r.From
	if r.Only > 0 {
		if r.Only > len(steps) {
			return res, fmt.Errorf("lesson %s has %d steps, not %d", ls.ID, len(steps), r.Only)
		}
		from = r.Only
	}
	for i := 0; i < len(steps); i++ {
		if err := ctx.Err(); err != nil {
			return res, ErrInterrupted
		}
		st := &steps[i]
		n := i + 1
		if r.Only > 0 && n > r.Only {
			break
		}
		if n < from {
			if st.Apply != nil {
				if err := st.Apply(lab); err != nil {
					return res, fmt.Errorf("step %d: %w", n, err)
				}
			}
			continue
		}
		if r.Mark != nil {
			r.Mark(fmt.Sprintf("%s %d · %s %d/%d · %s", r.t(wLesson), r.Number, r.t(wStep), n, len(steps), r.t(st.Title)))
		}
		if r.OnStep != nil {
			r.OnStep(ls, n, len(steps))
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
			key, err := r.wait(ctx, n)
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
	if ls.Outro.En != "" && !r.NoExplain && r.Only == 0 {
		r.printf("%s\n\n", wrap(r.t(ls.Outro), r.width()-2, ""))
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
	r.printf("\n%s\n", r.Style.Bold(rule(title, r.width())))
	if ls.Intro.En != "" && !r.NoExplain && r.Only == 0 {
		r.printf("%s\n\n", wrap(r.t(ls.Intro), r.width()-2, ""))
	}
}

// step applies (when apply is set), observes and renders one step.
func (r *Runner) step(lab *Lab, total int, st *Step, n int, prev *nsinspect.Snapshot, apply bool) (StepResult, *Evidence, error) {
	sr := StepResult{Number: n, Title: r.t(st.Title), Shell: st.Shell, Expect: r.t(st.Expect.Text)}
	for _, sc := range st.Syscalls {
		sr.Syscalls = append(sr.Syscalls, sc.String())
	}
	w := r.width()
	r.printf("%s\n\n", r.Style.Bold(wrap(fmt.Sprintf("%s %d/%d · %s", r.t(wStep), n, total, r.t(st.Title)), w, "")))
	if !r.NoExplain {
		r.printf("%s\n\n", wrap(r.t(st.Explain), w-2, "  "))
		for i, sc := range st.Syscalls {
			label := ""
			if i == 0 {
				label = r.t(wSyscall)
			}
			r.printf("%s\n", labelled("  ", label, 12, r.Style.Note(sc.String()), w-2))
		}
		if st.Shell != "" {
			for i, line := range strings.Split(st.Shell, "\n") {
				label := ""
				if i == 0 {
					label = r.t(wByHand)
				}
				r.printf("%s\n", labelled("  ", label, 12, line, w-2))
			}
		}
		r.printf("\n")
	}
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
	r.probes(lab, ev.Probes)
	header := []string{"", r.t(wHost), r.t(wContainer)}
	var rows [][]string
	for _, row := range st.Rows {
		rr := RowResult{Label: r.t(row.Label), Host: row.Host(ev), Box: row.Box(ev)}
		sr.Rows = append(sr.Rows, rr)
		rows = append(rows, []string{rr.Label, rr.Host, rr.Box})
	}
	if len(rows) > 0 && !r.Quiet {
		r.table(header, rows)
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
				r.printf("    %s\n", ui.Truncate(r.localize(c).String(), w-6))
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

// probes shows what each probe printed. On a projector (wide) the ones
// run inside stand on the left and the host's on the right, as in the
// evidence table; otherwise one under the other.
func (r *Runner) probes(lab *Lab, ps []ProbeResult) {
	if len(ps) == 0 {
		return
	}
	w := r.width()
	block := func(p ProbeResult, width int) []string {
		where := wInside
		if p.Where == "host" {
			where = wOnHost
		}
		label := "(" + r.t(where) + ")"
		lines := []string{fmt.Sprintf("  %s %s   %s", r.Style.Faint("$"), ui.Truncate(expand(lab, p.Cmd), width-8-ui.Width(label)), r.Style.Faint(label))}
		if out := indentOutput(p.Output, 12, r.t(wMoreLines), width); out != "" {
			lines = append(lines, strings.Split(strings.TrimSuffix(out, "\n"), "\n")...)
		}
		return lines
	}
	var inside, host []string
	for _, p := range ps {
		if p.Where == "host" {
			host = append(host, block(p, (w-2)/2)...)
		} else {
			inside = append(inside, block(p, (w-2)/2)...)
		}
	}
	if r.wide() && len(inside) > 0 && len(host) > 0 {
		for _, l := range beside(inside, host, w) {
			r.printf("%s\n", l)
		}
	} else {
		for _, p := range ps {
			for _, l := range block(p, w) {
				r.printf("%s\n", l)
			}
		}
	}
	r.printf("\n")
}

// table shows the evidence, host beside container; in large print, where
// three columns would not fit, one row under the other.
func (r *Runner) table(header []string, rows [][]string) {
	w := r.width()
	t := ui.Table{Header: header, MaxWidth: w - 2, Shrink: []int{1, 2}, Style: r.Style}
	natural := 4
	for _, row := range rows {
		t.Add("  "+row[0], row[1], row[2])
	}
	for col := 0; col < 3; col++ {
		widest := ui.Width(header[col])
		for _, row := range t.Rows {
			widest = max(widest, ui.Width(row[col]))
		}
		natural += widest
	}
	if r.large() && natural > w-2 {
		var b strings.Builder
		stacked(&b, header, rows, w-2, r.Style)
		r.printf("%s", b.String())
		return
	}
	if !r.Quiet {
		t.Render(r.Out)
	}
}

// courseNamespaces are the eight namespace types as /proc/PID/ns names them.
var courseNamespaces = []string{"uts", "pid", "mnt", "ipc", "net", "user", "cgroup", "time"}

// picture draws the eight namespaces: ● the container's own, ○ the host's;
// in two rows of four where one does not fit.
func (r *Runner) picture(iso map[string]bool) string {
	mark := func(typ string) string {
		if iso[typ] {
			return r.Style.Good("●") + typ
		}
		return r.Style.Faint("○" + typ)
	}
	label := "  " + r.t(wNamespaces) + "  "
	pad := strings.Repeat(" ", ui.Width(label))
	var all []string
	for _, typ := range courseNamespaces {
		all = append(all, mark(typ))
	}
	lines := []string{label + strings.Join(all, " ")}
	if ui.Width(lines[0]) > r.width()-2 {
		lines = []string{label + strings.Join(all[:4], " "), pad + strings.Join(all[4:], " ")}
	}
	lines = append(lines, pad+r.Style.Faint("● "+r.t(wOwn)+"  ○ "+r.t(wShared)))
	return strings.Join(lines, "\n")
}

func (r *Runner) verdict(sr StepResult, demo *Demo) {
	mark := r.Style.Good("✓")
	if !sr.OK {
		mark = r.Style.Bad("✗")
	}
	line := sr.Expect
	if demo != nil && !sr.OK && sr.ShouldFail {
		line += "  " + r.Style.Warn("("+r.t(wExpectedBad)+" "+demo.Feature+")")
	}
	r.printf("%s\n\n", hang(line, r.width()-2, "  "+mark+" ", "    "))
}

// wait returns the learner's choice after step n: '\n' (next), 's', 'r'.
// An unattended run waits only at the steps of PauseAt.
func (r *Runner) wait(ctx context.Context, n int) (byte, error) {
	if r.In == nil || (r.Auto && !slices.Contains(r.PauseAt, n)) {
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
			if err := readOrDone(ctx, func() error { _, err := r.In.Read(buf); return err }); err != nil {
				if ctx.Err() != nil {
					return 0, ErrInterrupted
				}
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
	var line string
	err := readOrDone(ctx, func() (err error) {
		line, err = bufio.NewReader(r.In).ReadString('\n')
		if line != "" {
			err = nil
		}
		return err
	})
	if ctx.Err() != nil {
		return 0, ErrInterrupted
	}
	if err != nil {
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

// readOrDone runs read, a blocking read of the learner's input, and gives
// up on it when ctx ends: a SIGINT or SIGTERM that is not a key (kill, a
// terminal closed, raw mode, where ^C is a byte) must end a lesson paused
// at its prompt too, and tear down what it made. The read left behind ends
// with the process.
func readOrDone(ctx context.Context, read func() error) error {
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
