package lessons

import (
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
)

// The exercises of lesson 12 (a full container), done with stepbox itself:
// its containers live under the session's own --root (STEPBOX_ROOT in the
// exercise's shell), and the session removes them when it ends.
var fullExercises = []*Exercise{exFullIsolated, exFullLimits}

var exFullIsolated = &Exercise{
	Title: i18n.T("Detached, in all eight namespaces", "떼어 놓고, 여덟 네임스페이스 모두"),
	Task: i18n.T(
		"Run a detached container named box, with a user namespace of its own, and a command that stays (sleep 1000); then check it yourself with stepbox verify box. The exercise's check wants its process in a namespace of its own of every kind the runtime makes on this kernel, the user namespace included.",
		"사용자 네임스페이스를 가진 box라는 컨테이너를 계속 도는 명령(sleep 1000)으로 떼어 놓고(detached) 돌린 다음, stepbox verify box로 직접 확인해 보세요. 연습 문제의 검사는 그 프로세스가 이 커널에서 런타임이 만드는 모든 종류의 네임스페이스를, 사용자 네임스페이스까지 자기 것으로 가졌는지 봅니다."),
	Needs: []string{"stepbox"},
	Hints: []i18n.Text{
		i18n.T("stepbox run makes every namespace but the user namespace by default, as docker does; --userns adds it (root inside is uid 100000 outside).",
			"stepbox run은 docker처럼 기본으로 사용자 네임스페이스만 빼고 모든 네임스페이스를 만듭니다. --userns가 그것을 더합니다(안의 root는 밖의 uid 100000)."),
		i18n.T("stepbox verify box --expect all says which namespace it still shares with the host, and exits 0 when none.",
			"stepbox verify box --expect all은 호스트와 아직 함께 쓰는 네임스페이스를 알려 주고, 하나도 없으면 0으로 끝납니다."),
	},
	Answer: "stepbox run -d --name box --userns -- sleep 1000\nstepbox verify box --expect all",
	Check: func(s *Scene) Verdict {
		st, snap, v, ok := container(s, "box")
		if !ok {
			return v
		}
		c, err := sandbox.Load(sandbox.DefaultPaths(s.Session.Root), st.ID)
		if err != nil {
			return Verdict{Key: "no-container", Wrong: tf("read box: %v", "box를 읽을 수 없습니다: %v", err),
				Hint: i18n.T("stepbox ps lists the containers of this exercise.", "stepbox ps가 이 연습 문제의 컨테이너를 보여 줍니다.")}
		}
		var own, shared []string
		for _, typ := range courseNamespaces {
			h, b := s.Host.Namespace(typ), snap.Namespace(typ)
			if h.Known() && b.Known() && !h.Same(b) {
				own = append(own, typ)
				continue
			}
			// The runtime leaves the time namespace out on a kernel that
			// refuses threads in one (Debian 12's 6.1): not the learner's.
			if typ == "time" && !sandbox.HasNamespace(c.Spec(), specs.TimeNamespace) {
				if ok, err := sandbox.TimeNamespaceThreadsWork(sandbox.DefaultPaths(s.Session.Root)); err == nil && !ok {
					continue
				}
			}
			shared = append(shared, typ)
		}
		seen := tf("box's process %d has its own %s", "box의 프로세스(pid %d)는 다음 네임스페이스를 자기 것으로 가졌습니다: %s", snap.PID, strings.Join(own, ", "))
		switch {
		case len(shared) == 0:
			_, verdict := nsinspect.Verify(nsinspect.Compare(*snap, s.Host), nsinspect.VerifyOptions{Expect: own})
			if !verdict.OK {
				return Verdict{Key: "not-verified", Seen: []i18n.Text{seen},
					Wrong: tf("the inspector finds it not isolated: %s", "검사기가 격리되지 않았다고 봅니다: %s", strings.Join(verdict.Failing, ", ")),
					Hint:  i18n.T("stepbox verify box --expect all says what fails.", "stepbox verify box --expect all이 무엇이 실패하는지 알려 줍니다.")}
			}
			return Verdict{OK: true, Seen: []i18n.Text{seen, tf("stepbox verify --expect %s passes", "stepbox verify --expect %s: 통과합니다", strings.Join(own, ","))}}
		case len(shared) == 1 && shared[0] == "user":
			return Verdict{Key: "no-userns", Seen: []i18n.Text{seen},
				Wrong: i18n.T("box shares the host's user namespace: root inside is root outside", "box가 호스트의 사용자 네임스페이스를 함께 씁니다. 안의 root가 곧 밖의 root입니다"),
				Hint:  i18n.T("Add --userns: stepbox rm -f box, then stepbox run -d --name box --userns -- sleep 1000.", "--userns를 더하세요: stepbox rm -f box 한 다음 stepbox run -d --name box --userns -- sleep 1000."),
			}
		}
		return Verdict{Key: "shares", Seen: []i18n.Text{seen},
			Wrong: tf("box shares the host's %s", "box가 호스트의 네임스페이스를 함께 씁니다: %s", strings.Join(shared, ", ")),
			Hint:  i18n.T("Leave --ns out, and add --userns: the defaults make every other namespace.", "--ns를 빼고 --userns를 더하세요. 나머지 네임스페이스는 기본값이 모두 만듭니다."),
		}
	},
}

