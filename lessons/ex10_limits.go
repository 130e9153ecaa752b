package lessons

import (
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
)

// The exercises of lesson 10 (limits). The learner writes the cgroup files
// by hand, below the exercise's own cgroup ($STEPBOX_CG_MEMORY,
// $STEPBOX_CG_PIDS: the tops of the session's own mounts of the
// hierarchies), and the checks read the same files.
var limitsExercises = []*Exercise{exLimitsOOM, exLimitsPids}

// keyed reads "key value" lines (memory.oom_control, memory.events,
// pids.events) and returns value of key.
func keyed(text, key string) (int64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// memoryLimit is a cgroup's memory limit in bytes (v1 memory.limit_in_bytes,
// v2 memory.max), -1 for none; and its OOM kills (v1 memory.oom_control,
// v2 memory.events).
func memoryLimit(s *Scene, rel string) (limit, kills int64, ok bool) {
	if v, found := s.CgroupFile("memory", rel, "memory.limit_in_bytes"); found {
		limit, _ = strconv.ParseInt(v, 10, 64)
		oc, _ := s.CgroupFile("memory", rel, "memory.oom_control")
		kills, _ = keyed(oc, "oom_kill")
		return limit, kills, true
	}
	v, found := s.CgroupFile("memory", rel, "memory.max")
	if !found {
		return 0, 0, false
	}
	ev, _ := s.CgroupFile("memory", rel, "memory.events")
	limit = limitValue(v)
	kills, _ = keyed(ev, "oom_kill")
	return limit, kills, true
}

// limitValue reads a cgroup v2 limit file's value: a number, or "max"
// for none (-1).
func limitValue(v string) int64 {
	if v == "max" {
		return -1
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// pidsLimit is a cgroup's pids.max (-1 for max) and the forks it refused
// (pids.events max).
func pidsLimit(s *Scene, rel string) (limit, refused int64, ok bool) {
	v, found := s.CgroupFile("pids", rel, "pids.max")
	if !found {
		return 0, 0, false
	}
	ev, _ := s.CgroupFile("pids", rel, "pids.events")
	limit = limitValue(v)
	refused, _ = keyed(ev, "max")
	return limit, refused, true
}

// limitText shows a limit in bytes, or "no limit".
func limitText(n int64) string {
	if n < 0 || n >= 1<<62 {
		return "max"
	}
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

const mib16 = 16 << 20

var exLimitsOOM = &Exercise{
	Title: i18n.T("16 MiB, and an OOM kill", "16 MiB, 그리고 OOM 킬"),
	Task: i18n.T(
		"Make a cgroup box below the exercise's memory cgroup ($STEPBOX_CG_MEMORY), limit it to 16 MiB (memory.limit_in_bytes on cgroup v1, memory.max on v2), and run something in box that wants more, so that the kernel's OOM killer kills it there. The check reads the limit and the OOM kills from box's own files.",
		"연습 문제의 memory cgroup($STEPBOX_CG_MEMORY) 아래에 box라는 cgroup을 만들고 16 MiB로 제한한 다음(cgroup v1은 memory.limit_in_bytes, v2는 memory.max), 그보다 많이 쓰려는 것을 box 안에서 돌려서 커널의 OOM 킬러가 거기서 그것을 죽이게 하세요. 검사는 box 자신의 파일에서 제한과 OOM 킬 횟수를 읽습니다."),
	Needs: []string{"mkdir", "dd", "sh"},
	Hints: []i18n.Text{
		i18n.T("A cgroup is a directory: mkdir makes it, a limit is a number written to one of its files, and a process joins it when its pid is written to its cgroup.procs.",
			"cgroup은 디렉터리입니다. mkdir로 만들고, 제한은 그 안의 파일에 쓰는 숫자이며, 프로세스는 자기 pid가 cgroup.procs에 쓰이면 들어갑니다."),
		i18n.T("The hog must run in box, not where your shell is: sh -c 'echo $$ > $STEPBOX_CG_MEMORY/box/cgroup.procs; dd if=/dev/zero of=/dev/null bs=32M count=1' moves a shell into box first, and dd is born there.",
			"메모리를 먹는 쪽은 셸이 있는 곳이 아니라 box에서 돌아야 합니다. sh -c 'echo $$ > $STEPBOX_CG_MEMORY/box/cgroup.procs; dd if=/dev/zero of=/dev/null bs=32M count=1'은 셸을 먼저 box로 옮기고, dd는 거기서 태어납니다."),
	},
	Answer: "mkdir $STEPBOX_CG_MEMORY/box\n" +
		"echo 16M > $STEPBOX_CG_MEMORY/box/memory.limit_in_bytes  # cgroup v2: memory.max\n" +
		"sh -c 'echo $$ > $STEPBOX_CG_MEMORY/box/cgroup.procs; dd if=/dev/zero of=/dev/null bs=32M count=1'",
	Check: func(s *Scene) Verdict {
		if limit, _, ok := memoryLimit(s, "/"); ok && limit == mib16 {
			return Verdict{Key: "limit-on-exercise",
				Seen:  []i18n.Text{i18n.T("the exercise's own memory cgroup is limited to 16 MiB", "연습 문제 자신의 memory cgroup이 16 MiB로 제한되어 있습니다")},
				Wrong: i18n.T("the limit is on the cgroup that holds your shell and everything else of the exercise, not on a cgroup of its own. Lift it: echo -1 > $STEPBOX_CG_MEMORY/memory.limit_in_bytes (v2: echo max > memory.max)", "제한이 별도의 cgroup이 아니라 셸과 연습 문제의 모든 것이 들어 있는 cgroup에 걸렸습니다. 풀어 주세요: echo -1 > $STEPBOX_CG_MEMORY/memory.limit_in_bytes (v2: echo max > memory.max)"),
				Hint:  i18n.T("Make a cgroup for the hog: mkdir $STEPBOX_CG_MEMORY/box, and write the limit into box's file.", "메모리를 먹을 프로세스용 cgroup을 만드세요: mkdir $STEPBOX_CG_MEMORY/box, 그리고 제한은 box의 파일에 쓰세요."),
			}
		}
		var last Verdict
		for _, rel := range s.Cgroups("memory") {
			limit, kills, ok := memoryLimit(s, rel)
			if !ok {
				continue
			}
			seen := tf("%s: limit %s, %d OOM kills", "%s: 제한 %s, OOM 킬 %d번", rel, limitText(limit), kills)
			switch {
			case limit == mib16 && kills > 0:
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					i18n.T("the kernel killed in the cgroup, not on the host: the limit held", "커널은 호스트가 아니라 그 cgroup 안에서 죽였습니다. 제한이 지켜졌습니다")}}
			case limit == mib16:
				last = Verdict{Key: "no-kill", Seen: []i18n.Text{seen},
					Wrong: tf("%s holds 16 MiB, but nothing in it was killed: the hog ran elsewhere (cat /proc/self/cgroup shows where a shell is)", "%s cgroup은 16 MiB로 제한됐지만 그 안에서 죽은 것이 없습니다. 메모리를 먹은 쪽이 다른 곳에서 돌았습니다(셸이 어디 있는지는 cat /proc/self/cgroup이 보여 줍니다)", rel),
					Hint:  i18n.T("Run the hog inside box: sh -c 'echo $$ > $STEPBOX_CG_MEMORY/box/cgroup.procs; dd if=/dev/zero of=/dev/null bs=32M count=1'", "메모리를 먹는 쪽을 box 안에서 돌리세요: sh -c 'echo $$ > $STEPBOX_CG_MEMORY/box/cgroup.procs; dd if=/dev/zero of=/dev/null bs=32M count=1'"),
				}
			case last.Key == "":
				last = Verdict{Key: "wrong-limit", Seen: []i18n.Text{seen},
					Wrong: tf("%s is not limited to 16 MiB (16777216 bytes)", "%s cgroup이 16 MiB(16777216바이트)로 제한되지 않았습니다", rel),
					Hint:  i18n.T("echo 16M > $STEPBOX_CG_MEMORY/box/memory.limit_in_bytes (cgroup v2: memory.max); the kernel reads the M.", "echo 16M > $STEPBOX_CG_MEMORY/box/memory.limit_in_bytes (cgroup v2: memory.max). 커널이 M을 알아듣습니다."),
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return Verdict{Key: "no-cgroup",
			Seen:  []i18n.Text{i18n.T("there is no cgroup below the exercise's memory cgroup", "연습 문제의 memory cgroup 아래에 cgroup이 없습니다")},
			Wrong: i18n.T("box does not exist", "box가 없습니다"),
			Hint:  i18n.T("mkdir $STEPBOX_CG_MEMORY/box makes it; the kernel fills it with its files.", "mkdir $STEPBOX_CG_MEMORY/box로 만드세요. 파일은 커널이 채웁니다."),
		}
	},
}

var exLimitsPids = &Exercise{
	Title: i18n.T("A ceiling on processes", "프로세스 수의 상한"),
	Task: i18n.T(
		"Make a cgroup box below the exercise's pids cgroup ($STEPBOX_CG_PIDS), let it hold at most 5 tasks (pids.max), and in box run a shell that tries to start more, so that the kernel refuses a fork. The check reads pids.max and the refused forks (pids.events) from box's files.",
		"연습 문제의 pids cgroup($STEPBOX_CG_PIDS) 아래에 box라는 cgroup을 만들어 태스크를 5개까지만 담게 하고(pids.max), box 안에서 그보다 많이 띄우려는 셸을 돌려서 커널이 fork를 거절하게 하세요. 검사는 box의 파일에서 pids.max와 거절된 fork 수(pids.events)를 읽습니다."),
	Needs: []string{"mkdir", "sleep", "sh"},
	Hints: []i18n.Text{
		i18n.T("pids.max counts every task in the cgroup, threads too; fork(2) fails with EAGAIN once it is reached, and pids.events counts each refusal.",
			"pids.max는 cgroup 안의 태스크를 스레드까지 모두 셉니다. 그 수에 이르면 fork(2)가 EAGAIN으로 실패하고, pids.events가 거절을 하나씩 셉니다."),
		i18n.T("Do not move your own shell into box: it would be stuck under the limit. Move a new shell: sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; for i in 1 2 3 4 5 6 7 8; do sleep 30 & done'",
			"내 셸을 box로 옮기지 마세요. 상한에 갇혀 버립니다. 새 셸을 옮기세요: sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; for i in 1 2 3 4 5 6 7 8; do sleep 30 & done'"),
	},
	Answer: "mkdir $STEPBOX_CG_PIDS/box\n" +
		"echo 5 > $STEPBOX_CG_PIDS/box/pids.max\n" +
		"sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; for i in 1 2 3 4 5 6 7 8; do sleep 30 & done'",
	Check: func(s *Scene) Verdict {
		if limit, _, ok := pidsLimit(s, "/"); ok && limit == 5 {
			return Verdict{Key: "limit-on-exercise",
				Seen:  []i18n.Text{i18n.T("the exercise's own pids cgroup is limited to 5 tasks", "연습 문제 자신의 pids cgroup이 태스크 5개로 제한되어 있습니다")},
				Wrong: i18n.T("the limit is on the cgroup of your shell and of everything else of the exercise: lift it with echo max > $STEPBOX_CG_PIDS/pids.max", "제한이 셸과 연습 문제의 모든 것이 든 cgroup에 걸렸습니다. echo max > $STEPBOX_CG_PIDS/pids.max로 푸세요"),
				Hint:  i18n.T("Make a cgroup for it: mkdir $STEPBOX_CG_PIDS/box, and write 5 into box's pids.max.", "따로 cgroup을 만드세요: mkdir $STEPBOX_CG_PIDS/box, 그리고 box의 pids.max에 5를 쓰세요."),
			}
		}
		var last Verdict
		for _, rel := range s.Cgroups("pids") {
			limit, refused, ok := pidsLimit(s, rel)
			if !ok {
				continue
			}
			limitS := "max"
			if limit >= 0 {
				limitS = strconv.FormatInt(limit, 10)
			}
			seen := tf("%s: pids.max %s, %d forks refused", "%s: pids.max %s, 거절된 fork %d번", rel, limitS, refused)
			switch {
			case limit == 5 && refused > 0:
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					i18n.T("the kernel refused forks in the cgroup at 5 tasks; the host forks as before", "커널은 그 cgroup 안에서 태스크 5개에 이르자 fork를 거절했습니다. 호스트는 여전히 fork합니다")}}
			case limit == 5:
				last = Verdict{Key: "no-refusal", Seen: []i18n.Text{seen},
					Wrong: tf("%s allows 5 tasks, but no fork was refused in it: the processes ran in another cgroup", "%s cgroup은 태스크를 5개까지 허용하지만 그 안에서 거절된 fork가 없습니다. 프로세스들이 다른 cgroup에서 돌았습니다", rel),
					Hint:  i18n.T("Start the forks from a shell inside box: sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; for i in 1 2 3 4 5 6 7 8; do sleep 30 & done'", "box 안의 셸에서 fork하세요: sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; for i in 1 2 3 4 5 6 7 8; do sleep 30 & done'"),
				}
			case last.Key == "":
				last = Verdict{Key: "wrong-limit", Seen: []i18n.Text{seen},
					Wrong: tf("%s's pids.max is %s, not 5", "%s cgroup의 pids.max가 5가 아니라 %s입니다", rel, limitS),
					Hint:  i18n.T("echo 5 > $STEPBOX_CG_PIDS/box/pids.max", "echo 5 > $STEPBOX_CG_PIDS/box/pids.max"),
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return Verdict{Key: "no-cgroup",
			Seen:  []i18n.Text{i18n.T("there is no cgroup below the exercise's pids cgroup", "연습 문제의 pids cgroup 아래에 cgroup이 없습니다")},
			Wrong: i18n.T("box does not exist", "box가 없습니다"),
			Hint:  i18n.T("mkdir $STEPBOX_CG_PIDS/box makes it.", "mkdir $STEPBOX_CG_PIDS/box로 만드세요."),
		}
	},
}
