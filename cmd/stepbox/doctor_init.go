package main

import (
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
)

// initFinding says what every container starts from and what stays beside
// its payload as PID 1: the binaries beside stepbox, the kernel's read-only
// view of them (Linux 6.8), and so the minimal init in C or in Go.
func initFinding() nsinspect.HostFinding {
	f := nsinspect.HostFinding{ID: "runtime.init", Needed: true}
	b, err := sandbox.Binaries()
	switch {
	case err != nil:
		judge(&f, nsinspect.Fail, "unusable", "no container can start: "+err.Error(), "컨테이너를 시작할 수 없습니다: "+err.Error())
	case b.CInit:
		judge(&f, nsinspect.Pass, "stepbox-init, C minimal init", "containers start from stepbox-init through a read-only view (CVE-2019-5736), and PID 1 beside the payload is stepbox-exec's minimal init in C: one thread",
			"컨테이너는 읽기 전용 뷰로 본 stepbox-init에서 시작하고(CVE-2019-5736), 페이로드 곁의 PID 1은 stepbox-exec의 C 최소 init, 스레드 하나입니다")
	case b.Lean && b.View:
		judge(&f, nsinspect.Warn, "stepbox-init, Go minimal init", "no trusted stepbox-exec beside stepbox (make build needs gcc and libc6-dev): PID 1 beside the payload is the Go init, several threads, and 'stepbox exec' cannot run",
			"stepbox 옆에 믿을 수 있는 stepbox-exec이 없습니다(make build에 gcc와 libc6-dev가 필요합니다): 페이로드 곁의 PID 1은 스레드 여럿인 Go init이고, 'stepbox exec'은 쓸 수 없습니다")
	case b.Lean:
		judge(&f, nsinspect.Pass, "stepbox-init copied, Go minimal init", "this kernel gives no read-only view of a binary (Linux 6.8): each container gets a sealed copy of stepbox-init, a millisecond or more, and PID 1 beside the payload is the Go init",
			"이 커널은 바이너리의 읽기 전용 뷰를 주지 않습니다(리눅스 6.8): 컨테이너마다 stepbox-init의 봉인된 복사본을 만들고(1 ms 이상), 페이로드 곁의 PID 1은 Go init입니다")
	default:
		judge(&f, nsinspect.Warn, "stepbox itself", "no trusted stepbox-init beside stepbox: containers start from stepbox's own binary, which works the same and starts slower (install both together: make build)",
			"stepbox 옆에 믿을 수 있는 stepbox-init이 없습니다: 컨테이너가 stepbox 자신에서 시작하며, 똑같이 동작하지만 더 느립니다(make build로 함께 설치하세요)")
	}
	return f
}
