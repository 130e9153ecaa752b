// Package lessons is stepbox's course: a lesson builds a real container one
// kernel feature at a time. Each step changes the container's description,
// lets the sandbox runtime start a real process from it, observes that
// process with nsinspect from the host and from inside, and checks an
// expectation. Lessons hold no container code of their own; they drive
// package sandbox, the same runtime `stepbox run` uses.
package lessons

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/sandbox"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// Lesson is one chapter of the course.
type Lesson struct {
	ID      string    // short name used on the command line: "uts"
	Title   i18n.Text // "UTS: a hostname of its own"
	Summary i18n.Text // one line: what it shows
	Intro   i18n.Text // read before the first step
	// Needs are the programs the lesson runs, checked before it starts.
	Needs Needs
	Steps []Step
	// Demo is what the lesson shows with `--without FEATURE`.
	Demo Demo
	// Outro is read after the last step: what was learned, what comes next.
	Outro i18n.Text
	// Keep puts the lesson's feature into the lab, so that every later
	// lesson starts from the container as this one left it.
	Keep func(l *Lab)
	// Exercises are what the learner does next, alone (exercise.go).
	Exercises []*Exercise
}

// Step is one change to the container and its proof.
type Step struct {
	Title    i18n.Text
	Explain  i18n.Text
	Syscalls []Syscall
	// Shell is the command a learner could type on a Linux host to do the
	// same by hand (util-linux, iproute2); shown, never run.
	Shell string
	// Apply changes the lab: the description (the container restarts) or
	// the running container (a command inside). Nil means observe only.
	Apply func(l *Lab) error
	// Probes are commands whose output the learner sees.
	Probes []Probe
	// Rows are the evidence, host beside container.
	Rows []Row
	// Expect decides the step's ✓ or ✗.
	Expect Expect
}

// Syscall names a system call and its manual page section: "clone(2)".
type Syscall struct {
	Name    string
	Section int
	Args    string // the flags or arguments that matter here
}

func (s Syscall) String() string {
	if s.Args == "" {
		return fmt.Sprintf("%s(%d)", s.Name, s.Section)
	}
	return fmt.Sprintf("%s(%d)  %s", s.Name, s.Section, s.Args)
}

// ManURL is the man7.org page of the call.
func (s Syscall) ManURL() string {
	return fmt.Sprintf("https://man7.org/linux/man-pages/man%d/%s.%d.html", s.Section, s.Name, s.Section)
}

// Where a probe runs.
type Where int

const (
	Inside Where = iota // in the container, through the agent
	Host                // in the runner's own namespaces (the host)
)

// Probe is a command whose output is evidence.
type Probe struct {
	Where Where
	Cmd   string
}

// Evidence is everything observed after a step.
type Evidence struct {
	Host    nsinspect.Snapshot // the runner's own process: the host's view
	Outside nsinspect.Snapshot // the container's process, seen from the host
	Inside  nsinspect.Snapshot // the container, seen by itself
	Probes  []ProbeResult
	// Prev is the container's inside view after the step before (zero for
	// the first step).
	Prev *nsinspect.Snapshot
}

// ProbeResult is a probe's output.
type ProbeResult struct {
	Where  string `json:"where"`
	Cmd    string `json:"cmd"`
	Output string `json:"output"`
	Code   int    `json:"code"`
}

// Probe returns the result of the probe that ran cmd at where.
func (e *Evidence) Probe(where Where, cmd string) ProbeResult {
	for _, p := range e.Probes {
		if p.Cmd == cmd && p.Where == where.String() {
			return p
		}
	}
	return ProbeResult{Where: where.String(), Cmd: cmd, Code: -1}
}

func (w Where) String() string {
	if w == Host {
		return "host"
	}
	return "inside"
}

// Row is one line of the evidence table: a label, what the host shows and
// what the container shows.
type Row struct {
	Label     i18n.Text
	Host, Box func(e *Evidence) string
}

// hostRow is a row only the host has a value for: what a lesson keeps or
// measures outside any container (a registry, an image store, a bridge).
func hostRow(label i18n.Text, host func(e *Evidence) string) Row {
	return Row{Label: label, Host: host, Box: func(*Evidence) string { return "-" }}
}

// Expect is a step's check: what should be true, and the test of it.
type Expect struct {
	Text  i18n.Text
	Check func(e *Evidence) bool
}

// Demo is a lesson's failure demo: the same steps with one feature left
// out, to show what breaks. It runs inside a throwaway outer namespace, so
// what breaks is never the real host.
type Demo struct {
	Feature string    // the --without name: "uts"
	Explain i18n.Text // what the learner should notice
	// Remove takes the feature out of every container the lab starts, so
	// that no step can put it back.
	Remove func(s *specs.Spec, o *sandbox.Options)
	// Setup changes the lab itself, once, before the first step, for
	// what a container's description cannot say (Lab.ShareImage).
	Setup func(l *Lab)
	// Extra steps run only in the demo, after the lesson's own: what would
	// harm the real host is done only here, inside the throwaway namespace.
	Extra []Step
	// Fails lists the steps (1-based, Extra continuing the count) whose
	// expectation must fail without the feature; every other must pass.
	Fails []int
}
