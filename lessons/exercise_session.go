package lessons

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/procstat"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// Session is a running exercise: a shell in throwaway namespaces, and the
// record that lets a check find it. It lives in
// <run>/exercises/<uid>-<random>/session.json, beside the learner's
// --root for stepbox inside (root/) and, for the exercises that need one,
// a root filesystem of its own (rootfs/); all of it goes when the shell
// ends.
type Session struct {
	Exercise string    `json:"exercise"`
	UID      int       `json:"uid"`
	User     string    `json:"user"`
	Lang     i18n.Lang `json:"lang"`
	Started  time.Time `json:"started"`
	// Hostname is the exercise host's name when the session began.
	Hostname string `json:"hostname"`
	// Root is the --root of the stepbox commands typed in the session.
	Root   string `json:"root"`
	Rootfs string `json:"rootfs,omitempty"`
	// Pid is the session's process, the exercise's host, and Start its
	// start time (proc(5) starttime), so that a pid used again later is
	// never taken for it. Zero until the session has begun.
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
	// CgroupMounts is where the session mounted each cgroup hierarchy
	// again, to show its own subtree: by controller, "" for cgroup2.
	CgroupMounts map[string]string `json:"cgroup_mounts"`
	// CgroupSelf is where the session's process is below the exercise's
	// cgroup in the cgroup2 hierarchy: "/shell" on a pure v2 host
	// (leaveRootFree), "" where it stays at the top.
	CgroupSelf string `json:"cgroup_self,omitempty"`
	// Container is the id of the container that holds the session's
	// namespaces (under the paths StartExercise was given), so that a
	// session whose starter died can still be removed whole.
	Container string `json:"container"`

	dir string
}

// Environment of the exercise's shell.
const (
	EnvExerciseSession = "STEPBOX_EXERCISE_SESSION" // the session's directory
	EnvExercise        = "STEPBOX_EXERCISE"         // the exercise's id
	exerciseHostname   = "exercise-host"
)

// ExerciseConfig is what starting an exercise needs.
type ExerciseConfig struct {
	Paths    sandbox.Paths // where the session's container and record live
	Exercise *Exercise
	Lang     i18n.Lang
	Learner  Learner
	// Self is this stepbox, put into the shell's PATH and root filesystem.
	Self                  string
	Stdin, Stdout, Stderr *os.File
}

// Dir is the session's directory.
func (s *Session) Dir() string { return s.dir }

func sessionsDir(p sandbox.Paths) string { return filepath.Join(p.Run, "exercises") }

