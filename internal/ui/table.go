package ui

import (
	"io"
	"strings"
)

// Table prints rows in aligned columns. Columns listed in Shrink give up width,
// last first, until a row fits MaxWidth (80 for a projector, 0 for no limit).
type Table struct {
	Header   []string
	Rows     [][]string
	MaxWidth int
	Shrink   []int // column indexes that may be truncated
	Gap      int   // spaces between columns; 2 when zero
	Style    Style // header in bold when colour is on
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

func (t *Table) widths() []int {
	n := len(t.Header)
	for _, r := range t.Rows {
		if len(r) > n {
			n = len(r)
		}
	}
	w := make([]int, n)
	for _, r := range append([][]string{t.Header}, t.Rows...) {
		for i, c := range r {
			if x := Width(c); x > w[i] {
				w[i] = x
			}
		}
	}
	gap := t.gap()
	if t.MaxWidth > 0 {
		total := func() int {
			s := 0
			for _, x := range w {
				s += x
			}
			return s + gap*(len(w)-1)
		}
		for i := len(t.Shrink) - 1; i >= 0 && total() > t.MaxWidth; i-- {
			col := t.Shrink[i]
			if col >= len(w) {
				continue
			}
			over := total() - t.MaxWidth
			min := 8
			if hw := Width(header(t.Header, col)); hw > min {
				min = hw
			}
			if w[col]-over >= min {
				w[col] -= over
			} else if w[col] > min {
				w[col] = min
			}
		}
	}
	return w
}

func (t *Table) gap() int {
	if t.Gap <= 0 {
		return 2
	}
	return t.Gap
}

func header(h []string, i int) string {
	if i < len(h) {
		return h[i]
	}
	return ""
}

// Render writes the table.
func (t *Table) Render(w io.Writer) error {
	widths := t.widths()
	sep := strings.Repeat(" ", t.gap())
	line := func(cells []string, head bool) string {
		var b strings.Builder
		for i := range widths {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			if Width(c) > widths[i] {
				c = Truncate(c, widths[i])
			}
			last := i == len(widths)-1
			if !last {
				c = Pad(c, widths[i])
			}
			if head {
				c = t.Style.Bold(c)
			}
			b.WriteString(c)
			if !last {
				b.WriteString(sep)
			}
		}
		return strings.TrimRight(b.String(), " ") + "\n"
	}
	var out strings.Builder
	if len(t.Header) > 0 {
		out.WriteString(line(t.Header, true))
	}
	for _, r := range t.Rows {
		out.WriteString(line(r, false))
	}
	_, err := io.WriteString(w, out.String())
	return err
}
