// Package i18n chooses the language a learner reads and holds texts written in
// both of stepbox's languages, English and Korean.
package i18n

import (
	"fmt"
	"os"
	"strings"
)

// Lang is a language stepbox speaks.
type Lang string

const (
	English Lang = "en"
	Korean  Lang = "ko"
)

// Langs lists every language a text must exist in.
var Langs = []Lang{English, Korean}

// Parse reads a language name as given to --lang or STEPBOX_LANG.
func Parse(s string) (Lang, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "en", "english":
		return English, nil
	case "ko", "kr", "korean", "한국어":
		return Korean, nil
	}
	return "", fmt.Errorf("unknown language %q: use en or ko", s)
}

// Detect picks the language: the flag if given, else STEPBOX_LANG, else Korean
// when the locale (LC_ALL, LC_MESSAGES, LANG, in POSIX order) starts with "ko",
// else English.
func Detect(flag string) (Lang, error) {
	if flag != "" {
		return Parse(flag)
	}
	if env := os.Getenv("STEPBOX_LANG"); env != "" {
		return Parse(env)
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if loc := os.Getenv(v); loc != "" {
			if strings.HasPrefix(strings.ToLower(loc), "ko") {
				return Korean, nil
			}
			return English, nil
		}
	}
	return English, nil
}

// Text is one sentence or paragraph in every language stepbox speaks.
type Text struct {
	En string `json:"en"`
	Ko string `json:"ko"`
}

// T builds a Text.
func T(en, ko string) Text { return Text{En: en, Ko: ko} }

// In returns the text in l, falling back to English.
func (t Text) In(l Lang) string {
	if l == Korean && t.Ko != "" {
		return t.Ko
	}
	return t.En
}

// Missing lists the languages the text lacks; tests use it to keep both.
func (t Text) Missing() []Lang {
	var out []Lang
	if strings.TrimSpace(t.En) == "" {
		out = append(out, English)
	}
	if strings.TrimSpace(t.Ko) == "" {
		out = append(out, Korean)
	}
	return out
}

// IsZero reports whether the text is empty in every language.
func (t Text) IsZero() bool { return t.En == "" && t.Ko == "" }
