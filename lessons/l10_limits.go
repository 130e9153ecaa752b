package lessons

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/cgroups"
)

func init() { register(lessonLimits) }

// The limits of the lesson, as docker's flags: --memory 32m (and docker's
// default --memory-swap, twice that), --pids-limit 20, --cpus 0.2.
var (
	limitsMemory = cgroups.Flags{Memory: "32m"}
	limitsPids   = cgroups.Flags{Memory: "32m", PidsLimit: 20}
	limitsAll    = cgroups.Flags{Memory: "32m", PidsLimit: 20, CPUs: "0.2"}
)

// setLimits puts the resources of docker's flags f into the description.
func setLimits(l *Lab, f cgroups.Flags) error {
	r, err := f.Resources()
	if err != nil {
		return err
	}
	l.Change(func(s *specs.Spec) { s.Linux.Resources = r })
	return nil
}

// The actions of the lesson, each bounded so that it is harmless even
// where no limit holds it (the demo without limits): the hog asks for 96
// MiB once, the fork bomb stops at 60 processes, the busy loop after 60 ms
// of CPU.
const (
	// memHog fills a 96 MiB buffer (dd reads /dev/zero into it: every page
	// is touched), more than memory and swap together may hold. It offers
	// itself to the OOM killer first (oom_score_adj 1000, which anyone may
	// raise), so the kill takes the hog and not the lesson's agent.
	memHog = "echo 1000 > /proc/self/oom_score_adj; dd if=/dev/zero of=/dev/null bs=96M count=1"
	// forkBomb starts sleeps until a fork is refused or 60 run. A fork
	// refused makes the shell (ash or dash) raise an error and exit with a
	// status that is not 0: its EXIT trap (builtins only, as nothing can
	// fork then) kills and reaps the sleeps, so none is left to the
	// container's PID 1.
	forkBomb = `trap 'set -- $p; echo "$# started"; kill $p; wait' EXIT; ` +
		`n=0; while [ $n -lt 60 ]; do sleep 9 & p="$p $!"; n=$((n+1)); done`
	// busyLoop spins until it has run 60 ms on a CPU, three periods' worth
	// of a fifth of a CPU, and at most 5 s of the clock: long enough to
	// measure the share, short enough for a step of a tour (issue 4: every
	// step under half a second on a quiet machine). It stops by CPU time,
	// not by the clock, so that on a busy machine it still runs into its
	// quota. The container measures it with the kernel's own clocks, not a
	// shell's time(1), whose output differs from one implementation to the
	// next: the wall clock in /proc/uptime, and the nanoseconds the loop ran
	// on a CPU in /proc/PID/schedstat (sched(7)).
	busyLoop = `sh -c 'while :; do :; done' & read t0 _ < /proc/uptime; ns=0; n=0; ` +
		`while [ $ns -lt 60000000 ] && [ $n -lt 100 ]; do sleep 0.05; read ns _ < /proc/$!/schedstat; n=$((n+1)); done; ` +
		`read t1 _ < /proc/uptime; kill $!; echo "wall $t0 $t1 ran_ns $ns"`
)

// limitWrite is one limit file stepbox wrote, and what the container reads
// back from the same file through its own cgroup mount.
type limitWrite struct {
	File, Value string
	// Path is the file inside the container, Read what it holds there.
	Path, Read string
}

