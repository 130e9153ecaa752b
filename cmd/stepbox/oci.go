package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
)

// The OCI runtime command line: `stepbox oci …`, or this binary run under
// the name runc (a symlink). It speaks runc's interface, as the engines
// (podman through conmon, containerd's runc shim, CRI-O) call it: the same
// commands and flags, the state as runc prints it, exit status 1 and one
// line on any error, written where runc writes it (--log, --log-format
// json), since the engines read their errors from there. In this mode the
// engine is the container's monitor: stepbox starts no monitor of its own,
// and the payload is the bundle's process, PID 1 of its namespace.

// ociDefaultRoot is where the state lives without --root: apart from
// stepbox run's containers (/run/stepbox) and from runc's own (/run/runc).
const ociDefaultRoot = "/run/stepbox-oci"

// ociRootEnv moves the default state root: podman 4.3 leaves its
// --runtime-flag options off the `delete --force` it runs itself, so a
// root given only as a flag would not be found there (its containers'
// cgroups stayed behind); the environment reaches every call.
const ociRootEnv = "STEPBOX_OCI_ROOT"

func init() {
	// `stepbox oci …`: everything after "oci" is runc's command line.
	register("oci", func(g *globals) *cobra.Command {
		return &cobra.Command{
			Use:   "oci COMMAND [ARG...]",
			Short: "The OCI runtime command line (runc's), for podman, containerd and the validation suite",
			Long: `The OCI runtime command line, with runc's commands, flags, output and exit
codes: create, start, state, kill, delete, run, exec, ps, list, spec, pause,
resume, update, events, features. The same binary run under the name runc
(make build puts bin/runc beside bin/stepbox) is this command, so an engine can
use stepbox as its runtime: podman --runtime bin/runc, or containerd's runc
shim with BinaryName bin/runc. 'stepbox oci --help' lists the commands.

OCI 런타임 명령줄(runc와 같은 명령, 옵션, 출력, 종료 코드)입니다. 같은 바이너리를 runc라는
이름으로 실행해도 이 명령이 되므로, podman이나 containerd가 stepbox를 런타임으로 쓸 수 있습니다.`,
			DisableFlagParsing: true,
			RunE: func(_ *cobra.Command, args []string) error {
				if code := ociMain("stepbox oci", args, g.stdin, g.stdout, g.stderr); code != 0 {
					return withCode(code, nil)
				}
				return nil
			},
		}
	})
}

// ociGlobals are runc's global flags.
type ociGlobals struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	root          string
	log           string
	logFormat     string
	systemdCgroup bool
	debug         bool
	rootless      string
	criu          string

	logw io.Writer // the log file, or stderr
}

// paths is where the containers' state lives.
func (g *ociGlobals) paths() sandbox.Paths {
	return sandbox.Paths{Run: g.root, Lib: filepath.Join(g.root, ".lib")}
}

// ociMain runs the runc-compatible command line and returns its exit code.
func ociMain(prog string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &ociGlobals{stdin: stdin, stdout: stdout, stderr: stderr, logw: stderr}
	root := newOCIRoot(g, prog)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var st exitStatus
	if errors.As(err, &st) && st.err == nil {
		return st.code
	}
	g.fatal(err)
	if errors.As(err, &st) {
		return st.code
	}
	return 1
}

