package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/nsinspect"
)

func init() { register("verify", newVerifyCmd) }

type verifyOptions struct {
	expect string
	failOn string
	strict bool
	vs     int
	json   bool
}

func newVerifyCmd(g *globals) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify PID|CONTAINER",
		Short: "Check that a process is isolated as expected (exit 3 if not)",
		Long: `verify checks that PID (or the payload of a container stepbox runs, named by
its name or id) does not share the expected namespaces with the host (PID 1,
or kthreadd where PID 1 cannot be read). An expected namespace that is
shared fails; the other checks of inspect are shown as warnings at most, and
count only with --fail-on warn. A check that cannot be read is unknown: it
fails only with --strict.

Exit status: 0 every expected isolation holds, 3 one does not, 1 an error
(e.g. no such process), 2 bad usage (e.g. an unknown namespace in --expect).

verify는 PID(또는 이름이나 id로 가리킨 stepbox 컨테이너의 페이로드)가 기대한
네임스페이스를 호스트와 공유하지 않는지 확인합니다.
공유하면 실패(종료 코드 3), 모두 격리되어 있으면 0입니다. 다른 검사 결과는
경고로만 보이며 --fail-on warn일 때만 실패로 셉니다. 읽지 못한 항목(unknown)은
--strict일 때만 실패입니다. 오류는 1, 잘못된 사용은 2입니다.`,
		Example: `  # the five namespaces every container runtime makes (the default)
  sudo stepbox verify 4242
  sudo stepbox verify web

  # exactly these
  sudo stepbox verify 4242 --expect uts,ipc

  # all eight, and nothing unread, and no warning anywhere
  sudo stepbox verify 4242 --expect all --strict --fail-on warn

  # in a script
  if sudo stepbox verify "$pid" --expect net >/dev/null; then echo "no network"; fi`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := targetPID(g, args[0])
			if err != nil {
				return err
			}
			expect, err := nsinspect.ParseExpect(o.expect)
			if err != nil {
				return usageError{err}
			}
			failOn := nsinspect.Status(o.failOn)
			if failOn != nsinspect.Fail && failOn != nsinspect.Warn {
				return usagef("invalid --fail-on %q: use fail or warn", o.failOn)
			}
			if cmd.Flags().Changed("vs") && o.vs <= 0 {
				return usagef("invalid --vs %d: a PID is a positive number", o.vs)
			}
			rep, err := buildReport(pid, o.vs)
			if err != nil {
				return err
			}
			checks, v := nsinspect.Verify(rep.Checks, nsinspect.VerifyOptions{Expect: expect, FailOn: failOn, Strict: o.strict})
			rep.Checks = checks
			rep.Summary = nsinspect.Summarize(rep.TargetPID, rep.TargetCommand, checks)
			rep.Verify = &v
			if o.json {
				err = writeJSON(g.stdout, rep)
			} else {
				err = renderReport(g, rep, verifyHeadline(g, v))
			}
			if err != nil {
				return err
			}
			if !v.OK {
				return withCode(exitFindings, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.expect, "expect", strings.Join(nsinspect.DefaultExpect, ","), "namespaces that must be isolated: "+strings.Join(nsinspect.KernelNamespaces, ",")+" or all")
	f.StringVar(&o.failOn, "fail-on", "fail", "least severe status that fails: fail or warn")
	f.BoolVar(&o.strict, "strict", false, "fail when a check cannot be read (unknown)")
	f.IntVar(&o.vs, "vs", 0, "reference PID (default: 1, or kthreadd when PID 1 cannot be read)")
	f.BoolVar(&o.json, "json", false, "print the report as JSON, with a \"verify\" object (nsinspect/SCHEMA.md)")
	return cmd
}

func verifyHeadline(g *globals, v nsinspect.Verdict) string {
	st := g.Style()
	what := "expected isolated: " + strings.Join(v.Expect, " ")
	if v.OK {
		line := st.Good("✓ verified") + ", " + what
		if len(v.Unproven) > 0 {
			line += st.Warn(" (unproven: " + strings.Join(v.Unproven, " ") + "; --strict would fail)")
		}
		return line
	}
	return st.Bad("✗ not verified") + ": " + strings.Join(v.Failing, " ") + " (" + what + ")"
}