// noteWrites records the limit files of controller prefix ("memory.",
// "pids.", "cpu.") that the runtime wrote when it made the container's
// cgroup (Manager.Writes: a limit is a write to a file), with what the
// container reads in the same file. With its own cgroup namespace, the
// container's cgroup is the root of its mount of each hierarchy, mounted
// where the host mounts it: the file is the hierarchy's mount point joined
// with the file's name.
func noteWrites(l *Lab, prefix string) error {
	if err := l.Ensure(); err != nil {
		return err
	}
	c := l.Container()
	cg := c.Cgroups()
	if cg == nil {
		return errors.New("the container has no cgroup")
	}
	cgPath := c.Spec().Linux.CgroupsPath
	if cgPath == "" {
		cgPath = "/stepbox/" + c.ID
	}
	var ws []limitWrite
	var cmd strings.Builder
	for _, w := range cg.Writes() {
		base := path.Base(w.File)
		if !strings.HasPrefix(base, prefix) {
			continue
		}
		mount := strings.TrimSuffix(path.Dir(w.File), cgPath)
		inside := path.Join(mount, base)
		ws = append(ws, limitWrite{File: w.File, Value: w.Value, Path: inside})
		fmt.Fprintf(&cmd, "cat %s 2>/dev/null || echo -; ", inside)
	}
	if len(ws) > 0 {
		out, err := l.Inside(cmd.String())
		if err != nil {
			return err
		}
		back := strings.Split(strings.TrimSpace(out.Output), "\n")
		for i := range ws {
			if i < len(back) {
				ws[i].Read = strings.Join(strings.Fields(back[i]), " ")
			}
		}
	}
	for i := 0; i < 3; i++ {
		v := ""
		if i < len(ws) {
			v = strings.Join([]string{ws[i].File, ws[i].Value, ws[i].Path, ws[i].Read}, "\x00")
		}
		note(l, fmt.Sprintf("write.%s%d", prefix, i), v)
	}
	if len(ws) > 0 {
		note(l, "cgroup.dir."+prefix, path.Dir(ws[0].File))
	}
	return nil
}

// noted write i of prefix, if any.
func notedWrite(e *Evidence, prefix string, i int) (limitWrite, bool) {
	f := strings.Split(noted(e, fmt.Sprintf("write.%s%d", prefix, i)), "\x00")
	if len(f) != 4 {
		return limitWrite{}, false
	}
	return limitWrite{File: f[0], Value: f[1], Path: f[2], Read: f[3]}, true
}

// rowWrite shows write i of prefix: the file and the value stepbox wrote
// on the host, the value the container reads back inside.
func rowWrite(prefix string, i int) Row {
	label := i18n.Text{}
	if i == 0 {
		label = i18n.T("written", "쓴 값")
	}
	return Row{
		Label: label,
		Host: func(e *Evidence) string {
			w, ok := notedWrite(e, prefix, i)
			switch {
			case !ok && i == 0:
				return "(none)"
			case !ok:
				return ""
			}
			return path.Base(w.File) + " " + w.Value
		},
		Box: func(e *Evidence) string {
			w, ok := notedWrite(e, prefix, i)
			if !ok {
				return ""
			}
			return w.Read
		},
	}
}

// rowCgroupDir shows the directory the files of prefix are in, on the host
// and inside.
func rowCgroupDir(prefix string) Row {
	return Row{
		Label: i18n.T("in", "위치"),
		Host:  func(e *Evidence) string { return dashIfEmpty(noted(e, "cgroup.dir."+prefix)) },
		Box: func(e *Evidence) string {
			w, ok := notedWrite(e, prefix, 0)
			if !ok {
				return "-"
			}
			return path.Dir(w.Path)
		},
	}
}

// wroteLimit reports whether write 0 of prefix set want and the container
// reads the same value back.
func wroteLimit(e *Evidence, prefix, want string) bool {
	w, ok := notedWrite(e, prefix, 0)
	return ok && w.Value == want && w.Read == want
}

// noteStats records the cgroup's counters, read on the host.
func noteStats(l *Lab, key string) (*cgroups.Stats, error) {
	st, err := l.Container().Cgroups().Stats()
	if err != nil {
		return nil, err
	}
	note(l, key+".oom_kill", strconv.FormatUint(st.Memory.OOMKills, 10))
	note(l, key+".mem.peak", strconv.FormatInt(st.Memory.Peak, 10))
	note(l, key+".pids.max_events", strconv.FormatUint(st.Pids.MaxEvents, 10))
	note(l, key+".pids.peak", strconv.FormatInt(st.Pids.Peak, 10))
	note(l, key+".pids.limit", strconv.FormatInt(st.Pids.Limit, 10))
	return st, nil
}

func notedInt(e *Evidence, key string) int64 {
	n, _ := strconv.ParseInt(noted(e, key), 10, 64)
	return n
}

// rowNoted shows a number the step noted, on the host side, and one read
// inside on the container side.
func rowNoted(label i18n.Text, hostKey, boxKey string) Row {
	return Row{
		Label: label,
		Host:  func(e *Evidence) string { return dashIfEmpty(noted(e, hostKey)) },
		Box:   func(e *Evidence) string { return dashIfEmpty(noted(e, boxKey)) },
	}
}

