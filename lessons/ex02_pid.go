package lessons

import "github.com/stepbox/stepbox/internal/i18n"

// The exercises of lesson 2 (PID).
var pidExercises = []*Exercise{exPIDOne, exPIDProc}

// pidOne is a process of the learner that is PID 1 of a PID namespace of
// its own (NSpid ends in 1).
func pidOne(s *Scene) []*Proc {
	return s.Where(func(p *Proc) bool {
		nspid := p.Snapshot().Status.NSpid
		return s.Own(p, "pid") && len(nspid) > 1 && nspid[len(nspid)-1] == 1
	})
}

// withoutFork is the ✗ of `unshare --pid` without --fork: a process still
// in the host's PID namespace whose children would be born in a new one
// (pid_for_children differs, or cannot be read until a first child exists).
func withoutFork(s *Scene) (Verdict, bool) {
	for _, p := range s.Workers() {
		if s.Own(p, "pid") {
			continue
		}
		kids := p.NS("pid_for_children")
		if kids.Known() && kids.Same(p.NS("pid")) {
			continue
		}
		return Verdict{Key: "no-fork",
			Seen: []i18n.Text{tf("%s is in the host's PID namespace (%d); its pid_for_children is another one, which has no process yet",
				"%s 프로세스는 호스트의 PID 네임스페이스(%d)에 있습니다. pid_for_children은 다른 네임스페이스를 가리키는데, 그 안에는 아직 프로세스가 없습니다", p, p.NS("pid").Inode)},
			Wrong: tf("%s was not moved into the new PID namespace: unshare(2) never moves its caller, only the children it will have", "%s 프로세스는 새 PID 네임스페이스로 옮겨지지 않았습니다. unshare(2)는 호출한 프로세스를 옮기지 않고, 앞으로 생길 자식만 그리로 보냅니다", p),
			Hint:  i18n.T("Add --fork: unshare then forks, and the child, born in the new namespace, is its PID 1 and runs the command.", "--fork를 더하세요. 그러면 unshare가 fork하고, 새 네임스페이스에서 태어난 자식이 그 안의 PID 1이 되어 명령을 실행합니다."),
		}, true
	}
	return Verdict{}, false
}

var exPIDOne = &Exercise{
	Title: i18n.T("PID 1 of its own", "자기만의 PID 1"),
	Task: i18n.T(
		"With unshare, start a process that is PID 1 in a new PID namespace, and leave it running. From the host it has an ordinary pid; the NSpid line of /proc/PID/status shows both numbers.",
		"unshare로 새 PID 네임스페이스 안에서 PID 1인 프로세스를 띄우고 계속 돌게 두세요. 호스트에서 보면 평범한 pid를 가졌고, /proc/PID/status의 NSpid 줄에 두 번호가 모두 보입니다."),
	Needs: []string{"unshare", "sleep"},
	Hints: []i18n.Text{
		i18n.T("unshare --pid makes a new PID namespace. Check with grep NSpid /proc/PID/status: one number means the host's namespace only, two mean a nested one.",
			"unshare --pid가 새 PID 네임스페이스를 만듭니다. grep NSpid /proc/PID/status로 확인하세요. 숫자가 하나면 호스트의 네임스페이스뿐이고, 둘이면 안쪽 네임스페이스가 하나 더 있는 것입니다."),
		i18n.T("A process cannot change its own pid, so unshare(2) cannot move its caller into a new PID namespace: the first child it forks becomes PID 1 there. unshare --fork does that fork.",
			"프로세스는 자기 pid를 바꿀 수 없으므로, unshare(2)는 호출한 프로세스를 새 PID 네임스페이스로 옮길 수 없습니다. 그 뒤에 처음 fork한 자식이 거기서 PID 1이 됩니다. unshare --fork가 그 fork를 합니다."),
	},
	Answer: "unshare --pid --fork sleep 1000 &",
	Check: func(s *Scene) Verdict {
		if ones := pidOne(s); len(ones) > 0 {
			p := ones[0]
			nspid := p.Snapshot().Status.NSpid
			return Verdict{OK: true, Seen: []i18n.Text{
				tf("%s is PID 1 in PID namespace %d and pid %d on the host (NSpid %v)", "%s 프로세스는 PID 네임스페이스 %d에서 PID 1이고, 호스트에서는 pid %d입니다(NSpid %v)", p, p.NS("pid").Inode, nspid[0], nspid),
			}}
		}
		if v, bad := withoutFork(s); bad {
			return v
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours is PID 1 of a PID namespace of its own", "자기 PID 네임스페이스에서 PID 1인 내 프로세스가 없습니다"),
			i18n.T("unshare --pid --fork COMMAND & starts COMMAND as PID 1 of a new PID namespace, in the background.", "unshare --pid --fork 명령 & 은 명령을 새 PID 네임스페이스의 PID 1로 백그라운드에서 띄웁니다."))
	},
}

