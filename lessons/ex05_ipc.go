package lessons

import (
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// The exercises of lesson 5 (IPC). The exercise's host has an IPC
// namespace of its own, so what the learner makes there never reaches the
// machine's.
var ipcExercises = []*Exercise{exIPCHidden, exIPCOwn}

// shmIDs lists the ids of the System V shared memory segments s sees.
func shmIDs(s nsinspect.Snapshot) string {
	var ids []string
	for _, o := range s.IPC.Shm {
		ids = append(ids, strconv.Itoa(o.ID))
	}
	if len(ids) == 0 {
		return "(none)"
	}
	return strings.Join(ids, ", ")
}

var exIPCHidden = &Exercise{
	Title: i18n.T("A segment the container cannot see", "컨테이너가 볼 수 없는 세그먼트"),
	Task: i18n.T(
		"Make a System V shared memory segment on the exercise's host (ipcmk), then start a process that cannot see it, because it has an IPC namespace of its own. Leave it running.",
		"연습용 호스트에 System V 공유 메모리 세그먼트를 하나 만들고(ipcmk), 자기 IPC 네임스페이스를 가져서 그것을 볼 수 없는 프로세스를 띄우세요. 계속 돌게 두세요."),
	Needs: []string{"ipcmk", "ipcs", "unshare", "sleep"},
	Hints: []i18n.Text{
		i18n.T("ipcmk --shmem 4096 makes a segment of 4096 bytes; ipcs -m lists the segments of the IPC namespace it runs in (/proc/sysvipc/shm).",
			"ipcmk --shmem 4096은 4096바이트짜리 세그먼트를 만듭니다. ipcs -m은 자기가 도는 IPC 네임스페이스의 세그먼트를 보여 줍니다(/proc/sysvipc/shm)."),
		i18n.T("System V objects belong to an IPC namespace, and a new one starts empty: unshare --ipc.",
			"System V 객체는 IPC 네임스페이스에 속하고, 새 네임스페이스는 비어서 시작합니다: unshare --ipc."),
	},
	Answer: "ipcmk --shmem 4096\nunshare --ipc sleep 1000 &",
	Check: func(s *Scene) Verdict {
		if len(s.Host.IPC.Shm) == 0 {
			return Verdict{Key: "no-segment",
				Seen:  []i18n.Text{i18n.T("the exercise's host has no shared memory segment", "연습용 호스트에 공유 메모리 세그먼트가 없습니다")},
				Wrong: i18n.T("there is no segment on the host to hide", "숨길 세그먼트가 호스트에 없습니다"),
				Hint:  i18n.T("ipcmk --shmem 4096, typed in this shell, makes one in the host's IPC namespace.", "이 셸에서 ipcmk --shmem 4096을 입력하면 호스트의 IPC 네임스페이스에 하나가 생깁니다."),
			}
		}
		seen := tf("the exercise's host has shared memory segments %s", "연습용 호스트에는 공유 메모리 세그먼트가 있습니다: %s", shmIDs(s.Host))
		for _, p := range s.Workers() {
			if s.Own(p, "ipc") && p.Snapshot().IPC.Err == nil && len(p.Snapshot().IPC.Shm) == 0 {
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					tf("%s, in IPC namespace %d of its own, sees none", "자기 IPC 네임스페이스 %[2]d에 있는 %[1]s 프로세스에게는 하나도 보이지 않습니다", p, p.NS("ipc").Inode)}}
			}
		}
		if w := s.Workers(); len(w) > 0 {
			p := w[0]
			return Verdict{Key: "shares",
				Seen:  []i18n.Text{seen, tf("%s sees segments %s", "%s 프로세스에게는 세그먼트가 보입니다: %s", p, shmIDs(p.Snapshot()))},
				Wrong: tf("%s shares the host's IPC namespace: it can attach the host's segments (shmat)", "%s 프로세스는 호스트의 IPC 네임스페이스를 함께 씁니다. 호스트의 세그먼트에 붙을(shmat) 수 있습니다", p),
				Hint:  i18n.T("Start it in an IPC namespace of its own: unshare --ipc sleep 1000 &", "자기 IPC 네임스페이스 안에서 띄우세요: unshare --ipc sleep 1000 &"),
			}
		}
		return nothing(s, "no-process",
			i18n.T("no process of yours runs but shells", "셸 말고 돌고 있는 내 프로세스가 없습니다"),
			i18n.T("unshare --ipc sleep 1000 & starts one in an IPC namespace of its own.", "unshare --ipc sleep 1000 & 은 자기 IPC 네임스페이스 안에서 프로세스를 띄웁니다."))
	},
}

