package lessons

import "github.com/stepbox/stepbox/internal/i18n"

// Words the runner prints around every lesson.
var (
	wLesson      = i18n.T("Lesson", "레슨")
	wStep        = i18n.T("Step", "단계")
	wSyscall     = i18n.T("system call", "시스템 콜")
	wByHand      = i18n.T("by hand", "직접 해 보기")
	wInside      = i18n.T("inside", "컨테이너 안")
	wOnHost      = i18n.T("on the host", "호스트에서")
	wHost        = i18n.T("HOST", "호스트")
	wContainer   = i18n.T("CONTAINER", "컨테이너")
	wChanged     = i18n.T("changed since the last step:", "이전 단계와 달라진 점:")
	wNoChange    = i18n.T("nothing changed since the last step", "이전 단계와 달라진 점 없음")
	wNamespaces  = i18n.T("namespaces", "네임스페이스")
	wOwn         = i18n.T("own", "분리됨")
	wShared      = i18n.T("host's", "호스트와 공유")
	wPrompt      = i18n.T("[Enter] next  [s] shell inside  [r] repeat  [q] quit", "[Enter] 다음  [s] 컨테이너 셸  [r] 다시  [q] 끝내기")
	wShellIn     = i18n.T("A shell inside the container as it stands. Type 'exit' to come back.", "지금 상태의 컨테이너 안 셸입니다. 돌아오려면 'exit'를 입력하세요.")
	wShellOut    = i18n.T("Back in the lesson.", "레슨으로 돌아왔습니다.")
	wExpectedBad = i18n.T("expected without", "없으면 이렇게 됩니다:")
	wDemo        = i18n.T("Failure demo: this run leaves out", "실패 데모: 이번에는 이 기능을 뺍니다:")
	wDemoNS      = i18n.T("It runs inside a throwaway namespace made for the demo: the real host is not touched.", "데모를 위해 만든 일회용 네임스페이스 안에서 실행하므로 실제 호스트는 건드리지 않습니다.")
	wMoreLines   = i18n.T("more lines", "줄 더 있음")
	wPassed      = i18n.T("All steps passed.", "모든 단계를 통과했습니다.")
	wFailed      = i18n.T("Some steps did not pass.", "통과하지 못한 단계가 있습니다.")
	wDemoOK      = i18n.T("The demo broke exactly what it should.", "데모는 예상한 곳에서 정확히 실패했습니다.")
	wDemoBad     = i18n.T("The demo did not break what it should.", "데모가 예상한 대로 실패하지 않았습니다.")
)

// Stopped is what the command line says when a learner quits a lesson.
var Stopped = i18n.T("Stopped. Everything the lesson made is removed.", "중단했습니다. 레슨이 만든 것은 모두 지웠습니다.")
