package lessons

import (
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// The exercises of lesson 7 (user).
var userExercises = []*Exercise{exUserRoot, exUserRange}

// userNS lists the learner's processes with a user namespace of their own.
func userNS(s *Scene) []*Proc { return s.Where(func(p *Proc) bool { return s.Own(p, "user") }) }

var exUserRoot = &Exercise{
	Title: i18n.T("Root inside, an ordinary user outside", "안에서는 root, 밖에서는 평범한 사용자"),
	Task: i18n.T(
		"Start a process that is uid 0 in a user namespace of its own while, on the host, it runs as uid 1000, an unprivileged user: root inside, nobody special outside. Leave it running. (setpriv runs a command as another user.)",
		"자기 사용자 네임스페이스 안에서는 uid 0이고, 호스트에서는 권한 없는 uid 1000으로 도는 프로세스를 띄우세요. 안에서는 root, 밖에서는 특별할 것 없는 사용자입니다. 계속 돌게 두세요. (setpriv는 명령을 다른 사용자로 실행합니다.)"),
	Needs: []string{"setpriv", "unshare", "sleep"},
	Hints: []i18n.Text{
		i18n.T("uid_map says which host uid each uid inside is. unshare --map-root-user writes 0 → the uid of whoever runs unshare: so run unshare as uid 1000.",
			"uid_map은 안의 uid가 호스트의 어느 uid인지 말해 줍니다. unshare --map-root-user는 0 → unshare를 실행한 사용자의 uid를 씁니다. 그러니 unshare를 uid 1000으로 실행하세요."),
		i18n.T("setpriv --reuid=1000 --regid=1000 --clear-groups COMMAND runs COMMAND as uid 1000; an unprivileged user may make a user namespace and map its own uid to 0 in it.",
			"setpriv --reuid=1000 --regid=1000 --clear-groups 명령은 명령을 uid 1000으로 실행합니다. 권한 없는 사용자도 사용자 네임스페이스를 만들고 자기 uid를 그 안의 0으로 매핑할 수 있습니다."),
	},
	Answer: "setpriv --reuid=1000 --regid=1000 --clear-groups unshare --user --map-root-user sleep 1000 &",
	Check: func(s *Scene) Verdict {
		var last Verdict
		for _, p := range userNS(s) {
			snap := p.Snapshot()
			host := snap.Status.UID.Effective
			inside, mapped := nsinspect.Outside(snap.IDMap.UID, 0)
			seen := tf("%s has user namespace %d, uid_map %s, and is uid %d on the host", "%s 프로세스는 사용자 네임스페이스(%d)를 가졌고, uid_map은 %s, 호스트에서는 uid %d입니다", p, p.NS("user").Inode, idMap(snap.IDMap.UID), host)
			switch {
			case mapped && inside == host && host != 0:
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					tf("uid 0 inside is uid %d outside: root in its namespace, unprivileged on the host", "안의 uid 0은 밖의 uid %d입니다. 자기 네임스페이스에서는 root, 호스트에서는 권한 없는 사용자입니다", host)}}
			case mapped && inside == 0 && host == 0:
				last = Verdict{Key: "root-outside", Seen: []i18n.Text{seen},
					Wrong: i18n.T("root inside is root outside: the map sends uid 0 to the host's uid 0", "안의 root가 곧 밖의 root입니다. 맵이 uid 0을 호스트의 uid 0으로 보냅니다"),
					Hint:  i18n.T("--map-root-user maps 0 to the user who runs unshare, here root. Run unshare as uid 1000: setpriv --reuid=1000 --regid=1000 --clear-groups unshare …", "--map-root-user는 0을 unshare를 실행한 사용자에게 매핑하는데, 여기서는 root입니다. unshare를 uid 1000으로 실행하세요: setpriv --reuid=1000 --regid=1000 --clear-groups unshare …"),
				}
			case !mapped:
				last = Verdict{Key: "no-map", Seen: []i18n.Text{seen},
					Wrong: i18n.T("uid 0 inside maps to nothing: the process is the overflow uid, 65534, inside", "안의 uid 0이 어디에도 매핑되지 않았습니다. 안에서 그 프로세스는 오버플로 uid 65534입니다"),
					Hint:  i18n.T("Give the namespace a uid_map: unshare --map-root-user writes one, 0 → the caller's uid.", "네임스페이스에 uid_map을 주세요. unshare --map-root-user가 0 → 호출한 사용자의 uid를 씁니다."),
				}
			default:
				last = Verdict{Key: "wrong-map", Seen: []i18n.Text{seen},
					Wrong: tf("uid 0 inside is uid %d outside, but the process itself runs as uid %d there: it is not root inside", "안의 uid 0은 밖의 uid %d이지만 프로세스 자신은 밖에서 uid %d인 채로 돕니다. 안에서 root가 아닙니다", inside, host),
					Hint:  i18n.T("Map uid 0 to the uid the process runs as on the host: --map-root-user does, for the user who runs unshare.", "uid 0을 프로세스가 호스트에서 도는 uid로 매핑하세요. --map-root-user가 unshare를 실행한 사용자에 대해 그렇게 합니다."),
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours has a user namespace of its own", "자기 사용자 네임스페이스를 가진 내 프로세스가 없습니다"),
			i18n.T("unshare --user makes a new user namespace; --map-root-user also writes its uid_map.", "unshare --user가 새 사용자 네임스페이스를 만들고, --map-root-user는 그 uid_map도 씁니다."))
	},
}

// userRange is the map `stepbox run --userns` gives a container: 65536
// ids from 100000.
var userRange = nsinspect.IDMapRange{Inside: 0, Outside: 100000, Count: 65536}

var exUserRange = &Exercise{
	Title: i18n.T("A map of 65536 ids, by hand", "65536개 id의 맵을 손으로"),
	Task: i18n.T(
		"Start a process in a new user namespace, then, as root on the host, write its uid_map and gid_map so that ids 0 to 65535 inside are 100000 to 165535 outside, both for users and for groups (what stepbox run --userns does). Leave it running.",
		"새 사용자 네임스페이스 안에 프로세스를 하나 띄운 다음, 호스트의 root로서 그 uid_map과 gid_map을 쓰세요. 안의 id 0~65535가 밖의 100000~165535가 되도록, 사용자와 그룹 모두에 대해서입니다(stepbox run --userns가 하는 일). 계속 돌게 두세요."),
	Needs: []string{"unshare", "sleep"},
	Hints: []i18n.Text{
		i18n.T("/proc/PID/uid_map takes lines of three numbers: first id inside, first id outside, how many. Each map is written once, whole, by a process with the right capabilities over the namespace's parent.",
			"/proc/PID/uid_map은 세 숫자로 된 줄을 받습니다. 안의 첫 id, 밖의 첫 id, 개수입니다. 맵은 네임스페이스의 부모에 대해 필요한 케이퍼빌리티를 가진 프로세스가 한 번에 통째로 한 번만 씁니다."),
		i18n.T("unshare --user sleep 1000 & then echo '0 100000 65536' > /proc/$!/uid_map, and the same into gid_map: groups have a map of their own.",
			"unshare --user sleep 1000 & 다음에 echo '0 100000 65536' > /proc/$!/uid_map, 그리고 gid_map에도 똑같이 쓰세요. 그룹은 자기 맵이 따로 있습니다."),
	},
	Answer: "unshare --user sleep 1000 & p=$!\n" +
		"sleep 0.2; echo '0 100000 65536' > /proc/$p/uid_map; echo '0 100000 65536' > /proc/$p/gid_map",
	Check: func(s *Scene) Verdict {
		var last Verdict
		has := func(m []nsinspect.IDMapRange) bool {
			return len(m) == 1 && m[0] == userRange
		}
		for _, p := range userNS(s) {
			m := p.Snapshot().IDMap
			seen := tf("%s has user namespace %d: uid_map %s, gid_map %s", "%s 프로세스는 사용자 네임스페이스(%d)를 가졌습니다: uid_map %s, gid_map %s", p, p.NS("user").Inode, idMap(m.UID), idMap(m.GID))
			switch {
			case has(m.UID) && has(m.GID):
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					i18n.T("ids 0–65535 inside are 100000–165535 outside, for users and groups", "사용자와 그룹 모두, 안의 id 0~65535가 밖의 100000~165535입니다")}}
			case has(m.UID) && len(m.GID) == 0:
				last = Verdict{Key: "no-gid-map", Seen: []i18n.Text{seen},
					Wrong: i18n.T("the gid_map is empty: every group inside is the overflow gid, 65534", "gid_map이 비어 있습니다. 안의 그룹은 모두 오버플로 gid 65534입니다"),
					Hint:  i18n.T("Groups have a map of their own: write the same line into /proc/PID/gid_map.", "그룹은 자기 맵이 따로 있습니다. 같은 줄을 /proc/PID/gid_map에도 쓰세요."),
				}
			case len(m.UID) == 0 && len(m.GID) == 0:
				last = Verdict{Key: "no-map", Seen: []i18n.Text{seen},
					Wrong: i18n.T("neither map is written: the process is uid and gid 65534 inside", "맵이 하나도 쓰이지 않았습니다. 안에서 그 프로세스는 uid와 gid 65534입니다"),
					Hint:  i18n.T("Write the maps from the host, as root: echo '0 100000 65536' > /proc/PID/uid_map, then gid_map.", "호스트에서 root로 맵을 쓰세요: echo '0 100000 65536' > /proc/PID/uid_map, 그다음 gid_map."),
				}
			default:
				last = Verdict{Key: "wrong-map", Seen: []i18n.Text{seen},
					Wrong: i18n.T("the maps are not 0 100000 65536 for both; a map is written once, so start a new process and write them again", "두 맵이 모두 0 100000 65536인 것은 아닙니다. 맵은 한 번만 쓸 수 있으니 새 프로세스를 띄워 다시 쓰세요"),
					Hint:  i18n.T("One line each: first id inside (0), first id outside (100000), how many (65536).", "맵마다 한 줄입니다. 안의 첫 id(0), 밖의 첫 id(100000), 개수(65536)."),
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours has a user namespace of its own", "자기 사용자 네임스페이스를 가진 내 프로세스가 없습니다"),
			i18n.T("unshare --user sleep 1000 & starts one, with no map yet.", "unshare --user sleep 1000 & 은 아직 맵이 없는 프로세스를 하나 띄웁니다."))
	},
}
