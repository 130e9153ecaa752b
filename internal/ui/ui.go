// Package ui holds what every stepbox command needs to print for people:
// the colour decision (only on a terminal, never with NO_COLOR) and tables
// that line up when cells hold Korean text, which is two columns wide.
package ui

import (
	"os"
	"regexp"

	"github.com/fatih/color"
	"github.com/mattn/go-runewidth"
	"golang.org/x/term"
)

// ColorMode is the --color flag: auto, always or never.
type ColorMode string

const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// UseColor decides whether output to f gets colour. NO_COLOR (no-color.org)
// wins over auto and always alike; auto means a terminal that is not "dumb".
func UseColor(mode ColorMode, f *os.File) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	switch mode {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	if os.Getenv("TERM") == "dumb" || f == nil {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// Style paints text when colour is on and passes it through untouched when off.
type Style struct{ On bool }

func (s Style) paint(c *color.Color, text string) string {
	if !s.On {
		return text
	}
	c.EnableColor()
	return c.Sprint(text)
}

var (
	green  = color.New(color.FgGreen, color.Bold)
	red    = color.New(color.FgRed, color.Bold)
	yellow = color.New(color.FgYellow, color.Bold)
	cyan   = color.New(color.FgCyan)
	bold   = color.New(color.Bold)
	faint  = color.New(color.Faint)
)

func (s Style) Good(t string) string  { return s.paint(green, t) }
func (s Style) Bad(t string) string   { return s.paint(red, t) }
func (s Style) Warn(t string) string  { return s.paint(yellow, t) }
func (s Style) Note(t string) string  { return s.paint(cyan, t) }
func (s Style) Bold(t string) string  { return s.paint(bold, t) }
func (s Style) Faint(t string) string { return s.paint(faint, t) }

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Width is the number of terminal columns text takes, colour codes aside.
func Width(text string) int {
	return runewidth.StringWidth(ansi.ReplaceAllString(text, ""))
}

// Truncate shortens plain text to at most w columns, marking the cut with "…".
func Truncate(text string, w int) string {
	if Width(text) <= w {
		return text
	}
	return runewidth.Truncate(ansi.ReplaceAllString(text, ""), w, "…")
}

// Pad right-pads text with spaces to w columns.
func Pad(text string, w int) string {
	for n := Width(text); n < w; n++ {
		text += " "
	}
	return text
}
