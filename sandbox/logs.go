package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/stepbox/stepbox/internal/hint"
)

// LogOptions are `stepbox logs`' flags.
type LogOptions struct {
	Follow     bool // until the container stops
	Tail       int  // the last Tail lines only; < 0 for all
	Timestamps bool // each line after the time it was written
}

// Logs writes the container's log (monitor_lean.go's records) to stdout
// and stderr, each line to the stream it came from.
func (c *Container) Logs(ctx context.Context, o LogOptions, stdout, stderr io.Writer) error {
	st := c.State()
	path := st.LogPath()
	if path == "" {
		return hint.With(fmt.Errorf("container %s has no log: it ran in the foreground, its output went to its terminal", st.DisplayName()),
			"run it with -d, or start it again with 'stepbox start', to keep a log")
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.Open(os.DevNull) // nothing written yet
	}
	if err != nil {
		return readErr(path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	// Only whole records: the monitor may be writing the next one.
	end := bytes.LastIndexByte(b, '\n') + 1
	w := &logPrinter{out: stdout, err: stderr, timestamps: o.Timestamps}
	w.print(tail(b[:end], o.Tail))
	rest := b[end:]
	if !o.Follow {
		return nil
	}
	for {
		stopped := c.outputDone()
		chunk, err := io.ReadAll(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		rest = append(rest, chunk...)
		end := bytes.LastIndexByte(rest, '\n') + 1
		w.print(rest[:end])
		rest = append(rest[:0], rest[end:]...)
		// Read once more after the container was seen stopped: what the
		// monitor wrote before recording the exit is then all there.
		if stopped {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// outputDone reports whether the container will write no more to its log:
// its monitor recorded its exit (after logging all it wrote) and will not
// restart it, or no monitor is left to write.
func (c *Container) outputDone() bool {
	st, err := readState(c.dir)
	if err != nil {
		return true
	}
	d := st.Detached
	if st.Status == Stopped {
		return d == nil || !d.Restarting || !d.monitorAlive()
	}
	return liveStatus(c.dir, st) == Stopped && !d.monitorAlive()
}

// tail returns the records of the last n lines of b (all when n < 0). A
// line is a run of P records ended by an F record, or by the end of b.
func tail(b []byte, n int) []byte {
	if n < 0 {
		return b
	}
	var ends []int // where each record ends
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		ends = append(ends, i)
	}
	lines := 0
	for k := len(ends) - 1; k >= 0; k-- {
		start := 0
		if k > 0 {
			start = ends[k-1]
		}
		r, ok := parseRecord(b[start:ends[k]])
		if !ok {
			continue
		}
		if r.full || k == len(ends)-1 {
			// A full record ends a line; the last record ends one, if
			// only for now.
			if lines == n {
				return b[ends[k]:]
			}
			lines++
		}
	}
	return b
}

type logRecord struct {
	time   []byte
	stream []byte
	full   bool
	text   []byte
}

// parseRecord reads "TIME STREAM F|P TEXT\n".
func parseRecord(rec []byte) (logRecord, bool) {
	rec = bytes.TrimSuffix(rec, []byte{'\n'})
	var r logRecord
	var ok bool
	if r.time, rec, ok = bytes.Cut(rec, []byte{' '}); !ok {
		return r, false
	}
	if r.stream, rec, ok = bytes.Cut(rec, []byte{' '}); !ok {
		return r, false
	}
	tag, text, _ := bytes.Cut(rec, []byte{' '})
	r.full, r.text = bytes.Equal(tag, []byte{'F'}), text
	return r, len(tag) == 1
}

// logPrinter writes records as the payload wrote them: text, and a line's
// end after a full record; with timestamps, each line after its time.
type logPrinter struct {
	out, err   io.Writer
	timestamps bool
	// midLine is set for a stream whose last record was a part of a line.
	midOut, midErr bool
}

func (p *logPrinter) print(b []byte) {
	for len(b) > 0 {
		rec := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			rec, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		r, ok := parseRecord(rec)
		if !ok {
			continue
		}
		w, mid := p.out, &p.midOut
		if string(r.stream) == "stderr" {
			w, mid = p.err, &p.midErr
		}
		var line []byte
		if p.timestamps && !*mid {
			line = append(append(line, r.time...), ' ')
		}
		line = append(line, r.text...)
		if r.full {
			line = append(line, '\n')
		}
		*mid = !r.full
		_, _ = w.Write(line)
	}
}