func newOCIRoot(g *ociGlobals, prog string) *cobra.Command {
	root := &cobra.Command{
		Use:   prog,
		Short: "An OCI runtime with runc's command line (stepbox)",
		Long: `stepbox's OCI runtime, with runc's command line: run and manage containers
from OCI bundles (a directory with config.json and a root filesystem), for
engines such as podman and containerd, and for the OCI validation suite.

stepbox의 OCI 런타임입니다. runc와 같은 명령줄로 OCI 번들의 컨테이너를 만들고 관리합니다.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("no such command %q", args[0])
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	root.SetVersionTemplate("runc version 1.1.0-compatible (stepbox {{.Version}})\nspec: 1.3.0\n")
	pf := root.PersistentFlags()
	defRoot := ociDefaultRoot
	if r := os.Getenv(ociRootEnv); r != "" {
		defRoot = r
	}
	pf.StringVar(&g.root, "root", defRoot, "root directory for storage of container state (this should be located in tmpfs; default: $"+ociRootEnv+", then "+ociDefaultRoot+")")
	pf.StringVar(&g.log, "log", "", "set the log file to write runtime logs to (default is '/dev/stderr')")
	pf.StringVar(&g.logFormat, "log-format", "text", "set the log format ('text' (default), or 'json')")
	pf.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "enable systemd cgroup support (not supported by stepbox)")
	pf.BoolVar(&g.debug, "debug", false, "enable debug logging")
	pf.StringVar(&g.rootless, "rootless", "auto", "ignore cgroup permission errors ('true', 'false', or 'auto')")
	pf.StringVar(&g.criu, "criu", "criu", "path to the criu binary (checkpoint is not supported)")
	_ = pf.MarkHidden("criu")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := g.openLog(); err != nil {
			return err
		}
		if g.systemdCgroup {
			if _, err := os.Stat("/run/systemd/system"); err != nil {
				return errors.New("--systemd-cgroup: systemd is not running on this host; use cgroupfs (leave the flag out)")
			}
			return errors.New("--systemd-cgroup: stepbox drives cgroupfs only; leave the flag out")
		}
		abs, err := filepath.Abs(g.root)
		if err != nil {
			return err
		}
		g.root = abs
		g.debugf("%s %s", cmd.Name(), strings.Join(os.Args[1:], " "))
		return nil
	}
	for _, c := range []func(*ociGlobals) *cobra.Command{
		ociCreateCmd, ociStartCmd, ociRunCmd, ociStateCmd, ociKillCmd, ociDeleteCmd,
		ociExecCmd, ociPsCmd, ociListCmd, ociSpecCmd, ociFeaturesCmd, ociPauseCmd,
		ociResumeCmd, ociUpdateCmd, ociEventsCmd,
	} {
		root.AddCommand(c(g))
	}
	return root
}

// openLog opens --log for appending, as runc does (O_APPEND|O_SYNC: the
// engine reads it while we write).
func (g *ociGlobals) openLog() error {
	switch g.logFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("invalid log-format: %s", g.logFormat)
	}
	if g.log == "" || g.log == "/dev/stderr" {
		return nil
	}
	f, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
	if err != nil {
		return err
	}
	g.logw = f
	return nil
}

// logEntry writes one log record in runc's (logrus's) forms: JSON
// {"level","msg","time"} or text time="…" level=… msg="…".
func (g *ociGlobals) logEntry(level, msg string) {
	now := time.Now().Format(time.RFC3339Nano)
	if g.logFormat == "json" {
		b, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
		fmt.Fprintf(g.logw, "%s\n", b)
		return
	}
	fmt.Fprintf(g.logw, "time=%q level=%s msg=%s\n", now, level, strconv.Quote(msg))
}

func (g *ociGlobals) debugf(format string, a ...any) {
	if g.debug {
		g.logEntry("debug", fmt.Sprintf(format, a...))
	}
}

func (g *ociGlobals) warnf(format string, a ...any) {
	g.logEntry("warning", fmt.Sprintf(format, a...))
}

// fatal reports err as runc does: to the log, and when the log is a file,
// the bare line to standard error too.
func (g *ociGlobals) fatal(err error) {
	msg := ociMessage(err)
	g.logEntry("error", msg)
	if g.logw != g.stderr {
		fmt.Fprintln(g.stderr, msg)
	}
}

// ociMessage is the one line for err, with runc's words where the engines
// match on them: containerd and podman look for "does not exist" and
// "container not running"; the hint, if any, follows.
func ociMessage(err error) string {
	var msg string
	switch {
	case errors.Is(err, sandbox.ErrNoContainer):
		msg = "container does not exist"
	case errors.Is(err, sandbox.ErrNameInUse):
		msg = "container with given ID already exists"
	default:
		msg = err.Error()
		if h := hint.Of(err); h != "" {
			msg += " (" + h + ")"
		}
	}
	return msg
}

// ociArgs checks the count of positional arguments with runc's words.
func ociArgs(name string, n int, exact bool) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case exact && len(args) != n:
			return fmt.Errorf("%q requires exactly %d argument(s)", name, n)
		case !exact && len(args) < n:
			return fmt.Errorf("%q requires a minimum of %d argument(s)", name, n)
		}
		return nil
	}
}

// load finds the container id, with runc's error when there is none.
func (g *ociGlobals) load(id string) (*sandbox.Container, error) {
	if id == "" {
		return nil, errors.New("container id cannot be empty")
	}
	c, err := sandbox.Load(g.paths(), id)
	if err != nil {
		if errors.Is(err, sandbox.ErrNoContainer) {
			return nil, sandbox.ErrNoContainer
		}
		return nil, err
	}
	return c, nil
}
