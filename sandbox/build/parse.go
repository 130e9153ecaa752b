package build

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/stepbox/stepbox/internal/i18n"
)

// Instruction is one instruction of a Dockerfile, continuation lines
// joined, comments taken out, nothing expanded yet.
type Instruction struct {
	Line  int      // the line it starts on, from 1
	Cmd   string   // upper case: FROM, RUN, COPY, …
	Flags []string // leading --name=value words (COPY --from=build)
	// Rest is everything after the instruction word and its flags, as
	// written (continuations joined without the escape and newline, as
	// docker joins them).
	Rest string
	// JSON is set when Rest is an exec-form JSON array of strings (RUN,
	// CMD, ENTRYPOINT, SHELL, COPY, ADD, VOLUME); List holds it.
	JSON bool
	List []string
}

// Original is the instruction as written, on one line.
func (in Instruction) Original() string {
	s := in.Cmd
	for _, f := range in.Flags {
		s += " " + f
	}
	if in.Rest != "" {
		s += " " + in.Rest
	}
	return s
}

// Flag returns the value of --name=value, and whether it was given.
func (in Instruction) Flag(name string) (string, bool) {
	for _, f := range in.Flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
		if f == "--"+name {
			return "", true
		}
	}
	return "", false
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Escape rune
	// MetaArgs are the ARGs before the first FROM: only FROM lines see
	// them, and a stage's own ARG NAME takes their default.
	MetaArgs []Instruction
	Stages   []Stage
	// Warnings are one line each: a directive ignored, an empty
	// continuation line.
	Warnings []i18n.Text
}

// Stage is a FROM and the instructions up to the next FROM.
type Stage struct {
	Index int
	Name  string // after AS, lower-cased; "" when none
	From  Instruction
	Steps []Instruction
}

// Error is a Dockerfile that cannot be built, at a line.
type Error struct {
	File string
	Line int // 0 when no line is to blame
	Msg  i18n.Text
}

func (e *Error) Error() string { return e.In(i18n.English) }

// In is the error's one line in language l.
func (e *Error) In(l i18n.Lang) string {
	where := e.File
	if where == "" {
		where = "Dockerfile"
	}
	if e.Line > 0 {
		where += fmt.Sprintf(":%d", e.Line)
	}
	return where + ": " + e.Msg.In(l)
}

func errAt(line int, en, ko string, a ...any) *Error {
	return &Error{Line: line, Msg: i18n.T(fmt.Sprintf(en, a...), fmt.Sprintf(ko, a...))}
}

// supported are the instructions stepbox builds; refused are the ones
// docker knows that stepbox does not, each with why.
var supported = map[string]bool{
	"FROM": true, "RUN": true, "COPY": true, "ADD": true, "ENV": true, "ARG": true,
	"WORKDIR": true, "USER": true, "CMD": true, "ENTRYPOINT": true, "EXPOSE": true,
	"LABEL": true, "VOLUME": true, "SHELL": true, "STOPSIGNAL": true, "MAINTAINER": true,
}

var refused = map[string]i18n.Text{
	"HEALTHCHECK": i18n.T("the OCI image config has no health check and stepbox runs none; take the line out",
		"OCI 이미지 설정에는 헬스 체크가 없고 stepbox도 실행하지 않습니다. 이 줄을 빼세요"),
	"ONBUILD": i18n.T("triggers for later builds are not supported; put the instructions in the Dockerfile that needs them",
		"다음 빌드를 위한 트리거는 지원하지 않습니다. 그 명령이 필요한 Dockerfile에 직접 쓰세요"),
}

// execForm are the instructions that take a JSON array.
var execForm = map[string]bool{"RUN": true, "CMD": true, "ENTRYPOINT": true, "SHELL": true, "COPY": true, "ADD": true, "VOLUME": true}

// withFlags are the instructions whose leading --flags are read.
var withFlags = map[string][]string{
	"FROM": {"platform"},
	"COPY": {"from", "chown", "chmod"},
	"ADD":  {"chown", "chmod"},
	"RUN":  {},
}

