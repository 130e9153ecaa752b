package lessons

import (
	"math"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register(lessonTime) }

// timeOffset is how far ahead the container's monotonic and boot clocks
// run: 100 days, so that uptime says so at a glance.
const timeOffset = 100 * 24 * 3600

const (
	probeUptime  = "cat /proc/uptime"
	probeDate    = "date +%s"
	probeOffsets = "cat /proc/self/timens_offsets"
	// probeRewrite tries to change the offsets of the namespace the probe
	// is in: refused once a process has entered it (time_namespaces(7)).
	// (stepbox's probe, to see the kernel's errno: a shell's echo reports
	// a failed write in words of its own.)
	probeRewrite = "stepbox probe write /proc/self/timens_offsets 'boottime 1 0'"
)

// seconds reads the first number of a probe's output: /proc/uptime's
// seconds since boot, date +%s's seconds since 1970.
func seconds(p ProbeResult) (float64, bool) {
	f := strings.Fields(p.Output)
	if p.Code != 0 || len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}

// clockGap is how many seconds the container's clock in probe cmd is ahead
// of the host's; ok is false when either probe failed.
func clockGap(e *Evidence, cmd string) (float64, bool) {
	in, ok1 := seconds(e.Probe(Inside, cmd))
	out, ok2 := seconds(e.Probe(Host, cmd))
	return in - out, ok1 && ok2
}

// near reports whether gap is within two seconds of want: the two probes
// run one after the other, a few milliseconds apart.
func near(gap, want float64) bool { return math.Abs(gap-want) < 2 }

// rowClock shows a clock on both sides.
func rowClock(label i18n.Text, cmd string) Row {
	return Row{
		Label: label,
		Host: func(e *Evidence) string {
			v, ok := seconds(e.Probe(Host, cmd))
			return secondsText(v, ok)
		},
		Box: func(e *Evidence) string {
			v, ok := seconds(e.Probe(Inside, cmd))
			return secondsText(v, ok)
		},
	}
}

