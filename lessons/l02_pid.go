package lessons

import (
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register(lessonPID) }

// The pid lesson's probes, named once: a check finds a probe's output by
// the command that ran.
const (
	pidNSpidHost = "grep NSpid /proc/{pid}/status"
	pidParent    = "echo $PPID"
	pidUnshare   = "unshare -p readlink /proc/self/ns/pid"
	pidUnshareF  = "unshare -p -f readlink /proc/self/ns/pid"
	pidPS        = "ps -e | head -4"
)

var lessonPID = &Lesson{
	ID:      "pid",
	Title:   i18n.T("PID: process 1 of its own", "PID: 자기만의 1번 프로세스"),
	Summary: i18n.T("PID 1 inside, another pid outside, and why ps still shows the host", "안에서는 PID 1, 밖에서는 다른 PID, 그리고 ps에 아직 호스트가 보이는 이유"),
	Intro: i18n.T(
		"A PID namespace numbers processes on its own. The first process in it is PID 1, and processes inside cannot name processes outside by their pids (pid_namespaces(7)). The namespaces nest: the host still sees every process of the container, under the host's own numbers.",
		"PID 네임스페이스는 프로세스 번호를 따로 매깁니다. 그 안의 첫 프로세스가 PID 1이 되고, 안의 프로세스는 바깥 프로세스를 PID로 가리킬 수 없습니다(pid_namespaces(7)). PID 네임스페이스는 중첩됩니다. 호스트는 컨테이너의 모든 프로세스를 여전히 호스트의 번호로 봅니다."),
	Needs: Needs{Inside: []string{"cat", "grep", "head", "ls", "ps", "readlink", "unshare"}, Host: []string{"cat", "grep", "ls"}},
	Steps: []Step{
		{
			Title: i18n.T("Before: one pid, the host's", "시작: 호스트가 준 PID 하나"),
			Explain: i18n.T(
				"Our container still lives in the host's PID namespace, so it has exactly one pid, the one the host gave it. The NSpid line of /proc/PID/status lists a process's pid in every PID namespace it belongs to: here, a single number.",
				"컨테이너는 아직 호스트의 PID 네임스페이스에 있습니다. 그래서 PID도 호스트가 준 것 딱 하나입니다. /proc/PID/status의 NSpid 줄은 프로세스가 속한 모든 PID 네임스페이스에서의 번호를 늘어놓는데, 지금은 숫자가 하나뿐입니다."),
			Syscalls: []Syscall{{"getpid", 2, ""}},
			Shell:    "grep NSpid /proc/self/status",
			Probes:   []Probe{{Host, pidNSpidHost}},
			Rows:     []Row{RowPID, RowNS("pid")},
			Expect: Expect{
				Text: i18n.T("one pid, in the host's PID namespace", "호스트의 PID 네임스페이스에서 받은 PID 하나"),
				Check: func(e *Evidence) bool {
					return !e.Isolated("pid") && len(e.Outside.Status.NSpid) == 1
				},
			},
		},
		{
			Title: i18n.T("A new PID namespace: PID 1 inside", "새 PID 네임스페이스: 안에서는 PID 1"),
			Explain: i18n.T(
				"The runtime adds CLONE_NEWPID to clone(2). The child is the first process of a new namespace, so inside it is PID 1, while the host numbers it as before: NSpid now shows two numbers, the host's first. Inside, the parent of our shell ($PPID) is that first process. PID 1 is special (pid_namespaces(7)): orphans are re-parented to it, it gets only the signals it has a handler for, and when it exits the kernel kills every other process in the namespace.",
				"런타임이 clone(2)에 CLONE_NEWPID를 더합니다. 자식 프로세스는 새 네임스페이스의 첫 프로세스가 되므로 안에서는 PID 1이고, 호스트에서는 전처럼 원래 번호로 보입니다. 이제 NSpid에는 숫자가 둘 있고, 앞의 것이 호스트의 번호입니다. 안에서 셸의 부모($PPID)가 바로 그 첫 프로세스입니다. PID 1은 특별합니다(pid_namespaces(7)). 부모를 잃은 프로세스는 PID 1의 자식이 되고, PID 1은 핸들러를 등록한 시그널만 받으며, PID 1이 끝나면 커널이 네임스페이스의 다른 프로세스를 모두 죽입니다."),
			Syscalls: []Syscall{{"clone", 2, "CLONE_NEWPID"}},
			Shell:    "unshare --pid --fork sh -c 'echo $$'",
			Apply: func(l *Lab) error {
				l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.PIDNamespace, true) })
				return nil
			},
			Probes: []Probe{{Host, pidNSpidHost}, {Inside, pidParent}},
			Rows:   []Row{RowPID, RowNS("pid")},
			Expect: Expect{
				Text: i18n.T("PID 1 inside, another pid on the host", "안에서는 PID 1, 호스트에서는 다른 PID"),
				Check: func(e *Evidence) bool {
					p := e.Outside.Status.NSpid
					return e.Isolated("pid") && len(p) == 2 && p[0] != 1 && p[1] == 1 &&
						probeText(e, Inside, pidParent) == "1"
				},
			},
		},
		{
			Title: i18n.T("pid and pid_for_children", "pid와 pid_for_children"),
			Explain: i18n.T(
				"/proc/PID/ns has two PID links. pid is the namespace a process is in; pid_for_children is the one its children will be born in. clone(2) puts the child straight into the new namespace, so the container's two links agree. unshare(2) cannot move its caller, whose pid may never change: it only points pid_for_children at a new namespace, and the caller's first child becomes PID 1 there. (Until that child exists, pid_for_children cannot even be read.) That is why `unshare --pid` needs `--fork`: without it, the command unshare runs is still in the old namespace; with it, the forked child is in the new one.",
				"/proc/PID/ns에는 PID 링크가 두 개 있습니다. pid는 프로세스가 지금 속한 네임스페이스이고, pid_for_children은 앞으로 태어날 자식이 들어갈 네임스페이스입니다. clone(2)은 자식을 곧바로 새 네임스페이스에 넣으므로 컨테이너의 두 링크는 같습니다. unshare(2)는 호출한 프로세스를 옮기지 못합니다. 프로세스의 PID는 절대 바뀌지 않기 때문입니다. 그래서 pid_for_children만 새 네임스페이스를 가리키게 하고, 처음 만드는 자식이 거기서 PID 1이 됩니다. (그 자식이 생기기 전에는 pid_for_children을 읽을 수조차 없습니다.) `unshare --pid`에 `--fork`가 필요한 이유가 이것입니다. 없으면 unshare가 실행한 명령은 여전히 옛 네임스페이스에 있고, 있으면 fork한 자식이 새 네임스페이스에 들어갑니다."),
			Syscalls: []Syscall{{"unshare", 2, "CLONE_NEWPID"}, {"fork", 2, ""}},
			Shell:    "unshare --pid readlink /proc/self/ns/pid\nunshare --pid --fork readlink /proc/self/ns/pid",
			Probes:   []Probe{{Inside, pidUnshare}, {Inside, pidUnshareF}},
			Rows:     []Row{RowNS("pid"), RowNS("pid_for_children")},
			Expect: Expect{
				Text: i18n.T("the container's links agree; without --fork, unshare's command stays",
					"컨테이너의 두 링크는 같고, --fork 없이 실행한 명령은 그대로 남는다"),
				Check: func(e *Evidence) bool {
					own := e.Outside.Namespace("pid").Link
					stay, moved := probeText(e, Inside, pidUnshare), probeText(e, Inside, pidUnshareF)
					return e.Isolated("pid") && nsSame(e.Outside, "pid", "pid_for_children") &&
						own != "" && stay == own && strings.HasPrefix(moved, "pid:[") && moved != own
				},
			},
		},
		{
			Title: i18n.T("Yet ps still shows the host's processes", "그런데 ps에는 아직 호스트의 프로세스가 보인다"),
			Explain: i18n.T(
				"ps(1) does not ask the kernel for a list of processes: it reads the directories of /proc. A proc file system shows the PID namespace of whoever mounted it (proc(5)), and our container, with no mount namespace of its own, reads the host's /proc. So ps lists every process of the host under the host's numbers, and /proc/1 is the host's first process, not our PID 1. Hiding them takes a /proc of our own, mounted in a mount namespace of our own: the next lesson.",
				"ps(1)는 커널에 프로세스 목록을 묻지 않습니다. /proc의 디렉터리를 읽을 뿐입니다. proc 파일 시스템은 그것을 마운트한 쪽의 PID 네임스페이스를 보여 주는데(proc(5)), 컨테이너는 자기 마운트 네임스페이스가 없으니 호스트의 /proc을 읽습니다. 그래서 ps는 호스트의 모든 프로세스를 호스트의 번호로 보여 주고, /proc/1은 우리의 PID 1이 아니라 호스트의 첫 프로세스입니다. 이것들을 감추려면 자기 마운트 네임스페이스에 자기 /proc을 마운트해야 합니다. 다음 레슨에서 합니다."),
			Syscalls: []Syscall{{"getdents64", 2, "/proc"}, {"openat", 2, "/proc/1/comm"}},
			Shell:    "unshare --pid --fork ps -e | head",
			Probes:   []Probe{{Inside, pidPS}, {Inside, procFacts}, {Host, procFacts}},
			Rows:     []Row{rowProc1, rowProcs},
			Expect: Expect{
				Text: i18n.T("inside, /proc lists the host's processes and /proc/1 is the host's",
					"안에서도 /proc에는 호스트의 프로세스가 있고 /proc/1은 호스트의 것"),
				Check: func(e *Evidence) bool {
					comm := probeLine(e, Inside, procFacts, 0)
					in, _ := strconv.Atoi(probeLine(e, Inside, procFacts, 1))
					host, _ := strconv.Atoi(probeLine(e, Host, procFacts, 1))
					return comm != "" && comm == probeLine(e, Host, procFacts, 0) && in > 0 && 2*in > host
				},
			},
		},
	},
	Demo: Demo{
		Feature: "pid",
		Explain: i18n.T(
			"Without a PID namespace the container has no PID 1 of its own: it is one more process in the host's numbering, its NSpid has one number and both of its PID links are the host's. ps looks the same with or without the namespace: what ps shows is decided by /proc.",
			"PID 네임스페이스가 없으면 컨테이너에는 자기 PID 1이 없습니다. 호스트의 번호 체계 속 프로세스 하나일 뿐이고, NSpid에는 숫자가 하나, PID 링크 둘 다 호스트의 것입니다. ps는 네임스페이스가 있든 없든 똑같이 보입니다. ps에 무엇이 보일지는 /proc이 정하기 때문입니다."),
		Remove: withoutNS(specs.PIDNamespace),
		Fails:  []int{2, 3},
	},
	Exercises: pidExercises,
	Outro: i18n.T(
		"The container is PID 1 of its own namespace, but it still reads the host's /proc. Next: a mount namespace, and a /proc of its own.",
		"컨테이너는 자기 네임스페이스의 PID 1이 되었지만 아직 호스트의 /proc을 읽습니다. 다음 레슨에서는 마운트 네임스페이스를 만들고 자기 /proc을 마운트합니다."),
	Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.PIDNamespace, true) })
	},
}
