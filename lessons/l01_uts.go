package lessons

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register(lessonUTS) }

func withoutNS(t specs.LinuxNamespaceType) func(*specs.Spec, *sandbox.Options) {
	return func(s *specs.Spec, _ *sandbox.Options) {
		sandbox.SetNamespace(s, t, false)
		if t == specs.UTSNamespace {
			s.Hostname = ""
		}
	}
}

var lessonUTS = &Lesson{
	ID:      "uts",
	Title:   i18n.T("UTS: a hostname of its own", "UTS: 자기만의 호스트 이름"),
	Summary: i18n.T("its own hostname, while the host keeps its own", "컨테이너는 자기 호스트 이름을 갖고, 호스트 이름은 그대로"),
	Intro: i18n.T(
		"The UTS namespace holds two strings, the hostname and the NIS domain name (the name comes from the struct utsname that uname(2) fills). It is the simplest namespace, which is why every course starts here.",
		"UTS 네임스페이스가 가진 것은 문자열 두 개, 호스트 이름과 NIS 도메인 이름뿐입니다(이름은 uname(2)이 채우는 struct utsname에서 왔습니다). 가장 단순한 네임스페이스라서 어느 강의든 여기서 시작합니다."),
	Needs: Needs{Inside: []string{"hostname"}, Host: []string{"hostname"}},
	Steps: []Step{
		{
			Title: i18n.T("Before: the host's UTS namespace", "시작: 호스트의 UTS 네임스페이스"),
			Explain: i18n.T(
				"Our process still shares the host's UTS namespace: the same inode, the same hostname.",
				"지금 프로세스는 아직 호스트의 UTS 네임스페이스를 함께 씁니다. 아이노드도, 호스트 이름도 같습니다."),
			Syscalls: []Syscall{{"uname", 2, ""}},
			Shell:    "hostname; readlink /proc/self/ns/uts",
			Probes:   []Probe{{Inside, "hostname"}},
			Rows:     []Row{RowNS("uts"), RowHostname},
			Expect: Expect{
				Text:  i18n.T("the UTS namespace is the host's", "UTS 네임스페이스가 호스트의 것이다"),
				Check: func(e *Evidence) bool { return !e.Isolated("uts") },
			},
		},
		{
			Title: i18n.T("A new UTS namespace", "새 UTS 네임스페이스"),
			Explain: i18n.T(
				"The runtime adds CLONE_NEWUTS to clone(2). The new namespace starts as a copy of the parent's, so the hostname is still the host's, but the inode is new: from now on the two can differ.",
				"런타임이 clone(2)에 CLONE_NEWUTS를 더합니다. 새 네임스페이스는 부모의 것을 복사해서 시작하므로 호스트 이름은 아직 같지만, 아이노드는 새것입니다. 이제부터 둘은 달라질 수 있습니다."),
			Syscalls: []Syscall{{"clone", 2, "CLONE_NEWUTS"}},
			Shell:    "unshare --uts sh",
			Apply: func(l *Lab) error {
				l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.UTSNamespace, true) })
				return nil
			},
			Probes: []Probe{{Inside, "hostname"}},
			Rows:   []Row{RowNS("uts"), RowHostname},
			Expect: Expect{
				Text:  i18n.T("the container has its own UTS namespace", "컨테이너가 자기 UTS 네임스페이스를 가졌다"),
				Check: func(e *Evidence) bool { return e.Isolated("uts") },
			},
		},
		{
			Title: i18n.T("Set a hostname inside", "안에서 호스트 이름 바꾸기"),
			Explain: i18n.T(
				"Inside, the process calls sethostname(2). Only its own namespace changes: the host's hostname stays as it was. This is what `docker run --hostname` does.",
				"안에서 프로세스가 sethostname(2)을 부릅니다. 바뀌는 것은 자기 네임스페이스뿐이고, 호스트의 이름은 그대로입니다. `docker run --hostname`이 하는 일이 바로 이것입니다."),
			Syscalls: []Syscall{{"sethostname", 2, `"box"`}},
			Shell:    "unshare --uts sh -c 'hostname box; hostname'; hostname",
			Apply: func(l *Lab) error {
				_, err := l.Inside("hostname box")
				return err
			},
			Probes: []Probe{{Inside, "hostname"}, {Host, "hostname"}},
			Rows:   []Row{RowHostname},
			Expect: Expect{
				Text: i18n.T("the container is called box, the host keeps its name", "컨테이너 이름은 box, 호스트는 원래 이름 그대로"),
				Check: func(e *Evidence) bool {
					return e.Inside.UTS.Hostname == "box" && e.Host.UTS.Hostname != "box"
				},
			},
		},
	},
	Demo: Demo{
		Feature: "uts",
		Explain: i18n.T(
			"Without its own UTS namespace, the container's sethostname(2) renames the host.",
			"자기 UTS 네임스페이스가 없으면, 컨테이너의 sethostname(2)이 호스트의 이름을 바꿉니다."),
		Remove: withoutNS(specs.UTSNamespace),
		Fails:  []int{2, 3},
	},
	Exercises: utsExercises,
	Outro: i18n.T(
		"One namespace, one view taken away. Next: process ids.",
		"네임스페이스 하나로 보이는 것 하나를 떼어 냈습니다. 다음은 프로세스 ID입니다."),
	Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) {
			sandbox.SetNamespace(s, specs.UTSNamespace, true)
			s.Hostname = "box"
		})
	},
}
