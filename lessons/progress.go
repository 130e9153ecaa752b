package lessons

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Progress remembers, per user, which lessons were completed and when.
type Progress struct {
	Done map[string]time.Time `json:"done"`
	path string
}

// progressPath is $XDG_STATE_HOME/stepbox/progress.json, or
// ~/.local/state/stepbox/progress.json (the XDG base directory spec).
func progressPath() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "stepbox", "progress.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".local", "state", "stepbox", "progress.json")
}

// LoadProgress reads the user's progress; a missing file is no progress.
func LoadProgress() (*Progress, error) {
	p := &Progress{Done: map[string]time.Time{}, path: progressPath()}
	b, err := os.ReadFile(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, p); err != nil || p.Done == nil {
		// A damaged file is not worth refusing to teach over.
		p.Done = map[string]time.Time{}
	}
	return p, nil
}

// MarkDone records a completed lesson and saves.
func (p *Progress) MarkDone(id string) error {
	p.Done[id] = time.Now().UTC()
	if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(p, "", "  ")
	tmp := p.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p.path)
}
