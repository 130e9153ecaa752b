package lessons

import (
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
)

// The exercises of lesson 0 (a container is just a process).
var processExercises = []*Exercise{exProcessShares, exProcessRenames}

var exProcessShares = &Exercise{
	Title: i18n.T("A process in the host's eight namespaces", "호스트의 여덟 네임스페이스 안의 프로세스"),
	Task: i18n.T(
		"Start sleep 1000 in the background from this shell, find its eight namespaces under /proc/PID/ns, and compare them with your shell's (readlink /proc/$$/ns/*). Leave it running: the check wants a process of yours, not a shell, that is in all eight of the host's namespaces.",
		"이 셸에서 sleep 1000을 백그라운드로 띄우고, /proc/PID/ns에서 그 여덟 네임스페이스를 찾아 셸의 것(readlink /proc/$$/ns/*)과 비교해 보세요. 프로세스는 계속 돌게 두세요. 검사는 셸이 아닌 내 프로세스 가운데 호스트의 여덟 네임스페이스에 모두 들어 있는 것을 찾습니다."),
	Needs: []string{"sleep", "readlink"},
	Hints: []i18n.Text{
		i18n.T("A command ending in & runs in the background, and $! is its pid. A plain command shares every namespace of the shell that started it: nothing has to be done but to start it.",
			"&로 끝나는 명령은 백그라운드에서 돌고, $!가 그 pid입니다. 평범하게 시작한 명령은 자기를 띄운 셸의 네임스페이스를 모두 함께 씁니다. 그냥 띄우기만 하면 됩니다."),
		i18n.T("readlink /proc/$!/ns/uts prints uts:[INODE]; the same inode means the same namespace (namespaces(7)).",
			"readlink /proc/$!/ns/uts는 uts:[아이노드]를 출력합니다. 아이노드가 같으면 같은 네임스페이스입니다(namespaces(7))."),
	},
	Answer: "sleep 1000 &\nreadlink /proc/$!/ns/* /proc/$$/ns/*",
	Check: func(s *Scene) Verdict {
		workers := s.Workers()
		for _, p := range workers {
			var own []string
			for _, typ := range courseNamespaces {
				if s.Own(p, typ) {
					own = append(own, typ)
				}
			}
			if len(own) == 0 {
				return Verdict{OK: true, Seen: []i18n.Text{
					tf("%s shares all eight namespaces with the host", "%s 프로세스는 여덟 네임스페이스를 모두 호스트와 함께 씁니다", p),
					tf("uts %d, pid %d, mnt %d, net %d: the host's inodes", "uts %d, pid %d, mnt %d, net %d: 호스트의 아이노드 그대로입니다", p.NS("uts").Inode, p.NS("pid").Inode, p.NS("mnt").Inode, p.NS("net").Inode),
				}}
			}
			if p == workers[len(workers)-1] {
				return Verdict{Key: "own-namespace",
					Seen:  []i18n.Text{tf("%s has namespaces of its own: %s", "%s 프로세스는 자기 네임스페이스를 가졌습니다: %s", p, strings.Join(own, ", "))},
					Wrong: tf("%s is not in the host's %s namespace: it was started with unshare or nsenter", "%s 프로세스는 호스트의 %s 네임스페이스에 있지 않습니다. unshare나 nsenter로 시작했기 때문입니다", p, own[0]),
					Hint:  i18n.T("This exercise wants the plain case, before any namespace: start sleep 1000 & by itself.", "이 연습 문제는 네임스페이스를 쓰기 전의 평범한 경우를 원합니다. sleep 1000 & 만 그대로 실행하세요."),
				}
			}
		}
		return nothing(s, "nothing-running",
			i18n.T("no process of yours runs but shells", "셸 말고 돌고 있는 내 프로세스가 없습니다"),
			i18n.T("End the command with &, so that it keeps running in the background while you check: sleep 1000 &", "검사하는 동안 백그라운드에서 계속 돌도록 명령 끝에 &를 붙이세요: sleep 1000 &"))
	},
}

var exProcessRenames = &Exercise{
	Title: i18n.T("A plain process renames the host", "평범한 프로세스가 호스트 이름을 바꾼다"),
	Task: i18n.T(
		"Show that a process without namespaces of its own can change the host: rename the exercise's host to renamed. It is safe here: this host is a throwaway, and the real machine keeps its name.",
		"자기 네임스페이스가 없는 프로세스가 호스트를 바꿀 수 있음을 보이세요. 연습용 호스트의 이름을 renamed로 바꾸면 됩니다. 이 호스트는 일회용이라 안전하며, 실제 기계의 이름은 그대로입니다."),
	Needs: []string{"hostname"},
	Hints: []i18n.Text{
		i18n.T("hostname NAME calls sethostname(2), which changes the name of the UTS namespace the caller is in: here, the host's.",
			"hostname NAME은 sethostname(2)을 부르고, 이 호출은 호출한 프로세스가 속한 UTS 네임스페이스의 이름을 바꿉니다. 여기서는 호스트의 것입니다."),
	},
	Answer: "hostname renamed\nhostname",
	Check: func(s *Scene) Verdict {
		if name := s.Host.UTS.Hostname; name == "renamed" {
			return Verdict{OK: true, Seen: []i18n.Text{
				tf("the exercise's host is now called %s: every process in its UTS namespace (%d) sees the new name", "연습용 호스트의 이름이 이제 %s입니다. 그 UTS 네임스페이스(%d)의 모든 프로세스가 새 이름을 봅니다", name, s.Host.Namespace("uts").Inode),
			}}
		}
		for _, p := range s.Where(func(p *Proc) bool { return s.Own(p, "uts") }) {
			if p.Snapshot().UTS.Hostname == "renamed" {
				return Verdict{Key: "own-uts",
					Seen:  []i18n.Text{tf("%s is called renamed, in a UTS namespace of its own", "%s 프로세스는 자기 UTS 네임스페이스 안에서 renamed라는 이름입니다", p)},
					Wrong: tf("only %s's own UTS namespace was renamed; the host is still called %s", "%s 프로세스 자신의 UTS 네임스페이스만 이름이 바뀌었고, 호스트는 여전히 %s입니다", p, s.Host.UTS.Hostname),
					Hint:  i18n.T("That is the next lesson's protection. Here, run hostname renamed in this shell itself, without unshare.", "그것은 다음 레슨에서 배울 보호 장치입니다. 여기서는 unshare 없이 이 셸에서 바로 hostname renamed를 실행하세요."),
				}
			}
		}
		return Verdict{Key: "not-renamed",
			Seen:  []i18n.Text{tf("the exercise's host is called %s", "연습용 호스트의 이름은 %s입니다", s.Host.UTS.Hostname)},
			Wrong: i18n.T("the host is not called renamed", "호스트의 이름이 renamed가 아닙니다"),
			Hint:  i18n.T("hostname renamed, typed in this shell, renames the UTS namespace the shell shares with the host.", "이 셸에서 hostname renamed를 입력하면, 셸이 호스트와 함께 쓰는 UTS 네임스페이스의 이름이 바뀝니다."),
		}
	},
}
