package lessons

import (
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register(lessonMount) }

const (
	// mountTmpfsSource names the lesson's tmpfs, so that it can be told
	// apart from anything the host mounted at the same place.
	mountTmpfsSource = "box-tmpfs"
	mountTmpfs       = "mount -t tmpfs " + mountTmpfsSource + " /mnt"
	// mountsAtMnt reads the mount table the kernel keeps for the reader's
	// mount namespace (proc(5), /proc/PID/mounts): findmnt(8) by hand.
	mountsAtMnt = "grep ' /mnt ' /proc/self/mounts"
	// mountProc mounts a proc of the container's PID namespace over /proc,
	// as `unshare --mount-proc` does: /proc is made private first
	// (MS_PRIVATE|MS_REC, unshare(1)), so the new proc stays in this mount
	// namespace even where "/" was left shared.
	mountProc = "mount --make-rprivate /proc && mount -t proc proc /proc"
	mountPS   = "ps -e"
)

var lessonMount = &Lesson{
	ID:      "mount",
	Title:   i18n.T("Mount: a mount table of its own", "마운트: 자기만의 마운트 테이블"),
	Summary: i18n.T("a private copy of the mounts, a /proc of its own, a tmpfs the host never sees", "마운트의 개인 사본, 자기 /proc, 호스트에는 보이지 않는 tmpfs"),
	Intro: i18n.T(
		"The mount namespace was the first namespace (Linux 2.4.19, 2002), which is why its flag is plainly CLONE_NEWNS. It gives a process its own list of mounts: what it mounts or unmounts changes its own list only. A new one starts as a copy of its parent's list (mount_namespaces(7)).",
		"마운트 네임스페이스는 가장 먼저 생긴 네임스페이스입니다(Linux 2.4.19, 2002년). 그래서 플래그 이름도 그냥 CLONE_NEWNS입니다. 마운트 네임스페이스는 프로세스에게 자기만의 마운트 목록을 줍니다. 그 안에서 마운트하거나 해제하면 자기 목록만 바뀝니다. 새 네임스페이스는 부모의 목록을 복사해서 시작합니다(mount_namespaces(7))."),
	Needs: Needs{Inside: []string{"cat", "grep", "ls", "mount", "ps"}, Host: []string{"cat", "grep", "ls"}},
	Steps: []Step{
		{
			Title: i18n.T("A new mount namespace: a private copy", "새 마운트 네임스페이스: 개인 사본"),
			Explain: i18n.T(
				"The runtime adds CLONE_NEWNS to clone(2). The container gets a copy of the host's mount table: the same mounts, in a namespace with a new inode. Before anything else it makes every mount of its copy private with mount(2) MS_REC|MS_PRIVATE, so that nothing it mounts later travels to the host, and nothing the host mounts travels in. The mountinfo table is read from the host, in /proc/PID/mountinfo.",
				"런타임이 clone(2)에 CLONE_NEWNS를 더합니다. 컨테이너는 호스트 마운트 테이블의 사본을 받습니다. 마운트는 똑같지만 네임스페이스의 아이노드는 새것입니다. 런타임은 가장 먼저 mount(2)에 MS_REC|MS_PRIVATE를 주어 사본의 모든 마운트를 private으로 바꿉니다. 그래야 나중에 안에서 마운트한 것이 호스트로 건너가지 않고, 호스트에서 마운트한 것도 안으로 건너오지 않습니다. 마운트 테이블은 호스트에서 /proc/PID/mountinfo로 읽었습니다."),
			Syscalls: []Syscall{{"clone", 2, "CLONE_NEWNS"}, {"mount", 2, `"/", MS_REC|MS_PRIVATE`}},
			Shell:    "unshare --mount --propagation private sh",
			Apply: func(l *Lab) error {
				l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.MountNamespace, true) })
				l.Options(func(o *sandbox.Options) { o.HostRoot = true })
				return nil
			},
			Rows: []Row{RowNS("mnt"), rowMountsOutside, rowRootPropagation},
			Expect: Expect{
				Text: i18n.T("its own mount namespace, holding a copy of the host's mounts",
					"자기 마운트 네임스페이스에 호스트 마운트의 사본이 있다"),
				Check: func(e *Evidence) bool { return e.Isolated("mnt") && copiesHostMounts(e) },
			},
		},
		{
			Title: i18n.T("A /proc of its own: ps shows only the container", "자기 /proc: ps에 컨테이너만 보인다"),
			Explain: i18n.T(
				"Here is the answer to the last lesson's question. Inside its own mount namespace the container may mount a new proc file system over /proc, and a proc shows the PID namespace of whoever mounts it (proc(5)). Like `unshare --mount-proc` (unshare(1)), we first make /proc private, so that the new proc could never reach the host's /proc even where / is shared. Now /proc/1 is our own first process and ps sees only the container.",
				"지난 레슨의 질문에 대한 답입니다. 자기 마운트 네임스페이스 안에서는 /proc 위에 새 proc 파일 시스템을 마운트할 수 있고, proc은 그것을 마운트한 쪽의 PID 네임스페이스를 보여 줍니다(proc(5)). `unshare --mount-proc`처럼(unshare(1)) 먼저 /proc을 private으로 만들어 둡니다. 그러면 /가 shared로 남아 있는 곳에서도 새 proc이 호스트의 /proc으로 건너갈 수 없습니다. 이제 /proc/1은 우리 자신의 첫 프로세스이고, ps에는 컨테이너만 보입니다."),
			Syscalls: []Syscall{{"mount", 2, `"/proc", MS_REC|MS_PRIVATE`}, {"mount", 2, `"proc", "/proc", "proc"`}},
			Shell:    "mount --make-rprivate /proc\nmount -t proc proc /proc\nps -e",
			Apply: func(l *Lab) error {
				_, err := insideOK(l, mountProc)
				return err
			},
			Probes: []Probe{{Inside, mountPS}, {Inside, procFacts}, {Host, procFacts}},
			Rows:   []Row{rowProc1, rowProcs},
			Expect: Expect{
				Text: i18n.T("inside, /proc/1 is the container's first process; the host's are gone",
					"안에서 /proc/1은 컨테이너의 첫 프로세스이고 호스트의 프로세스는 사라졌다"),
				Check: func(e *Evidence) bool {
					in, _ := strconv.Atoi(probeLine(e, Inside, procFacts, 1))
					host, _ := strconv.Atoi(probeLine(e, Host, procFacts, 1))
					return probeLine(e, Inside, procFacts, 0) == e.Outside.Status.Name &&
						in > 0 && in < 10 && in < host
				},
			},
		},
		{
			Title: i18n.T("A tmpfs inside, absent on the host", "안에서 마운트한 tmpfs는 호스트에 없다"),
			Explain: i18n.T(
				"The container mounts a tmpfs (a file system in memory) on /mnt. It goes into the container's mount table only: the host's /mnt is untouched, and when the namespace goes, so does the mount.",
				"컨테이너가 /mnt에 tmpfs(메모리 위의 파일 시스템)를 마운트합니다. 이 마운트는 컨테이너의 마운트 테이블에만 들어갑니다. 호스트의 /mnt는 그대로이고, 네임스페이스가 사라지면 마운트도 함께 사라집니다."),
			Syscalls: []Syscall{{"mount", 2, `"` + mountTmpfsSource + `", "/mnt", "tmpfs"`}},
			Shell:    mountTmpfs + "\nfindmnt /mnt",
			Apply: func(l *Lab) error {
				_, err := insideOK(l, mountTmpfs)
				return err
			},
			Probes: []Probe{{Inside, mountsAtMnt}, {Host, mountsAtMnt}},
			Rows:   []Row{rowMountSource("/mnt"), rowMountsOutside},
			Expect: Expect{
				Text: i18n.T("the tmpfs is mounted inside and not on the host", "tmpfs는 안에만 마운트되고 호스트에는 없다"),
				Check: func(e *Evidence) bool {
					return mountBySource(e.Outside, "/mnt", mountTmpfsSource) &&
						!mountBySource(e.Host, "/mnt", mountTmpfsSource)
				},
			},
		},
		{
			Title: i18n.T("Propagation: why / was made private", "전파: /를 private으로 만든 이유"),
			Explain: i18n.T(
				"Every mount has a propagation type (mount_namespaces(7)). A shared mount is in a peer group, shared:N in mountinfo, and a mount or unmount under one peer is repeated under every other. A new mount namespace copies shared mounts into the same peer groups, and systemd makes / shared at boot. So a runtime that skips MS_PRIVATE leaks every mount of its container onto the host: a classic bug of home-made containers. The check: no mount of ours may be in a peer group of the host's.",
				"마운트마다 전파 방식이 있습니다(mount_namespaces(7)). shared 마운트는 피어 그룹에 속하고 mountinfo에 shared:N으로 표시되며, 한 피어 아래에서 마운트하거나 해제하면 다른 모든 피어에서도 똑같이 일어납니다. 새 마운트 네임스페이스는 shared 마운트를 같은 피어 그룹 그대로 복사하고, systemd는 부팅할 때 /를 shared로 만듭니다. 그래서 MS_PRIVATE를 빠뜨린 런타임은 컨테이너의 마운트를 모두 호스트에 흘립니다. 직접 만든 컨테이너에서 흔히 나오는 버그입니다. 확인할 것은 하나입니다. 우리 마운트 중 어느 것도 호스트의 피어 그룹에 들어 있으면 안 됩니다."),
			Syscalls: []Syscall{{"mount", 2, "MS_SHARED | MS_PRIVATE | MS_SLAVE"}},
			Shell:    "findmnt -o TARGET,PROPAGATION /\ngrep -c shared: /proc/self/mountinfo",
			Rows:     []Row{rowRootPropagation, rowPeerGroups},
			Expect: Expect{
				Text: i18n.T("no mount of the container is a peer of the host's", "컨테이너의 어떤 마운트도 호스트 마운트의 피어가 아니다"),
				Check: func(e *Evidence) bool {
					return e.Outside.Mounts.Err == nil && len(sharedWithHost(e)) == 0
				},
			},
		},
	},
	Demo: Demo{
		Feature: "private",
		Explain: i18n.T(
			"This run leaves out the step that makes the container's copy private (mount --make-rprivate /), as a home-made runtime might. The demo's host has / shared, as systemd makes it, so the container's mounts stay peers of the host's: the tmpfs it mounts on /mnt appears on the host too.",
			"이번에는 컨테이너의 사본을 private으로 만드는 단계(mount --make-rprivate /)를 뺍니다. 직접 만든 런타임이 흔히 빠뜨리는 단계입니다. 데모의 호스트는 systemd가 하듯 /가 shared이므로, 컨테이너의 마운트는 호스트 마운트의 피어로 남습니다. 그래서 컨테이너가 /mnt에 마운트한 tmpfs가 호스트에도 나타납니다."),
		Remove: func(_ *specs.Spec, o *sandbox.Options) { o.KeepPropagation = true },
		Fails:  []int{3, 4},
	},
	Exercises: mountExercises,
	Outro: i18n.T(
		"The container has its own mount table and its own /proc, but it still stands in the host's tree of files. Next: a root filesystem of its own.",
		"컨테이너는 자기 마운트 테이블과 자기 /proc을 가졌지만, 아직 호스트의 파일 트리 위에 서 있습니다. 다음 레슨에서는 자기만의 루트 파일 시스템을 줍니다."),
	Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.MountNamespace, true) })
		l.Options(func(o *sandbox.Options) { o.HostRoot = true })
	},
}

// copiesHostMounts reports whether the container's mount table is a copy of
// the host's: nearly every mount point of the host is in it (the host may
// mount or unmount something between the copy and the look).
func copiesHostMounts(e *Evidence) bool {
	box := map[string]bool{}
	for _, m := range e.Outside.Mounts.Entries {
		box[m.MountPoint] = true
	}
	found := 0
	for _, m := range e.Host.Mounts.Entries {
		if box[m.MountPoint] {
			found++
		}
	}
	n := len(e.Host.Mounts.Entries)
	return n > 0 && found*10 >= n*9
}
