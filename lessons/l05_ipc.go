package lessons

import (
	"strings"
	"sync/atomic"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register(lessonIPC) }

const (
	// ipcShmSize is the size of the lesson's segment: one page.
	ipcShmSize = 4096
	// ipcShmTable prints the first columns of /proc/sysvipc/shm (proc(5)),
	// which lists the segments of the reader's IPC namespace.
	ipcShmTable = "awk '{print $1,$2,$3,$4}' /proc/sysvipc/shm"
	ipcPosixShm = "echo hello > /dev/shm/box-note"
	ipcDevShm   = "ls /dev/shm"
)

// ipcShmID is the id of the segment the lesson made on the host's side. A
// lesson's checks see only the evidence, so the step that makes the segment
// leaves its id here; one lesson runs at a time in a runner.
var ipcShmID atomic.Int64

func init() { ipcShmID.Store(-1) }

// hasShm reports whether a snapshot's IPC namespace lists segment id.
func hasShm(s nsinspect.Snapshot, id int64) bool {
	if s.IPC.Err != nil {
		return false
	}
	for _, o := range s.IPC.Shm {
		if int64(o.ID) == id {
			return true
		}
	}
	return false
}

var lessonIPC = &Lesson{
	ID:      "ipc",
	Title:   i18n.T("IPC: System V objects of its own", "IPC: 자기만의 System V 객체"),
	Summary: i18n.T("a shared memory segment of the host, visible inside until the namespace hides it", "호스트의 공유 메모리 세그먼트가 안에서 보이다가 네임스페이스로 가려진다"),
	Intro: i18n.T(
		"System V IPC (shared memory segments, message queues, semaphore sets) is older than the idea that everything is a file: its objects are named by numbers in a table of the kernel, not by paths, so no mount namespace can hide them. The IPC namespace gives a container tables of its own, and POSIX message queues too (ipc_namespaces(7)).",
		"System V IPC(공유 메모리 세그먼트, 메시지 큐, 세마포어 집합)는 '모든 것은 파일'이라는 생각보다 오래되었습니다. 이 객체들은 경로가 아니라 커널 테이블의 번호로 불리므로, 마운트 네임스페이스로는 가릴 수 없습니다. IPC 네임스페이스는 컨테이너에게 자기만의 테이블을 주고, POSIX 메시지 큐도 따로 줍니다(ipc_namespaces(7))."),
	Needs: Needs{Inside: []string{"awk", "ls"}, Host: []string{"awk", "ls"}},
	Steps: []Step{
		{
			Title: i18n.T("A segment on the host, seen inside", "호스트의 세그먼트가 안에서도 보인다"),
			Explain: i18n.T(
				"The lesson makes a System V shared memory segment on the host's side with shmget(2), as any program there could. The container shares the host's IPC namespace, so the segment is in its table too: /proc/sysvipc/shm lists it on both sides. A process inside with the right permissions could attach it with shmat(2) and read or write the host's memory.",
				"레슨이 호스트 쪽에서 shmget(2)으로 System V 공유 메모리 세그먼트를 하나 만듭니다. 호스트의 어느 프로그램이라도 할 수 있는 일입니다. 컨테이너는 호스트의 IPC 네임스페이스를 함께 쓰므로 이 세그먼트는 컨테이너의 테이블에도 있습니다. /proc/sysvipc/shm에 양쪽 모두 나옵니다. 권한만 맞으면 안의 프로세스가 shmat(2)으로 붙어서 호스트의 메모리를 읽거나 쓸 수도 있습니다."),
			Syscalls: []Syscall{{"shmget", 2, "IPC_PRIVATE, 4096, IPC_CREAT|0600"}},
			Shell:    "ipcmk --shmem 4096\nipcs -m",
			Apply: func(l *Lab) error {
				id, err := l.HostShm(ipcShmSize)
				if err != nil {
					return err
				}
				ipcShmID.Store(int64(id))
				return nil
			},
			Probes: []Probe{{Host, ipcShmTable}, {Inside, ipcShmTable}},
			Rows:   []Row{RowNS("ipc"), RowShm},
			Expect: Expect{
				Text: i18n.T("the host's segment is in the container's table too", "호스트의 세그먼트가 컨테이너의 테이블에도 있다"),
				Check: func(e *Evidence) bool {
					id := ipcShmID.Load()
					return !e.Isolated("ipc") && hasShm(e.Host, id) && hasShm(e.Inside, id)
				},
			},
		},
		{
			Title: i18n.T("A new IPC namespace: empty tables", "새 IPC 네임스페이스: 빈 테이블"),
			Explain: i18n.T(
				"The runtime adds CLONE_NEWIPC to clone(2). Unlike a mount namespace, a new IPC namespace is not a copy: it starts with empty tables. The host's segment is gone from the container's view and still there on the host. When the last process of an IPC namespace exits, the kernel destroys every object in it (ipc_namespaces(7)), so nothing a container makes there outlives it.",
				"런타임이 clone(2)에 CLONE_NEWIPC를 더합니다. 마운트 네임스페이스와 달리 새 IPC 네임스페이스는 사본이 아니라 빈 테이블로 시작합니다. 호스트의 세그먼트는 컨테이너에서 사라졌고, 호스트에는 그대로 있습니다. IPC 네임스페이스의 마지막 프로세스가 끝나면 커널이 그 안의 객체를 모두 없애므로(ipc_namespaces(7)), 컨테이너가 거기서 만든 것은 컨테이너보다 오래 남지 않습니다."),
			Syscalls: []Syscall{{"clone", 2, "CLONE_NEWIPC"}},
			Shell:    "unshare --ipc ipcs -m",
			Apply: func(l *Lab) error {
				l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.IPCNamespace, true) })
				return nil
			},
			Probes: []Probe{{Host, ipcShmTable}, {Inside, ipcShmTable}},
			Rows:   []Row{RowNS("ipc"), RowShm},
			Expect: Expect{
				Text: i18n.T("the container's table is empty; the host keeps its segment",
					"컨테이너의 테이블은 비었고 호스트에는 세그먼트가 그대로 있다"),
				Check: func(e *Evidence) bool {
					return e.Isolated("ipc") && hasShm(e.Host, ipcShmID.Load()) &&
						e.Inside.IPC.Err == nil && len(e.Inside.IPC.Shm) == 0
				},
			},
		},
		{
			Title: i18n.T("POSIX shared memory is a file in /dev/shm", "POSIX 공유 메모리는 /dev/shm의 파일이다"),
			Explain: i18n.T(
				"The newer POSIX shared memory, shm_open(3), is not in those tables: it is a file in /dev/shm, a tmpfs. What hides it is the mount namespace and the container's own /dev/shm, mounted by the runtime since the last lesson, not the IPC namespace. So `docker run --ipc=host` shares both the tables and the host's /dev/shm.",
				"더 새로운 POSIX 공유 메모리 shm_open(3)은 그 테이블에 없습니다. tmpfs인 /dev/shm 안의 파일일 뿐입니다. 이것을 가려 주는 것은 IPC 네임스페이스가 아니라 마운트 네임스페이스와, 지난 레슨부터 런타임이 마운트해 주는 컨테이너 자신의 /dev/shm입니다. 그래서 `docker run --ipc=host`는 테이블과 호스트의 /dev/shm을 함께 공유합니다."),
			Syscalls: []Syscall{{"openat", 2, `"/dev/shm/box-note", O_CREAT`}},
			Shell:    ipcPosixShm + "\nls /dev/shm",
			Apply: func(l *Lab) error {
				_, err := insideOK(l, ipcPosixShm)
				return err
			},
			Probes: []Probe{{Inside, ipcDevShm}, {Host, ipcDevShm}},
			Rows:   []Row{rowMountSource("/dev/shm")},
			Expect: Expect{
				Text: i18n.T("the file is in the container's /dev/shm, not the host's",
					"파일은 컨테이너의 /dev/shm에만 있고 호스트의 것에는 없다"),
				Check: func(e *Evidence) bool {
					return hasName(probeText(e, Inside, ipcDevShm), "box-note") &&
						!strings.Contains(probeText(e, Host, ipcDevShm), "box-note")
				},
			},
		},
	},
	Demo: Demo{
		Feature: "ipc",
		Explain: i18n.T(
			"Without an IPC namespace the container keeps seeing every System V object of the host, and could attach the host's shared memory. That is what `docker run --ipc=host` allows on purpose.",
			"IPC 네임스페이스가 없으면 컨테이너는 호스트의 System V 객체를 계속 모두 보고, 호스트의 공유 메모리에 붙을 수도 있습니다. `docker run --ipc=host`가 일부러 허락하는 것이 바로 이것입니다."),
		Remove: withoutNS(specs.IPCNamespace),
		Fails:  []int{2},
	},
	Exercises: ipcExercises,
	Outro: i18n.T(
		"The container's IPC tables are its own. Next: the network, where a new namespace starts with almost nothing.",
		"컨테이너의 IPC 테이블은 이제 자기 것입니다. 다음은 네트워크입니다. 새 네임스페이스는 거의 아무것도 없이 시작합니다."),
	Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.IPCNamespace, true) })
	},
}
