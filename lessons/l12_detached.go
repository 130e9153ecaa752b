package lessons

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
)

// The last step of the full lesson: the same container as a user keeps
// one, detached under its monitor, entered with exec, verified from the
// host, each by the command a user types (`stepbox run -d`, `stepbox exec`,
// `stepbox verify`), run on the host as the lesson's own stepbox.

// detachedHostname names the detached container's UTS namespace.
const detachedHostname = "detached"

// The probes of the step; {stepbox} is the command with the lab's --root,
// {box} the detached container's name, {expect} the namespaces `stepbox
// run` makes on this kernel.
const (
	detachedWho    = "{stepbox} exec {box} sh -c 'hostname; id -u'"
	detachedNS     = "{stepbox} exec {box} sh -c 'for n in " + detachedNSList + "; do readlink /proc/self/ns/$n; done'"
	detachedNSList = "cgroup ipc mnt net pid time user uts"
	detachedVerify = "{stepbox} verify {box} --expect {expect} >/dev/null; echo exit $?"
)

// stepboxCommand is `stepbox` with the --root that puts its state where
// the lab's is; "" when no --root can say so.
func (l *Lab) stepboxCommand() (string, error) {
	if l.paths == sandbox.DefaultPaths("") {
		return "stepbox", nil
	}
	root := filepath.Dir(l.paths.Run)
	if l.paths != sandbox.DefaultPaths(root) {
		return "", fmt.Errorf("the lab's state (%s, %s) is not under one --root", l.paths.Run, l.paths.Lib)
	}
	return "stepbox --root " + root, nil
}

// detachedName is the detached container's name.
func (l *Lab) detachedName() string { return l.name("-detached") }

// startDetached runs the full description detached, as `stepbox run -d
// --userns` makes it, with sleep as its payload. Without the lab's limits:
// the pids limit of 20 counts every thread, and the exec stage's Go
// runtime would have to share it with the minimal init's.
func startDetached(l *Lab) error {
	sb, err := l.stepboxCommand()
	if err != nil {
		return err
	}
	name := l.detachedName()
	l.Defer(func() error {
		_, err := l.Host(sb + " rm -f " + name + " >/dev/null 2>&1; true")
		return err
	})
	cmd := fmt.Sprintf("%s run -d --name %s --hostname %s --rootfs %s --userns -- sleep 3600",
		sb, name, detachedHostname, l.Rootfs())
	out, err := l.Host(cmd)
	if err != nil {
		return err
	}
	if out.Code != 0 {
		return &stepError{what: "stepbox run -d", out: out.Output}
	}
	c, err := sandbox.Find(l.paths, name)
	if err != nil {
		return err
	}
	st := c.State()
	if st.Detached != nil {
		note(l, "detached.monitor", fmt.Sprintf("%s, pid %d", commOf(st.Detached.MonitorPid), st.Detached.MonitorPid))
	}
	note(l, "detached.payload", strconv.Itoa(st.PayloadPid()))
	return nil
}

// commOf is the name the kernel has for pid (proc(5), /proc/PID/comm).
func commOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// detachedSameNS counts the namespaces the exec'd process read of itself
// that are its payload's, read on the host.
func detachedSameNS(e *Evidence) (same, of int) {
	links := strings.Fields(e.Probe(Host, detachedNS).Output)
	payload := noted(e, "detached.payload")
	for i, n := range strings.Fields(detachedNSList) {
		l, err := os.Readlink("/proc/" + payload + "/ns/" + n)
		if err == nil && i < len(links) && links[i] == l {
			same++
		}
		of++
	}
	return same, of
}

func rowDetached(label i18n.Text, box func(e *Evidence) string) Row {
	return Row{Label: label, Host: func(e *Evidence) string { return "-" }, Box: box}
}

var stepDetached = Step{
	Title: i18n.T("Detached, entered, verified", "떼어 놓고, 들어가 보고, 검증하기"),
	Explain: i18n.T(
		"A container one keeps runs detached. `stepbox run -d` starts it under a small monitor, stepbox-monitor, the parent of its init: it outlives the command line and its terminal, keeps the log, records the exit. `stepbox exec` starts a second process in it: stepbox-exec joins every namespace of the container's init in one setns(2) with a pidfd, before its Go runtime starts (a threaded process may not join a user or mount namespace), then forks; the child is born in the container's cgroups and takes its capabilities, no_new_privs and seccomp filter. From the host, `stepbox verify NAME` checks the payload. The lesson types these commands itself.",
		"계속 두고 쓰는 컨테이너는 떼어 놓고(detached) 돌립니다. `stepbox run -d`는 컨테이너를 작은 모니터 stepbox-monitor 아래에서 시작합니다. 모니터는 컨테이너 init의 부모로서, 명령줄과 그 터미널이 끝나도 살아남아 로그를 모으고 종료를 기록합니다. `stepbox exec`는 그 안에서 두 번째 프로세스를 시작합니다. stepbox-exec가 Go 런타임이 시작되기 전에 pidfd로 setns(2)를 한 번 불러 컨테이너 init의 모든 네임스페이스에 들어가고(스레드가 여럿인 프로세스는 사용자·마운트 네임스페이스에 들어갈 수 없습니다), 그다음 fork합니다. 자식은 컨테이너의 cgroup 안에서 태어나고, 컨테이너의 케이퍼빌리티, no_new_privs, seccomp 필터를 그대로 받습니다. 호스트에서는 `stepbox verify NAME`이 페이로드를 검사합니다. 레슨이 이 명령들을 직접 칩니다."),
	Syscalls: []Syscall{{"setsid", 2, "stepbox-monitor"}, {"setns", 2, "pidfd, CLONE_NEW{USER,NS,PID,…}"}, {"fork", 2, ""}},
	Shell: "stepbox run -d --name box --userns -- sleep 3600\n" +
		"stepbox exec box sh -c 'hostname; id -u'\n" +
		"stepbox verify box --expect all",
	Apply:  startDetached,
	Probes: []Probe{{Host, detachedWho}, {Host, detachedNS}, {Host, detachedVerify}},
	Rows: []Row{
		rowDetached(i18n.T("monitor", "모니터"), func(e *Evidence) string { return dashIfEmpty(noted(e, "detached.monitor")) }),
		rowDetached(i18n.T("exec: hostname, uid", "exec: 호스트 이름, uid"), func(e *Evidence) string {
			return strings.Join(strings.Fields(e.Probe(Host, detachedWho).Output), ", ")
		}),
		rowDetached(i18n.T("exec's namespaces", "exec의 네임스페이스"), func(e *Evidence) string {
			same, of := detachedSameNS(e)
			return fmt.Sprintf("%d/%d the payload's", same, of)
		}),
		rowDetached(i18n.T("verify NAME", "verify NAME"), func(e *Evidence) string { return line1(e.Probe(Host, detachedVerify).Output) }),
	},
	Expect: Expect{
		Text: i18n.T("exec is root in all eight of the payload's namespaces; verify exits 0",
			"exec는 root로 페이로드의 여덟 네임스페이스에 들어가고, verify는 0으로 끝난다"),
		Check: func(e *Evidence) bool {
			same, of := detachedSameNS(e)
			return same == of && of == 8 &&
				strings.Join(strings.Fields(e.Probe(Host, detachedWho).Output), " ") == detachedHostname+" 0" &&
				line1(e.Probe(Host, detachedVerify).Output) == "exit 0"
		},
	},
}
