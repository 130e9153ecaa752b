package lessons

import (
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// The exercises of lesson 4 (root filesystem). Each session gets a copy of
// the built-in root filesystem of its own in $ROOTFS, so the learner may
// change it as they like.
var rootfsExercises = []*Exercise{exRootfsPivot, exRootfsProc}

// inRootfs lists the learner's processes whose / is the session's $ROOTFS.
func inRootfs(s *Scene) []*Proc {
	dev, ino, ok := statOf(s.Path(s.Session.Rootfs))
	if !ok {
		return nil
	}
	return s.Where(func(p *Proc) bool {
		r := p.Snapshot().Root
		return r.Known() && r.Dev == dev && r.Inode == ino
	})
}

// hostTree is a mount of p's table that holds the host's whole file tree
// (the host's root file system from its top): the old root, left mounted.
func hostTree(s *Scene, p *Proc) (nsinspect.Mount, bool) {
	host, ok := rootMount(s.Host)
	if !ok {
		return nsinspect.Mount{}, false
	}
	for _, m := range p.Snapshot().Mounts.Entries {
		if m.Major == host.Major && m.Minor == host.Minor && m.Root == host.Root && m.MountPoint != "/" {
			return m, true
		}
	}
	return nsinspect.Mount{}, false
}

// pivoted judges the processes whose / is $ROOTFS: reached by pivot_root in
// a mount namespace of their own, with the old root gone. A process whose
// / is no mount at all was put there by chroot(2), which leaves the mount
// namespace's root where it was (the chroot breakout of the lesson). A
// chroot into a directory first made a mount of its own, in a namespace of
// its own, reads the same in /proc as pivot_root: /proc/PID/mountinfo
// shows only what is below the process's root. The breakout tells the two
// apart; a check that only reads cannot, and lets it pass.
func pivoted(s *Scene) ([]*Proc, Verdict) {
	var good []*Proc
	var last Verdict
	for _, p := range inRootfs(s) {
		snap := p.Snapshot()
		if _, mounted := rootMount(snap); !mounted || !s.Own(p, "mnt") {
			last = Verdict{Key: "chroot",
				Seen:  []i18n.Text{tf("%s has $ROOTFS as its /, but no mount is there: chroot(2) put it there", "%s 프로세스의 /는 $ROOTFS이지만 거기에 마운트가 없습니다. chroot(2)로 들어간 것입니다", p)},
				Wrong: tf("%s only had its root directory changed: its mount namespace still has the host's root, and the chroot breakout of the lesson gets back to it", "%s 프로세스는 루트 디렉터리만 바뀌었습니다. 마운트 네임스페이스의 루트는 여전히 호스트의 것이고, 레슨의 chroot 탈출로 거기로 돌아갈 수 있습니다", p),
				Hint:  i18n.T("pivot_root(2) needs a mount namespace of its own and a new root that is a mount: unshare --mount, then mount --bind $ROOTFS $ROOTFS, cd into it, pivot_root . .old (after mkdir .old).", "pivot_root(2)에는 자기 마운트 네임스페이스와, 마운트인 새 루트가 필요합니다. unshare --mount를 한 다음 mount --bind $ROOTFS $ROOTFS, 그 안으로 cd, (mkdir .old 뒤에) pivot_root . .old입니다."),
			}
			continue
		}
		if m, left := hostTree(s, p); left {
			last = Verdict{Key: "old-root",
				Seen:  []i18n.Text{tf("%s's / is $ROOTFS, by pivot_root", "%s 프로세스의 /는 pivot_root로 들어간 $ROOTFS입니다", p)},
				Wrong: tf("the host's whole tree is still mounted in its namespace, at %s: every host file is one cd away", "호스트의 파일 트리 전체가 아직 그 네임스페이스의 %s에 마운트되어 있습니다. 호스트의 어떤 파일이든 cd 한 번이면 닿습니다", m.MountPoint),
				Hint:  i18n.T("After pivot_root, detach the old root from inside: umount -l /.old (a lazy unmount, as the old root is busy).", "pivot_root 다음에 안에서 옛 루트를 떼어 내세요: umount -l /.old (옛 루트는 사용 중이라 지연 해제합니다)."),
			}
			continue
		}
		good = append(good, p)
	}
	if len(good) > 0 || last.Key != "" {
		return good, last
	}
	return nil, nothing(s, "no-root",
		i18n.T("no process of yours has $ROOTFS as its /", "/가 $ROOTFS인 내 프로세스가 없습니다"),
		i18n.T("In a new mount namespace (unshare --mount sh -c '…' &), make $ROOTFS a mount (mount --bind $ROOTFS $ROOTFS), go in, and pivot_root . .old.", "새 마운트 네임스페이스(unshare --mount sh -c '…' &)에서 $ROOTFS를 마운트로 만들고(mount --bind $ROOTFS $ROOTFS), 그 안으로 들어가서 pivot_root . .old 하세요."))
}

var exRootfsPivot = &Exercise{
	Title: i18n.T("pivot_root, not chroot", "chroot가 아니라 pivot_root"),
	Task: i18n.T(
		"$ROOTFS is a copy of the built-in root filesystem made for this exercise. Start a process whose / is $ROOTFS, entered with pivot_root in a mount namespace of its own (not with chroot), and with the old root unmounted, so the host's files are out of its reach. Leave it running.",
		"$ROOTFS는 이 연습 문제를 위해 만든 내장 루트 파일 시스템의 복사본입니다. 자기 마운트 네임스페이스 안에서 pivot_root로(chroot가 아니라) $ROOTFS에 들어가 그것을 /로 삼고, 옛 루트는 마운트를 풀어 호스트의 파일에 닿지 못하는 프로세스를 띄우세요. 계속 돌게 두세요."),
	Needs:  []string{"unshare", "mount", "pivot_root", "umount", "sleep"},
	Rootfs: true,
	Hints: []i18n.Text{
		i18n.T("pivot_root(2) swaps the root of the mount namespace: the new root must be a mount (mount --bind $ROOTFS $ROOTFS makes it one), and the old root lands in a directory inside it.",
			"pivot_root(2)는 마운트 네임스페이스의 루트를 바꿔 끼웁니다. 새 루트는 마운트여야 하고(mount --bind $ROOTFS $ROOTFS로 마운트로 만들 수 있습니다), 옛 루트는 그 안의 디렉터리로 옮겨집니다."),
		i18n.T("All of it runs inside one unshare --mount sh -c '…' &: bind, cd $ROOTFS, mkdir -p .old, pivot_root . .old, umount -l /.old, exec sleep 1000. After pivot_root, sleep and umount are the root filesystem's own.",
			"모두 unshare --mount sh -c '…' & 하나 안에서 합니다. bind, cd $ROOTFS, mkdir -p .old, pivot_root . .old, umount -l /.old, exec sleep 1000 순서입니다. pivot_root 뒤의 sleep과 umount는 루트 파일 시스템 안의 것입니다."),
	},
	Answer: "unshare --mount sh -c 'mount --bind $ROOTFS $ROOTFS; cd $ROOTFS; mkdir -p .old; pivot_root . .old; umount -l /.old; exec sleep 1000' &",
	Check: func(s *Scene) Verdict {
		good, v := pivoted(s)
		if len(good) == 0 {
			return v
		}
		p := good[0]
		m, _ := rootMount(p.Snapshot())
		return Verdict{OK: true, Seen: []i18n.Text{
			tf("%s's / is $ROOTFS, the root of its mount namespace %d", "%s 프로세스의 /는 자기 마운트 네임스페이스 %d의 루트인 $ROOTFS입니다", p, p.NS("mnt").Inode),
			tf("its mount table has %d mounts, none of them the host's tree (the mount at / is %s of device %d:%d)", "그 마운트 테이블에는 마운트가 %d개 있고, 호스트의 트리는 하나도 없습니다(/의 마운트는 장치 %[3]d:%[4]d의 %[2]s)", len(p.Snapshot().Mounts.Entries), m.Root, m.Major, m.Minor),
		}}
	},
}

var exRootfsProc = &Exercise{
	Title: i18n.T("A container's first process, by hand", "컨테이너의 첫 프로세스를 손으로"),
	Task: i18n.T(
		"Put the last lessons together: a process that is PID 1 of a new PID namespace, whose / is $ROOTFS by pivot_root with the old root unmounted, and which has a /proc of its own there, for its own PID namespace. Leave it running.",
		"지난 레슨들을 합치세요. 새 PID 네임스페이스의 PID 1이고, 옛 루트를 떼어 낸 pivot_root로 $ROOTFS를 /로 삼았으며, 거기에 자기 PID 네임스페이스를 위한 자기만의 /proc을 가진 프로세스를 띄우세요. 계속 돌게 두세요."),
	Needs:  []string{"unshare", "mount", "pivot_root", "umount", "sleep"},
	Rootfs: true,
	Hints: []i18n.Text{
		i18n.T("unshare --mount --pid --fork gives the PID and mount namespaces; the forked child, PID 1, does the pivot_root of the exercise before.",
			"unshare --mount --pid --fork가 PID와 마운트 네임스페이스를 줍니다. fork된 자식(PID 1)이 앞 연습 문제의 pivot_root를 합니다."),
		i18n.T("A proc shows the PID namespace of whoever mounts it: mount -t proc proc /proc after pivot_root, from inside the new PID namespace.",
			"proc은 그것을 마운트한 쪽의 PID 네임스페이스를 보여 줍니다. pivot_root 뒤에 새 PID 네임스페이스 안에서 mount -t proc proc /proc 하세요."),
	},
	Answer: "unshare --mount --pid --fork sh -c 'mount --bind $ROOTFS $ROOTFS; cd $ROOTFS; mkdir -p .old; pivot_root . .old; umount -l /.old; mount -t proc proc /proc; exec sleep 1000' &",
	Check: func(s *Scene) Verdict {
		good, v := pivoted(s)
		if len(good) == 0 {
			return v
		}
		// pivot_root moves every process of the namespace whose root was
		// the old one (unshare, PID 1's parent, too): the first process
		// of the new PID namespace is the one to judge.
		p := good[0]
		for _, q := range good {
			if ns := q.Snapshot().Status.NSpid; s.Own(q, "pid") && len(ns) > 1 && ns[len(ns)-1] == 1 {
				p = q
			}
		}
		nspid := p.Snapshot().Status.NSpid
		if !s.Own(p, "pid") || len(nspid) < 2 || nspid[len(nspid)-1] != 1 {
			return Verdict{Key: "no-pid-ns",
				Seen:  []i18n.Text{tf("%s's / is $ROOTFS, by pivot_root (NSpid %v)", "%s 프로세스의 /는 pivot_root로 들어간 $ROOTFS입니다(NSpid %v)", p, nspid)},
				Wrong: tf("%s is not PID 1 of a PID namespace of its own", "%s 프로세스는 자기 PID 네임스페이스의 PID 1이 아닙니다", p),
				Hint:  i18n.T("Add --pid --fork to unshare: the forked child is PID 1 of the new namespace, and does the rest.", "unshare에 --pid --fork를 더하세요. fork된 자식이 새 네임스페이스의 PID 1이 되어 나머지를 합니다."),
			}
		}
		m, mounted := nsinspect.At(p.Snapshot().Mounts.Entries, "/proc")
		_, ino, ok := statOf(p.In("/proc/1/ns/pid"))
		if !mounted || m.FSType != "proc" || !ok || ino != p.NS("pid").Inode {
			return Verdict{Key: "no-proc",
				Seen:  []i18n.Text{tf("%s is PID 1 in its own PID namespace, its / is $ROOTFS", "%s 프로세스는 자기 PID 네임스페이스의 PID 1이고, 그 /는 $ROOTFS입니다", p)},
				Wrong: i18n.T("it has no /proc for its PID namespace: ps there finds nothing, or the wrong processes", "그 PID 네임스페이스를 위한 /proc이 없습니다. 거기서 ps는 아무것도 찾지 못하거나 엉뚱한 프로세스를 보여 줍니다"),
				Hint:  i18n.T("After pivot_root and before exec sleep: mount -t proc proc /proc.", "pivot_root 뒤, exec sleep 앞에: mount -t proc proc /proc."),
			}
		}
		return Verdict{OK: true, Seen: []i18n.Text{
			tf("%s is PID 1 of PID namespace %d (NSpid %v)", "%s 프로세스는 PID 네임스페이스 %d의 PID 1입니다(NSpid %v)", p, p.NS("pid").Inode, nspid),
			i18n.T("its / is $ROOTFS by pivot_root, with no trace of the host's tree", "그 /는 pivot_root로 들어간 $ROOTFS이고, 호스트의 트리는 흔적도 없습니다"),
			i18n.T("its /proc is a proc of its own namespace: /proc/1 there is itself", "그 /proc은 자기 네임스페이스의 proc입니다. 거기서 /proc/1은 자기 자신입니다"),
		}}
	},
}