func secondsText(v float64, ok bool) string {
	if !ok {
		return "?"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " s"
}

// rowOffsets shows the time-namespace offsets (/proc/PID/timens_offsets),
// monotonic then boottime, in seconds.
var rowOffsets = Row{
	Label: i18n.T("offsets mono, boot", "오프셋 mono, boot"),
	Host:  func(e *Evidence) string { return offsetsText(e, true) },
	Box:   func(e *Evidence) string { return offsetsText(e, false) },
}

func offsetsText(e *Evidence, host bool) string {
	t := e.Outside.Time
	if host {
		t = e.Host.Time
	}
	if t.Err != nil {
		return "?"
	}
	var out []string
	for _, o := range t.Offsets {
		out = append(out, strconv.FormatInt(o.Seconds, 10))
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}

// offsetOf is the container's offset of clock in seconds.
func offsetOf(e *Evidence, clock string) int64 {
	for _, o := range e.Outside.Time.Offsets {
		if o.Clock == clock {
			return o.Seconds
		}
	}
	return 0
}

var lessonTime = &Lesson{
	ID:      "time",
	Title:   i18n.T("Time: clocks of its own", "시간: 자기만의 시계"),
	Summary: i18n.T("its own monotonic and boot clocks; the wall clock stays the host's", "단조 시계와 부팅 시계는 자기 것, 벽시계는 호스트 것 그대로"),
	Intro: i18n.T(
		"Linux has several clocks. CLOCK_MONOTONIC and CLOCK_BOOTTIME count from boot, which says how long the machine has been up. A container moved to another machine (checkpoint and restore, CRIU) would see them jump. The time namespace (Linux 5.6, time_namespaces(7)) gives a container its own offsets for these two clocks. The wall clock, CLOCK_REALTIME, is not namespaced.",
		"리눅스에는 시계가 여럿 있습니다. CLOCK_MONOTONIC과 CLOCK_BOOTTIME은 부팅부터 세기 때문에 기계가 얼마나 오래 켜져 있었는지를 알려 줍니다. 컨테이너를 다른 기계로 옮기면(체크포인트와 복원, CRIU) 이 값이 갑자기 뛰어 버립니다. 시간 네임스페이스(Linux 5.6, time_namespaces(7))는 컨테이너에게 이 두 시계의 오프셋을 따로 줍니다. 벽시계인 CLOCK_REALTIME은 네임스페이스로 나뉘지 않습니다."),
	Needs: Needs{Inside: []string{"cat", "date", "stepbox"}, Host: []string{"cat", "date"}},
	Steps: []Step{
		{
			Title: i18n.T("Before: the host's clocks", "시작: 호스트의 시계"),
			Explain: i18n.T(
				"The container shares the host's time namespace. /proc/uptime gives the boot clock in seconds: the same number on both sides.",
				"컨테이너는 호스트의 시간 네임스페이스를 함께 씁니다. /proc/uptime은 부팅 시계를 초 단위로 보여 주는데, 양쪽 숫자가 같습니다."),
			Syscalls: []Syscall{{"clock_gettime", 2, "CLOCK_BOOTTIME"}},
			Shell:    "cat /proc/uptime",
			Probes:   []Probe{{Inside, probeUptime}, {Host, probeUptime}},
			Rows:     []Row{RowNS("time"), rowClock(i18n.T("uptime", "uptime"), probeUptime)},
			Expect: Expect{
				Text: i18n.T("the same uptime inside and on the host", "안과 호스트의 uptime이 같다"),
				Check: func(e *Evidence) bool {
					gap, ok := clockGap(e, probeUptime)
					return !e.Isolated("time") && ok && near(gap, 0)
				},
			},
		},
		{
			Title: i18n.T("A new time namespace", "새 시간 네임스페이스"),
			Explain: i18n.T(
				"The init calls unshare(2) with CLONE_NEWTIME. Unlike the other namespaces, the caller stays where it is: the new namespace is only for its children, which /proc/PID/ns/time_for_children names (pid namespaces behave the same). The payload enters it at execve(2). With no offsets written, its clocks are still the host's.",
				"init이 CLONE_NEWTIME으로 unshare(2)를 부릅니다. 다른 네임스페이스와 달리 부른 프로세스는 그대로 남고, 새 네임스페이스는 자식들을 위한 것이 됩니다. /proc/PID/ns/time_for_children이 그것을 가리킵니다(PID 네임스페이스도 같습니다). 페이로드는 execve(2) 때 그 안으로 들어갑니다. 오프셋을 쓰지 않았으니 시계는 아직 호스트와 같습니다."),
			Syscalls: []Syscall{{"unshare", 2, "CLONE_NEWTIME"}, {"execve", 2, ""}},
			Shell:    "unshare --time --fork cat /proc/uptime",
			Apply: func(l *Lab) error {
				if !timeNSWorks(l) {
					return errNoTimeNS
				}
				l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.TimeNamespace, true) })
				return nil
			},
			Probes: []Probe{{Inside, probeUptime}, {Host, probeUptime}},
			Rows:   []Row{RowNS("time"), rowClock(i18n.T("uptime", "uptime"), probeUptime), rowOffsets},
			Expect: Expect{
				Text: i18n.T("its own time namespace, the clocks not moved yet", "자기 시간 네임스페이스, 시계는 아직 그대로"),
				Check: func(e *Evidence) bool {
					gap, ok := clockGap(e, probeUptime)
					return e.Isolated("time") && e.Outside.Time.Err == nil && e.Outside.Time.Zero() && ok && near(gap, 0)
				},
			},
		},
		{
			Title: i18n.T("Move the clocks 100 days ahead", "시계를 100일 앞으로"),
			Explain: i18n.T(
				"Between unshare and execve the init writes the offsets to /proc/self/timens_offsets: 'monotonic 8640000 0' and 'boottime 8640000 0'. Now the container has been up 100 days longer than the host. The offsets can be written only while no process is in the namespace: once the payload is in, a write fails with EACCES, even for root.",
				"init은 unshare와 execve 사이에 /proc/self/timens_offsets에 오프셋을 씁니다. 'monotonic 8640000 0'과 'boottime 8640000 0'입니다. 이제 컨테이너는 호스트보다 100일 더 오래 켜져 있었던 셈입니다. 오프셋은 네임스페이스 안에 프로세스가 하나도 없을 때만 쓸 수 있습니다. 페이로드가 들어간 뒤에는 root라도 EACCES로 실패합니다."),
			Syscalls: []Syscall{{"write", 2, "/proc/self/timens_offsets"}},
			Shell: "unshare --time --fork --boottime 8640000 \\\n" +
				"  --monotonic 8640000 cat /proc/uptime",
			Apply: func(l *Lab) error {
				if !timeNSWorks(l) {
					return errNoTimeNS
				}
				l.Change(func(s *specs.Spec) {
					sandbox.SetNamespace(s, specs.TimeNamespace, true)
					sandbox.SetTimeOffsets(s, timeOffset, timeOffset)
				})
				return nil
			},
			Probes: []Probe{{Inside, probeOffsets}, {Inside, probeUptime}, {Host, probeUptime}, {Inside, probeRewrite}},
			Rows: []Row{rowOffsets, rowClock(i18n.T("uptime", "uptime"), probeUptime), {
				Label: i18n.T("rewrite offsets", "오프셋 다시 쓰기"),
				Host:  func(e *Evidence) string { return "-" },
				Box:   func(e *Evidence) string { return exitText(e.Probe(Inside, probeRewrite)) },
			}},
			Expect: Expect{
				Text: i18n.T("uptime 100 days ahead; the offsets cannot change", "uptime이 100일 앞서고, 오프셋은 바꿀 수 없다"),
				Check: func(e *Evidence) bool {
					gap, ok := clockGap(e, probeUptime)
					return e.Isolated("time") && offsetOf(e, "boottime") == timeOffset && ok &&
						near(gap, timeOffset) && refusedWith(e.Probe(Inside, probeRewrite), "EACCES")
				},
			},
		},
		{
			Title: i18n.T("The wall clock is not namespaced", "벽시계는 네임스페이스로 나뉘지 않는다"),
			Explain: i18n.T(
				"date reads CLOCK_REALTIME, the wall clock, which the time namespace leaves alone: the same seconds since 1970 on both sides. Setting it (clock_settime(2), date -s) needs CAP_SYS_TIME in the host's user namespace and would change it for the whole machine, which is why containers are not given that capability.",
				"date는 벽시계인 CLOCK_REALTIME을 읽는데, 시간 네임스페이스는 이 시계를 건드리지 않습니다. 양쪽 모두 1970년부터 센 초가 같습니다. 이 시계를 바꾸려면(clock_settime(2), date -s) 호스트 사용자 네임스페이스의 CAP_SYS_TIME이 필요하고, 바꾸면 기계 전체가 바뀝니다. 그래서 컨테이너에게는 이 케이퍼빌리티를 주지 않습니다."),
			Syscalls: []Syscall{{"clock_gettime", 2, "CLOCK_REALTIME"}},
			Shell:    "date +%s; cat /proc/uptime",
			Probes:   []Probe{{Inside, probeDate}, {Host, probeDate}, {Inside, probeUptime}, {Host, probeUptime}},
			Rows: []Row{
				rowClock(i18n.T("date +%s", "date +%s"), probeDate),
				rowClock(i18n.T("uptime", "uptime"), probeUptime),
			},
			Expect: Expect{
				Text: i18n.T("a different uptime, the same date", "uptime은 다르고 날짜는 같다"),
				Check: func(e *Evidence) bool {
					dgap, ok1 := clockGap(e, probeDate)
					ugap, ok2 := clockGap(e, probeUptime)
					return e.Isolated("time") && ok1 && ok2 && near(dgap, 0) && near(ugap, timeOffset)
				},
			},
		},
	},
	Demo: Demo{
		Feature: "time",
		Explain: i18n.T(
			"Without a time namespace there is nowhere to put offsets: the container's boot clock is the host's, and uptime tells it how long the host has been running.",
			"시간 네임스페이스가 없으면 오프셋을 둘 곳이 없습니다. 컨테이너의 부팅 시계가 호스트의 것이고, uptime은 호스트가 얼마나 오래 켜져 있었는지 알려 줍니다."),
		Remove: func(s *specs.Spec, _ *sandbox.Options) {
			sandbox.SetNamespace(s, specs.TimeNamespace, false)
			s.Linux.TimeOffsets = nil
		},
		Fails: []int{2, 3, 4},
	},
	Exercises: timeExercises,
	Outro: i18n.T(
		"Eight namespaces, eight views taken away. What a container sees is now its own; next, what it may use: memory, CPU and processes.",
		"네임스페이스 여덟 개로 보이는 것 여덟 가지를 떼어 냈습니다. 이제 컨테이너가 보는 것은 자기 것입니다. 다음은 컨테이너가 쓸 수 있는 양, 메모리와 CPU와 프로세스 수입니다."),
	Keep: func(l *Lab) {
		if !timeNSWorks(l) {
			return
		}
		l.Change(func(s *specs.Spec) {
			sandbox.SetNamespace(s, specs.TimeNamespace, true)
			sandbox.SetTimeOffsets(s, timeOffset, timeOffset)
		})
	},
}
