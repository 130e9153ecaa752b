package lessons

import (
	"slices"
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// The exercises of lesson 8 (cgroup namespace). The exercise's shell lives
// in a cgroup namespace of its own already, rooted at the session's cgroup:
// $STEPBOX_CG_PIDS is the top of what the learner sees, and box below it
// is a cgroup of the session's.
var cgroupnsExercises = []*Exercise{exCgroupnsRoot, exCgroupnsMount}

// insideLine is p's own view of its cgroup in the hierarchy of controller
// (the pids one, or cgroup2's on a pure v2 host).
func insideLine(p *Proc, controller string) (string, bool) {
	var v2 string
	found := false
	for _, e := range p.Snapshot().Cgroups.Inside {
		if slices.Contains(e.Controllers, controller) {
			return e.Path, true
		}
		if e.V2() {
			v2, found = e.Path, true
		}
	}
	return v2, found
}

var exCgroupnsRoot = &Exercise{
	Title: i18n.T("A cgroup namespace rooted at box", "box에 뿌리를 둔 cgroup 네임스페이스"),
	Task: i18n.T(
		"Make a cgroup box below the exercise's own (mkdir $STEPBOX_CG_PIDS/box), and start a process in box with a cgroup namespace of its own, so that its /proc/self/cgroup reads / while, seen from the host, it lives in /box. Leave it running.",
		"연습 문제의 cgroup 아래에 box라는 cgroup을 만들고(mkdir $STEPBOX_CG_PIDS/box), box 안에서 자기 cgroup 네임스페이스를 가진 프로세스를 띄우세요. 그 프로세스의 /proc/self/cgroup은 /로 읽히고, 호스트에서 보면 /box에 있어야 합니다. 계속 돌게 두세요."),
	Needs: []string{"unshare", "mkdir", "sleep"},
	Hints: []i18n.Text{
		i18n.T("A process joins a cgroup when its pid is written to the cgroup's cgroup.procs. echo $$ > …/cgroup.procs moves the shell that runs echo.",
			"프로세스는 자기 pid가 cgroup의 cgroup.procs에 쓰이면 그 cgroup에 들어갑니다. echo $$ > …/cgroup.procs는 echo를 실행하는 셸 자신을 옮깁니다."),
		i18n.T("A cgroup namespace's root is the cgroup its maker was in at unshare: move first, then unshare --cgroup. sh -c 'echo $$ > …; exec unshare --cgroup sleep 1000' & does both in order.",
			"cgroup 네임스페이스의 루트는 그것을 만든 프로세스가 unshare할 때 있던 cgroup입니다. 먼저 옮기고, 그다음 unshare --cgroup 하세요. sh -c 'echo $$ > …; exec unshare --cgroup sleep 1000' & 가 둘을 차례로 합니다."),
	},
	Answer: "mkdir $STEPBOX_CG_PIDS/box\n" +
		"sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; exec unshare --cgroup sleep 1000' &",
	Check: func(s *Scene) Verdict {
		var last Verdict
		for _, p := range s.Where(func(p *Proc) bool { return s.Own(p, "cgroup") }) {
			where, ok1 := s.Cgroup(p.PID, "pids")
			inside, ok2 := insideLine(p, "pids")
			if !ok1 || !ok2 {
				continue
			}
			seen := tf("%s has cgroup namespace %d; from the host it is in %s, inside it reads %s", "%s 프로세스는 cgroup 네임스페이스(%d)를 가졌습니다. 호스트에서 보면 %s에 있고, 안에서 읽으면 %s입니다", p, p.NS("cgroup").Inode, where, inside)
			switch {
			case where == "/box" && inside == "/":
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					i18n.T("the namespace's root is box: inside, the path above it is hidden", "네임스페이스의 루트가 box입니다. 안에서는 그 위의 경로가 보이지 않습니다")}}
			case where == "/box":
				last = Verdict{Key: "made-before-move", Seen: []i18n.Text{seen},
					Wrong: tf("inside it still reads %s: the namespace was made before the move, so its root is the cgroup above box", "안에서 읽으면 아직 %s입니다. 옮기기 전에 네임스페이스를 만들었기 때문에 그 루트가 box 위의 cgroup입니다", inside),
					Hint:  i18n.T("Move first, then make the namespace: the root of a cgroup namespace is where its maker was at unshare.", "먼저 옮기고 그다음 네임스페이스를 만드세요. cgroup 네임스페이스의 루트는 만든 프로세스가 unshare할 때 있던 곳입니다."),
				}
			default:
				last = Verdict{Key: "not-in-box", Seen: []i18n.Text{seen},
					Wrong: tf("%s is not in box", "%s 프로세스가 box에 있지 않습니다", p),
					Hint:  i18n.T("Write its pid to box's cgroup.procs before it makes the namespace: sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; exec unshare --cgroup sleep 1000' &", "네임스페이스를 만들기 전에 그 pid를 box의 cgroup.procs에 쓰세요: sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; exec unshare --cgroup sleep 1000' &"),
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours has a cgroup namespace of its own", "자기 cgroup 네임스페이스를 가진 내 프로세스가 없습니다"),
			i18n.T("unshare --cgroup starts a command in a new cgroup namespace, rooted where the caller is.", "unshare --cgroup은 호출한 프로세스가 있는 곳에 뿌리를 둔 새 cgroup 네임스페이스에서 명령을 시작합니다."))
	},
}

// cgroupMounts lists p's mounts of a cgroup file system.
func cgroupMounts(p *Proc) []nsinspect.Mount {
	var out []nsinspect.Mount
	for _, m := range p.Snapshot().Mounts.Entries {
		if m.FSType == "cgroup2" || m.FSType == "cgroup" && slices.Contains(strings.Split(m.SuperOptions, ","), "pids") {
			out = append(out, m)
		}
	}
	return out
}

var exCgroupnsMount = &Exercise{
	Title: i18n.T("Its own subtree, mounted", "자기 하위 트리만 마운트하기"),
	Task: i18n.T(
		"Start a process in box (make it if it is not there) with cgroup and mount namespaces of its own, which mounts the cgroup file system of the pids controller at /mnt inside (on cgroup v2, the one cgroup2 file system): the top of that mount must be box itself, with nothing of the tree above. Leave it running.",
		"box 안에서(없으면 만드세요) 자기 cgroup 네임스페이스와 마운트 네임스페이스를 가진 프로세스를 띄우고, 그 안의 /mnt에 pids 컨트롤러의 cgroup 파일 시스템(cgroup v2에서는 하나뿐인 cgroup2 파일 시스템)을 마운트하세요. 그 마운트의 꼭대기는 box 자신이어야 하고, 그 위의 트리는 하나도 보이지 않아야 합니다. 계속 돌게 두세요."),
	Needs: []string{"unshare", "mkdir", "mount", "sleep"},
	Hints: []i18n.Text{
		i18n.T("A cgroup file system mounted inside a cgroup namespace shows the namespace's root as its top (cgroup_namespaces(7)); mounted outside one, the whole hierarchy.",
			"cgroup 네임스페이스 안에서 마운트한 cgroup 파일 시스템은 네임스페이스의 루트를 꼭대기로 보여 주고(cgroup_namespaces(7)), 밖에서 마운트하면 계층 전체를 보여 줍니다."),
		i18n.T("Move into box, then unshare --cgroup --mount, and mount from inside: mount -t cgroup -o pids none /mnt (cgroup v2: mount -t cgroup2 none /mnt).",
			"box로 옮긴 다음 unshare --cgroup --mount 하고, 안에서 마운트하세요: mount -t cgroup -o pids none /mnt (cgroup v2: mount -t cgroup2 none /mnt)."),
	},
	Answer: "mkdir -p $STEPBOX_CG_PIDS/box\n" +
		"sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; exec unshare --cgroup --mount sh -c \"mount -t cgroup -o pids none /mnt 2>/dev/null || mount -t cgroup2 none /mnt; exec sleep 1000\"' &",
	Check: func(s *Scene) Verdict {
		_, box, boxOK := statOf(s.CgroupDir("pids", "/box"))
		_, top, _ := statOf(s.CgroupDir("pids", "/"))
		var last Verdict
		for _, p := range s.Where(func(p *Proc) bool { return s.Own(p, "mnt") }) {
			for _, m := range cgroupMounts(p) {
				if m.MountPoint != "/mnt" {
					continue
				}
				_, ino, ok := statOf(p.In(m.MountPoint))
				switch {
				case !ok:
				case boxOK && ino == box && s.Own(p, "cgroup"):
					return Verdict{OK: true, Seen: []i18n.Text{
						tf("%s has cgroup namespace %d and mount namespace %d", "%s 프로세스는 cgroup 네임스페이스(%d)와 마운트 네임스페이스(%d)를 가졌습니다", p, p.NS("cgroup").Inode, p.NS("mnt").Inode),
						tf("the %s file system at /mnt shows box as its top (inode %d): nothing above it is in reach", "/mnt의 %s 파일 시스템은 box(아이노드 %d)를 꼭대기로 보여 줍니다. 그 위로는 닿지 않습니다", m.FSType, ino),
					}}
				case ino == top:
					last = Verdict{Key: "whole-tree",
						Seen:  []i18n.Text{tf("%s mounted %s at /mnt", "%s 프로세스가 /mnt에 %s 파일 시스템을 마운트했습니다", p, m.FSType)},
						Wrong: i18n.T("its top is your shell's cgroup, the whole tree the exercise has, not box: it was mounted outside a cgroup namespace rooted at box", "그 꼭대기는 box가 아니라 셸의 cgroup, 즉 연습 문제의 트리 전체입니다. box에 뿌리를 둔 cgroup 네임스페이스 밖에서 마운트했기 때문입니다"),
						Hint:  i18n.T("Mount from inside a new cgroup namespace made in box: move into box, then unshare --cgroup --mount, then mount.", "box에서 만든 새 cgroup 네임스페이스 안에서 마운트하세요. box로 옮기고, unshare --cgroup --mount, 그다음 mount입니다."),
					}
				default:
					last = Verdict{Key: "elsewhere",
						Seen:  []i18n.Text{tf("%s mounted %s at /mnt", "%s 프로세스가 /mnt에 %s 파일 시스템을 마운트했습니다", p, m.FSType)},
						Wrong: i18n.T("its top is neither box nor the tree above: the process was not in box when its cgroup namespace was made", "그 꼭대기가 box도 아니고 위의 트리도 아닙니다. cgroup 네임스페이스를 만들 때 프로세스가 box에 있지 않았습니다"),
						Hint:  i18n.T("Write the pid to box's cgroup.procs first, then unshare --cgroup --mount.", "먼저 pid를 box의 cgroup.procs에 쓰고, 그다음 unshare --cgroup --mount 하세요."),
					}
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return nothing(s, "no-mount",
			i18n.T("no process of yours has a cgroup file system mounted at /mnt in a mount namespace of its own", "자기 마운트 네임스페이스의 /mnt에 cgroup 파일 시스템을 마운트한 내 프로세스가 없습니다"),
			i18n.T("In box, unshare --cgroup --mount sh -c 'mount …; exec sleep 1000' & keeps a process with the mount.", "box 안에서 unshare --cgroup --mount sh -c 'mount …; exec sleep 1000' & 하면 마운트를 가진 프로세스가 남습니다."))
	},
}