var exFullLimits = &Exercise{
	Title: i18n.T("Limits you can read back", "다시 읽어 볼 수 있는 제한"),
	Task: i18n.T(
		"Run a detached container named db, limited to 32 MiB of memory and 20 tasks with docker's flags, and a command that stays (sleep 1000). The check reads both limits from the files of the cgroup its process is in, as the kernel holds them.",
		"docker의 플래그로 메모리 32 MiB, 태스크 20개로 제한한 db라는 컨테이너를 계속 도는 명령(sleep 1000)으로 떼어 놓고 돌리세요. 검사는 그 프로세스가 든 cgroup의 파일에서, 커널이 지키고 있는 두 제한을 읽습니다."),
	Needs: []string{"stepbox"},
	Hints: []i18n.Text{
		i18n.T("docker's flags are --memory (with a unit: 32m) and --pids-limit; stepbox run takes the same.",
			"docker의 플래그는 --memory(단위와 함께: 32m)와 --pids-limit이고, stepbox run도 같은 것을 받습니다."),
		i18n.T("cat /proc/PID/cgroup names its cgroup; memory.limit_in_bytes and pids.max there (cgroup v2: memory.max, pids.max) hold the limits.",
			"cat /proc/PID/cgroup이 cgroup을 알려 줍니다. 거기의 memory.limit_in_bytes와 pids.max(cgroup v2: memory.max, pids.max)에 제한이 들어 있습니다."),
	},
	Answer: "stepbox run -d --name db --memory 32m --pids-limit 20 -- sleep 1000",
	Check: func(s *Scene) Verdict {
		_, snap, v, ok := container(s, "db")
		if !ok {
			return v
		}
		memRel, ok1 := s.Cgroup(snap.PID, "memory")
		pidsRel, ok2 := s.Cgroup(snap.PID, "pids")
		mem, _, ok3 := memoryLimit(s, memRel)
		pids, _, ok4 := pidsLimit(s, pidsRel)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return Verdict{Key: "unreadable", Wrong: i18n.T("db's cgroup files cannot be read", "db의 cgroup 파일을 읽을 수 없습니다"),
				Hint: i18n.T("Is db still running? stepbox ps", "db가 아직 돌고 있나요? stepbox ps")}
		}
		pidsS := "max"
		if pids >= 0 {
			pidsS = strconv.FormatInt(pids, 10)
		}
		seen := tf("db's process %d is in %s: memory limit %s, pids.max %s", "db의 프로세스(pid %d)는 %s cgroup에 있습니다: 메모리 제한 %s, pids.max %s", snap.PID, memRel, limitText(mem), pidsS)
		switch {
		case mem != 32<<20:
			return Verdict{Key: "wrong-memory", Seen: []i18n.Text{seen},
				Wrong: tf("db's memory limit is %s, not 32 MiB", "db의 메모리 제한이 32 MiB가 아니라 %s입니다", limitText(mem)),
				Hint:  i18n.T("--memory 32m (a number without a unit is bytes): stepbox rm -f db, then run it again.", "--memory 32m (단위 없는 숫자는 바이트입니다). stepbox rm -f db 한 다음 다시 돌리세요."),
			}
		case pids != 20:
			return Verdict{Key: "wrong-pids", Seen: []i18n.Text{seen},
				Wrong: tf("db's pids.max is %s, not 20", "db의 pids.max가 20이 아니라 %s입니다", pidsS),
				Hint:  i18n.T("--pids-limit 20: stepbox rm -f db, then run it again with both flags.", "--pids-limit 20: stepbox rm -f db 한 다음 두 플래그를 모두 주고 다시 돌리세요."),
			}
		}
		return Verdict{OK: true, Seen: []i18n.Text{seen,
			i18n.T("the kernel holds db to 32 MiB and 20 tasks, whatever runs inside", "안에서 무엇이 돌든 커널이 db를 32 MiB와 태스크 20개에 묶어 둡니다")}}
	},
}
