package lessons

import (
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// The exercises of lesson 3 (mount).
var mountExercises = []*Exercise{exMountTmpfs, exMountSlave}

// tmpfsAt reports whether the last mount at point in s is a tmpfs.
func tmpfsAt(s nsinspect.Snapshot, point string) bool {
	m, ok := nsinspect.At(s.Mounts.Entries, point)
	return ok && m.FSType == "tmpfs"
}

var exMountTmpfs = &Exercise{
	Title: i18n.T("A tmpfs the host never sees", "호스트는 결코 보지 못하는 tmpfs"),
	Task: i18n.T(
		"Start a process in a mount namespace of its own that has a tmpfs mounted at /mnt, while the exercise's host has nothing new at /mnt. Leave it running. Mind that this host's / is shared, as systemd makes it on most machines.",
		"자기 마운트 네임스페이스 안에서 /mnt에 tmpfs가 마운트된 프로세스를 띄우세요. 연습용 호스트의 /mnt에는 아무것도 새로 생기면 안 됩니다. 프로세스는 계속 돌게 두세요. 이 호스트의 /는 대부분의 기계에서 systemd가 그러듯 shared라는 점에 주의하세요."),
	Needs: []string{"unshare", "mount", "sleep"},
	Hints: []i18n.Text{
		i18n.T("unshare --mount copies the host's mount table into a new namespace; a mount made in the copy stays there, unless the copy's mounts are shared with the host's.",
			"unshare --mount는 호스트의 마운트 테이블을 새 네임스페이스로 복사합니다. 복사본에서 한 마운트는 그 안에만 남습니다. 단, 복사본의 마운트가 호스트의 것과 shared로 이어져 있지 않을 때만입니다."),
		i18n.T("One line can make the namespace, mount, and stay: unshare --mount sh -c 'mount -t tmpfs none /mnt; exec sleep 1000' &. util-linux's unshare makes every mount of the copy private (--propagation private) unless told otherwise.",
			"한 줄로 네임스페이스를 만들고, 마운트하고, 계속 돌 수 있습니다: unshare --mount sh -c 'mount -t tmpfs none /mnt; exec sleep 1000' &. util-linux의 unshare는 따로 말하지 않으면 복사본의 마운트를 모두 private(--propagation private)으로 만듭니다."),
	},
	Answer: "unshare --mount sh -c 'mount -t tmpfs none /mnt; exec sleep 1000' &",
	Check: func(s *Scene) Verdict {
		inside := s.Where(func(p *Proc) bool { return s.Own(p, "mnt") && tmpfsAt(p.Snapshot(), "/mnt") })
		if tmpfsAt(s.Host, "/mnt") {
			if len(inside) > 0 {
				return Verdict{Key: "propagated",
					Seen: []i18n.Text{
						tf("%s has a tmpfs at /mnt in a mount namespace of its own", "%s 프로세스는 자기 마운트 네임스페이스에서 /mnt에 tmpfs를 가졌습니다", inside[0]),
						i18n.T("the exercise's host has a tmpfs at /mnt too", "연습용 호스트의 /mnt에도 tmpfs가 있습니다"),
					},
					Wrong: i18n.T("the mount propagated to the host: the new namespace's mounts are still peers of the host's (shared). Unmount it on the host: umount /mnt", "마운트가 호스트로 전파됐습니다. 새 네임스페이스의 마운트가 아직 호스트의 것과 피어(shared)이기 때문입니다. 호스트에서 마운트를 푸세요: umount /mnt"),
					Hint:  i18n.T("Make the copy's mounts private before mounting: unshare --mount --propagation private (util-linux's default), not shared or unchanged.", "마운트하기 전에 복사본의 마운트를 private으로 만드세요. shared나 unchanged가 아니라 unshare --mount --propagation private(util-linux의 기본값)입니다."),
				}
			}
			return Verdict{Key: "host-mounted",
				Seen:  []i18n.Text{i18n.T("the exercise's host has a tmpfs at /mnt", "연습용 호스트의 /mnt에 tmpfs가 있습니다")},
				Wrong: i18n.T("the tmpfs was mounted in the host's own mount namespace. Unmount it: umount /mnt", "tmpfs가 호스트 자신의 마운트 네임스페이스에 마운트됐습니다. 마운트를 푸세요: umount /mnt"),
				Hint:  i18n.T("Mount from a process in a new mount namespace: unshare --mount, then mount inside it.", "새 마운트 네임스페이스에 있는 프로세스에서 마운트하세요. unshare --mount를 한 다음 그 안에서 mount합니다."),
			}
		}
		if len(inside) > 0 {
			p := inside[0]
			return Verdict{OK: true, Seen: []i18n.Text{
				tf("%s has a tmpfs at /mnt in mount namespace %d", "%s 프로세스는 마운트 네임스페이스 %d에서 /mnt에 tmpfs를 가졌습니다", p, p.NS("mnt").Inode),
				tf("the exercise's host (mount namespace %d) has none there", "연습용 호스트(마운트 네임스페이스 %d)의 /mnt에는 없습니다", s.Host.Namespace("mnt").Inode),
			}}
		}
		return nothing(s, "no-mount",
			i18n.T("no process of yours has a tmpfs at /mnt in a mount namespace of its own", "자기 마운트 네임스페이스에서 /mnt에 tmpfs를 가진 내 프로세스가 없습니다"),
			i18n.T("unshare --mount sh -c '…; exec sleep 1000' & keeps a process in the new namespace; mount -t tmpfs none /mnt goes where the dots are.", "unshare --mount sh -c '…; exec sleep 1000' & 는 새 네임스페이스에 프로세스를 남겨 둡니다. 점 자리에 mount -t tmpfs none /mnt를 넣으세요."))
	},
}

var exMountSlave = &Exercise{
	Title: i18n.T("Mounts come in, none go out", "마운트는 들어오기만 하고 나가지 않는다"),
	Task: i18n.T(
		"Start a process in a mount namespace of its own whose / receives what the host mounts later, but sends nothing back: its / must be a slave of the host's shared /. Leave it running. (This is the propagation docker gives a volume with the rslave option.)",
		"자기 마운트 네임스페이스 안에서, 호스트가 나중에 하는 마운트는 받되 자기 마운트는 돌려보내지 않는 프로세스를 띄우세요. 그 /는 호스트의 shared /의 slave여야 합니다. 계속 돌게 두세요. (docker가 볼륨에 rslave 옵션을 줄 때의 전파 방식입니다.)"),
	Needs: []string{"unshare", "sleep"},
	Hints: []i18n.Text{
		i18n.T("mount_namespaces(7): a shared mount is in a peer group (shared:N in /proc/PID/mountinfo); a slave (master:N) receives the group's mounts and sends none; a private one neither.",
			"mount_namespaces(7): shared 마운트는 피어 그룹에 속합니다(/proc/PID/mountinfo의 shared:N). slave(master:N)는 그룹의 마운트를 받기만 하고 보내지 않으며, private은 주고받지 않습니다."),
		i18n.T("unshare --propagation sets the propagation of every mount of the new namespace: private (the default), shared, slave or unchanged.",
			"unshare --propagation은 새 네임스페이스의 모든 마운트의 전파 방식을 정합니다. private(기본값), shared, slave, unchanged 가운데 하나입니다."),
	},
	Answer: "unshare --mount --propagation slave sleep 1000 &",
	Check: func(s *Scene) Verdict {
		host, ok := rootMount(s.Host)
		if !ok || host.Shared == 0 {
			return Verdict{Key: "host-private",
				Seen:  []i18n.Text{tf("the exercise's host's / is %s", "연습용 호스트의 /는 %s입니다", propagation(host))},
				Wrong: i18n.T("the exercise's host's / is no longer shared, so nothing can be a slave of it. Make it shared again: mount --make-rshared /", "연습용 호스트의 /가 더는 shared가 아니어서 무엇도 그 slave가 될 수 없습니다. 다시 shared로 만드세요: mount --make-rshared /"),
				Hint:  i18n.T("Change propagation in the new namespace, never on the host: unshare --propagation.", "전파 방식은 호스트가 아니라 새 네임스페이스에서 바꾸세요: unshare --propagation."),
			}
		}
		var last Verdict
		for _, p := range s.Where(func(p *Proc) bool { return s.Own(p, "mnt") }) {
			m, ok := rootMount(p.Snapshot())
			if !ok {
				continue
			}
			seen := tf("%s has a mount namespace of its own whose / is %s; the host's / is %s", "%s 프로세스는 자기 마운트 네임스페이스를 가졌고 그 /는 %s입니다. 호스트의 /는 %s입니다", p, propagation(m), propagation(host))
			switch {
			case m.Master == host.Shared && m.Shared != host.Shared:
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					tf("master:%d is the host's peer group: mounts come in, and none go back", "마스터 그룹(master:%d)은 호스트의 피어 그룹입니다. 마운트는 들어오기만 하고 돌아가지 않습니다", host.Shared)}}
			case m.Shared == host.Shared:
				last = Verdict{Key: "shared", Seen: []i18n.Text{seen},
					Wrong: tf("%s's / is a peer of the host's (shared:%d): its mounts go to the host as well", "%s 프로세스의 /는 호스트의 /와 피어(shared:%d)입니다. 그 마운트도 호스트로 갑니다", p, host.Shared),
					Hint:  i18n.T("A slave receives without sending: --propagation slave, not shared or unchanged.", "slave는 받기만 하고 보내지 않습니다. shared나 unchanged가 아니라 --propagation slave입니다."),
				}
			default:
				last = Verdict{Key: "private", Seen: []i18n.Text{seen},
					Wrong: tf("%s's / is not a slave of the host's: it receives nothing the host mounts", "%s 프로세스의 /는 호스트 /의 slave가 아닙니다. 호스트가 마운트하는 것을 하나도 받지 못합니다", p),
					Hint:  i18n.T("unshare makes the new namespace's mounts private unless told otherwise: --propagation slave.", "unshare는 따로 말하지 않으면 새 네임스페이스의 마운트를 private으로 만듭니다. --propagation slave를 주세요."),
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours has a mount namespace of its own", "자기 마운트 네임스페이스를 가진 내 프로세스가 없습니다"),
			i18n.T("unshare --mount COMMAND & runs COMMAND in a copy of the host's mount table.", "unshare --mount 명령 & 은 호스트 마운트 테이블의 복사본 안에서 명령을 실행합니다."))
	},
}