// mib writes a byte count in MiB.
func mib(n int64) string { return strconv.FormatInt(n>>20, 10) + " MiB" }

var lessonLimits = &Lesson{
	ID:      "limits",
	Title:   i18n.T("Limits: memory, processes, CPU", "제한: 메모리, 프로세스, CPU"),
	Summary: i18n.T("cgroup limits: an OOM kill, a pids ceiling, a fifth of a CPU", "cgroup 제한: OOM 킬, 프로세스 수 상한, CPU 5분의 1"),
	Intro: i18n.T(
		"Namespaces decide what a container can see. Control groups decide how much it may use (cgroups(7)). A cgroup is a directory, and a limit is a value written to a file in it: stepbox writes them when it makes the container's cgroup, with docker's flags and units. This host is hybrid: memory, pids and cpu live in cgroup v1 hierarchies (/sys/fs/cgroup/memory/…); on a pure cgroup v2 host the same limits are other files in one directory (memory.max, pids.max, cpu.max).",
		"네임스페이스는 컨테이너가 무엇을 볼 수 있는지 정하고, 컨트롤 그룹(cgroup)은 얼마나 쓸 수 있는지 정합니다(cgroups(7)). cgroup은 디렉터리이고, 제한은 그 안의 파일에 쓴 값입니다. stepbox는 컨테이너의 cgroup을 만들 때 docker의 플래그와 단위 그대로 이 값들을 씁니다. 이 호스트는 하이브리드라서 memory, pids, cpu가 cgroup v1 계층(/sys/fs/cgroup/memory/…)에 있습니다. 순수 cgroup v2 호스트에서는 같은 제한이 한 디렉터리의 다른 파일(memory.max, pids.max, cpu.max)입니다."),
	Needs: Needs{Inside: []string{"cat", "dd", "grep", "sleep"}},
	Steps: []Step{
		{
			Title: i18n.T("A limit is a write to a file", "제한은 파일에 쓰는 값"),
			Explain: i18n.T(
				"docker run --memory 32m becomes two writes in the container's memory cgroup: memory.limit_in_bytes (32 MiB) and memory.memsw.limit_in_bytes, memory plus swap, which docker sets to twice the memory. On cgroup v2 they are memory.max and memory.swap.max (swap alone). The container reads the same files at the top of its own cgroup mount.",
				"docker run --memory 32m은 컨테이너의 memory cgroup에 두 번의 쓰기가 됩니다. memory.limit_in_bytes(32 MiB)와, 메모리와 스왑을 합한 memory.memsw.limit_in_bytes입니다. docker는 후자를 메모리의 두 배로 정합니다. cgroup v2에서는 memory.max와 memory.swap.max(스왑만)입니다. 컨테이너는 자기 cgroup 마운트의 꼭대기에서 같은 파일을 읽습니다."),
			Syscalls: []Syscall{{"mkdir", 2, "/sys/fs/cgroup/memory/stepbox/NAME"}, {"write", 2, "memory.limit_in_bytes: 33554432"}},
			Shell: "cd /sys/fs/cgroup/memory/stepbox/NAME   # v2: …/cgroup\n" +
				"echo 33554432 > memory.limit_in_bytes   # v2: memory.max\n" +
				"echo $$ > cgroup.procs",
			Apply: func(l *Lab) error {
				if err := setLimits(l, limitsMemory); err != nil {
					return err
				}
				return noteWrites(l, "memory.")
			},
			Rows: []Row{rowCgroupDir("memory."), rowWrite("memory.", 0), rowWrite("memory.", 1)},
			Expect: Expect{
				Text: i18n.T("32 MiB written, and read back inside", "32 MiB를 썼고, 안에서도 그 값이 읽힌다"),
				Check: func(e *Evidence) bool {
					return wroteLimit(e, "memory.", strconv.Itoa(32<<20))
				},
			},
		},
		{
			Title: i18n.T("A memory hog is OOM-killed", "메모리를 마구 쓰는 프로세스는 OOM 킬러가 죽인다"),
			Explain: i18n.T(
				"Inside, dd asks for a 96 MiB buffer and fills it. When the cgroup reaches its limit and nothing can be reclaimed (this host has no swap), the kernel's OOM killer kills a process of the cgroup, not of the host: dd, which offered itself first with oom_score_adj. The cgroup counts the kill: oom_kill in memory.oom_control (v1) or memory.events (v2).",
				"안에서 dd가 96 MiB 버퍼를 요청하고 채웁니다. cgroup이 한도에 이르고 더 회수할 메모리도 없으면(이 호스트에는 스왑이 없습니다), 커널의 OOM 킬러가 호스트가 아니라 그 cgroup의 프로세스 하나를 죽입니다. oom_score_adj로 자기를 먼저 내놓은 dd입니다. cgroup은 이 킬을 셉니다. memory.oom_control(v1) 또는 memory.events(v2)의 oom_kill입니다."),
			Syscalls: []Syscall{{"mmap", 2, "96 MiB"}, {"kill", 2, "SIGKILL"}},
			Shell:    "dd if=/dev/zero of=/dev/null bs=96M count=1\ngrep oom_kill memory.oom_control   # v2: memory.events",
			Apply: func(l *Lab) error {
				out, err := l.Inside(memHog)
				if err != nil {
					return err
				}
				note(l, "hog", hogText(out.Code))
				note(l, "hog.code", strconv.Itoa(out.Code))
				st, err := noteStats(l, "oom")
				if err != nil {
					return err
				}
				return noteInsideOOM(l, st)
			},
			Rows: []Row{
				{
					Label: i18n.T("dd bs=96M", "dd bs=96M"),
					Host:  func(e *Evidence) string { return "-" },
					Box:   func(e *Evidence) string { return dashIfEmpty(noted(e, "hog")) },
				},
				rowNoted(i18n.T("oom_kill", "oom_kill"), "oom.oom_kill", "oom.inside"),
				hostRow(i18n.T("memory peak", "최대 메모리"), func(e *Evidence) string { return mib(notedInt(e, "oom.mem.peak")) }),
			},
			Expect: Expect{
				Text: i18n.T("the hog is killed and the cgroup counts one OOM kill", "dd는 죽고 cgroup은 OOM 킬 한 번을 센다"),
				Check: func(e *Evidence) bool {
					return noted(e, "hog.code") == "137" && notedInt(e, "oom.oom_kill") >= 1 &&
						noted(e, "oom.inside") == noted(e, "oom.oom_kill")
				},
			},
		},
		{
			Title: i18n.T("A fork bomb hits pids.max", "포크 폭탄은 pids.max에 막힌다"),
			Explain: i18n.T(
				"With --pids-limit 20 the runtime writes 20 to pids.max, and the kernel refuses fork(2) with EAGAIN once the cgroup holds 20 tasks; every thread counts, the agent's too. A shell starts sleeps until a fork fails, then kills them. pids.events counts the refusals. The host, outside the cgroup, forks as ever.",
				"--pids-limit 20을 주면 런타임이 pids.max에 20을 쓰고, cgroup 안의 태스크가 20개가 되면 커널이 fork(2)를 EAGAIN으로 거절합니다. 스레드도 하나씩 세므로 에이전트의 스레드도 포함됩니다. 셸이 fork가 실패할 때까지 sleep을 띄운 다음 모두 죽입니다. pids.events가 거절 횟수를 셉니다. cgroup 밖의 호스트는 여느 때처럼 fork합니다."),
			Syscalls: []Syscall{{"write", 2, "pids.max: 20"}, {"fork", 2, "EAGAIN"}},
			Shell:    "echo 20 > pids.max\nwhile :; do sleep 9 & done",
			Apply: func(l *Lab) error {
				if err := setLimits(l, limitsPids); err != nil {
					return err
				}
				if err := noteWrites(l, "pids."); err != nil {
					return err
				}
				out, err := l.Inside(forkBomb)
				if err != nil {
					return err
				}
				n, ok := strings.CutSuffix(lastLine(out.Output), " started")
				if ok {
					note(l, "bomb", "sleep ×"+n)
				}
				// Refused: the shell stopped with an error before its
				// own bound. Which error is the kernel's to say
				// (pids.events, below), not the shell's wording.
				if started, err := strconv.Atoi(n); ok && err == nil && out.Code != 0 && started < 60 {
					note(l, "bomb.refused", "fork refused")
				}
				_, err = noteStats(l, "bomb")
				return err
			},
			Probes: []Probe{{Host, "sh -c 'echo forked'"}},
			Rows: []Row{
				rowWrite("pids.", 0),
				{
					Label: i18n.T("fork bomb", "포크 폭탄"),
					Host:  func(e *Evidence) string { return line1(e.Probe(Host, "sh -c 'echo forked'").Output) },
					Box: func(e *Evidence) string {
						var parts []string
						for _, k := range []string{"bomb", "bomb.refused"} {
							if v := noted(e, k); v != "" {
								parts = append(parts, v)
							}
						}
						return dashIfEmpty(strings.Join(parts, ", "))
					},
				},
				rowNoted(i18n.T("pids.events max", "pids.events max"), "bomb.pids.max_events", ""),
				rowNoted(i18n.T("pids.peak", "pids.peak"), "bomb.pids.peak", ""),
			},
			Expect: Expect{
				Text: i18n.T("forks refused at 20 tasks, the host unharmed", "태스크 20개에서 fork가 거절되고 호스트는 멀쩡하다"),
				Check: func(e *Evidence) bool {
					peak := notedInt(e, "bomb.pids.peak")
					return wroteLimit(e, "pids.", "20") && notedInt(e, "bomb.pids.max_events") >= 1 &&
						noted(e, "bomb.refused") != "" && (peak == 0 || peak == 20) &&
						succeeded(e.Probe(Host, "sh -c 'echo forked'"))
				},
			},
		},
		{
			Title: i18n.T("A busy loop gets a fifth of a CPU", "바쁜 루프는 CPU의 5분의 1만 얻는다"),
			Explain: i18n.T(
				"--cpus 0.2 is a quota of 20 ms of CPU time in every period of 100 ms (the CFS bandwidth controller): cpu.cfs_quota_us and cpu.cfs_period_us on v1, both in cpu.max on v2. A loop that never sleeps runs its 20 ms, then waits, throttled, for the next period. The loop runs until it has had 60 ms on a CPU, and the container times it with the kernel's clocks: /proc/uptime for the wall clock, /proc/PID/schedstat for the nanoseconds the loop ran on a CPU. The host reads the cgroup's cpu.stat: the two agree.",
				"--cpus 0.2는 100 ms 주기마다 CPU 시간 20 ms의 할당량입니다(CFS 대역폭 제어). v1에서는 cpu.cfs_quota_us와 cpu.cfs_period_us, v2에서는 둘 다 cpu.max에 씁니다. 쉬지 않는 루프는 20 ms를 돌고 나면 다음 주기까지 스로틀되어 기다립니다. 루프는 CPU에서 60 ms를 돌 때까지 돌고, 컨테이너는 커널의 시계로 그 시간을 스스로 잽니다. 벽시계는 /proc/uptime으로, 루프가 CPU에서 돈 나노초는 /proc/PID/schedstat으로 읽습니다. 호스트는 cgroup의 cpu.stat을 읽습니다. 두 값이 일치합니다."),
			Syscalls: []Syscall{{"write", 2, "cpu.cfs_quota_us: 20000"}, {"wait4", 2, "rusage: user + sys"}},
			Shell: "echo 20000 > cpu.cfs_quota_us  # v2: cpu.max: 20000 100000\n" +
				"time timeout 1 sh -c 'while :; do :; done'",
			Apply: func(l *Lab) error {
				if err := setLimits(l, limitsAll); err != nil {
					return err
				}
				if err := noteWrites(l, "cpu."); err != nil {
					return err
				}
				cg := l.Container().Cgroups()
				before, err := cg.Stats()
				if err != nil {
					return err
				}
				start := time.Now()
				out, err := l.Inside(busyLoop)
				if err != nil {
					return err
				}
				wall := time.Since(start)
				after, err := cg.Stats()
				if err != nil {
					return err
				}
				used := after.CPU.Usage - before.CPU.Usage
				note(l, "cpu.host", fmt.Sprintf("%.2f CPU", float64(used)/float64(wall)))
				note(l, "cpu.throttled", fmt.Sprintf("%d/%d", after.CPU.Throttled-before.CPU.Throttled, after.CPU.Periods-before.CPU.Periods))
				if share, ok := parseBusyLoop(out.Output); ok {
					note(l, "cpu.box", fmt.Sprintf("%.2f CPU", share))
				}
				return nil
			},
			Rows: []Row{
				rowWrite("cpu.", 0), rowWrite("cpu.", 1),
				rowNoted(i18n.T("CPU used", "쓴 CPU"), "cpu.host", "cpu.box"),
				rowNoted(i18n.T("periods throttled", "스로틀된 주기"), "cpu.throttled", ""),
			},
			Expect: Expect{
				Text: i18n.T("about 0.2 of a CPU, throttled", "CPU 약 0.2, 스로틀됨"),
				Check: func(e *Evidence) bool {
					host, ok1 := cpuShare(noted(e, "cpu.host"))
					box, ok2 := cpuShare(noted(e, "cpu.box"))
					// At most about 0.2, and throttled: the quota held
					// the loop back. There is no floor but that it ran: on
					// a busy machine the loop may get less than its quota.
					return ok1 && ok2 && host > 0 && host < 0.3 && box > 0 && box < 0.3 &&
						!strings.HasPrefix(noted(e, "cpu.throttled"), "0/")
				},
			},
		},
	},
	Demo: Demo{
		Feature: "limits",
		Explain: i18n.T(
			"Without limits the container may use the whole machine: the hog gets its 96 MiB, the fork bomb stops only at its own bound of 60, and the busy loop takes a whole CPU. Each is bounded here so that the demo stays harmless.",
			"제한이 없으면 컨테이너가 기계 전체를 쓸 수 있습니다. dd는 96 MiB를 다 얻고, 포크 폭탄은 스스로 정한 60개에서야 멈추고, 바쁜 루프는 CPU 하나를 통째로 차지합니다. 데모가 해롭지 않도록 각각에 한도를 두었습니다."),
		Remove: func(s *specs.Spec, _ *sandbox.Options) { s.Linux.Resources = nil },
		Fails:  []int{1, 2, 3, 4},
	},
	Exercises: limitsExercises,
	Outro: i18n.T(
		"A limit is a number in a file, and the kernel holds the container to it whatever runs inside. Next: what root inside may do at all.",
		"제한은 파일 안의 숫자이고, 안에서 무엇이 돌든 커널이 컨테이너를 그 숫자에 묶어 둡니다. 다음은 안의 root가 애초에 무엇을 할 수 있는지입니다."),
	Keep: func(l *Lab) {
		if r, err := limitsAll.Resources(); err == nil {
			l.Change(func(s *specs.Spec) { s.Linux.Resources = r })
		}
	},
}

