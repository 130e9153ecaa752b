package lessons

import (
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/security"
)

func init() { register(lessonFull) }

// runSpec is the description `stepbox run --userns` makes (what `stepbox
// spec --userns` prints): sandbox.DefaultSpec with every namespace, docker's
// capabilities, no_new_privs, the default seccomp profile, the default
// mounts with masked and read-only paths; plus the resources the lab holds
// (lesson 10's --memory 32m --pids-limit 20 --cpus 0.2). Like `stepbox run`,
// it leaves the time namespace out on a kernel that refuses threads in one.
func runSpec(l *Lab) (*specs.Spec, error) {
	s := sandbox.DefaultSpec(l.Rootfs(), "/bin/stepbox", "agent")
	sandbox.SetNamespace(s, specs.UserNamespace, true)
	if !timeNSWorks(l) {
		sandbox.SetNamespace(s, specs.TimeNamespace, false)
	}
	if cur := l.Spec().Linux; cur != nil {
		s.Linux.Resources = cur.Resources
	}
	p, err := security.DefaultProfile(s)
	if err != nil {
		return nil, err
	}
	s.Linux.Seccomp = p
	return s, nil
}

// The inspector's checks the lesson shows, in groups.
var (
	fullWho   = []string{"userns.map", "uid.root", "caps.effective", "caps.bounding", "caps.ambient", "sec.seccomp", "sec.nnp"}
	fullSight = []string{"root.pivot", "mnt.propagation", "mnt.sensitive", "proc.masked", "proc.readonly",
		"cgroup.ns", "uts.hostname", "net.ifaces", "ipc.sysv"}
)

// checksOf are the inspector's checks of the container against the host.
func checksOf(e *Evidence) []nsinspect.Check { return nsinspect.Compare(e.Outside, e.Host) }

// rowsOf are one rowCheck per id.
func rowsOf(ids []string) []Row {
	rows := make([]Row, len(ids))
	for i, id := range ids {
		rows[i] = rowCheck(id)
	}
	return rows
}

// nsRows show each namespace's check: the host's inode beside the
// container's and the verdict.
func nsRows() []Row {
	var ids []string
	for _, t := range courseNamespaces {
		ids = append(ids, "ns."+t)
	}
	return rowsOf(ids)
}

// allStatus reports whether every check of ids has one of the statuses ok.
func allStatus(e *Evidence, ids []string, ok ...nsinspect.Status) bool {
	n := 0
	for _, c := range checksOf(e) {
		if slices.Contains(ids, c.ID) {
			if !slices.Contains(ok, c.Status) {
				return false
			}
			n++
		}
	}
	return n == len(ids)
}

// expected are the namespaces the lab's description asks for, as step 1
// noted them: all eight, or seven where the kernel cannot run threads in a
// time namespace.
func expected(e *Evidence) []string {
	if s := noted(e, "full.expect"); s != "" {
		return strings.Split(s, ",")
	}
	return nil
}

// verdict is what `stepbox verify PID --expect all` decides (--expect with
// the namespaces the description asks for, where one is left out).
func verdict(e *Evidence) nsinspect.Verdict {
	_, v := nsinspect.Verify(checksOf(e), nsinspect.VerifyOptions{Expect: expected(e)})
	return v
}

