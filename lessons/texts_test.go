package lessons

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// Every text the course and the command line write for people is made in
// both languages: each call of i18n.T, and of tf (a text with arguments),
// in the lessons and in cmd/stepbox, has an English and a Korean string,
// and the Korean one is Korean (it has Hangul) unless it is the same
// technical word as the English (oom_kill, uid_map). Reflection cannot see
// the verdicts built inside checks; the source can.
func TestEveryCallHasKorean(t *testing.T) {
	for _, dir := range []string{".", filepath.Join("..", "cmd", "stepbox")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || !isTextCall(call.Fun) || len(call.Args) < 2 {
					return true
				}
				en, ok1 := literal(call.Args[0])
				ko, ok2 := literal(call.Args[1])
				where := fset.Position(call.Pos()).String()
				switch {
				case !ok1 || !ok2:
					// A text built from names (a row label of a namespace
					// type): its parts are checked where they are written.
				case strings.TrimSpace(en) == "" || strings.TrimSpace(ko) == "":
					t.Errorf("%s: a text with an empty language: %q / %q", where, en, ko)
				case ko != en && !hasHangul(ko) && !hasHangul(en): // ("한국어", "English") names the other page
					t.Errorf("%s: the Korean text has no Korean: %q", where, ko)
				}
				return true
			})
		}
	}
}

// isTextCall reports whether fun is i18n.T or tf.
func isTextCall(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		x, ok := f.X.(*ast.Ident)
		return ok && x.Name == "i18n" && f.Sel.Name == "T"
	case *ast.Ident:
		return f.Name == "tf"
	}
	return false
}

// literal is the value of a string literal, or of literals joined by +.
func literal(e ast.Expr) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(x.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if x.Op != token.ADD {
			return "", false
		}
		a, ok1 := literal(x.X)
		b, ok2 := literal(x.Y)
		return a + b, ok1 && ok2
	case *ast.ParenExpr:
		return literal(x.X)
	}
	return "", false
}

func hasHangul(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Hangul, r) {
			return true
		}
	}
	return false
}
