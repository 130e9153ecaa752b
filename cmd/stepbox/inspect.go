package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/nsinspect"
)

func init() { register("inspect", newInspectCmd) }

type inspectOptions struct {
	vs     int
	json   bool
	failOn string
}

func newInspectCmd(g *globals) *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect [PID|CONTAINER]",
		Short: "Show how isolated a process is, compared with the host",
		Long: `inspect reads /proc to tell how isolated a process is: which namespaces it
shares with a reference process (the host: PID 1, or kthreadd where PID 1
cannot be read), its uid map, capabilities, seccomp, no_new_privs, LSM label,
root directory, mounts, cgroups, and what it sees inside (hostname, network
interfaces, SysV IPC objects). Every row is pass, warn, fail, unknown (could
not be read: never counted as isolated) or skipped. Run it as root to read
other users' processes. A container stepbox runs can be named instead of a
PID (its name, id or a unique prefix of its id): its payload is inspected.

inspect는 /proc를 읽어 프로세스가 얼마나 격리되어 있는지 보여 줍니다: 기준
프로세스(호스트: PID 1, 읽을 수 없으면 kthreadd)와 공유하는 네임스페이스, uid
매핑, capability, seccomp, no_new_privs, LSM 레이블, 루트 디렉터리, 마운트,
cgroup, 그리고 안에서 보이는 것(호스트 이름, 네트워크 인터페이스, SysV IPC).
읽지 못한 항목은 unknown이며 격리된 것으로 세지 않습니다. 다른 사용자의
프로세스를 보려면 root로 실행하세요. stepbox가 돌리는 컨테이너는 PID 대신 이름이나
id(또는 겹치지 않는 id 앞부분)로 가리킬 수 있고, 그 컨테이너의 페이로드를 검사합니다.

The table always fits 80 columns, in a terminal, a pipe or a tutorial alike;
the full text of every note is in --json (schema: nsinspect/SCHEMA.md).

Exit status: 0, or with --fail-on, 3 when a check is fail (or, with
--fail-on warn, warn); 1 an error, 2 bad usage. Unknown rows do not count
here: 'stepbox verify --strict' fails on them.

종료 코드: 0, --fail-on을 주면 fail인 항목(--fail-on warn이면 warn도)이 있을 때
3입니다. 오류는 1, 잘못된 사용은 2입니다.`,
		Example: `  # this very process (the stepbox command) against the host
  stepbox inspect

  # a container of stepbox's, by name
  sudo stepbox inspect web

  # any container's process, e.g. docker inspect -f '{{.State.Pid}}' NAME
  sudo stepbox inspect 4242

  # against another reference than the host
  sudo stepbox inspect 4242 --vs 4100

  # the machine-readable report
  sudo stepbox inspect 4242 --json | jq '.checks[] | select(.status=="fail")'

  # in a script: exit 3 if anything is fail or warn
  sudo stepbox inspect 4242 --fail-on warn >/dev/null || echo "look closer"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := os.Getpid()
			if len(args) == 1 {
				pid, err := targetPID(g, args[0])
				if err != nil {
					return err
				}
				target = pid
			}
			if cmd.Flags().Changed("vs") && o.vs <= 0 {
				return usagef("invalid --vs %d: a PID is a positive number", o.vs)
			}
			failOn := nsinspect.Status(o.failOn)
			if o.failOn != "" && failOn != nsinspect.Fail && failOn != nsinspect.Warn {
				return usagef("invalid --fail-on %q: use fail or warn", o.failOn)
			}
			rep, err := buildReport(target, o.vs)
			if err != nil {
				return err
			}
			if o.json {
				err = writeJSON(g.stdout, rep)
			} else {
				err = renderReport(g, rep, "")
			}
			if err != nil {
				return err
			}
			if o.failOn != "" && hasFinding(rep.Checks, failOn) {
				return withCode(exitFindings, nil)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&o.vs, "vs", 0, "reference PID to compare with (default: 1, or kthreadd when PID 1 cannot be read)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the report as JSON (nsinspect/SCHEMA.md)")
	cmd.Flags().StringVar(&o.failOn, "fail-on", "", "exit 3 when a check is at least this bad: fail or warn (default: always 0)")
	return cmd
}

// hasFinding reports whether a check is as bad as least (fail, or warn
// which takes fail along).
func hasFinding(checks []nsinspect.Check, least nsinspect.Status) bool {
	for _, c := range checks {
		if c.Status == nsinspect.Fail || least == nsinspect.Warn && c.Status == nsinspect.Warn {
			return true
		}
	}
	return false
}

// takeProcess snapshots pid; a PID that does not exist is one clear error.
func takeProcess(pid int) (nsinspect.Snapshot, error) {
	s, err := nsinspect.Take(pid)
	if errors.Is(err, nsinspect.ErrNoProcess) {
		return s, hint.With(fmt.Errorf("process %d does not exist", pid), "list processes with ps -e, or lsns")
	}
	return s, err
}

// buildReport compares target with the reference (vs, or the default).
func buildReport(target, vs int) (nsinspect.Report, error) {
	t, err := takeProcess(target)
	if err != nil {
		return nsinspect.Report{}, err
	}
	note := ""
	if vs == 0 {
		vs, note = nsinspect.Live.DefaultReference()
	}
	r, err := takeProcess(vs)
	if err != nil {
		return nsinspect.Report{}, fmt.Errorf("reference: %w", err)
	}
	rep := nsinspect.NewReport(t, r, nsinspect.Compare(t, r), version, time.Now())
	rep.ReferenceNote = note
	return rep, nil
}

// writeJSON writes v as indented JSON, as every --json and --format json
// output of stepbox is.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// paintStatus colours a status word.
func paintStatus(s ui.Style, st nsinspect.Status) string {
	switch st {
	case nsinspect.Pass:
		return s.Good(string(st))
	case nsinspect.Fail:
		return s.Bad(string(st))
	case nsinspect.Warn:
		return s.Warn(string(st))
	case nsinspect.Unknown:
		return s.Note(string(st))
	}
	return s.Faint(string(st))
}

// renderReport prints the verdict line, the reference, and the table.
// headline, when set, is printed first (verify's ✓ or ✗).
func renderReport(g *globals, rep nsinspect.Report, headline string) error {
	st := g.Style()
	var b strings.Builder
	if headline != "" {
		b.WriteString(headline + "\n")
	}
	paint := st.Good
	switch {
	case rep.Summary.Fail > 0:
		paint = st.Bad
	case rep.Summary.Warn > 0 || rep.Summary.Unknown > 0:
		paint = st.Warn
	}
	for _, line := range wrap(rep.Summary.Verdict, 80) {
		b.WriteString(paint(line) + "\n")
	}
	ref := "reference: PID " + strconv.Itoa(rep.ReferencePID)
	if rep.ReferenceCommand != "" {
		ref += " (" + rep.ReferenceCommand + ")"
	}
	b.WriteString(st.Faint(ref) + "\n")
	if rep.ReferenceNote != "" {
		for _, line := range wrap("note: "+rep.ReferenceNote, 80) {
			b.WriteString(st.Faint(line) + "\n")
		}
	}
	b.WriteString("\n")
	if _, err := io.WriteString(g.stdout, b.String()); err != nil {
		return err
	}
	// 80 columns always: the same in a terminal, a pipe and a tutorial
	// transcript, and on a projector. Values are cut to valueWidth and the
	// note takes what is left; --json has every value and detail in full.
	tab := ui.Table{
		Header:   []string{"CHECK", "STATUS", "TARGET", "HOST", "NOTE"},
		MaxWidth: 80,
		Shrink:   []int{4},
		Style:    st,
	}
	const valueWidth = 12
	for _, c := range rep.Checks {
		tab.Add(c.ID, paintStatus(st, c.Status), ui.Truncate(c.Target, valueWidth),
			ui.Truncate(c.Reference, valueWidth), c.Note)
	}
	return tab.Render(g.stdout)
}

// wrap breaks text at spaces into lines of at most width columns (a word
// longer than width stands alone).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case ui.Width(line)+1+ui.Width(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return append(lines, line)
}
