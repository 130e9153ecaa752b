package build

import (
	"fmt"
	"strings"
	"unicode"
)

// lexer does what docker's shell lexer does to the words of ENV, ARG,
// LABEL, COPY, ADD, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL and FROM
// (never to RUN, CMD and ENTRYPOINT, whose shell does it): quotes are
// removed, the escape character escapes, and $VAR, ${VAR}, ${VAR:-word},
// ${VAR-word}, ${VAR:+word} and ${VAR+word} are replaced, with word
// itself expanded. Single quotes stop expansion; double quotes keep
// spaces.
type lexer struct {
	escape rune
	lookup func(string) (string, bool)
}

// word expands s into one string (spaces kept).
func (x lexer) word(s string) (string, error) {
	w, err := x.run(s, false)
	if err != nil {
		return "", err
	}
	return strings.Join(w, ""), nil
}

// words expands s and splits it on unquoted whitespace, the whitespace
// that unquoted variables expand to included.
func (x lexer) words(s string) ([]string, error) { return x.run(s, true) }

func (x lexer) run(s string, split bool) ([]string, error) {
	rs := []rune(s)
	var out []string
	var cur strings.Builder
	have := false // cur is a word, even an empty one ("")
	end := func() {
		if have {
			out = append(out, cur.String())
		}
		cur.Reset()
		have = false
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case split && unicode.IsSpace(r):
			end()
		case r == x.escape:
			if i+1 < len(rs) {
				i++
				cur.WriteRune(rs[i])
			} else {
				cur.WriteRune(r)
			}
			have = true
		case r == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unexpected end of statement while looking for matching single-quote")
			}
			cur.WriteString(string(rs[i+1 : j]))
			have = true
			i = j
		case r == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				switch {
				case rs[j] == x.escape && j+1 < len(rs) && (rs[j+1] == '"' || rs[j+1] == '$' || rs[j+1] == x.escape):
					j++
					cur.WriteRune(rs[j])
				case rs[j] == '$':
					v, n, err := x.dollar(rs[j:])
					if err != nil {
						return nil, err
					}
					cur.WriteString(v)
					j += n - 1
				default:
					cur.WriteRune(rs[j])
				}
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unexpected end of statement while looking for matching double-quote")
			}
			have = true
			i = j
		case r == '$':
			v, n, err := x.dollar(rs[i:])
			if err != nil {
				return nil, err
			}
			i += n - 1
			if !split {
				cur.WriteString(v)
				have = true
				continue
			}
			// An unquoted expansion is split as a shell splits it.
			for k, part := range strings.FieldsFunc(" "+v+" ", unicode.IsSpace) {
				if k > 0 || (v != "" && unicode.IsSpace(rune(v[0]))) {
					end()
				}
				cur.WriteString(part)
				have = true
			}
			if v != "" && unicode.IsSpace(rune(v[len(v)-1])) {
				end()
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	end()
	return out, nil
}

// dollar expands the variable at the start of rs ("$X…", "${X…}") and
// says how many runes it took. A $ not followed by a name is itself.
func (x lexer) dollar(rs []rune) (string, int, error) {
	if len(rs) < 2 {
		return "$", 1, nil
	}
	if rs[1] != '{' {
		n := 1
		for n < len(rs) && isNameRune(rs[n], n == 1) {
			n++
		}
		if n == 1 {
			return "$", 1, nil
		}
		v, _ := x.lookup(string(rs[1:n]))
		return v, n, nil
	}
	// ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word}.
	depth, j := 1, 2
	for ; j < len(rs) && depth > 0; j++ {
		switch rs[j] {
		case '{':
			depth++
		case '}':
			depth--
		}
	}
	if depth > 0 {
		return "", 0, fmt.Errorf("missing '}' in %q", string(rs))
	}
	body := string(rs[2 : j-1])
	n := 0
	for n < len(body) && isNameRune(rune(body[n]), n == 0) {
		n++
	}
	name, op := body[:n], body[n:]
	if name == "" {
		return "", 0, fmt.Errorf("bad substitution ${%s}", body)
	}
	v, set := x.lookup(name)
	var word string
	colon := strings.HasPrefix(op, ":")
	o := strings.TrimPrefix(op, ":")
	switch {
	case op == "":
		return v, j, nil
	case strings.HasPrefix(o, "-"), strings.HasPrefix(o, "+"):
		var err error
		if word, err = x.word(o[1:]); err != nil {
			return "", 0, err
		}
	default:
		return "", 0, fmt.Errorf("unsupported modifier in ${%s}: stepbox knows ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word}", body)
	}
	empty := !set || colon && v == ""
	if o[0] == '-' {
		if empty {
			return word, j, nil
		}
		return v, j, nil
	}
	if empty {
		return "", j, nil
	}
	return word, j, nil
}

func isNameRune(r rune, first bool) bool {
	return r == '_' || r < 128 && unicode.IsLetter(r) || !first && r < 128 && unicode.IsDigit(r)
}

// keyValues reads ENV, LABEL and ARG words: KEY=VALUE pairs, quotes
// kept for the lexer, or (ENV, LABEL: docker's old form) one "KEY VALUE
// with spaces".
func keyValues(rest string, escape rune, oldForm bool) ([][2]string, error) {
	words, err := rawWords(rest, escape)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("missing KEY=VALUE")
	}
	if oldForm && !strings.Contains(words[0], "=") {
		k := words[0]
		v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), k))
		return [][2]string{{k, v}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok && oldForm {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
		if k == "" {
			return nil, fmt.Errorf("%q has no name before =", w)
		}
		if !ok {
			v = "\x00" // ARG NAME: no default
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// rawWords splits on unquoted whitespace and keeps quotes and escapes
// (docker's parser splits ENV and LABEL this way, and the lexer runs
// on each value later).
func rawWords(s string, escape rune) ([]string, error) {
	var out []string
	var cur strings.Builder
	var q rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			esc = false
			cur.WriteRune(r)
			continue
		case r == escape && q != '\'':
			esc = true
		case q != 0:
			if r == q {
				q = 0
			}
		case r == '\'' || r == '"':
			q = r
		case unicode.IsSpace(r):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if q != 0 {
		return nil, fmt.Errorf("unclosed quote (%c)", q)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, nil
}
