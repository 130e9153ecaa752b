package ui

import (
	"bytes"
	"strings"
	"testing"
)

func TestWidthKorean(t *testing.T) {
	if got := Width("네임스페이스"); got != 12 {
		t.Fatalf("Width(네임스페이스) = %d, want 12", got)
	}
	if got := Width("\x1b[1mok\x1b[0m"); got != 2 {
		t.Fatalf("colour codes counted: %d", got)
	}
}

func TestTableAlignsAndFits(t *testing.T) {
	tb := Table{Header: []string{"CHECK", "NOTE"}, MaxWidth: 30, Shrink: []int{1}}
	tb.Add("ns.uts", "호스트와 분리됨")
	tb.Add("ns.pid", strings.Repeat("x", 60))
	var b bytes.Buffer
	if err := tb.Render(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if Width(l) > 30 {
			t.Errorf("line wider than 30 columns (%d): %q", Width(l), l)
		}
	}
	if !strings.HasPrefix(lines[1], "ns.uts  호스트") {
		t.Errorf("columns not aligned: %q", lines[1])
	}
}

func TestUseColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	if UseColor(ColorAlways, nil) {
		t.Fatal("NO_COLOR must win over --color=always")
	}
}