// Parse reads a Dockerfile: parser directives (escape; syntax and check
// are ignored with a warning), comments, continuation lines, one
// instruction a line. Any instruction stepbox cannot build is an error
// naming it and its line.
func Parse(r io.Reader) (*Dockerfile, error) {
	df := &Dockerfile{Escape: '\\'}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	lineNo := 0
	directives := true
	var cur strings.Builder
	start := 0
	pending := false
	var all []Instruction
	flush := func() error {
		if !pending {
			return nil
		}
		pending = false
		in, err := parseLine(start, cur.String())
		cur.Reset()
		if err != nil {
			return err
		}
		if in != nil {
			all = append(all, *in)
		}
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		trimmed := strings.TrimSpace(line)
		if directives {
			if k, v, ok := directive(trimmed); ok {
				switch k {
				case "escape":
					if v != "\\" && v != "`" {
						return nil, errAt(lineNo, "invalid escape directive %q: it must be \\ or `", "escape 지시어 %q가 잘못되었습니다. \\ 또는 `만 쓸 수 있습니다", v)
					}
					df.Escape = rune(v[0])
				case "syntax", "check":
					df.Warnings = append(df.Warnings, i18n.T(
						fmt.Sprintf("line %d: the %s directive is ignored: stepbox builds with its own parser", lineNo, k),
						fmt.Sprintf("%d번째 줄: %s 지시어는 무시합니다. stepbox는 자체 파서로 빌드합니다", lineNo, k)))
				}
				continue
			}
			directives = false
		}
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if trimmed == "" {
			if pending {
				df.Warnings = append(df.Warnings, i18n.T(
					fmt.Sprintf("line %d: an empty continuation line (docker warns too)", lineNo),
					fmt.Sprintf("%d번째 줄: 이어지는 줄이 비어 있습니다(docker도 경고합니다)", lineNo)))
			}
			continue
		}
		if !pending {
			start = lineNo
			pending = true
		}
		body := strings.TrimRightFunc(line, unicode.IsSpace)
		if strings.HasSuffix(body, string(df.Escape)) && !strings.HasSuffix(body, string(df.Escape)+string(df.Escape)) {
			cur.WriteString(strings.TrimSuffix(body, string(df.Escape)))
			continue
		}
		cur.WriteString(line)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{Msg: i18n.T("read: "+err.Error(), "읽기 실패: "+err.Error())}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for _, in := range all {
		if err := checkQuotes(in, df.Escape); err != nil {
			return nil, err
		}
		if in.Cmd == "FROM" {
			st, err := fromStage(in, len(df.Stages))
			if err != nil {
				return nil, err
			}
			df.Stages = append(df.Stages, st)
			continue
		}
		if len(df.Stages) == 0 {
			if in.Cmd == "ARG" {
				df.MetaArgs = append(df.MetaArgs, in)
				continue
			}
			return nil, errAt(in.Line, "%s before the first FROM: a Dockerfile starts with FROM (only ARG may come before it)",
				"첫 FROM 앞에 %s가 있습니다. Dockerfile은 FROM으로 시작해야 합니다(ARG만 앞에 올 수 있습니다)", in.Cmd)
		}
		st := &df.Stages[len(df.Stages)-1]
		st.Steps = append(st.Steps, in)
	}
	if len(df.Stages) == 0 {
		return nil, errAt(lineNo, "no FROM: a Dockerfile needs at least one FROM (an image, scratch or stepbox-builtin)",
			"FROM이 없습니다. Dockerfile에는 FROM(이미지, scratch 또는 stepbox-builtin)이 하나 이상 있어야 합니다")
	}
	return df, nil
}

// directive reads "# key=value" (docker's parser directives).
func directive(line string) (key, value string, ok bool) {
	rest, found := strings.CutPrefix(line, "#")
	if !found {
		return "", "", false
	}
	k, v, found := strings.Cut(rest, "=")
	if !found {
		return "", "", false
	}
	k = strings.ToLower(strings.TrimSpace(k))
	if k == "" || strings.ContainsFunc(k, unicode.IsSpace) {
		return "", "", false
	}
	return k, strings.TrimSpace(v), true
}

// parseLine splits one logical line into its instruction, flags and rest.
func parseLine(line int, s string) (*Instruction, error) {
	s = strings.TrimSpace(s)
	word, rest := s, ""
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		word, rest = s[:i], s[i:]
	}
	rest = strings.TrimSpace(rest)
	cmd := strings.ToUpper(word)
	if why, ok := refused[cmd]; ok {
		return nil, &Error{Line: line, Msg: i18n.T(cmd+" is not supported: "+why.En, cmd+"는 지원하지 않습니다: "+why.Ko)}
	}
	if !supported[cmd] {
		return nil, errAt(line, "unknown instruction %s: stepbox builds FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, USER, CMD, ENTRYPOINT, EXPOSE, LABEL, VOLUME, SHELL, STOPSIGNAL",
			"알 수 없는 명령 %s: stepbox는 FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, USER, CMD, ENTRYPOINT, EXPOSE, LABEL, VOLUME, SHELL, STOPSIGNAL을 빌드합니다", word)
	}
	in := &Instruction{Line: line, Cmd: cmd}
	if known, ok := withFlags[cmd]; ok {
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			name, _, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
			okFlag := false
			for _, k := range known {
				okFlag = okFlag || k == name
			}
			if !okFlag {
				return nil, errAt(line, "%s does not take --%s here: stepbox knows %s", "%s에는 --%s를 쓸 수 없습니다. stepbox가 아는 것: %s", cmd, name, flagList(known))
			}
			in.Flags = append(in.Flags, f)
			rest = strings.TrimSpace(r)
		}
	}
	in.Rest = rest
	if execForm[cmd] && strings.HasPrefix(rest, "[") {
		var list []string
		if err := json.Unmarshal([]byte(rest), &list); err == nil {
			in.JSON, in.List = true, list
		}
	}
	if cmd == "SHELL" && !in.JSON {
		return nil, errAt(line, "SHELL takes a JSON array: SHELL [\"/bin/sh\", \"-c\"]", "SHELL에는 JSON 배열을 써야 합니다: SHELL [\"/bin/sh\", \"-c\"]")
	}
	if rest == "" && cmd != "RUN" {
		return nil, errAt(line, "%s needs arguments", "%s에 인자가 필요합니다", cmd)
	}
	return in, nil
}