// noteInsideOOM records the OOM kill count the container reads in its own
// cgroup: oom_kill in memory.oom_control (v1) or memory.events (v2).
func noteInsideOOM(l *Lab, st *cgroups.Stats) error {
	file := "/sys/fs/cgroup/memory.events"
	if l.Container().Cgroups().Paths()["memory"] != "" {
		file = "/sys/fs/cgroup/memory/memory.oom_control"
	}
	out, err := l.Inside("grep oom_kill " + file)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out.Output, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" {
			note(l, "oom.inside", f[1])
		}
	}
	return nil
}

// hogText says how the memory hog ended.
func hogText(code int) string {
	switch code {
	case 0:
		return "exit 0"
	case 128 + 9:
		return "SIGKILL"
	}
	return "exit " + strconv.Itoa(code)
}

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// parseBusyLoop reads busyLoop's "wall T0 T1 ran_ns NS": the share of a
// CPU the loop had, its time on a CPU over the wall time between T0 and T1
// (seconds since boot, to a hundredth).
func parseBusyLoop(out string) (float64, bool) {
	f := strings.Fields(lastLine(out))
	if len(f) != 5 || f[0] != "wall" || f[3] != "ran_ns" {
		return 0, false
	}
	t0, err0 := strconv.ParseFloat(f[1], 64)
	t1, err1 := strconv.ParseFloat(f[2], 64)
	ns, err2 := strconv.ParseUint(f[4], 10, 64)
	if err0 != nil || err1 != nil || err2 != nil || t1 <= t0 {
		return 0, false
	}
	return float64(ns) / 1e9 / (t1 - t0), true
}

// cpuShare reads "0.20 CPU".
func cpuShare(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, " CPU"), 64)
	return v, err == nil
}
