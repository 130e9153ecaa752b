package lessons

import (
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// The exercises of lesson 9 (time).
var timeExercises = []*Exercise{exTimeAhead, exTimeJustBooted}

// offset is the time namespace's offset of clock ("monotonic" or
// "boottime") in seconds.
func offset(t nsinspect.TimeOffsets, clock string) int64 {
	for _, o := range t.Offsets {
		if o.Clock == clock {
			return o.Seconds
		}
	}
	return 0
}

// timeNS lists the learner's processes in a time namespace of their own.
func timeNS(s *Scene) []*Proc { return s.Where(func(p *Proc) bool { return s.Own(p, "time") }) }

var exTimeAhead = &Exercise{
	Title: i18n.T("A boot clock 100 days ahead", "100일 앞선 부팅 시계"),
	Task: i18n.T(
		"Start a process in a time namespace of its own whose boot clock is exactly 100 days (8640000 s) ahead of the host's, so that its /proc/uptime reads 100 days more. Leave it running.",
		"부팅 시계가 호스트보다 정확히 100일(8640000초) 앞선, 자기 시간 네임스페이스 안의 프로세스를 띄우세요. 그 프로세스의 /proc/uptime은 100일 더 많게 읽혀야 합니다. 계속 돌게 두세요."),
	Needs: []string{"unshare", "sleep"},
	Hints: []i18n.Text{
		i18n.T("A time namespace moves two clocks by offsets written to /proc/PID/timens_offsets before any process is in it: monotonic, and boottime, which /proc/uptime reads.",
			"시간 네임스페이스는 안에 프로세스가 들어가기 전에 /proc/PID/timens_offsets에 쓴 오프셋만큼 두 시계를 옮깁니다. monotonic과, /proc/uptime이 읽는 boottime입니다."),
		i18n.T("unshare --time --fork --boottime SECONDS writes the offset and starts the command inside.",
			"unshare --time --fork --boottime 초 는 오프셋을 쓰고 명령을 그 안에서 시작합니다."),
	},
	Answer: "unshare --time --fork --boottime 8640000 sleep 1000 &",
	Check: func(s *Scene) Verdict {
		var last Verdict
		for _, p := range timeNS(s) {
			t := p.Snapshot().Time
			boot, mono := offset(t, "boottime"), offset(t, "monotonic")
			seen := tf("%s is in time namespace %d: boottime %+d s, monotonic %+d s", "%s 프로세스는 시간 네임스페이스 %d에 있습니다: boottime %+d초, monotonic %+d초", p, p.NS("time").Inode, boot, mono)
			switch {
			case boot == 8640000:
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					i18n.T("its /proc/uptime reads 100 days more than the host's; the wall clock is the host's", "그 /proc/uptime은 호스트보다 100일 더 많게 읽힙니다. 벽시계는 호스트의 것 그대로입니다")}}
			case boot == 0 && mono != 0:
				last = Verdict{Key: "wrong-clock", Seen: []i18n.Text{seen},
					Wrong: i18n.T("its monotonic clock moved and its boot clock did not: /proc/uptime reads the boot clock", "monotonic 시계는 옮겨졌지만 부팅 시계는 그대로입니다. /proc/uptime은 부팅 시계를 읽습니다"),
					Hint:  i18n.T("--boottime moves the boot clock; --monotonic the other one.", "--boottime이 부팅 시계를 옮깁니다. --monotonic은 다른 시계입니다."),
				}
			default:
				last = Verdict{Key: "wrong-offset", Seen: []i18n.Text{seen},
					Wrong: tf("its boot clock is %+d s from the host's, not 8640000 (100 × 86400)", "부팅 시계가 호스트와 8640000초(100 × 86400)가 아니라 %+d초 차이 납니다", boot),
					Hint:  i18n.T("Offsets are in seconds: 100 days are 8640000. They are set before the first process enters; start a new one.", "오프셋은 초 단위입니다. 100일은 8640000초입니다. 오프셋은 첫 프로세스가 들어가기 전에 정해지니 새로 띄우세요."),
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours is in a time namespace of its own", "자기 시간 네임스페이스에 있는 내 프로세스가 없습니다"),
			i18n.T("unshare --time --fork starts a command in a new time namespace.", "unshare --time --fork는 새 시간 네임스페이스에서 명령을 시작합니다."))
	},
}

var exTimeJustBooted = &Exercise{
	Title: i18n.T("A machine that booted a minute ago", "1분 전에 부팅한 기계"),
	Task: i18n.T(
		"Start a process in a time namespace of its own whose monotonic clock reads less than an hour, as if its machine had just booted, however long the host has been up. Leave it running.",
		"호스트가 얼마나 오래 켜져 있었든, 막 부팅한 기계처럼 monotonic 시계가 한 시간 미만으로 읽히는 자기 시간 네임스페이스 안의 프로세스를 띄우세요. 계속 돌게 두세요."),
	Needs: []string{"unshare", "sleep", "cut"},
	Hints: []i18n.Text{
		i18n.T("An offset may be negative: the clock inside is the host's plus the offset, and may not go below zero. /proc/uptime says how long the host has been up.",
			"오프셋은 음수일 수도 있습니다. 안의 시계는 호스트의 시계에 오프셋을 더한 값이고, 0 아래로 내려갈 수는 없습니다. 호스트가 켜진 지 얼마나 됐는지는 /proc/uptime이 알려 줍니다."),
		i18n.T("The shell can do the sum: --monotonic -$(( $(cut -d. -f1 /proc/uptime) - 60 )) leaves about a minute.",
			"계산은 셸이 할 수 있습니다: --monotonic -$(( $(cut -d. -f1 /proc/uptime) - 60 )) 이면 1분쯤이 남습니다."),
	},
	Answer: "unshare --time --fork --monotonic -$(( $(cut -d. -f1 /proc/uptime) - 60 )) sleep 1000 &",
	Check: func(s *Scene) Verdict {
		var now unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
		var last Verdict
		for _, p := range timeNS(s) {
			mono := offset(p.Snapshot().Time, "monotonic")
			reads := now.Sec + mono
			seen := tf("%s is in time namespace %d: monotonic %+d s, so its monotonic clock reads %d s", "%s 프로세스는 시간 네임스페이스 %d에 있습니다: monotonic %+d초, 그래서 monotonic 시계가 %d초로 읽힙니다", p, p.NS("time").Inode, mono, reads)
			switch {
			case mono < 0 && reads >= 0 && reads < 3600:
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					tf("the host's reads %d s", "호스트의 시계는 %d초입니다", now.Sec)}}
			case mono >= 0:
				last = Verdict{Key: "ahead", Seen: []i18n.Text{seen},
					Wrong: i18n.T("the offset moves its clock ahead of the host's, not back", "오프셋이 시계를 뒤로가 아니라 호스트보다 앞으로 옮깁니다"),
					Hint:  i18n.T("Give a negative offset: --monotonic -SECONDS, nearly as many as the host has been up.", "음수 오프셋을 주세요: --monotonic -초, 호스트가 켜져 있던 시간에 가깝게."),
				}
			default:
				last = Verdict{Key: "not-enough", Seen: []i18n.Text{seen},
					Wrong: i18n.T("its clock still reads an hour or more", "시계가 아직 한 시간 이상으로 읽힙니다"),
					Hint:  i18n.T("Move it back by nearly the host's uptime: -$(( $(cut -d. -f1 /proc/uptime) - 60 )).", "호스트의 가동 시간에 가깝게 뒤로 옮기세요: -$(( $(cut -d. -f1 /proc/uptime) - 60 ))."),
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours is in a time namespace of its own", "자기 시간 네임스페이스에 있는 내 프로세스가 없습니다"),
			i18n.T("unshare --time --fork --monotonic OFFSET starts a command with its monotonic clock moved.", "unshare --time --fork --monotonic 오프셋 은 monotonic 시계를 옮긴 채로 명령을 시작합니다."))
	},
}
