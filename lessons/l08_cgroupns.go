package lessons

import (
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register(lessonCgroupNS) }

// cgroupsVisible counts the cgroups under /sys/fs/cgroup: every cgroup is
// a directory holding a cgroup.procs file (cgroups(7)).
const cgroupsVisible = "find /sys/fs/cgroup -name cgroup.procs | wc -l"

// stepboxCgroup reports whether p names a cgroup below stepbox's.
func stepboxCgroup(p string) bool { return strings.HasPrefix(p, "/stepbox/") }

var lessonCgroupNS = &Lesson{
	ID:      "cgroupns",
	Title:   i18n.T("Cgroup namespace: where am I?", "cgroup 네임스페이스: 나는 어디에?"),
	Summary: i18n.T("/proc/self/cgroup reads / inside, the full path on the host", "/proc/self/cgroup이 안에서는 /, 호스트에서는 전체 경로"),
	Intro: i18n.T(
		"Every container sits in a cgroup of its own, a directory in the cgroup filesystem where the kernel counts and limits what its processes use (the limits lesson sets limits there). The path of that directory names the container: stepbox puts it at /stepbox/<name>. A cgroup namespace makes the container's cgroup the root of what the container sees, so the path no longer leaks (cgroup_namespaces(7)).",
		"컨테이너는 각자 자기 cgroup에 들어 있습니다. cgroup은 cgroup 파일 시스템의 디렉터리로, 커널이 그 안의 프로세스가 쓰는 자원을 세고 제한하는 곳입니다(제한 레슨에서 여기에 제한을 겁니다). 이 디렉터리의 경로는 컨테이너의 이름을 드러냅니다. stepbox는 /stepbox/<이름>에 둡니다. cgroup 네임스페이스는 컨테이너의 cgroup을 컨테이너가 보는 세계의 루트로 만들어서, 이 경로가 더는 새어 나가지 않게 합니다(cgroup_namespaces(7))."),
	Needs: Needs{Inside: []string{"cat", "find", "wc"}, Host: []string{"find", "wc"}},
	Steps: []Step{
		{
			Title: i18n.T("Before: the host's path shows through", "시작: 호스트의 경로가 그대로 보인다"),
			Explain: i18n.T(
				"The container reads /proc/self/cgroup: one line per hierarchy, hierarchy-ID:controllers:path. Without a cgroup namespace the path is the one the host uses, so the container learns its own name and how the host arranges its cgroups. This host is hybrid, so there is a line for each v1 controller and one, 0::, for cgroup v2; a pure v2 host shows only the 0:: line.",
				"컨테이너가 /proc/self/cgroup을 읽습니다. 계층마다 한 줄씩, 계층ID:컨트롤러:경로 형식입니다. cgroup 네임스페이스가 없으면 호스트가 쓰는 경로가 그대로 보이므로, 컨테이너는 자기 이름과 호스트가 cgroup을 어떻게 배치하는지 알게 됩니다. 이 호스트는 하이브리드라서 v1 컨트롤러마다 한 줄, cgroup v2용으로 0:: 한 줄이 있습니다. 순수 v2 호스트라면 0:: 한 줄만 보입니다."),
			Syscalls: []Syscall{{"open", 2, "/proc/self/cgroup"}, {"readlink", 2, "/proc/PID/ns/cgroup"}},
			Shell:    "cat /proc/self/cgroup",
			Probes:   []Probe{{Inside, "cat /proc/self/cgroup"}},
			Rows:     []Row{RowNS("cgroup"), rowCgroupSeen},
			Expect: Expect{
				Text: i18n.T("the container reads the host's path of its cgroup", "컨테이너가 자기 cgroup의 호스트 경로를 읽는다"),
				Check: func(e *Evidence) bool {
					in := cgroupPath(e.Outside.Cgroups.Inside)
					return !e.Isolated("cgroup") && stepboxCgroup(in) && in == cgroupPath(e.Outside.Cgroups.Entries)
				},
			},
		},
		{
			Title: i18n.T("A new cgroup namespace", "새 cgroup 네임스페이스"),
			Explain: i18n.T(
				"The runtime first moves the container's init into its cgroup, then the init calls unshare(2) with CLONE_NEWCGROUP: the cgroup it is in at that moment becomes the root of the new namespace. Inside, every path now reads /; the host still sees /stepbox/<name>. The namespace hides the path only: the limits of the cgroup hold just the same.",
				"런타임은 먼저 컨테이너의 init을 그 cgroup으로 옮기고, 그다음 init이 CLONE_NEWCGROUP으로 unshare(2)를 부릅니다. 그 순간 속해 있던 cgroup이 새 네임스페이스의 루트가 됩니다. 이제 안에서는 모든 경로가 /로 읽히고, 호스트는 여전히 /stepbox/<이름>을 봅니다. 네임스페이스는 경로만 가릴 뿐, cgroup의 제한은 그대로 적용됩니다."),
			Syscalls: []Syscall{{"unshare", 2, "CLONE_NEWCGROUP"}},
			Shell:    "echo $$ > /sys/fs/cgroup/pids/box/cgroup.procs\nunshare --cgroup cat /proc/self/cgroup",
			Apply: func(l *Lab) error {
				l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.CgroupNamespace, true) })
				return nil
			},
			Probes: []Probe{{Inside, "cat /proc/self/cgroup"}},
			Rows:   []Row{RowNS("cgroup"), rowCgroupSeen},
			Expect: Expect{
				Text: i18n.T("/ inside, /stepbox/… on the host", "안에서는 /, 호스트에서는 /stepbox/…"),
				Check: func(e *Evidence) bool {
					if !e.Isolated("cgroup") || !stepboxCgroup(cgroupPath(e.Outside.Cgroups.Entries)) ||
						len(e.Outside.Cgroups.Inside) == 0 {
						return false
					}
					for _, c := range e.Outside.Cgroups.Inside {
						if c.Path != "/" {
							return false
						}
					}
					return true
				},
			},
		},
		{
			Title: i18n.T("Its own subtree under /sys/fs/cgroup", "/sys/fs/cgroup에는 자기 하위 트리만"),
			Explain: i18n.T(
				"The container mounts its cgroup filesystems in its namespace, and the kernel roots each mount at the namespace's cgroup: it sees its own cgroup as the top of every hierarchy and nothing above or beside it, no other container. The mount table tells the same from both sides: the root of the memory controller's mount is / for the container, /stepbox/<name> for the host reading the same table.",
				"컨테이너는 자기 네임스페이스 안에서 cgroup 파일 시스템을 마운트하고, 커널은 각 마운트의 루트를 네임스페이스의 cgroup으로 잡습니다. 그래서 컨테이너에게는 자기 cgroup이 모든 계층의 꼭대기로 보이고, 그 위나 옆에 있는 것, 다른 컨테이너는 보이지 않습니다. 마운트 테이블도 양쪽에서 같은 이야기를 합니다. memory 컨트롤러 마운트의 루트가 컨테이너에게는 /이고, 같은 테이블을 읽는 호스트에게는 /stepbox/<이름>입니다."),
			Syscalls: []Syscall{{"mount", 2, `"cgroup", "/sys/fs/cgroup/…", "cgroup"`}},
			Shell:    "ls /sys/fs/cgroup/pids\ngrep cgroup /proc/self/mountinfo",
			Probes:   []Probe{{Inside, cgroupsVisible}, {Host, cgroupsVisible}},
			Rows: []Row{
				RowProbe(i18n.T("cgroups visible", "보이는 cgroup 수"), cgroupsVisible, cgroupsVisible),
				{
					Label: i18n.T("cgroup mount root", "cgroup 마운트 루트"),
					Host:  func(e *Evidence) string { return dashIfEmpty(cgroupMountRoot(e.Outside)) },
					Box:   func(e *Evidence) string { return dashIfEmpty(cgroupMountRoot(e.Inside)) },
				},
			},
			Expect: Expect{
				Text: i18n.T("its own cgroup is the top of what it sees", "자기 cgroup이 보이는 세계의 꼭대기다"),
				Check: func(e *Evidence) bool {
					inN, err1 := strconv.Atoi(line1(e.Probe(Inside, cgroupsVisible).Output))
					hostN, err2 := strconv.Atoi(line1(e.Probe(Host, cgroupsVisible).Output))
					return err1 == nil && err2 == nil && inN > 0 && inN < hostN &&
						cgroupMountRoot(e.Inside) == "/" && stepboxCgroup(cgroupMountRoot(e.Outside))
				},
			},
		},
	},
	Demo: Demo{
		Feature: "cgroup",
		Explain: i18n.T(
			"Without a cgroup namespace the container reads the host's path of its cgroup in /proc/self/cgroup and in its own mount table: its name, and how the host lays out its cgroups.",
			"cgroup 네임스페이스가 없으면 컨테이너는 /proc/self/cgroup과 자기 마운트 테이블에서 자기 cgroup의 호스트 경로를 읽습니다. 자기 이름과 호스트가 cgroup을 배치한 방식이 드러납니다."),
		Remove: withoutNS(specs.CgroupNamespace),
		Fails:  []int{2, 3},
	},
	Exercises: cgroupnsExercises,
	Outro: i18n.T(
		"The container's cgroup is now its whole world, and its path is the host's secret. The limits set in it come two lessons on; next, the clocks.",
		"이제 컨테이너에게는 자기 cgroup이 세상의 전부이고, 그 경로는 호스트만 압니다. 이 cgroup에 제한을 거는 것은 두 레슨 뒤에 합니다. 다음은 시계입니다."),
	Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.CgroupNamespace, true) })
	},
}
