package main

import (
	"os"

	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register("doctor", newDoctorCmd) }

func newDoctorCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check what this host offers stepbox (root, namespaces, cgroups, overlayfs)",
		Long: `doctor checks what this host offers the lessons and the runtime: root or not,
the kernel and the namespace types it supports, the cgroup layout (v1, v2 or
hybrid) and where each controller lives, user-namespace limits, overlayfs,
whether stepbox itself runs inside a container (Docker, podman, Kubernetes,
WSL), what containers start from (stepbox-init, and the minimal init in C
from stepbox-exec), and what the course needs: which kind of built-in root filesystem is in
use, and the programs the lessons run inside it and on the host. Each line
says what it means for you.

Exit status: 0 when everything stepbox needs is there, 1 otherwise.

doctor는 이 호스트가 레슨과 런타임에 무엇을 제공하는지 확인합니다: root 여부,
커널과 지원하는 네임스페이스, cgroup 구성(v1, v2, 하이브리드)과 컨트롤러 위치,
사용자 네임스페이스 제한, overlayfs, stepbox가 컨테이너 안에서 실행 중인지, 컨테이너가
무엇에서 시작하는지(stepbox-init, 그리고 stepbox-exec의 C 최소 init), 그리고
강의에 필요한 것(쓰고 있는 내장 루트 파일 시스템의 종류, 레슨이 그 안과 호스트에서
돌리는 프로그램).
필요한 것이 모두 있으면 0, 아니면 1로 끝납니다.`,
		Example: `  sudo stepbox doctor
  stepbox doctor --lang ko
  stepbox doctor --json | jq .cgroup`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lang, err := g.Lang()
			if err != nil {
				return err
			}
			h := nsinspect.ProbeHost()
			if os.Geteuid() == 0 {
				h.Findings = append(h.Findings, timeNamespaceFinding(runPaths(g)), initFinding())
			}
			h.Findings = append(h.Findings, courseFindings(runPaths(g))...)
			ready, missing := h.Ready()
			if asJSON {
				err = writeJSON(g.stdout, struct {
					nsinspect.Host
					Ready bool `json:"ready"`
				}{h, ready})
			} else {
				st := g.Style()
				var b strings.Builder
				for _, f := range h.Findings {
					mark := st.Good("✓")
					switch f.Status {
					case nsinspect.Warn:
						mark = st.Warn("!")
					case nsinspect.Fail:
						mark = st.Bad("✗")
					}
					fmt.Fprintf(&b, "%s %-20s %s\n  %s\n", mark, f.ID, f.Value, st.Faint(f.Meaning.In(lang)))
				}
				b.WriteString("\n")
				var homes []string
				for _, c := range h.Cgroup.Controllers {
					where := c.Version
					if c.Mount != "" {
						where += " " + c.Mount
					}
					homes = append(homes, c.Name+": "+where)
				}
				fmt.Fprintf(&b, "cgroup controllers (%s):\n  %s\n", h.Cgroup.Mode, strings.Join(homes, "\n  "))
				_, err = fmt.Fprint(g.stdout, b.String())
			}
			if err != nil {
				return err
			}
			if !ready {
				var ids []string
				for _, f := range missing {
					ids = append(ids, f.ID+" ("+f.Value+")")
				}
				return hint.With(errors.New("this host lacks what stepbox needs: "+strings.Join(ids, ", ")), "see the lines marked ✗ above")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON")
	return cmd
}

// judge gives a finding its verdict: a status, a value, and what it means
// in English and Korean.
func judge(f *nsinspect.HostFinding, s nsinspect.Status, value, en, ko string) {
	f.Status, f.Value, f.Meaning = s, value, i18n.T(en, ko)
}

// timeNamespaceFinding runs the runtime's probe (a threaded program in a time
// namespace, sandbox/timens.go): the one thing about the kernel that cannot
// be read from /proc.
func timeNamespaceFinding(p sandbox.Paths) nsinspect.HostFinding {
	f := nsinspect.HostFinding{ID: "timens.threads"}
	works, err := sandbox.TimeNamespaceThreadsWork(p)
	switch {
	case err != nil:
		judge(&f, nsinspect.Warn, "unknown", "could not test: "+err.Error(), "시험하지 못했습니다: "+err.Error())
	case works:
		judge(&f, nsinspect.Pass, "work", "programs with threads run in a time namespace: 'stepbox run' makes one by default",
			"스레드를 쓰는 프로그램도 시간 네임스페이스 안에서 돕니다: 'stepbox run'이 기본으로 만듭니다")
	default:
		judge(&f, nsinspect.Warn, "broken", "this kernel refuses new threads in a time namespace (clone EINVAL): 'stepbox run' leaves it out by default, and the time lesson cannot run",
			"이 커널은 시간 네임스페이스 안에서 새 스레드를 거부합니다(clone EINVAL): 'stepbox run'은 기본으로 빼고, 시간 레슨은 실행할 수 없습니다")
	}
	return f
}
