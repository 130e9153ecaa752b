package cast

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A recording reads back as written: the header, output as a terminal
// shows it (\r\n), a Korean character split across two writes kept whole,
// and markers where they were set.
func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w, err := NewWriter(&b, Header{Width: 80, Height: 24, Title: "t", Env: map[string]string{"TERM": "xterm"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("line one\nline two\r\n"))
	w.Marker("Step 1/3 · 시작")
	ko := []byte("네임스페이스\n")
	w.Write(ko[:4])
	w.Write(ko[4:])
	h, evs, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.Width != 80 || h.Height != 24 || h.Timestamp == 0 || h.Env["TERM"] != "xterm" {
		t.Errorf("header %+v", h)
	}
	var out strings.Builder
	var marks []string
	for _, e := range evs {
		switch e.Code {
		case Output:
			out.WriteString(e.Data)
		case Marker:
			marks = append(marks, e.Data)
		}
	}
	if got, want := out.String(), "line one\r\nline two\r\n네임스페이스\r\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if len(marks) != 1 || marks[0] != "Step 1/3 · 시작" {
		t.Errorf("markers %q", marks)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Time < evs[i-1].Time {
			t.Errorf("time goes back at event %d", i)
		}
	}
}

// Every line of the file is JSON on its own, each event an array of three.
func TestLinesAreJSON(t *testing.T) {
	var b bytes.Buffer
	w, _ := NewWriter(&b, Header{Width: 60, Height: 20})
	w.Write([]byte("<a & b>\t\x1b[1mbold\x1b[0m\n"))
	w.Marker("m")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, l := range lines[1:] {
		var a []any
		if err := json.Unmarshal([]byte(l), &a); err != nil || len(a) != 3 {
			t.Errorf("line %d %q: %v", i+2, l, err)
		}
	}
}

// Play keeps the pauses divided by the speed, and caps the long ones.
func TestPlaySpeedAndIdleLimit(t *testing.T) {
	evs := []Event{{0, Output, "a"}, {1, Marker, "x"}, {2, Output, "b"}, {30, Output, "c"}}
	var out bytes.Buffer
	start := time.Now()
	if err := Play(context.Background(), &out, Header{Version: 2}, evs, Options{Speed: 20, IdleLimit: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if out.String() != "abc" {
		t.Errorf("played %q", out.String())
	}
	// 2 s at 20× is 100 ms, and 28 s at 20× is 1.4 s, capped at 100 ms.
	if took < 150*time.Millisecond || took > time.Second {
		t.Errorf("played in %v, want about 200 ms", took)
	}
}

func TestReadRefusesOtherVersions(t *testing.T) {
	if _, _, err := Read(strings.NewReader(`{"version": 1}` + "\n")); err == nil {
		t.Error("version 1 read")
	}
	if _, _, err := Read(strings.NewReader("")); err == nil {
		t.Error("an empty file read")
	}
}
