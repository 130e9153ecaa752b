package lessons

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/rootfs"
)

func init() { register(lessonRootfs) }

const (
	rootfsList    = "cd {rootfs} && echo *"
	rootfsSize    = "du -sh {rootfs}"
	rootfsSeen    = "cd /proc/{pid}/root && echo *"
	rootfsHostTop = "echo /*"
	// binFacts says how many names /bin holds and what /bin/sh really is.
	binFacts = "ls /bin | wc -l; readlink -f /bin/sh"
	// rootfsHostFile is a file every Linux host has and a root filesystem
	// made for one application does not: the host's distribution.
	rootfsHostFile = "head -n1 /etc/os-release"
	rootfsEscape   = "stepbox escape-chroot head -n1 /etc/os-release"
	rootfsEscapeLs = "stepbox escape-chroot -q sh -c 'echo /*'"
)

var (
	rowBinCount = rowProbeLine(i18n.T("names in /bin", "/bin의 이름 수"), binFacts, 0)
	rowBinSh    = rowProbeLine(i18n.T("/bin/sh is", "/bin/sh의 정체"), binFacts, 1)
)

var lessonRootfs = &Lesson{
	ID:      "rootfs",
	Title:   i18n.T("Root filesystem: a directory becomes /", "루트 파일 시스템: 디렉터리가 /가 된다"),
	Summary: i18n.T("pivot_root into a directory of files; the chroot breakout it closes", "파일을 모아 둔 디렉터리로 pivot_root, 그리고 그것이 막는 chroot 탈출"),
	Intro: i18n.T(
		"A container image is, once unpacked, a directory of the files an application needs. The container's root filesystem is that directory, made its \"/\". Entering it takes the mount namespace of the last lesson and one more system call, pivot_root(2).",
		"컨테이너 이미지는 풀어 놓으면 애플리케이션에 필요한 파일을 모아 둔 디렉터리입니다. 컨테이너의 루트 파일 시스템은 바로 그 디렉터리를 자기 \"/\"로 삼은 것입니다. 여기에 들어가려면 지난 레슨의 마운트 네임스페이스와 시스템 콜 하나, pivot_root(2)가 더 필요합니다."),
	Needs: Needs{Inside: []string{"head", "ls", "readlink", "stepbox", "wc"}, Host: []string{"du", "head", "ls", "readlink", "wc"}},
	Steps: []Step{
		{
			Title: i18n.T("A root filesystem is a directory", "루트 파일 시스템은 디렉터리다"),
			Explain: i18n.T(
				"Here is the directory, on the host ($ROOTFS below stands for its path). It holds what the application needs and nothing else: a shell and the core tools (either busybox, one static program that is sh, ls, mount and hundreds more by the name it is called with, or, on a host without it, the host's own tools with the shared libraries they load: `stepbox rootfs` says which); stepbox itself as /bin/stepbox; and a few files in /etc. There is no kernel in it: a container runs on the host's kernel. Our container still stands in the host's tree, so its /bin is the host's and its root is the host's.",
				"호스트에 있는 바로 그 디렉터리입니다(아래의 $ROOTFS가 그 경로입니다). 애플리케이션에 필요한 것만 들어 있습니다. 셸과 기본 도구(부르는 이름에 따라 sh, ls, mount 등 수백 가지 명령이 되는 정적 프로그램 busybox 하나, 또는 busybox가 없는 호스트라면 호스트의 도구와 그것들이 불러 쓰는 공유 라이브러리입니다. 어느 쪽인지는 `stepbox rootfs`가 알려 줍니다), /bin/stepbox로 들어간 stepbox 자신, 그리고 /etc의 파일 몇 개입니다. 커널은 없습니다. 컨테이너는 호스트의 커널 위에서 돌기 때문입니다. 컨테이너는 아직 호스트의 파일 트리 위에 있으므로 /bin도, 루트도 호스트의 것입니다."),
			Syscalls: []Syscall{{"getdents64", 2, "ROOTFS"}},
			Shell:    "cd $ROOTFS && echo *\ndu -sh $ROOTFS",
			Probes:   []Probe{{Host, rootfsList}, {Host, rootfsSize}, {Inside, binFacts}, {Host, binFacts}},
			Rows:     []Row{rowBinCount, rowBinSh, rowRoot},
			Expect: Expect{
				Text: i18n.T("the directory holds /bin; the container still uses the host's root",
					"디렉터리에 /bin이 있고, 컨테이너는 아직 호스트의 루트를 쓴다"),
				Check: func(e *Evidence) bool {
					return hasName(probeText(e, Host, rootfsList), "bin") && sameRoot(e) &&
						probeText(e, Inside, binFacts) == probeText(e, Host, binFacts)
				},
			},
		},
		{
			Title: i18n.T("pivot_root into it", "pivot_root로 들어가기"),
			Explain: i18n.T(
				"Now the runtime makes the directory the container's root. In the container's mount namespace it bind-mounts the directory onto itself (pivot_root(2) wants a mount point), mounts /proc, /dev and /sys inside it, and calls pivot_root(\".\", \".\"): the directory becomes the root mount with the old root stacked on top, and umount2(\".\", MNT_DETACH) takes the old root away. The host's tree is then no longer in the container's mount namespace at all. From the host, /proc/PID/root leads into the container's root.",
				"이제 런타임이 그 디렉터리를 컨테이너의 루트로 만듭니다. 컨테이너의 마운트 네임스페이스 안에서 디렉터리를 자기 자신 위에 bind 마운트하고(pivot_root(2)는 마운트 지점을 요구합니다), 그 안에 /proc, /dev, /sys를 마운트한 다음 pivot_root(\".\", \".\")를 부릅니다. 디렉터리가 루트 마운트가 되고 옛 루트는 그 위에 얹히는데, umount2(\".\", MNT_DETACH)로 옛 루트를 떼어 냅니다. 이제 호스트의 파일 트리는 컨테이너의 마운트 네임스페이스에 아예 없습니다. 호스트에서는 /proc/PID/root를 통해 컨테이너의 루트를 들여다볼 수 있습니다."),
			Syscalls: []Syscall{
				{"mount", 2, "ROOTFS, ROOTFS, MS_BIND|MS_REC"},
				{"pivot_root", 2, `".", "."`},
				{"umount2", 2, `".", MNT_DETACH`},
			},
			Shell: "unshare --mount --pid --fork sh\nmount --bind $ROOTFS $ROOTFS && cd $ROOTFS\nmount -t proc proc proc\npivot_root . . && umount -l .",
			Apply: func(l *Lab) error {
				l.Options(func(o *sandbox.Options) { o.HostRoot = false })
				return nil
			},
			Probes: []Probe{{Host, rootfsList}, {Host, rootfsSeen}, {Inside, binFacts}, {Host, binFacts}},
			Rows:   []Row{rowBinCount, rowBinSh, rowRoot, RowMounts},
			Expect: Expect{
				Text: i18n.T("the container's root is the directory; the host sees it at /proc/PID/root",
					"컨테이너의 루트는 그 디렉터리이고, 호스트는 /proc/PID/root에서 그것을 본다"),
				Check: func(e *Evidence) bool {
					seen := probeText(e, Host, rootfsSeen)
					return !sameRoot(e) && seen != "" && seen == probeText(e, Host, rootfsList) &&
						probeText(e, Inside, binFacts) != probeText(e, Host, binFacts)
				},
			},
		},
		{
			Title: i18n.T("The host's files are out of reach", "호스트의 파일에는 닿지 않는다"),
			Explain: i18n.T(
				"Inside, every path starts at the new root. /etc/os-release names the host's distribution; the root filesystem has no such file, so the container cannot open it, and no other path leads to the host's tree. The host, though, can still read the container's files through /proc/PID/root.",
				"안에서는 모든 경로가 새 루트에서 시작합니다. /etc/os-release에는 호스트의 배포판 이름이 들어 있는데, 루트 파일 시스템에는 이 파일이 없으니 컨테이너는 열 수 없습니다. 호스트의 파일 트리로 가는 다른 경로도 없습니다. 반대로 호스트는 /proc/PID/root를 통해 컨테이너의 파일을 여전히 읽을 수 있습니다."),
			Syscalls: []Syscall{{"openat", 2, `"/etc/os-release"`}},
			Shell:    "head -n1 /etc/os-release",
			Probes:   []Probe{{Inside, rootfsHostFile}, {Host, rootfsHostFile}},
			Rows:     []Row{rowFileLine(i18n.T("/etc/os-release", "/etc/os-release"), rootfsHostFile)},
			Expect: Expect{
				Text: i18n.T("the container cannot read the host's /etc/os-release",
					"컨테이너는 호스트의 /etc/os-release를 읽지 못한다"),
				Check: func(e *Evidence) bool {
					host := probeText(e, Host, rootfsHostFile)
					return probeOK(e, Host, rootfsHostFile) && host != "" &&
						!strings.Contains(probeText(e, Inside, rootfsHostFile), host)
				},
			},
		},
		{
			Title: i18n.T("The chroot breakout finds no way out", "chroot 탈출은 나갈 길을 찾지 못한다"),
			Explain: i18n.T(
				"chroot(2), the older way into a root directory, only changes where path lookups start. The old root stays mounted around the new one, and a process allowed to call chroot can climb back out: keep a handle on the current root, chroot into a subdirectory, fchdir(2) back to the handle, which is now above the root, walk up with \"..\", and chroot at the top. chroot(2) warns that it is not meant for security. `stepbox escape-chroot` does exactly this and prints every call. After pivot_root the old root is gone from the namespace: \"..\" at the top is the top itself, and the climb ends where it began.",
				"예전부터 쓰던 chroot(2)는 경로를 찾기 시작하는 곳만 바꿉니다. 옛 루트는 새 루트를 둘러싼 채 마운트되어 있고, chroot를 부를 수 있는 프로세스는 다시 기어 나올 수 있습니다. 지금 루트의 핸들을 잡아 두고, 하위 디렉터리로 chroot한 뒤, 이제 루트 바깥에 있는 그 핸들로 fchdir(2)하고, \"..\"로 끝까지 올라가 꼭대기에서 chroot하면 됩니다. chroot(2) 매뉴얼도 보안용이 아니라고 경고합니다. `stepbox escape-chroot`가 바로 이렇게 하고, 부르는 시스템 콜을 모두 출력합니다. pivot_root 뒤에는 옛 루트가 네임스페이스에서 사라졌으므로 꼭대기의 \"..\"는 꼭대기 자신이고, 올라가기는 시작한 곳에서 끝납니다."),
			Syscalls: []Syscall{{"chroot", 2, `"bin"`}, {"fchdir", 2, "old_root_fd"}, {"chdir", 2, `"..", "..", …`}},
			Shell:    rootfsEscape,
			Probes:   []Probe{{Inside, rootfsEscape}},
			Expect: Expect{
				Text: i18n.T("the breakout ends in the root it started from", "탈출 시도는 처음 루트에서 끝난다"),
				Check: func(e *Evidence) bool {
					p := e.Probe(Inside, rootfsEscape)
					return p.Code != 0 && strings.Contains(p.Output, "STILL IN")
				},
			},
		},
	},
	Demo: Demo{
		Feature: "pivot_root",
		Explain: i18n.T(
			"This run enters the root filesystem with chroot(2) instead of pivot_root(2). Paths still start at the new root, so the host's files look out of reach; but the old root is still mounted around the container, and the breakout climbs back out to the host's files.",
			"이번에는 pivot_root(2) 대신 chroot(2)로 루트 파일 시스템에 들어갑니다. 경로는 여전히 새 루트에서 시작하므로 호스트의 파일에는 닿지 않는 것처럼 보입니다. 하지만 옛 루트가 컨테이너를 둘러싼 채 마운트되어 있어서, 탈출 시도는 호스트의 파일까지 기어 나옵니다."),
		Remove: func(_ *specs.Spec, o *sandbox.Options) { o.RootfsMode = rootfs.Chroot },
		Extra: []Step{{
			Title: i18n.T("Out of the chroot: the host's whole tree", "chroot 밖으로: 호스트의 파일 트리 전체"),
			Explain: i18n.T(
				"The same breakout, quietly this time, listing / at the top it reached. It is the host's root directory: every file of the host is open to the container, as far as its privileges go. pivot_root with the old root detached is what closes this.",
				"같은 탈출을 이번에는 조용히 한 번 더 하고, 도달한 꼭대기에서 /를 나열합니다. 호스트의 루트 디렉터리입니다. 권한이 허락하는 한 호스트의 모든 파일이 컨테이너에 열려 있습니다. 이것을 막는 것이 옛 루트를 떼어 내는 pivot_root입니다."),
			Syscalls: []Syscall{{"chroot", 2, `"."`}, {"getdents64", 2, `"/"`}},
			Shell:    "chroot $ROOTFS " + rootfsEscapeLs,
			Probes:   []Probe{{Inside, rootfsEscapeLs}, {Host, rootfsHostTop}},
			Expect: Expect{
				Text: i18n.T("the host's tree stays out of reach", "호스트의 파일 트리에는 닿지 않는다"),
				Check: func(e *Evidence) bool {
					p := e.Probe(Inside, rootfsEscapeLs)
					host := probeText(e, Host, rootfsHostTop)
					return p.Code != 0 || host == "" || strings.TrimSpace(p.Output) != host
				},
			},
		}},
		Fails: []int{4, 5},
	},
	Exercises: rootfsExercises,
	Outro: i18n.T(
		"The container now has a root of its own, with its own /proc, /dev and /sys. Next: the System V IPC objects that no file system shows.",
		"이제 컨테이너는 자기 루트와 자기 /proc, /dev, /sys를 가졌습니다. 다음은 파일 시스템에 보이지 않는 System V IPC 객체입니다."),
	Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.MountNamespace, true) })
		l.Options(func(o *sandbox.Options) { o.HostRoot = false })
	},
}

// hasName reports whether a listing (`echo *`) names name.
func hasName(listing, name string) bool {
	for _, f := range strings.Fields(listing) {
		if f == name {
			return true
		}
	}
	return false
}

// rowFileLine shows the first line a command prints on each side, or "-"
// where it failed (the file is not there).
func rowFileLine(label i18n.Text, cmd string) Row {
	line := func(p ProbeResult) string {
		if p.Code != 0 {
			return "-"
		}
		l, _, _ := strings.Cut(strings.TrimSpace(p.Output), "\n")
		return l
	}
	return Row{
		Label: label,
		Host:  func(e *Evidence) string { return line(e.Probe(Host, cmd)) },
		Box:   func(e *Evidence) string { return line(e.Probe(Inside, cmd)) },
	}
}
