package lessons

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
)

// The tutorials are the course for a learner working alone: one markdown
// page per lesson and language, rendered from the same catalogue the runner
// uses, so the two cannot drift apart (a test compares them).

var (
	tTitle      = i18n.T("stepbox tutorials", "stepbox 튜토리얼")
	tIndexIntro = i18n.T(
		"Build a Linux container one kernel feature at a time, and prove every step from /proc. Each page is one lesson of `stepbox learn`; read it, type the commands, then let stepbox do the same for real and show you the evidence.",
		"리눅스 컨테이너를 커널 기능 하나씩 만들어 보고, 단계마다 /proc에서 증거를 확인합니다. 각 페이지는 `stepbox learn`의 레슨 하나입니다. 읽고, 명령을 직접 입력해 본 다음, stepbox가 같은 일을 실제로 하고 증거를 보여 주게 하세요.")
	tRun       = i18n.T("Run it with stepbox", "stepbox로 실행하기")
	tRunText   = i18n.T("As root, from the repository (the built-in root filesystem is made on first use):", "root 권한으로, 저장소에서 실행합니다(내장 루트 파일 시스템은 처음 쓸 때 만들어집니다):")
	tSteps     = i18n.T("Steps", "단계")
	tCalls     = i18n.T("System calls", "시스템 콜")
	tType      = i18n.T("Try it by hand", "직접 해 보기")
	tSee       = i18n.T("What you should see", "보게 될 것")
	tEvidence  = i18n.T("Evidence stepbox shows, host beside container", "stepbox가 보여 주는 증거(호스트와 컨테이너 나란히)")
	tDemo      = i18n.T("Failure demo", "실패 데모")
	tDemoRun   = i18n.T("It runs inside a throwaway namespace made for the demo, so the real host is never touched. These steps should fail:", "데모를 위해 만든 일회용 네임스페이스 안에서 실행되므로 실제 호스트는 건드리지 않습니다. 다음 단계가 실패해야 합니다:")
	tPrev      = i18n.T("Previous", "이전")
	tNext      = i18n.T("Next", "다음")
	tIndex     = i18n.T("All lessons", "전체 레슨")
	tGenerated = i18n.T("Generated from the lesson catalogue by `make tutorials`; do not edit by hand.", "`make tutorials`가 레슨 카탈로그에서 만든 파일입니다. 직접 고치지 마세요.")
	tOther     = i18n.T("한국어", "English")
	tLessonCol = i18n.T("Lesson", "레슨")
	tShowsCol  = i18n.T("What it shows", "보여 주는 것")
	tDemoCol   = i18n.T("Failure demo", "실패 데모")
	tExCol     = i18n.T("Exercises", "연습 문제")
	tExercises = i18n.T("Exercises", "연습 문제")
	tExIntro   = i18n.T(
		"Now do it yourself. Each exercise opens a shell in a throwaway namespace made for it (its host is called exercise-host, and whatever you break there goes when you leave); `stepbox exercise check` reads what you made from the kernel and says ✓, or ✗ with what is wrong and a first hint. Try before you open a hint: the last one is the answer.",
		"이제 직접 해 볼 차례입니다. 연습 문제마다 그것을 위해 만든 일회용 네임스페이스 안에 셸이 열립니다(호스트 이름은 exercise-host이고, 거기서 무엇을 망가뜨려도 나오면 사라집니다). `stepbox exercise check`는 내가 만든 것을 커널에서 읽어 ✓, 또는 ✗와 함께 틀린 점과 첫 힌트를 알려 줍니다. 힌트를 열기 전에 먼저 해 보세요. 마지막 힌트가 정답입니다.")
	tExStart   = i18n.T("Start it, then check it in the shell it opens:", "시작한 다음, 열린 셸에서 검사하세요:")
	tExHint    = i18n.T("Hint", "힌트")
	tExAnswer  = i18n.T("The answer", "정답")
	tExPending = i18n.T("This lesson's exercises are written with the lesson; they are not here yet.", "이 레슨의 연습 문제는 레슨과 함께 쓰고 있어서 아직 없습니다.")
)

