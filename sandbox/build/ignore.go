package build

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// ignorer is the context's .dockerignore: docker's rules (its
// patternmatcher): one pattern a line, # comments, ** for any number of
// directories, a leading ! takes a path back in, the last pattern that
// matches a path (or a directory above it) decides.
type ignorer struct {
	rules []ignoreRule
}

type ignoreRule struct {
	re     *regexp.Regexp
	negate bool
}

func readIgnore(ctxDir string) (*ignorer, error) {
	ig := &ignorer{}
	f, err := os.Open(filepath.Join(ctxDir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return ig, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if err := ig.add(sc.Text()); err != nil {
			return nil, err
		}
	}
	return ig, sc.Err()
}

func (ig *ignorer) add(line string) error {
	p := strings.TrimSpace(line)
	if p == "" || strings.HasPrefix(p, "#") {
		return nil
	}
	neg := strings.HasPrefix(p, "!")
	if neg {
		p = strings.TrimSpace(p[1:])
	}
	p = strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
	if p == "" {
		p = "."
	}
	re, err := patternRegexp(p)
	if err != nil {
		return err
	}
	ig.rules = append(ig.rules, ignoreRule{re: re, negate: neg})
	return nil
}

// patternRegexp turns a .dockerignore pattern into a regular expression
// over slash-separated relative paths.
func patternRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			if i+1 < len(p) && p[i+1] == '/' {
				i++
				b.WriteString("(.*/)?")
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, errors.New(".dockerignore: unclosed [ in " + p)
			}
			b.WriteString(p[i : i+j+1])
			i += j
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(string(p[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// excluded says whether rel (slash-separated, relative to the context)
// is left out.
func (ig *ignorer) excluded(rel string) bool {
	if ig == nil || len(ig.rules) == 0 {
		return false
	}
	out := false
	for _, r := range ig.rules {
		if r.matches(rel) {
			out = !r.negate
		}
	}
	return out
}

// matches is the path or one of the directories above it.
func (r ignoreRule) matches(rel string) bool {
	for p := rel; p != "." && p != "/" && p != ""; p = path.Dir(p) {
		if r.re.MatchString(p) {
			return true
		}
	}
	return false
}

// negates says whether some pattern takes paths back (!).
func (ig *ignorer) negates() bool {
	for _, r := range ig.rules {
		if r.negate {
			return true
		}
	}
	return false
}