var exPIDProc = &Exercise{
	Title: i18n.T("A /proc of its own", "자기만의 /proc"),
	Task: i18n.T(
		"Start a process that is PID 1 in a new PID namespace and has a /proc of its own, mounted for that namespace, so that ps run beside it would list only its own processes. Leave it running.",
		"새 PID 네임스페이스에서 PID 1이면서, 그 네임스페이스를 위해 마운트한 자기만의 /proc을 가진 프로세스를 띄우세요. 그 옆에서 ps를 돌리면 자기 네임스페이스의 프로세스만 보여야 합니다. 계속 돌게 두세요."),
	Needs: []string{"unshare", "sleep"},
	Hints: []i18n.Text{
		i18n.T("ps reads /proc, and a proc file system shows the PID namespace of whoever mounted it. A new /proc needs a mount namespace of its own too, or it would cover the host's.",
			"ps는 /proc을 읽고, proc 파일 시스템은 그것을 마운트한 쪽의 PID 네임스페이스를 보여 줍니다. 새 /proc에는 자기 마운트 네임스페이스도 필요합니다. 그렇지 않으면 호스트의 /proc을 덮어 버립니다."),
		i18n.T("unshare --mount-proc does both: a new mount namespace, and a proc mounted at /proc by the forked child, inside the new PID namespace.",
			"unshare --mount-proc가 둘 다 합니다. 새 마운트 네임스페이스를 만들고, 새 PID 네임스페이스 안에서 fork된 자식이 /proc에 proc을 마운트합니다."),
	},
	Answer: "unshare --pid --fork --mount-proc sleep 1000 &",
	Check: func(s *Scene) Verdict {
		ones := pidOne(s)
		for _, p := range ones {
			// The /proc p sees names its own namespace's processes: its
			// pid 1 is in p's PID namespace.
			_, ino, ok := statOf(p.In("/proc/1/ns/pid"))
			if ok && ino == p.NS("pid").Inode {
				return Verdict{OK: true, Seen: []i18n.Text{
					tf("%s is PID 1 in PID namespace %d", "%s 프로세스는 PID 네임스페이스 %d에서 PID 1입니다", p, ino),
					tf("its /proc is a proc of that namespace, in mount namespace %d of its own: /proc/1 there is itself", "그 /proc은 그 네임스페이스의 proc이고, 자기 마운트 네임스페이스 %d 안에 있습니다. 거기서 /proc/1은 자기 자신입니다", p.NS("mnt").Inode),
				}}
			}
		}
		if len(ones) > 0 {
			p := ones[0]
			return Verdict{Key: "host-proc",
				Seen:  []i18n.Text{tf("%s is PID 1 of its own PID namespace", "%s 프로세스는 자기 PID 네임스페이스의 PID 1입니다", p)},
				Wrong: tf("the /proc %s sees is the host's: ps beside it lists every process of the host, and /proc/1 there is the host's first process", "%s 프로세스가 보는 /proc은 호스트의 것입니다. 그 옆의 ps는 호스트의 모든 프로세스를 보여 주고, 거기서 /proc/1은 호스트의 첫 프로세스입니다", p),
				Hint:  i18n.T("Add --mount-proc: a mount namespace of its own, with a proc for the new PID namespace mounted at /proc.", "--mount-proc를 더하세요. 자기 마운트 네임스페이스를 만들고 새 PID 네임스페이스용 proc을 /proc에 마운트합니다."),
			}
		}
		if v, bad := withoutFork(s); bad {
			return v
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours is PID 1 of a PID namespace of its own", "자기 PID 네임스페이스에서 PID 1인 내 프로세스가 없습니다"),
			i18n.T("Start from the exercise before (unshare --pid --fork), and give the new namespace a /proc.", "앞의 연습 문제(unshare --pid --fork)에서 시작해 새 네임스페이스에 /proc을 주세요."))
	},
}
