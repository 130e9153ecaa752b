package lessons

import (
	"fmt"
	"strings"

	"github.com/mattn/go-runewidth"

	"github.com/stepbox/stepbox/internal/ui"
)

// The widths a lesson is laid out in. The classroom decides: 80 columns on
// a laptop, 120 on a projector (--wide, where the host's and the
// container's output stand side by side), 60 in large print (--large, a
// big font on a small screen: evidence rows stack instead of truncating).
const (
	WidthNormal = 80
	WidthWide   = 120
	WidthLarge  = 60
)

// width is the runner's layout width.
func (r *Runner) width() int {
	if r.Width <= 0 {
		return WidthNormal
	}
	return r.Width
}

// large is the large-print layout.
func (r *Runner) large() bool { return r.width() < WidthNormal }

// wide is the projector layout.
func (r *Runner) wide() bool { return r.width() >= WidthWide }

// rule pads a title with a line to width columns; a title too long for
// one line is wrapped, and the line goes under it.
func rule(title string, width int) string {
	s := "━━ " + title + " "
	if n := width - ui.Width(s); n > 0 {
		return s + strings.Repeat("━", n)
	}
	return wrap(title, width, "") + "\n" + strings.Repeat("━", width)
}

// wrap folds text to width columns at spaces, indenting every line;
// paragraphs (blank lines) are kept. A word longer than a line (a path, a
// command) is cut where the line ends.
func wrap(text string, width int, indent string) string {
	return hang(text, width, indent, indent)
}

// hang is wrap with a first line of its own: first starts it, indent the
// lines after.
func hang(text string, width int, first, indent string) string {
	var out []string
	lead := first
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		line := lead
		for _, w := range strings.Fields(para) {
			if ui.Width(line)+ui.Width(w)+1 > width && strings.TrimSpace(line) != "" {
				out = append(out, strings.TrimRight(line, " "))
				line = indent
			}
			for ui.Width(line)+ui.Width(w) > width && width > ui.Width(line) {
				cut := runewidth.Truncate(w, width-ui.Width(line), "")
				if cut == "" {
					break
				}
				out = append(out, line+cut)
				w, line = w[len(cut):], indent
			}
			line += w + " "
		}
		out = append(out, strings.TrimRight(line, " "), "")
		lead = indent
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n")
}

// labelled prints text after a label padded to pad columns, wrapping the
// text under itself: "  system call   clone(2)  CLONE_NEWUTS".
func labelled(indent, label string, pad int, text string, width int) string {
	first := indent + ui.Pad(label, pad) + "  "
	if ui.Width(first+text) <= width {
		return strings.TrimRight(first+text, " ")
	}
	return hang(text, width, first, strings.Repeat(" ", ui.Width(first)))
}

// indentOutput shows a command's output indented by four, at most max
// lines, each cut to the width.
func indentOutput(out string, max int, more string, width int) string {
	out = strings.TrimRight(out, "\n")
	if out == "" {
		return ""
	}
	lines := strings.Split(out, "\n")
	var b strings.Builder
	for i, l := range lines {
		if i == max {
			fmt.Fprintf(&b, "    … %d %s\n", len(lines)-max, more)
			break
		}
		b.WriteString("    " + ui.Truncate(expandTabs(l, 4), width-6) + "\n")
	}
	return b.String()
}

// expandTabs turns the tabs of a line that starts at column col into the
// spaces a terminal shows (a stop every eight columns), so that its width
// is what it takes on the screen.
func expandTabs(line string, col int) string {
	if !strings.Contains(line, "\t") {
		return line
	}
	var b strings.Builder
	for _, r := range line {
		if r == '\t' {
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col += runewidth.RuneWidth(r)
	}
	return b.String()
}

// stacked renders the evidence rows one under the other, for large print:
// the label, then each side on a line of its own, so nothing is cut.
func stacked(w *strings.Builder, header []string, rows [][]string, width int, st ui.Style) {
	pad := max(ui.Width(header[1]), ui.Width(header[2]))
	for _, r := range rows {
		w.WriteString(hang(r[0], width, "  ", "    ") + "\n")
		for i := 1; i <= 2; i++ {
			w.WriteString(labelled("    ", st.Faint(ui.Pad(header[i], pad)), pad, r[i], width) + "\n")
		}
	}
}

// beside sets two blocks of lines next to each other, each in half of width.
func beside(left, right []string, width int) []string {
	col := (width - 2) / 2
	n := max(len(left), len(right))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		var l, r string
		if i < len(left) {
			l = ui.Truncate(left[i], col)
		}
		if i < len(right) {
			r = ui.Truncate(right[i], col)
		}
		out = append(out, strings.TrimRight(ui.Pad(l, col)+"  "+r, " "))
	}
	return out
}