var exIPCOwn = &Exercise{
	Title: i18n.T("A segment only the container has", "컨테이너만 가진 세그먼트"),
	Task: i18n.T(
		"Start a process in an IPC namespace of its own that holds a shared memory segment, made inside that namespace, while the exercise's host has none. Leave it running.",
		"자기 IPC 네임스페이스를 가진 프로세스를 띄우고, 그 네임스페이스 안에서 공유 메모리 세그먼트를 하나 만드세요. 연습용 호스트에는 세그먼트가 없어야 합니다. 계속 돌게 두세요."),
	Needs: []string{"ipcmk", "unshare", "sleep"},
	Hints: []i18n.Text{
		i18n.T("ipcmk makes its segment in the IPC namespace it runs in. To make one in a new namespace, run ipcmk inside it.",
			"ipcmk는 자기가 도는 IPC 네임스페이스에 세그먼트를 만듭니다. 새 네임스페이스에 만들려면 그 안에서 ipcmk를 실행하세요."),
		i18n.T("A segment outlives ipcmk, but not its namespace: keep a process in it. unshare --ipc sh -c '…; exec sleep 1000' &",
			"세그먼트는 ipcmk가 끝나도 남지만, 네임스페이스가 사라지면 함께 사라집니다. 그 안에 프로세스를 남겨 두세요. unshare --ipc sh -c '…; exec sleep 1000' &"),
	},
	Answer: "unshare --ipc sh -c 'ipcmk --shmem 4096; exec sleep 1000' &",
	Check: func(s *Scene) Verdict {
		own := s.Where(func(p *Proc) bool { return s.Own(p, "ipc") })
		for _, p := range own {
			if len(p.Snapshot().IPC.Shm) > 0 && len(s.Host.IPC.Shm) == 0 {
				return Verdict{OK: true, Seen: []i18n.Text{
					tf("%s, in IPC namespace %d, sees segments %s", "IPC 네임스페이스 %[2]d의 %[1]s 프로세스에게는 세그먼트가 보입니다: %[3]s", p, p.NS("ipc").Inode, shmIDs(p.Snapshot())),
					i18n.T("the exercise's host sees none", "연습용 호스트에는 하나도 보이지 않습니다"),
				}}
			}
		}
		if len(s.Host.IPC.Shm) > 0 {
			return Verdict{Key: "made-on-host",
				Seen:  []i18n.Text{tf("the exercise's host has segments %s", "연습용 호스트에 세그먼트가 있습니다: %s", shmIDs(s.Host))},
				Wrong: i18n.T("the segment is in the host's IPC namespace: ipcmk ran outside the new one. Remove it with ipcrm --all=shm", "세그먼트가 호스트의 IPC 네임스페이스에 있습니다. ipcmk가 새 네임스페이스 밖에서 실행됐습니다. ipcrm --all=shm으로 지우세요"),
				Hint:  i18n.T("Run ipcmk inside the new namespace: unshare --ipc sh -c 'ipcmk --shmem 4096; exec sleep 1000' &", "ipcmk를 새 네임스페이스 안에서 실행하세요: unshare --ipc sh -c 'ipcmk --shmem 4096; exec sleep 1000' &"),
			}
		}
		if len(own) > 0 {
			return Verdict{Key: "empty",
				Seen:  []i18n.Text{tf("%s has an IPC namespace of its own, with no segment", "%s 프로세스는 자기 IPC 네임스페이스를 가졌지만 세그먼트가 없습니다", own[0])},
				Wrong: i18n.T("the new IPC namespace holds no segment", "새 IPC 네임스페이스에 세그먼트가 없습니다"),
				Hint:  i18n.T("Make it from inside: unshare --ipc sh -c 'ipcmk --shmem 4096; exec sleep 1000' &", "안에서 만드세요: unshare --ipc sh -c 'ipcmk --shmem 4096; exec sleep 1000' &"),
			}
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours has an IPC namespace of its own", "자기 IPC 네임스페이스를 가진 내 프로세스가 없습니다"),
			i18n.T("unshare --ipc starts a command in a new, empty IPC namespace.", "unshare --ipc는 비어 있는 새 IPC 네임스페이스에서 명령을 시작합니다."))
	},
}
