package lessons

import "github.com/stepbox/stepbox/internal/i18n"

// The exercises of lesson 1 (UTS).
var utsExercises = []*Exercise{exUTSName, exUTSJoin}

// hostRenamed is the ✗ of every exercise when the exercise's host no
// longer has its name: the learner's hostname ran in the host's UTS
// namespace. It says how to put the name back.
func hostRenamed(s *Scene) (Verdict, bool) {
	if name := s.Host.UTS.Hostname; name != s.Session.Hostname {
		return Verdict{
			Key:   "host-renamed",
			Seen:  []i18n.Text{tf("the exercise's host is called %s", "연습용 호스트의 이름이 %s입니다", name)},
			Wrong: tf("the exercise's host is now called %s, not %s: hostname ran in the host's own UTS namespace. Put its name back with: hostname %[2]s", "연습용 호스트의 이름이 바뀌었습니다(%[2]s → %[1]s). hostname이 호스트 자신의 UTS 네임스페이스에서 실행됐기 때문입니다. 이름을 되돌리세요: hostname %[2]s", name, s.Session.Hostname),
			Hint:  i18n.T("Make a new UTS namespace first, with unshare --uts, and run hostname inside it: only that namespace changes.", "먼저 unshare --uts로 새 UTS 네임스페이스를 만들고 그 안에서 hostname을 실행하세요. 그래야 그 네임스페이스만 바뀝니다."),
		}, true
	}
	return Verdict{}, false
}

var exUTSName = &Exercise{
	Title: i18n.T("A hostname of its own", "자기만의 호스트 이름"),
	Task: i18n.T(
		"Start a process that calls itself box, while the exercise's host keeps its name (exercise-host). Use unshare and hostname, and leave the process running (a sleep in the background will do) so the check can find it.",
		"이름이 box인 프로세스를 하나 띄우세요. 연습용 호스트의 이름(exercise-host)은 그대로 두어야 합니다. unshare와 hostname을 쓰고, 검사가 찾을 수 있도록 프로세스는 계속 돌게 두세요(백그라운드의 sleep이면 됩니다)."),
	Needs: []string{"unshare", "hostname", "sleep"},
	Hints: []i18n.Text{
		i18n.T("The hostname lives in the UTS namespace. unshare --uts starts a command in a new one, a copy of the host's; whatever that command renames is the copy.",
			"호스트 이름은 UTS 네임스페이스에 있습니다. unshare --uts는 호스트의 것을 복사한 새 네임스페이스에서 명령을 시작하고, 그 명령이 바꾸는 이름은 복사본의 것입니다."),
		i18n.T("One command can do both and then stay: unshare --uts sh -c '…; exec sleep 1000' &, with hostname box in place of the dots.",
			"명령 하나로 둘 다 하고 계속 돌게 할 수 있습니다: unshare --uts sh -c '…; exec sleep 1000' & 에서 점 자리에 hostname box를 넣으세요."),
	},
	Answer: "unshare --uts sh -c 'hostname box; exec sleep 1000' &",
	Check: func(s *Scene) Verdict {
		if v, bad := hostRenamed(s); bad {
			return v
		}
		own := s.Where(func(p *Proc) bool { return s.Own(p, "uts") })
		for _, p := range own {
			if p.Snapshot().UTS.Hostname == "box" {
				return Verdict{OK: true, Seen: []i18n.Text{
					tf("%s has a UTS namespace of its own (inode %d, the host's is %d), called box", "%s 프로세스는 자기 UTS 네임스페이스(아이노드 %d, 호스트는 %d)를 가졌고 이름은 box입니다", p, p.NS("uts").Inode, s.Host.Namespace("uts").Inode),
					tf("the exercise's host is still called %s", "연습용 호스트의 이름은 그대로 %s입니다", s.Host.UTS.Hostname),
				}}
			}
		}
		if len(own) > 0 {
			p := own[0]
			return Verdict{Key: "not-box",
				Seen:  []i18n.Text{tf("%s has a UTS namespace of its own, called %s", "%s 프로세스는 자기 UTS 네임스페이스를 가졌고 이름은 %s입니다", p, p.Snapshot().UTS.Hostname)},
				Wrong: tf("%s is not called box", "%s 프로세스의 이름이 box가 아닙니다", p),
				Hint:  i18n.T("Inside the new namespace, run hostname box before the process that stays (sh -c 'hostname box; exec sleep 1000').", "새 네임스페이스 안에서, 계속 돌 프로세스보다 먼저 hostname box를 실행하세요(sh -c 'hostname box; exec sleep 1000')."),
			}
		}
		return Verdict{Key: "no-namespace",
			Seen:  []i18n.Text{tf("%d of your processes run, all in the host's UTS namespace", "프로세스 %d개가 돌고 있고, 모두 호스트의 UTS 네임스페이스에 있습니다", len(s.Procs))},
			Wrong: i18n.T("no process of yours has a UTS namespace of its own", "자기 UTS 네임스페이스를 가진 프로세스가 없습니다"),
			Hint:  i18n.T("unshare --uts starts a command in a new UTS namespace; end the line with & so it keeps running while you check.", "unshare --uts는 새 UTS 네임스페이스에서 명령을 시작합니다. 검사하는 동안 계속 돌도록 줄 끝에 &를 붙이세요."),
		}
	},
}

