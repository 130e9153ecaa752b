package lessons

import (
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
)

func init() { register(lessonProcess) }

var lessonProcess = &Lesson{
	ID:      "process",
	Title:   i18n.T("A container is just a process", "컨테이너는 그냥 프로세스다"),
	Summary: i18n.T("a plain process shares everything with the host: the baseline", "보통 프로세스는 호스트와 모든 것을 공유한다: 이후 모든 비교의 기준"),
	Intro: i18n.T(
		"A container is not a virtual machine. It is an ordinary Linux process that the kernel shows a different view of the machine. Before we isolate anything, we start a plain process and look at it: every later lesson changes one thing about this process and measures the difference from here.",
		"컨테이너는 가상 머신이 아닙니다. 커널이 기계를 다르게 보여 주는 평범한 리눅스 프로세스일 뿐입니다. 아무것도 격리하기 전에, 먼저 보통 프로세스를 하나 띄우고 살펴봅시다. 이후의 모든 레슨은 이 프로세스에서 한 가지씩 바꾸고, 여기서부터 달라진 점을 잽니다."),
	Needs: Needs{Inside: []string{"grep", "hostname", "ls"}, Host: []string{"hostname", "readlink"}},
	Steps: []Step{
		{
			Title: i18n.T("Start a process", "프로세스 하나 시작하기"),
			Explain: i18n.T(
				"The runtime starts a process with clone(2) and execve(2), with no namespace flags at all. It is the 'container' of this lesson: stepbox's agent, which answers our questions from wherever it runs.",
				"런타임이 clone(2)과 execve(2)로 프로세스를 하나 시작합니다. 네임스페이스 플래그는 하나도 주지 않았습니다. 이것이 이번 레슨의 '컨테이너'입니다. 어디서 돌든 우리 질문에 대답해 주는 stepbox 에이전트입니다."),
			Syscalls: []Syscall{{"clone", 2, "flags = SIGCHLD"}, {"execve", 2, ""}},
			Shell:    "sleep 1000 &\nls -l /proc/$!/ns",
			Rows:     []Row{RowPID, RowNS("uts"), RowNS("pid"), RowNS("mnt"), RowNS("net")},
			Expect: Expect{
				Text:  i18n.T("it is a process with a pid on the host", "호스트에 PID가 있는 프로세스다"),
				Check: func(e *Evidence) bool { return len(e.Outside.Status.NSpid) == 1 },
			},
		},
		{
			Title: i18n.T("Every namespace is the host's", "모든 네임스페이스가 호스트의 것"),
			Explain: i18n.T(
				"Each process has eight namespace links in /proc/PID/ns. Two processes are in the same namespace exactly when the links name the same inode (namespaces(7)). Here all eight inodes are the host's: nothing is isolated yet.",
				"프로세스마다 /proc/PID/ns 아래에 네임스페이스 링크가 여덟 개 있습니다. 두 프로세스의 링크가 같은 아이노드를 가리키면 같은 네임스페이스에 있는 것입니다(namespaces(7)). 지금은 여덟 개 모두 호스트의 아이노드와 같습니다. 아직 아무것도 격리되지 않았습니다."),
			Syscalls: []Syscall{{"readlink", 2, "/proc/PID/ns/*"}, {"stat", 2, ""}},
			Shell:    "readlink /proc/self/ns/* /proc/$!/ns/*",
			Probes:   []Probe{{Host, "readlink /proc/{pid}/ns/uts /proc/self/ns/uts"}},
			Rows:     []Row{RowNS("ipc"), RowNS("user"), RowNS("cgroup"), RowNS("time")},
			Expect: Expect{
				Text: i18n.T("all eight namespaces are shared with the host", "여덟 네임스페이스 모두 호스트와 공유한다"),
				Check: func(e *Evidence) bool {
					for _, t := range courseNamespaces {
						if e.Isolated(t) {
							return false
						}
					}
					return true
				},
			},
		},
		{
			Title: i18n.T("It sees what the host sees", "호스트가 보는 것을 그대로 본다"),
			Explain: i18n.T(
				"Because it shares every namespace, the process sees the host's hostname, its processes, its mounts and its network interfaces. A container is made by taking these views away one at a time.",
				"모든 네임스페이스를 공유하므로, 이 프로세스는 호스트의 호스트 이름, 프로세스, 마운트, 네트워크 인터페이스를 그대로 봅니다. 컨테이너는 이런 것들을 하나씩 떼어 내서 만듭니다."),
			Syscalls: []Syscall{{"uname", 2, ""}, {"getdents64", 2, "/proc"}},
			Shell:    "hostname; ls /proc | grep -c '^[0-9]'",
			Probes:   []Probe{{Inside, "hostname"}, {Inside, "ls /proc | grep -c '^[0-9]'"}},
			Rows:     []Row{RowHostname, RowMounts, RowInterfaces},
			Expect: Expect{
				Text: i18n.T("same hostname, mounts and interfaces as the host", "호스트와 같은 호스트 이름, 마운트, 인터페이스"),
				Check: func(e *Evidence) bool {
					return e.Inside.UTS.Hostname == e.Host.UTS.Hostname &&
						len(e.Inside.Mounts.Entries) == len(e.Host.Mounts.Entries) &&
						ifaces(e.Inside) == ifaces(e.Host)
				},
			},
		},
	},
	Demo: Demo{
		Feature: "isolation",
		Explain: i18n.T(
			"With nothing isolated, whatever the process changes, the host changes too: it renames the whole machine.",
			"아무것도 격리하지 않으면, 프로세스가 바꾸는 것은 곧 호스트가 바뀌는 것입니다. 기계 전체의 이름이 바뀝니다."),
		Extra: []Step{{
			Title: i18n.T("The process renames the machine", "프로세스가 기계 이름을 바꾼다"),
			Explain: i18n.T(
				"The process calls sethostname(2). With the host's UTS namespace, the name of the host itself changes.",
				"프로세스가 sethostname(2)을 부릅니다. 호스트의 UTS 네임스페이스를 쓰고 있으니, 호스트의 이름 자체가 바뀝니다."),
			Syscalls: []Syscall{{"sethostname", 2, `"renamed-by-a-process"`}},
			Shell:    "hostname renamed-by-a-process",
			Apply: func(l *Lab) error {
				_, err := l.Inside("hostname renamed-by-a-process")
				return err
			},
			Probes: []Probe{{Host, "hostname"}},
			Rows:   []Row{RowHostname},
			Expect: Expect{
				Text: i18n.T("the host keeps its name", "호스트는 이름을 그대로 유지한다"),
				Check: func(e *Evidence) bool {
					return !strings.Contains(e.Probe(Host, "hostname").Output, "renamed-by-a-process")
				},
			},
		}},
		Fails: []int{4},
	},
	Exercises: processExercises,
	Outro: i18n.T(
		"This is the baseline: a process that shares everything. Next we give it its own hostname.",
		"이것이 기준선입니다. 모든 것을 공유하는 프로세스죠. 다음 레슨에서는 이 프로세스에 자기만의 호스트 이름을 줍니다."),
}