func flagList(known []string) string {
	if len(known) == 0 {
		return "no flags"
	}
	return "--" + strings.Join(known, ", --")
}

// fromStage reads FROM [--platform=…] IMAGE [AS NAME].
func fromStage(in Instruction, index int) (Stage, error) {
	f := strings.Fields(in.Rest)
	st := Stage{Index: index, From: in}
	switch {
	case len(f) == 1:
	case len(f) == 3 && strings.EqualFold(f[1], "AS"):
		st.Name = strings.ToLower(f[2])
		if !validStageName(st.Name) {
			return st, errAt(in.Line, "invalid stage name %q: use letters, digits, - _ and .", "스테이지 이름 %q가 잘못되었습니다. 글자, 숫자, - _ .을 쓰세요", f[2])
		}
	default:
		return st, errAt(in.Line, "FROM takes IMAGE [AS NAME], not %q", "FROM에는 IMAGE [AS NAME]을 씁니다. %q가 아닙니다", in.Rest)
	}
	return st, nil
}

func validStageName(s string) bool {
	if s == "" || !unicode.IsLetter(rune(s[0])) {
		return false
	}
	for _, r := range s {
		if !(r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.')) {
			return false
		}
	}
	return true
}

// checkQuotes refuses a shell-form line with a quote left open, as a
// shell would at run time: better its line number now. Inside single
// quotes nothing is special; inside double quotes the escape character
// still escapes.
func checkQuotes(in Instruction, escape rune) error {
	if in.JSON {
		return nil
	}
	var q rune
	esc := false
	for _, r := range in.Rest {
		switch {
		case esc:
			esc = false
		case q == '\'':
			if r == '\'' {
				q = 0
			}
		case r == escape:
			esc = true
		case q == '"':
			if r == '"' {
				q = 0
			}
		case r == '\'' || r == '"':
			q = r
		}
	}
	if q != 0 {
		return errAt(in.Line, "unclosed quote (%c) in %s", "%[2]s의 따옴표(%[1]c)가 닫히지 않았습니다", q, in.Cmd)
	}
	return nil
}
