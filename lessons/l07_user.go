package lessons

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/lessons/probe"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register(lessonUser) }

// userFile is the file the user lesson makes inside, in the root
// filesystem's /tmp, to show its owner from both sides.
const userFile = "/tmp/new"

// userNice raises the probe's own priority: harmless, and refused to a root
// whose capabilities belong to a user namespace other than the host's
// (CAP_SYS_NICE is checked in the initial one: kernel/sys.c, can_nice).
const userNice = "stepbox probe nice -n -5"

// userSetgroups calls setgroups(2), as su(1) does through initgroups(3).
const userSetgroups = "stepbox probe setgroups 0"

var lessonUser = &Lesson{
	ID:      "user",
	Title:   i18n.T("User: root inside, unprivileged outside", "사용자: 안에서는 root, 밖에서는 권한 없는 사용자"),
	Summary: i18n.T("uid 0 inside is an unprivileged uid on the host, through the maps", "맵을 통해 안의 uid 0이 호스트에서는 권한 없는 uid가 된다"),
	Intro: i18n.T(
		"So far the container's root is the host's root: only the other namespaces hold it in. A user namespace gives the container ids of its own. A map says which host id each id inside stands for, so root inside can be a harmless uid outside, and the capabilities root holds count only over what its namespace owns (user_namespaces(7)).",
		"지금까지 컨테이너의 root는 호스트의 root 그대로였고, 이를 막아 준 것은 다른 네임스페이스뿐이었습니다. 사용자 네임스페이스는 컨테이너에 자기만의 id를 줍니다. 맵(map)은 안의 각 id가 호스트의 어느 id에 해당하는지 정하므로, 안의 root가 밖에서는 아무 권한 없는 uid가 될 수 있습니다. root가 가진 케이퍼빌리티(capability)도 자기 네임스페이스에 속한 것에만 효력이 있습니다(user_namespaces(7))."),
	Needs: Needs{Inside: []string{"cat", "grep", "id", "stat", "stepbox", "touch"}, Host: []string{"stat", "stepbox"}},
	Steps: []Step{
		{
			Title: i18n.T("Before: root inside is root outside", "시작: 안의 root가 곧 밖의 root"),
			Explain: i18n.T(
				"The process is still in the host's user namespace. The host's uid_map maps every id to itself (0 0 4294967295), so uid 0 in the container is uid 0 on the host: it owns the host's files.",
				"프로세스는 아직 호스트의 사용자 네임스페이스에 있습니다. 호스트의 uid_map은 모든 id를 자기 자신에 대응시키므로(0 0 4294967295), 컨테이너의 uid 0은 호스트의 uid 0입니다. 호스트의 파일이 모두 이 프로세스의 것입니다."),
			Syscalls: []Syscall{{"getuid", 2, ""}, {"readlink", 2, "/proc/PID/ns/user"}},
			Shell:    "id; cat /proc/self/uid_map",
			Probes:   []Probe{{Inside, probeID}},
			Rows:     []Row{RowNS("user"), rowUID, rowUIDMap},
			Expect: Expect{
				Text: i18n.T("the host's user namespace: uid 0 is the host's uid 0", "호스트의 사용자 네임스페이스: uid 0이 호스트의 uid 0"),
				Check: func(e *Evidence) bool {
					return !e.Isolated("user") && e.Outside.Status.UID.Effective == 0 &&
						idOf(e.Probe(Inside, probeID).Output, "uid") == "0"
				},
			},
		},
		{
			Title: i18n.T("A user namespace without a map", "맵이 없는 사용자 네임스페이스"),
			Explain: i18n.T(
				"clone(2) with CLONE_NEWUSER makes a new user namespace. Until its uid_map and gid_map are written, no id inside stands for any id outside: the process shows up as the overflow uid 65534 (nobody), and at execve(2) it loses every capability. The host still sees uid 0, the id that made it. Without capabilities the runtime could not even set the hostname or mount /proc, so for this step the container keeps only the namespaces that need no privilege. Its /proc is then the host's again: the changes listed below describe the host's PID 1, not the container.",
				"clone(2)에 CLONE_NEWUSER를 주면 새 사용자 네임스페이스가 생깁니다. uid_map과 gid_map을 쓰기 전까지는 안의 어떤 id도 밖의 id에 대응하지 않습니다. 그래서 프로세스는 오버플로 uid 65534(nobody)로 보이고, execve(2) 때 케이퍼빌리티를 모두 잃습니다. 호스트에서는 여전히 자기를 만든 uid 0으로 보입니다. 케이퍼빌리티가 없으면 런타임이 호스트 이름을 정하거나 /proc을 마운트할 수도 없으므로, 이번 단계에서는 권한 없이도 만들 수 있는 네임스페이스만 남깁니다. 그러면 /proc이 다시 호스트의 것이 되므로, 아래의 달라진 점은 컨테이너가 아니라 호스트의 PID 1을 보여 줍니다."),
			Syscalls: []Syscall{{"clone", 2, "CLONE_NEWUSER"}, {"execve", 2, ""}},
			Shell:    "unshare --user sh -c 'id; grep CapEff /proc/self/status'",
			Apply: func(l *Lab) error {
				saveDescription(l, "user.mapped")
				l.Change(func(s *specs.Spec) {
					sandbox.SetNamespace(s, specs.UserNamespace, true)
					for _, t := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace,
						specs.CgroupNamespace, specs.TimeNamespace} {
						sandbox.SetNamespace(s, t, false)
					}
					s.Hostname = ""
					// No map is written (UnmappedUserNS), so the init keeps
					// its creator's host uid, 0. The runtime gives its start
					// fifo to the host id the description maps root to:
					// name that id, or the init may not open the fifo.
					creator := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}
					s.Linux.UIDMappings, s.Linux.GIDMappings = creator, creator
				})
				l.Options(func(o *sandbox.Options) { o.UnmappedUserNS, o.HostRoot = true, false })
				return nil
			},
			Probes: []Probe{{Inside, probeID}, {Inside, "grep CapEff /proc/self/status"}},
			Rows:   []Row{RowNS("user"), rowUID, rowUIDMap, RowCapEff},
			Expect: Expect{
				Text: i18n.T("nobody (65534) inside, with no capabilities", "안에서는 nobody(65534), 케이퍼빌리티 없음"),
				Check: func(e *Evidence) bool {
					return e.Isolated("user") && idOf(e.Probe(Inside, probeID).Output, "uid") == "65534" &&
						len(e.Outside.IDMap.UID) == 0 && len(e.Outside.Status.Caps.Effective.Names) == 0
				},
			},
		},
		{
			Title: i18n.T("Write the maps", "맵 쓰기"),
			Explain: i18n.T(
				"The runtime writes '0 100000 65536' to /proc/PID/uid_map and gid_map: the 65536 ids from 0 inside are the ids from 100000 on the host. Root inside is uid 100000 outside, an id that owns nothing on the host (as with docker's userns-remap and subuid(5)). The container gets back the namespaces of the earlier lessons, now owned by its user namespace.",
				"런타임이 /proc/PID/uid_map과 gid_map에 '0 100000 65536'을 씁니다. 안의 0부터 65536개의 id가 호스트의 100000부터의 id라는 뜻입니다. 안의 root는 밖에서 uid 100000이고, 이 id는 호스트에서 아무것도 갖고 있지 않습니다(docker의 userns-remap, subuid(5)와 같은 방식). 컨테이너는 앞 레슨의 네임스페이스를 되찾는데, 이제 그 네임스페이스들의 주인은 이 사용자 네임스페이스입니다."),
			Syscalls: []Syscall{{"clone", 2, "CLONE_NEWUSER"}, {"write", 2, "uid_map, gid_map: 0 100000 65536"}},
			Shell: "unshare --user sleep 1000 & p=$!\n" +
				"echo '0 100000 65536' > /proc/$p/uid_map\n" +
				"echo '0 100000 65536' > /proc/$p/gid_map",
			Apply: func(l *Lab) error {
				restoreDescription(l, "user.mapped")
				l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.UserNamespace, true) })
				l.Options(func(o *sandbox.Options) { o.UnmappedUserNS = false })
				return nil
			},
			Probes: []Probe{{Inside, probeID}, {Inside, "cat /proc/self/uid_map"}},
			Rows:   []Row{RowNS("user"), rowUID, rowUIDMap, rowGIDMap},
			Expect: Expect{
				Text: i18n.T("root inside is an unprivileged uid on the host", "안의 root가 호스트에서는 권한 없는 uid"),
				Check: func(e *Evidence) bool {
					out, ok := outsideRoot(e)
					return e.Isolated("user") && ok && out != 0 && e.Outside.Status.UID.Effective == out &&
						idOf(e.Probe(Inside, probeID).Output, "uid") == "0"
				},
			},
		},
		{
			Title: i18n.T("Every capability, over its own namespace only", "케이퍼빌리티는 전부, 하지만 자기 네임스페이스 안에서만"),
			Explain: i18n.T(
				"Root in the new namespace holds every capability: CapEff is full. But capabilities(7) count only over what the user namespace owns: its hostname, its mounts, its network. What belongs to the whole machine is checked against the host's user namespace, where this process has none: raising its own priority with renice -n -5 needs CAP_SYS_NICE there and fails with EACCES. The host's own root may. (`stepbox probe nice` makes that one setpriority(2) call and prints the kernel's answer.)",
				"새 네임스페이스의 root는 케이퍼빌리티를 모두 가집니다. CapEff가 꽉 차 있습니다. 하지만 capabilities(7)에 따르면 케이퍼빌리티는 그 사용자 네임스페이스가 가진 것, 즉 자기 호스트 이름, 자기 마운트, 자기 네트워크에만 효력이 있습니다. 기계 전체에 속한 것은 호스트의 사용자 네임스페이스를 기준으로 검사하는데, 거기서 이 프로세스는 아무 권한도 없습니다. renice -n -5로 자기 우선순위를 높이려면 거기서 CAP_SYS_NICE가 필요하므로 EACCES로 실패합니다. 호스트의 root는 할 수 있습니다. (`stepbox probe nice`는 setpriority(2)를 한 번 불러 커널의 대답을 출력합니다.)"),
			Syscalls: []Syscall{{"capget", 2, ""}, {"setpriority", 2, "PRIO_PROCESS, 0, -5"}},
			Shell:    "grep CapEff /proc/self/status; renice -n -5 -p $$",
			Probes: []Probe{{Inside, "grep CapEff /proc/self/status"}, {Inside, userNice},
				{Host, userNice}},
			Rows: []Row{RowCapEff, {
				Label: i18n.T("renice -n -5", "renice -n -5"),
				Host:  func(e *Evidence) string { return exitText(e.Probe(Host, userNice)) },
				Box:   func(e *Evidence) string { return exitText(e.Probe(Inside, userNice)) },
			}},
			Expect: Expect{
				Text: i18n.T("every capability inside, yet renice -n -5 is refused", "안에서는 케이퍼빌리티가 전부인데도 renice -n -5는 거부된다"),
				Check: func(e *Evidence) bool {
					return e.Isolated("user") && e.Outside.Status.Caps.Effective.Has("CAP_SYS_NICE") &&
						refusedWith(e.Probe(Inside, userNice), "EACCES") && succeeded(e.Probe(Host, userNice))
				},
			},
		},
		{
			Title: i18n.T("A file made inside", "안에서 만든 파일"),
			Explain: i18n.T(
				"Root inside creates a file in the root filesystem's /tmp. Inside, it belongs to 0:0; the disk records the host ids the map gives, so on the host the same file belongs to 100000:100000. Root's files in the rootfs, in turn, look like nobody's inside: the host's uid 0 is not in the map.",
				"안의 root가 루트 파일 시스템의 /tmp에 파일을 하나 만듭니다. 안에서는 0:0의 파일이지만, 디스크에는 맵이 정한 호스트 id가 기록되므로 호스트에서는 같은 파일이 100000:100000의 것입니다. 거꾸로 루트 파일 시스템에 있는 root의 파일은 안에서 nobody의 것으로 보입니다. 호스트의 uid 0이 맵에 없기 때문입니다."),
			Syscalls: []Syscall{{"openat", 2, "O_CREAT " + userFile}, {"stat", 2, ""}},
			Shell:    "touch " + userFile + "; stat -c %u:%g " + userFile,
			Apply: func(l *Lab) error {
				p, err := boxPath(l, userFile)
				if err != nil {
					return err
				}
				host := filepath.Join(l.Rootfs(), userFile)
				os.Remove(host)
				l.Defer(func() error {
					if err := os.Remove(host); err != nil && !os.IsNotExist(err) {
						return err
					}
					return nil
				})
				out, err := l.Inside(fmt.Sprintf("touch %s && stat -c %%u:%%g %s", p, p))
				if err != nil {
					return err
				}
				note(l, "user.file", line1(out.Output))
				return nil
			},
			Probes: []Probe{{Host, "stat -c %u:%g {rootfs}" + userFile},
				{Host, "stat -c %u:%g {rootfs}/bin"}, {Inside, "stat -c %u:%g /bin"}},
			Rows: []Row{
				RowNote(i18n.T("owner of "+userFile, userFile+" 소유자"), "stat -c %u:%g {rootfs}"+userFile, "user.file"),
				RowProbe(i18n.T("owner of /bin", "/bin 소유자"), "stat -c %u:%g {rootfs}/bin", "stat -c %u:%g /bin"),
			},
			Expect: Expect{
				Text: i18n.T("0:0 inside is the mapped id on the host", "안의 0:0이 호스트에서는 맵이 정한 id"),
				Check: func(e *Evidence) bool {
					out, ok := outsideRoot(e)
					want := fmt.Sprintf("%d:%d", out, e.Outside.Status.GID.Effective)
					return ok && out != 0 && noted(e, "user.file") == "0:0" &&
						line1(e.Probe(Host, "stat -c %u:%g {rootfs}"+userFile).Output) == want
				},
			},
		},
		{
			Title: i18n.T("setgroups: deny", "setgroups: deny"),
			Explain: i18n.T(
				"A gid_map written by an unprivileged user must come after 'deny' in /proc/PID/setgroups (Linux 3.19, CVE-2014-8989): otherwise a user could drop a group that a file's mode shuts out (say 0707) and read the file. Written, deny holds for the namespace's life, for its root too: setgroups(2) is refused with EPERM, so su, which calls it, cannot start.",
				"권한 없는 사용자가 gid_map을 쓰려면 먼저 /proc/PID/setgroups에 'deny'를 써야 합니다(Linux 3.19, CVE-2014-8989). 그렇지 않으면 파일 모드가 막아 둔 그룹(예: 0707)을 버리고 그 파일을 읽을 수 있기 때문입니다. 한번 쓴 deny는 네임스페이스가 사라질 때까지 유지되고 그 안의 root에게도 적용됩니다. setgroups(2)는 EPERM으로 거절되고, 그래서 이것을 부르는 su는 시작하지 못합니다."),
			Syscalls: []Syscall{{"write", 2, `/proc/PID/setgroups: "deny"`}, {"setgroups", 2, ""}},
			Shell:    "unshare --user --map-root-user \\\n  sh -c 'cat /proc/self/setgroups; su -s /bin/sh root -c true'",
			Apply: func(l *Lab) error {
				l.Options(func(o *sandbox.Options) { o.DenySetgroups = true })
				return nil
			},
			Probes: []Probe{{Inside, "cat /proc/self/setgroups"}, {Inside, userSetgroups}},
			Rows: []Row{RowSetgroups, {
				Label: i18n.T("setgroups(2)", "setgroups(2)"),
				Host:  func(e *Evidence) string { return "-" },
				Box:   func(e *Evidence) string { return exitText(e.Probe(Inside, userSetgroups)) },
			}},
			Expect: Expect{
				Text: i18n.T("setgroups reads deny and setgroups(2) is refused", "setgroups는 deny, setgroups(2)는 거절"),
				Check: func(e *Evidence) bool {
					return e.Isolated("user") && e.Outside.IDMap.Setgroups == "deny" &&
						line1(e.Probe(Inside, "cat /proc/self/setgroups").Output) == "deny" &&
						refusedWith(e.Probe(Inside, userSetgroups), "EPERM")
				},
			},
		},
	},
	Demo: Demo{
		Feature: "user",
		Explain: i18n.T(
			"Without a user namespace there is no map: root inside is the host's root, the file it makes belongs to root on the host, and nothing it does is limited to a namespace of its own.",
			"사용자 네임스페이스가 없으면 맵도 없습니다. 안의 root가 호스트의 root이고, 안에서 만든 파일은 호스트에서 root의 것이며, 무엇을 하든 자기 네임스페이스 안으로 한정되지 않습니다."),
		Remove: withoutNS(specs.UserNamespace),
		Fails:  []int{2, 3, 4, 5, 6},
	},
	Exercises: userExercises,
	Outro: i18n.T(
		"Root inside, uid 100000 outside: a breakout now lands as an id that owns nothing. Next: the cgroup namespace, so the container stops seeing where the host keeps it.",
		"안에서는 root, 밖에서는 uid 100000입니다. 이제 컨테이너를 탈출해도 아무것도 갖지 않은 id일 뿐입니다. 다음은 cgroup 네임스페이스입니다. 호스트가 컨테이너를 어디에 두었는지 더는 보이지 않게 합니다."),
	Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.UserNamespace, true) })
	},
}

// exitText says how a probe ended: "ok", the errno of the call the kernel
// refused (a stepbox probe prints it), or the error it printed last (tools
// end with "what: strerror").
func exitText(p ProbeResult) string {
	if p.Code == 0 {
		return "ok"
	}
	if errno := probe.Errno(p.Output); errno != "" {
		return errno
	}
	msg := lastLine(p.Output)
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	if msg == "" {
		msg = fmt.Sprintf("exit %d", p.Code)
	}
	return msg
}
