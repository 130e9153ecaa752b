package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/lessons"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// courseFindings say what the course needs and whether it is here: which
// kind of built-in root filesystem is in use (or would be built), whether
// it has every program the lessons run inside, and whether the host has
// the ones they run beside it. A missing program is a warning, not a
// failure: the runtime works without it, one lesson does not.
func courseFindings(p sandbox.Paths) []nsinspect.HostFinding {
	inside, host := lessons.CourseNeeds()
	dir := defaultRootfsDir(p)
	rootfs := nsinspect.HostFinding{ID: "course.rootfs", Status: nsinspect.Pass}
	var has func(tool string) bool
	if m, err := builtinfs.ReadManifest(dir); err == nil {
		rootfs.Value = string(m.Source)
		rootfs.Meaning = i18n.T(
			fmt.Sprintf("the built-in root filesystem at %s, made from %s on %s", dir, m.Source, m.Built.Local().Format("2006-01-02 15:04")),
			fmt.Sprintf("내장 루트 파일 시스템: %s, %s로 %s에 만듦", dir, m.Source, m.Built.Local().Format("2006-01-02 15:04")))
		has = func(tool string) bool { return builtinfs.HasTool(dir, tool) }
	} else {
		source, busybox, err := builtinfs.Pick(builtinfs.BuildOptions{})
		if err != nil {
			rootfs.Status, rootfs.Value = nsinspect.Fail, "none"
			rootfs.Meaning = i18n.T("no built-in root filesystem can be made here: "+err.Error(),
				"여기서는 내장 루트 파일 시스템을 만들 수 없습니다: "+err.Error())
			return []nsinspect.HostFinding{rootfs}
		}
		rootfs.Value = string(source) + " (not built yet)"
		if source == builtinfs.SourceBusybox {
			rootfs.Meaning = i18n.T("made on first use from the static busybox at "+busybox,
				"처음 쓸 때 "+busybox+"의 정적 busybox로 만듭니다")
			applets := builtinfs.Applets(busybox)
			has = func(tool string) bool { return slices.Contains(applets, tool) }
		} else {
			rootfs.Meaning = i18n.T("made on first use from the host's own tools and their libraries (no static busybox here)",
				"처음 쓸 때 호스트의 도구와 그 라이브러리로 만듭니다(정적 busybox가 없습니다)")
			has = func(tool string) bool { return builtinfs.HasTool("/", tool) }
		}
	}
	var missingInside []string
	for _, t := range inside {
		if t != "stepbox" && !has(t) {
			missingInside = append(missingInside, t)
		}
	}
	var missingHost []string
	for _, t := range host {
		if t != "stepbox" && !builtinfs.HasTool("/", t) {
			missingHost = append(missingHost, t)
		}
	}
	return []nsinspect.HostFinding{rootfs,
		toolsFinding("course.inside", inside, missingInside,
			i18n.T("programs the lessons run inside their containers", "레슨이 컨테이너 안에서 돌리는 프로그램"), true),
		toolsFinding("course.host", host, missingHost,
			i18n.T("programs the lessons run on the host, as witnesses", "레슨이 호스트에서 증인으로 돌리는 프로그램"), false),
	}
}

func toolsFinding(id string, all, missing []string, what i18n.Text, inRootfs bool) nsinspect.HostFinding {
	f := nsinspect.HostFinding{ID: id, Status: nsinspect.Pass}
	if len(missing) == 0 {
		f.Value = fmt.Sprintf("all %d", len(all))
		f.Meaning = i18n.T(what.En+": "+strings.Join(all, " "), what.Ko+": "+strings.Join(all, " "))
		return f
	}
	var pkgs []string
	for _, t := range missing {
		if p := builtinfs.Package(t); !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	then, thenKo := "", ""
	if inRootfs {
		then, thenKo = ", then 'stepbox rootfs --rebuild'", ", 그다음 'stepbox rootfs --rebuild'"
	}
	f.Status = nsinspect.Warn
	f.Value = "missing " + strings.Join(missing, " ")
	f.Meaning = i18n.T(
		fmt.Sprintf("%s: %d of %d here; the lessons that run the others stop with one line. Install Debian's %s%s",
			what.En, len(all)-len(missing), len(all), strings.Join(pkgs, " "), then),
		fmt.Sprintf("%s: %d개 중 %d개가 있습니다. 나머지를 쓰는 레슨은 한 줄 설명과 함께 멈춥니다. 데비안 패키지를 설치하세요: %s%s",
			what.Ko, len(all), len(all)-len(missing), strings.Join(pkgs, " "), thenKo))
	return f
}