// StartExercise opens the exercise's shell on the learner's terminal and
// returns, with the shell's exit code, once the shell has ended and
// everything made in the session is gone.
func StartExercise(cfg ExerciseConfig) (int, error) {
	ex := cfg.Exercise
	if os.Getenv(EnvExerciseSession) != "" {
		return 0, hint.With(errors.New("this shell is already an exercise's"), "leave it with exit first")
	}
	var missing []string
	var pkgs []string
	for _, t := range append([]string{"sh"}, ex.Needs...) {
		if t != "stepbox" && !builtinfs.HasTool("/", t) {
			missing = append(missing, t)
			if p := builtinfs.Package(t); !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
	}
	if len(missing) > 0 {
		return 0, hint.With(fmt.Errorf("exercise %s needs %s on this host, and there is none", ex.ID(), strings.Join(missing, ", ")),
			"install Debian's "+strings.Join(pkgs, ", "))
	}
	reapStale(cfg.Paths, cfg.Learner)
	if cur, err := FindSession(cfg.Paths, cfg.Learner); err == nil {
		return 0, hint.With(fmt.Errorf("exercise %s is still open (since %s)", cur.Exercise, cur.Started.Local().Format("15:04")),
			"leave its shell with exit, or end it from here: stepbox exercise stop")
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	dir := filepath.Join(sessionsDir(cfg.Paths), strconv.Itoa(cfg.Learner.UID)+"-"+hex.EncodeToString(rnd[:]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("make the exercise's directory: %w", err)
	}
	defer os.RemoveAll(dir)
	s := &Session{
		Exercise: ex.ID(), UID: cfg.Learner.UID, User: cfg.Learner.Name, Lang: cfg.Lang,
		Started: time.Now().UTC(), Hostname: exerciseHostname, Root: filepath.Join(dir, "root"), dir: dir,
	}
	if ex.Rootfs {
		s.Rootfs = filepath.Join(dir, "rootfs")
		if _, err := builtinfs.Default(s.Rootfs, cfg.Self, builtinfs.BuildOptions{}); err != nil {
			return 0, fmt.Errorf("build the exercise's root filesystem at %s: %w", s.Rootfs, err)
		}
	}
	if err := s.save(); err != nil {
		return 0, err
	}
	if prog, err := cfg.Learner.LoadProgress(); err == nil {
		_ = prog.ExerciseStarted(ex.ID())
	}
	return runThrowaway(cfg.Paths, throwaway{
		Hostname: exerciseHostname, Cgroup: true,
		Args:  []string{"exercise", "session", dir},
		Env:   []string{"STEPBOX_LANG=" + string(cfg.Lang)},
		Stdin: cfg.Stdin, Stdout: cfg.Stdout, Stderr: cfg.Stderr,
		Created: func(c *sandbox.Container) error {
			s.Container = c.ID
			return s.save()
		},
	})
}

// remove takes away what is left of a session that no longer runs: the
// container that held its namespaces (its cgroups, its record) and its
// directory. The session's own process removed what the learner made,
// unless it was killed; then the container's cgroups, removed children
// first, take the learner's with them.
func (s *Session) remove(p sandbox.Paths) {
	if s.Container != "" {
		if c, err := sandbox.Load(p, s.Container); err == nil {
			_ = c.Delete(true)
		}
	}
	os.RemoveAll(s.dir)
}

// reapStale removes the learner's sessions under p whose process is gone:
// their starter was killed before it could clean up. One still being set
// up (no process recorded yet, and young) is left alone.
func reapStale(p sandbox.Paths, l Learner) {
	dirs, _ := filepath.Glob(filepath.Join(sessionsDir(p), strconv.Itoa(l.UID)+"-*"))
	for _, d := range dirs {
		s, err := LoadSession(d)
		if err != nil || s.Alive() || (s.Pid == 0 && time.Since(s.Started) < time.Minute) {
			continue
		}
		s.remove(p)
	}
}

// save writes the record whole (writeAtomic): a check reading it at the
// same moment sees the old one or the new.
func (s *Session) save() error {
	b, _ := json.MarshalIndent(s, "", "  ")
	return writeAtomic(filepath.Join(s.dir, "session.json"), append(b, '\n'))
}

// LoadSession reads the record in dir.
func LoadSession(dir string) (*Session, error) {
	b, err := os.ReadFile(filepath.Join(dir, "session.json"))
	if err != nil {
		return nil, err
	}
	s := &Session{dir: dir}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return s, nil
}

// Alive reports whether the session's process still runs (a zombie,
// waiting for a parent to reap it, does not).
func (s *Session) Alive() bool {
	if s.Pid <= 0 || s.Start == 0 || startTime(s.Pid) != s.Start {
		return false
	}
	_, state, _, ok := procStat(s.Pid)
	return ok && state != "Z"
}

// startTime is pid's start time in clock ticks since boot (proc(5),
// /proc/PID/stat field 22), 0 when there is no such process.
func startTime(pid int) uint64 {
	st, _ := procstat.Read(pid)
	return st.StartTime
}

// ErrNoSession is the answer when the learner has no exercise open.
var ErrNoSession = errors.New("no exercise is open")

// FindSession finds the learner's open exercise: the one whose shell this
// is (its environment names it), else the most recent one of the learner
// under p that still runs.
func FindSession(p sandbox.Paths, l Learner) (*Session, error) {
	if dir := os.Getenv(EnvExerciseSession); dir != "" {
		s, err := LoadSession(dir)
		if err != nil || !s.Alive() {
			return nil, hint.With(fmt.Errorf("the exercise of this shell is gone (%s)", dir), "leave this shell with exit")
		}
		return s, nil
	}
	dirs, _ := filepath.Glob(filepath.Join(sessionsDir(p), strconv.Itoa(l.UID)+"-*"))
	var best *Session
	for _, d := range dirs {
		s, err := LoadSession(d)
		if err != nil || s.UID != l.UID || !s.Alive() {
			continue
		}
		if best == nil || s.Started.After(best.Started) {
			best = s
		}
	}
	if best == nil {
		return nil, hint.With(ErrNoSession, "start one: stepbox exercise start LESSON.N ('stepbox exercise list' shows them)")
	}
	return best, nil
}

// Stop ends the session from outside: its process hangs up the shell and
// removes everything made in it; what held the session (its container,
// its directory) goes too, should the command that started it be gone.
func (s *Session) Stop(p sandbox.Paths) error {
	if s.Alive() {
		if err := syscall.Kill(s.Pid, syscall.SIGTERM); err != nil {
			return fmt.Errorf("stop exercise %s: %w", s.Exercise, err)
		}
		for i := 0; i < 200 && s.Alive(); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if s.Alive() {
			return fmt.Errorf("exercise %s: its shell did not end in 10 s", s.Exercise)
		}
	}
	// The starter, when it lives, removes these itself as the session
	// ends; give it the moment it takes.
	for i := 0; i < 40; i++ {
		if _, err := os.Stat(s.dir); err != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.remove(p)
	return nil
}

// cgroupMount is where the session mounts the hierarchy of controller.
func (s *Session) cgroupMount(controller string) string {
	if m, ok := s.CgroupMounts[controller]; ok {
		return m
	}
	return s.CgroupMounts[""]
}