var lessonFull = &Lesson{
	ID:      "full",
	Title:   i18n.T("Everything together: a full container", "모두 합치기: 완전한 컨테이너"),
	Summary: i18n.T("the container `stepbox run` makes, checked by the inspector against the host", "`stepbox run`이 만드는 컨테이너를 검사기로 호스트와 비교한다"),
	Intro: i18n.T(
		"Every lesson added one piece. Put together they are what `stepbox run --userns` makes, and what docker makes by default: eight namespaces, a root filesystem of its own with /proc's secrets masked, docker's capabilities, a seccomp filter, no_new_privs, and limits. The inspector looks at the finished container from the host, check by check, as `stepbox inspect PID` does.",
		"레슨마다 한 조각씩 더했습니다. 모두 합치면 `stepbox run --userns`가 만드는 컨테이너이고, docker가 기본으로 만드는 컨테이너입니다. 네임스페이스 여덟 개, /proc의 민감한 곳을 가린 자기 루트 파일 시스템, docker의 케이퍼빌리티, seccomp 필터, no_new_privs, 그리고 제한입니다. 검사기는 `stepbox inspect PID`처럼 완성된 컨테이너를 호스트에서 하나씩 검사합니다."),
	Needs: Needs{Inside: []string{"hostname", "id", "readlink", "sleep"}, Host: []string{"stepbox"}},
	Steps: []Step{
		{
			Title: i18n.T("Eight namespaces of its own", "자기만의 네임스페이스 여덟 개"),
			Explain: i18n.T(
				"The lab now starts the container from the description `stepbox run --userns` makes (see it with `stepbox spec --userns -- sh`), with the limits of the limits lesson. For every namespace the inspector compares the container's inode with the host's: a different inode is a namespace of its own (namespaces(7)). On a kernel that refuses threads in a time namespace (Debian 12's Linux 6.1) `stepbox run` leaves that one out, and so does the lab.",
				"이제 실습 환경은 `stepbox run --userns`가 만드는 설명(`stepbox spec --userns -- sh`로 볼 수 있습니다)에 제한 레슨의 제한을 더해 컨테이너를 띄웁니다. 검사기는 네임스페이스마다 컨테이너의 아이노드를 호스트의 것과 비교합니다. 아이노드가 다르면 자기 네임스페이스입니다(namespaces(7)). 시간 네임스페이스 안의 스레드를 거부하는 커널(데비안 12의 Linux 6.1)에서는 `stepbox run`이 시간 네임스페이스를 빼므로, 실습 환경도 뺍니다."),
			Syscalls: []Syscall{{"clone", 2, "CLONE_NEW{UTS,PID,NS,IPC,NET,USER}"}, {"unshare", 2, "CLONE_NEWCGROUP|CLONE_NEWTIME"}},
			Shell:    "stepbox run --userns --memory 32m --pids-limit 20 \\\n  --cpus 0.2 -- sh\nstepbox inspect PID",
			Apply: func(l *Lab) error {
				s, err := runSpec(l)
				if err != nil {
					return err
				}
				l.Change(func(x *specs.Spec) { *x = *s })
				l.Options(func(o *sandbox.Options) {
					o.HostRoot, o.UnmappedUserNS, o.DenySetgroups, o.KeepPropagation = false, false, false, false
				})
				var want []string
				for _, ns := range s.Linux.Namespaces {
					want = append(want, sandbox.ShortName(ns.Type))
				}
				if err := l.Ensure(); err != nil {
					return err
				}
				note(l, "full.expect", strings.Join(want, ","))
				return nil
			},
			Rows: nsRows(),
			Expect: Expect{
				Text: i18n.T("every namespace is the container's own", "모든 네임스페이스가 컨테이너의 것이다"),
				Check: func(e *Evidence) bool {
					var ids []string
					for _, t := range expected(e) {
						ids = append(ids, "ns."+t)
					}
					return len(ids) > 0 && allStatus(e, ids, nsinspect.Pass)
				},
			},
		},
		{
			Title: i18n.T("Who runs inside", "안에서 누가 도는가"),
			Explain: i18n.T(
				"Root inside is uid 100000 on the host (userns.map, uid.root). It holds docker's 14 capabilities, over its own user namespace only; none is ambient. A seccomp filter stands in front of the kernel, and no_new_privs keeps execve from granting more.",
				"안의 root는 호스트에서 uid 100000입니다(userns.map, uid.root). docker의 케이퍼빌리티 14개를 자기 사용자 네임스페이스 안에서만 가지며, ambient 집합은 비어 있습니다. 커널 앞에는 seccomp 필터가 서 있고, no_new_privs 때문에 execve가 권한을 더 줄 수 없습니다."),
			Syscalls: []Syscall{{"open", 2, "/proc/PID/status, /proc/PID/uid_map"}},
			Shell:    "grep -E 'Uid|Cap|Seccomp|NoNewPrivs' /proc/PID/status",
			Rows:     rowsOf(fullWho),
			Expect: Expect{
				Text: i18n.T("an unprivileged uid, few capabilities, filtered", "권한 없는 uid, 적은 케이퍼빌리티, 필터 적용"),
				Check: func(e *Evidence) bool {
					return allStatus(e, fullWho, nsinspect.Pass)
				},
			},
		},
		{
			Title: i18n.T("What it sees", "무엇이 보이는가"),
			Explain: i18n.T(
				"Its root is the rootfs it pivoted into, its mounts are private, the host's devices and sockets are not mounted in, /proc's sensitive files are masked or read-only. Its cgroup path reads /, its hostname is its own, it has only its own interfaces and SysV objects.",
				"루트는 pivot_root로 들어간 루트 파일 시스템이고, 마운트는 private이며, 호스트의 장치나 소켓은 마운트되어 있지 않고, /proc의 민감한 파일은 가려지거나 읽기 전용입니다. cgroup 경로는 /로 읽히고, 호스트 이름은 자기 것이며, 자기 인터페이스와 SysV 객체만 있습니다."),
			Syscalls: []Syscall{{"open", 2, "/proc/PID/mountinfo"}, {"setns", 2, "CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWIPC"}},
			Shell:    "stepbox inspect PID",
			Rows:     rowsOf(fullSight),
			Expect: Expect{
				Text: i18n.T("nothing of the host shows through", "호스트의 것이 아무것도 비치지 않는다"),
				Check: func(e *Evidence) bool {
					return allStatus(e, fullSight, nsinspect.Pass, nsinspect.Skipped)
				},
			},
		},
		{
			Title: i18n.T("stepbox verify --expect all", "stepbox verify --expect all"),
			Explain: i18n.T(
				"`stepbox verify PID --expect all` turns the report into a yes or no for scripts and CI: every namespace must be isolated, and any other finding is at most a warning. Its exit status is 0 here; it is 3 for a container that shares a namespace with the host.",
				"`stepbox verify PID --expect all`은 보고서를 스크립트와 CI가 쓸 수 있는 예/아니요로 바꿉니다. 모든 네임스페이스가 격리되어야 하고, 그 밖의 발견은 기껏해야 경고입니다. 여기서는 종료 코드가 0이고, 호스트와 네임스페이스를 공유하는 컨테이너라면 3입니다."),
			Syscalls: []Syscall{{"readlink", 2, "/proc/PID/ns/*"}},
			Shell:    "stepbox verify PID --expect all; echo $?",
			Rows: []Row{
				{
					Label: i18n.T("isolated", "격리됨"),
					Host:  func(e *Evidence) string { return "-" },
					Box: func(e *Evidence) string {
						n := 0
						for _, t := range courseNamespaces {
							if e.Isolated(t) {
								n++
							}
						}
						return strconv.Itoa(n) + "/" + strconv.Itoa(len(expected(e)))
					},
				},
				{
					Label: i18n.T("verdict", "판정"),
					Host:  func(e *Evidence) string { return "-" },
					Box: func(e *Evidence) string {
						v := verdict(e)
						switch {
						case v.OK:
							return "ok (exit 0)"
						case len(v.Failing) > 0:
							return "fail (exit 3): " + strings.Join(v.Failing, ", ")
						}
						return "fail (exit 3)"
					},
				},
			},
			Expect: Expect{
				Text: i18n.T("verify --expect all says ok", "verify --expect all의 판정은 ok"),
				Check: func(e *Evidence) bool {
					v := verdict(e)
					return len(v.Expect) > 0 && v.OK && len(v.Unproven) == 0
				},
			},
		},
		stepDetached,
	},
	Demo: Demo{
		Feature: "mnt",
		Explain: i18n.T(
			"One piece left out, the mount namespace, and the inspector finds it at once: the container's root is the host's /, it shares the host's mounts, nothing is masked, and verify fails.",
			"한 조각, 마운트 네임스페이스만 빼도 검사기는 바로 찾아냅니다. 컨테이너의 루트가 호스트의 /이고, 호스트의 마운트를 함께 쓰며, 가려진 것이 없고, verify는 실패합니다."),
		Remove: withoutNS(specs.MountNamespace),
		Fails:  []int{1, 3, 4},
	},
	Exercises: fullExercises,
	Outro: i18n.T(
		"That is a container: one process, eight views of its own, limits, and a root that can do very little. `stepbox run` makes exactly this, in the foreground or detached; `stepbox exec` enters it; `stepbox inspect` and `stepbox verify` check any process on the host the same way.",
		"이것이 컨테이너입니다. 프로세스 하나, 자기만의 여덟 가지 시야, 제한, 그리고 할 수 있는 일이 아주 적은 root입니다. `stepbox run`이 앞에서든 떼어 놓고든 바로 이것을 만들고, `stepbox exec`가 그 안으로 들어가며, `stepbox inspect`와 `stepbox verify`는 호스트의 어떤 프로세스든 같은 방식으로 검사합니다."),
}