// TutorialFiles renders every page: file name → content.
func TutorialFiles() map[string]string {
	files := map[string]string{}
	all := Catalogue()
	for _, lang := range i18n.Langs {
		files[indexName(lang)] = renderIndex(all, lang)
		for n, l := range all {
			files[pageName(n, l, lang)] = renderPage(all, n, lang)
		}
	}
	return files
}

// WriteTutorials writes every page into dir, removing pages of lessons that
// no longer exist.
func WriteTutorials(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := TutorialFiles()
	old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, p := range old {
		if _, ok := files[filepath.Base(p)]; !ok {
			os.Remove(p)
		}
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func suffix(lang i18n.Lang) string {
	if lang == i18n.English {
		return ".md"
	}
	return "." + string(lang) + ".md"
}

func other(lang i18n.Lang) i18n.Lang {
	if lang == i18n.English {
		return i18n.Korean
	}
	return i18n.English
}

func indexName(lang i18n.Lang) string { return "README" + suffix(lang) }

func pageName(n int, l *Lesson, lang i18n.Lang) string {
	return fmt.Sprintf("%02d-%s%s", n, l.ID, suffix(lang))
}

func renderIndex(all []*Lesson, lang i18n.Lang) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n[%s](%s)\n\n%s\n\n", tTitle.In(lang), tOther.In(lang), indexName(other(lang)), tIndexIntro.In(lang))
	fmt.Fprintf(&b, "| # | %s | %s | %s | %s |\n|---|---|---|---|---|\n", tLessonCol.In(lang), tShowsCol.In(lang), tDemoCol.In(lang), tExCol.In(lang))
	for n, l := range all {
		fmt.Fprintf(&b, "| %d | [%s](%s) | %s | `--without %s` | %d |\n", n, l.Title.In(lang), pageName(n, l, lang), l.Summary.In(lang), l.Demo.Feature, len(l.Exercises))
	}
	fmt.Fprintf(&b, "\n%s\n\n```sh\nmake build\n./bin/stepbox lessons\n./bin/stepbox tour\n```\n\n_%s_\n", tRunText.In(lang), tGenerated.In(lang))
	return b.String()
}

func renderPage(all []*Lesson, n int, lang i18n.Lang) string {
	l := all[n]
	var b strings.Builder
	fmt.Fprintf(&b, "# %d. %s\n\n[%s](%s) · [%s](%s)\n\n", n, l.Title.In(lang),
		tIndex.In(lang), indexName(lang), tOther.In(lang), pageName(n, l, other(lang)))
	fmt.Fprintf(&b, "_%s_\n\n%s\n\n", l.Summary.In(lang), l.Intro.In(lang))
	fmt.Fprintf(&b, "## %s\n\n", tSteps.In(lang))
	for i, st := range l.Steps {
		renderStep(&b, i+1, st, lang)
	}
	fmt.Fprintf(&b, "## %s: `--without %s`\n\n%s\n\n%s\n\n", tDemo.In(lang), l.Demo.Feature, l.Demo.Explain.In(lang), tDemoRun.In(lang))
	steps := append(append([]Step{}, l.Steps...), l.Demo.Extra...)
	for _, f := range l.Demo.Fails {
		if f >= 1 && f <= len(steps) {
			fmt.Fprintf(&b, "- ✗ %d. %s: %s\n", f, steps[f-1].Title.In(lang), steps[f-1].Expect.Text.In(lang))
		}
	}
	for i, st := range l.Demo.Extra {
		b.WriteString("\n")
		renderStep(&b, len(l.Steps)+i+1, st, lang)
	}
	fmt.Fprintf(&b, "\n## %s\n\n%s\n\n```sh\nstepbox learn %s%s\nstepbox learn %s --without %s%s\n```\n\n",
		tRun.In(lang), tRunText.In(lang), l.ID, langFlag(lang), l.ID, l.Demo.Feature, langFlag(lang))
	renderExercises(&b, n, l, lang)
	if l.Outro.En != "" {
		fmt.Fprintf(&b, "%s\n\n", l.Outro.In(lang))
	}
	var nav []string
	if n > 0 {
		nav = append(nav, fmt.Sprintf("← %s: [%s](%s)", tPrev.In(lang), all[n-1].Title.In(lang), pageName(n-1, all[n-1], lang)))
	}
	if n+1 < len(all) {
		nav = append(nav, fmt.Sprintf("%s: [%s](%s) →", tNext.In(lang), all[n+1].Title.In(lang), pageName(n+1, all[n+1], lang)))
	}
	if len(nav) > 0 {
		fmt.Fprintf(&b, "%s\n\n", strings.Join(nav, " · "))
	}
	fmt.Fprintf(&b, "_%s_\n", tGenerated.In(lang))
	return b.String()
}

func langFlag(lang i18n.Lang) string {
	if lang == i18n.English {
		return ""
	}
	return " --lang " + string(lang)
}

func renderStep(b *strings.Builder, n int, st Step, lang i18n.Lang) {
	fmt.Fprintf(b, "### %d. %s\n\n%s\n\n", n, st.Title.In(lang), st.Explain.In(lang))
	if len(st.Syscalls) > 0 {
		var calls []string
		for _, sc := range st.Syscalls {
			c := fmt.Sprintf("[`%s(%d)`](%s)", sc.Name, sc.Section, sc.ManURL())
			if sc.Args != "" {
				c += " `" + sc.Args + "`"
			}
			calls = append(calls, c)
		}
		fmt.Fprintf(b, "**%s:** %s\n\n", tCalls.In(lang), strings.Join(calls, ", "))
	}
	if st.Shell != "" {
		fmt.Fprintf(b, "**%s:**\n\n```sh\n%s\n```\n\n", tType.In(lang), st.Shell)
	}
	if len(st.Rows) > 0 {
		var labels []string
		for _, r := range st.Rows {
			labels = append(labels, r.Label.In(lang))
		}
		fmt.Fprintf(b, "**%s:** %s\n\n", tEvidence.In(lang), strings.Join(labels, " · "))
	}
	if !st.Expect.Text.IsZero() {
		fmt.Fprintf(b, "**%s:** ✓ %s\n\n", tSee.In(lang), st.Expect.Text.In(lang))
	}
}

// renderExercises writes a lesson's exercises: each task, how to start and
// check it, and the hints folded away (the answer last), so that a learner
// reading alone tries before looking.
func renderExercises(b *strings.Builder, n int, l *Lesson, lang i18n.Lang) {
	fmt.Fprintf(b, "## %s\n\n", tExercises.In(lang))
	if len(l.Exercises) == 0 {
		if _, pending := exercisesPending[n]; pending {
			fmt.Fprintf(b, "%s\n\n", tExPending.In(lang))
		}
		return
	}
	fmt.Fprintf(b, "%s\n\n", tExIntro.In(lang))
	for _, ex := range l.Exercises {
		fmt.Fprintf(b, "### %s · %s\n\n%s\n\n%s\n\n```sh\nsudo stepbox exercise start %s%s\nstepbox exercise check\n```\n\n",
			ex.ID(), ex.Title.In(lang), ex.Task.In(lang), tExStart.In(lang), ex.ID(), langFlag(lang))
		for i, h := range ex.Hints {
			fmt.Fprintf(b, "<details><summary>%s %d</summary>\n\n%s\n\n</details>\n\n", tExHint.In(lang), i+1, h.In(lang))
		}
		fmt.Fprintf(b, "<details><summary>%s</summary>\n\n```sh\n%s\n```\n\n</details>\n\n", tExAnswer.In(lang), strings.TrimSpace(ex.Answer))
	}
}
