package build

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// The parser on its own, no kernel: directives, continuations,
// comments, forms, and every kind of bad Dockerfile with its line.
func TestParse(t *testing.T) {
	f, err := os.Open("testdata/every.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	df, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	// "# syntax" comes first, so "# escape" is still a directive.
	if df.Escape != '`' || len(df.Warnings) != 1 || !strings.Contains(df.Warnings[0].En, "syntax") {
		t.Errorf("escape %q, warnings %v", df.Escape, df.Warnings)
	}
	if len(df.MetaArgs) != 1 || len(df.Stages) != 2 || df.Stages[0].Name != "build" {
		t.Fatalf("meta %v, stages %+v", df.MetaArgs, df.Stages)
	}
	run := df.Stages[0].Steps[0]
	if run.Cmd != "RUN" || run.Line != 5 || run.Rest != "echo one     two" {
		t.Errorf("RUN = %+v", run)
	}
	cp := df.Stages[0].Steps[1]
	if v, _ := cp.Flag("chown"); v != "1000:1000" || cp.Rest != "a b /dst/" {
		t.Errorf("COPY = %+v", cp)
	}
	cmd := df.Stages[1].Steps[0]
	if !cmd.JSON || !reflect.DeepEqual(cmd.List, []string{"sh"}) {
		t.Errorf("CMD = %+v", cmd)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, file string
		line       int
		want       string
	}{
		{"unknown", "FROM x\nFOO bar\n", 2, "unknown instruction FOO"},
		{"healthcheck", "FROM x\n\nHEALTHCHECK CMD true\n", 3, "HEALTHCHECK is not supported"},
		{"onbuild", "FROM x\nONBUILD RUN x\n", 2, "ONBUILD is not supported"},
		{"no from", "# c\nRUN true\n", 2, "before the first FROM"},
		{"empty", "# only a comment\n", 1, "no FROM"},
		{"unclosed", "FROM x\nENV A=\"b\n", 2, "unclosed quote"},
		{"unclosed run", "FROM x\nRUN echo 'a \\\n  b\n", 2, "unclosed quote"},
		{"bad flag", "FROM x\nCOPY --link a b\n", 2, "does not take --link"},
		{"shell", "FROM x\nSHELL /bin/bash\n", 2, "JSON array"},
		{"from", "FROM a b c d\n", 1, "IMAGE [AS NAME]"},
		{"escape", "# escape=x\nFROM a\n", 1, "invalid escape"},
	} {
		_, err := Parse(strings.NewReader(c.file))
		e, ok := err.(*Error)
		if !ok || e.Line != c.line || !strings.Contains(e.Error(), c.want) {
			t.Errorf("%s: %v, want line %d %q", c.name, err, c.line, c.want)
		}
		if ok && e.In("ko") == e.Error() {
			t.Errorf("%s: no Korean: %s", c.name, e.Error())
		}
	}
}

// Quotes pass through shell-form RUN untouched; "it's" in double quotes
// is closed.
func TestParseQuotes(t *testing.T) {
	df, err := Parse(strings.NewReader("FROM x\nRUN echo \"it's\" 'a\"b' \\\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := df.Stages[0].Steps[0].Rest; got != `echo "it's" 'a"b' \"` {
		t.Errorf("rest %q", got)
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "a", "E": "", "S": "x y"}
	lx := lexer{escape: '\\', lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	for in, want := range map[string]string{
		`$A`: "a", `${A}b`: "ab", `${U:-d}`: "d", `${E:-d}`: "d", `${E-d}`: "", `${A:+y}`: "y",
		`${U:+y}`: "", `${U+y}`: "", `${E+y}`: "y", `'$A'`: "$A", `"$A b"`: "a b", `\$A`: "$A",
		`$`: "$", `a$`: "a$", `${U:-${A}}`: "a", `"a\"b"`: `a"b`, `$A$A`: "aa",
	} {
		got, err := lx.word(in)
		if err != nil || got != want {
			t.Errorf("word(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	words, err := lx.words(`x $S "$S" 'q r'`)
	if err != nil || !reflect.DeepEqual(words, []string{"x", "x", "y", "x y", "q r"}) {
		t.Errorf("words = %q, %v", words, err)
	}
	if _, err := lx.word(`"open`); err == nil {
		t.Error("an open quote expanded")
	}
	kv, err := keyValues(`A=1 B="two words" C`, '\\', false)
	if err != nil || len(kv) != 3 || kv[1][1] != `"two words"` || kv[2][1] != "\x00" {
		t.Errorf("keyValues = %q, %v", kv, err)
	}
	old, err := keyValues(`NAME some value`, '\\', true)
	if err != nil || len(old) != 1 || old[0] != [2]string{"NAME", "some value"} {
		t.Errorf("old form = %q, %v", old, err)
	}
}

func TestIgnore(t *testing.T) {
	ig := &ignorer{}
	for _, l := range []string{"# comment", "*.log", "secret/", "**/tmp", "docs", "!docs/keep.md"} {
		if err := ig.add(l); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string]bool{
		"a.log": true, "x/a.log": false, "secret/k": true, "a/b/tmp": true, "tmp": true,
		"docs/x.md": true, "docs/keep.md": false, "main.go": false,
	} {
		if got := ig.excluded(p); got != want {
			t.Errorf("excluded(%s) = %v, want %v", p, got, want)
		}
	}
}
