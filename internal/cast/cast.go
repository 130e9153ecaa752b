// Package cast writes, reads and plays terminal recordings in the asciicast
// v2 format (docs.asciinema.org, "asciicast v2"): a JSON header on the first
// line, then one JSON array per event, [time, code, data], time in seconds
// since the start. stepbox records "o" (output) events, every byte the
// learner saw, and an "m" (marker) event at every step, which asciinema's
// player can jump between; `asciinema play` plays the file, and so does
// Play, without asciinema.
package cast

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Header is the first line of a recording.
type Header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp,omitempty"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	// IdleTimeLimit caps the pauses a player keeps, in seconds (0: none).
	IdleTimeLimit float64 `json:"idle_time_limit,omitempty"`
}

// Event codes stepbox writes.
const (
	Output = "o"
	Marker = "m"
)

// Event is one line after the header.
type Event struct {
	Time float64 // seconds since the start
	Code string  // Output, Marker, or another the format knows ("i", "r")
	Data string
}

// MarshalJSON writes the event as the format's three-element array.
func (e Event) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode([]any{json.Number(strconv.FormatFloat(e.Time, 'f', 6, 64)), e.Code, e.Data}); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// UnmarshalJSON reads [time, code, data].
func (e *Event) UnmarshalJSON(b []byte) error {
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if len(a) != 3 {
		return fmt.Errorf("an event has 3 elements, this one %d", len(a))
	}
	if err := json.Unmarshal(a[0], &e.Time); err != nil {
		return fmt.Errorf("event time: %w", err)
	}
	if err := json.Unmarshal(a[1], &e.Code); err != nil {
		return fmt.Errorf("event code: %w", err)
	}
	return json.Unmarshal(a[2], &e.Data)
}

// Writer records what is written through it as output events. It writes
// each event at once, so a recording cut short by a crash is still a
// recording of everything up to it.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	start   time.Time
	pending []byte // the start of a UTF-8 sequence a write split
	lastCR  bool   // the last byte written was \r
	err     error
}

// NewWriter writes the header (version 2; the timestamp when unset) and
// returns a Writer whose clock starts now.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Version = 2
	if h.Timestamp == 0 {
		h.Timestamp = time.Now().Unix()
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("write the recording's header: %w", err)
	}
	return &Writer{w: w, start: time.Now()}, nil
}

// Write records p as shown by a terminal: a line feed becomes \r\n, as a
// terminal's output processing (ONLCR) turns it, since a player writes the
// events to a terminal in raw mode. A UTF-8 character split between two
// writes waits for its end, as an event's data must be whole characters.
// Write never fails the writer it records: a recording that cannot be
// written stops recording, and Err says why.
func (c *Writer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return len(p), nil
	}
	data := append(c.pending, p...)
	c.pending = nil
	if cut := incompleteTail(data); cut > 0 {
		c.pending = append([]byte(nil), data[len(data)-cut:]...)
		data = data[:len(data)-cut]
	}
	if len(data) == 0 {
		return len(p), nil
	}
	var b bytes.Buffer
	for _, ch := range data {
		if ch == '\n' && !c.lastCR {
			b.WriteByte('\r')
		}
		b.WriteByte(ch)
		c.lastCR = ch == '\r'
	}
	c.event(Output, b.String())
	return len(p), nil
}

// Marker records a marker labelled label.
func (c *Writer) Marker(label string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.event(Marker, label)
}

// Err is the error that stopped the recording, if any.
func (c *Writer) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Writer) event(code, data string) {
	if c.err != nil {
		return
	}
	e := Event{Time: time.Since(c.start).Seconds(), Code: code, Data: string(bytes.ToValidUTF8([]byte(data), []byte("\uFFFD")))}
	b, err := e.MarshalJSON()
	if err == nil {
		_, err = c.w.Write(append(b, '\n'))
	}
	if err != nil {
		c.err = fmt.Errorf("write the recording: %w", err)
	}
}

// incompleteTail is the length of an unfinished UTF-8 sequence at the end
// of b (0 when b ends on a whole character).
func incompleteTail(b []byte) int {
	for n := 1; n <= 3 && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}

// Read reads a whole recording.
func Read(r io.Reader) (Header, []Event, error) {
	var h Header
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return h, nil, err
		}
		return h, nil, errors.New("not an asciicast recording: it is empty")
	}
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
		return h, nil, fmt.Errorf("not an asciicast recording: the header: %w", err)
	}
	if h.Version != 2 {
		return h, nil, fmt.Errorf("asciicast version %d: only version 2 is read", h.Version)
	}
	var evs []Event
	line := 1
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return h, evs, fmt.Errorf("line %d: %w", line, err)
		}
		evs = append(evs, e)
	}
	return h, evs, sc.Err()
}

// Options change how Play plays.
type Options struct {
	// Speed divides every pause (2 plays twice as fast); 0 means 1.
	Speed float64
	// IdleLimit caps each pause after Speed is applied (0: the header's
	// idle_time_limit, and none without one).
	IdleLimit time.Duration
}

// Play writes the output events to w with the pauses between them, until
// the end or until ctx is done.
func Play(ctx context.Context, w io.Writer, h Header, evs []Event, o Options) error {
	speed := o.Speed
	if speed <= 0 {
		speed = 1
	}
	limit := o.IdleLimit
	if limit == 0 && h.IdleTimeLimit > 0 {
		limit = time.Duration(h.IdleTimeLimit * float64(time.Second))
	}
	start, shift := time.Now(), time.Duration(0)
	last := 0.0
	for _, e := range evs {
		if e.Code != Output {
			continue
		}
		gap := time.Duration((e.Time - last) / speed * float64(time.Second))
		last = e.Time
		if limit > 0 && gap > limit {
			shift += gap - limit // keep the pace of what follows
		}
		due := start.Add(time.Duration(e.Time/speed*float64(time.Second)) - shift)
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if _, err := io.WriteString(w, e.Data); err != nil {
			return err
		}
	}
	return nil
}