var exUTSJoin = &Exercise{
	Title: i18n.T("Two processes, one UTS namespace", "프로세스 둘, UTS 네임스페이스 하나"),
	Task: i18n.T(
		"Make a UTS namespace called alpha with a process in it, then put a second process into that same namespace from the host with nsenter: join it, do not make another. Leave both running.",
		"이름이 alpha인 UTS 네임스페이스를 프로세스 하나와 함께 만든 다음, 호스트에서 nsenter로 두 번째 프로세스를 바로 그 네임스페이스에 넣으세요. 새로 만들지 말고 들어가야 합니다. 두 프로세스 모두 계속 돌게 두세요."),
	Needs: []string{"unshare", "nsenter", "hostname", "sleep"},
	Hints: []i18n.Text{
		i18n.T("A namespace lives as long as a process is in it, and /proc/PID/ns/uts names it. nsenter --target PID --uts runs a command in the UTS namespace of PID: setns(2), not unshare(2).",
			"네임스페이스는 안에 프로세스가 있는 동안 살아 있고, /proc/PID/ns/uts가 그것을 가리킵니다. nsenter --target PID --uts는 PID의 UTS 네임스페이스 안에서 명령을 실행합니다. unshare(2)가 아니라 setns(2)입니다."),
		i18n.T("$! is the pid of the last command started with &. Start the first with unshare, keep its pid, and give it to nsenter --target.",
			"$!는 &로 시작한 마지막 명령의 pid입니다. 첫 프로세스를 unshare로 띄우고 그 pid를 nsenter --target에 주세요."),
	},
	Answer: "unshare --uts sh -c 'hostname alpha; exec sleep 1000' &\n" +
		"sleep 0.2; nsenter --target $! --uts sleep 1000 &",
	Check: func(s *Scene) Verdict {
		if v, bad := hostRenamed(s); bad {
			return v
		}
		// A namespace entered from outside twice: two processes in it whose
		// parents are not (the one unshare made, and the one nsenter put).
		byNS := map[uint64][]*Proc{}
		parents := map[int]*Proc{}
		for _, p := range s.Procs {
			parents[p.PID] = p
		}
		var alphas []uint64
		for _, p := range s.Procs {
			if !s.Own(p, "uts") {
				continue
			}
			ino := p.NS("uts").Inode
			if pp, ok := parents[p.PPID]; ok && pp.NS("uts").Inode == ino {
				continue // born inside: not an entry from outside
			}
			if len(byNS[ino]) == 0 && p.Snapshot().UTS.Hostname == "alpha" {
				alphas = append(alphas, ino)
			}
			byNS[ino] = append(byNS[ino], p)
		}
		for _, ino := range alphas {
			if ps := byNS[ino]; len(ps) >= 2 {
				return Verdict{OK: true, Seen: []i18n.Text{
					tf("UTS namespace %d is called alpha", "UTS 네임스페이스 %d의 이름은 alpha입니다", ino),
					tf("entered from the host by %s and by %s", "호스트에서 %s 프로세스와 %s 프로세스가 각각 들어갔습니다", ps[0], ps[1]),
				}}
			}
		}
		if len(alphas) >= 2 {
			return Verdict{Key: "two-namespaces",
				Seen:  []i18n.Text{tf("%d UTS namespaces are called alpha", "이름이 alpha인 UTS 네임스페이스가 %d개 있습니다", len(alphas))},
				Wrong: i18n.T("the second process made a namespace of its own and named it alpha too: it did not join the first", "두 번째 프로세스가 자기 네임스페이스를 새로 만들고 똑같이 alpha라고 이름 붙였습니다. 첫 번째 것에 들어간 것이 아닙니다"),
				Hint:  i18n.T("unshare always makes a new namespace. To join one that exists, use nsenter --target PID --uts with the pid of a process already in it.", "unshare는 언제나 새 네임스페이스를 만듭니다. 이미 있는 것에 들어가려면 그 안에 있는 프로세스의 pid로 nsenter --target PID --uts를 쓰세요."),
			}
		}
		if len(alphas) == 1 {
			return Verdict{Key: "alone",
				Seen:  []i18n.Text{tf("UTS namespace %d is called alpha; only %s entered it from the host", "UTS 네임스페이스 %d의 이름은 alpha이고, 호스트에서 들어간 것은 %s 프로세스뿐입니다", alphas[0], byNS[alphas[0]][0])},
				Wrong: i18n.T("no second process joined the namespace", "두 번째로 들어간 프로세스가 없습니다"),
				Hint:  i18n.T("nsenter --target PID --uts sleep 1000 & runs a second process in the namespace of PID.", "nsenter --target PID --uts sleep 1000 & 는 PID의 네임스페이스 안에서 두 번째 프로세스를 돌립니다."),
			}
		}
		return Verdict{Key: "no-alpha",
			Seen:  []i18n.Text{tf("%d of your processes run; none is in a UTS namespace called alpha", "프로세스 %d개가 돌고 있지만, 이름이 alpha인 UTS 네임스페이스에 있는 것은 없습니다", len(s.Procs))},
			Wrong: i18n.T("there is no UTS namespace called alpha", "이름이 alpha인 UTS 네임스페이스가 없습니다"),
			Hint:  i18n.T("Start with one process in a new UTS namespace named alpha, as in the exercise before: unshare --uts, hostname alpha, a sleep that stays.", "앞의 연습 문제처럼 먼저 새 UTS 네임스페이스에 프로세스 하나를 띄우고 이름을 alpha로 하세요. unshare --uts, hostname alpha, 계속 도는 sleep입니다."),
		}
	},
}
