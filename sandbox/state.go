package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/procstat"
)

// Paths are where stepbox keeps its state: running containers under Run
// (tmpfs, gone at reboot like the containers), images and rootfs under Lib.
type Paths struct {
	Run string // /run/stepbox
	Lib string // /var/lib/stepbox
}

// DefaultPaths returns the standard places, or both under root when given
// (--root, STEPBOX_ROOT).
func DefaultPaths(root string) Paths {
	if root == "" {
		return Paths{Run: "/run/stepbox", Lib: "/var/lib/stepbox"}
	}
	return Paths{Run: filepath.Join(root, "run"), Lib: filepath.Join(root, "lib")}
}

// Status is a container's place in its life (OCI runtime spec, "State").
type Status string

const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Stopped  Status = "stopped"
)

// State is what stepbox records about a container in <Run>/<id>/state.json.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      Status            `json:"status"`
	Pid         int               `json:"pid,omitempty"`
	Bundle      string            `json:"bundle,omitempty"`
	Rootfs      string            `json:"rootfs,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`

	// PidStart is the init's start time in clock ticks since boot (proc(5)
	// stat field 22): a pid alone can be reused by an unrelated process.
	PidStart    uint64            `json:"pidStart,omitempty"`
	Created     time.Time         `json:"created"`
	Args        []string          `json:"args,omitempty"`
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	Init        bool              `json:"init,omitempty"`
	ExitCode    *int              `json:"exitCode,omitempty"`

	// Name is the container's name besides its id (names.go).
	Name string `json:"name,omitempty"`
	// Started and Finished are when the payload last started and ended.
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Detached is the record of a container run under a monitor
	// (monitor.go); nil for one run in the foreground.
	Detached *Detached `json:"detached,omitempty"`
	// Image is the image the container runs on and its own layer over
	// it; nil for a container on a plain directory (--rootfs).
	Image *ImageRootfs `json:"image,omitempty"`
	// Proxy is the process serving its published ports while it runs
	// (proxy.go).
	Proxy *ProcessRef `json:"proxy,omitempty"`
}

// OCI returns the state in the runtime-spec's own form (`stepbox state`).
func (s State) OCI() specs.State {
	return specs.State{Version: specs.Version, ID: s.ID, Status: specs.ContainerState(s.Status),
		Pid: s.Pid, Bundle: s.Bundle, Annotations: s.Annotations}
}

// ValidateID checks a container id or name: it becomes a directory name and
// a cgroup name, so no slashes, no dot-dot, at most 64 characters.
func ValidateID(id string) error {
	if !validName(id) {
		return hint.With(fmt.Errorf("invalid container name %q", id),
			"use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit")
	}
	return nil
}

// validName is ^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$, by hand: a regexp
// compiled at package init would cost every container's init its time.
func validName(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// NewID returns a random 12-hex-digit id, like docker's short ids.
func NewID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (p Paths) containerDir(id string) string { return filepath.Join(p.Run, id) }

// ContainerDir is the state directory of container id.
func (p Paths) ContainerDir(id string) string { return p.containerDir(id) }

func writeJSON(path string, v any) error { return writeJSONMode(path, v, 0o600) }

// writeState records st in dir. Anyone may read it (`stepbox ps` works
// unprivileged): it says no more than /proc already shows everyone.
func writeState(dir string, st State) error {
	return writeJSONMode(filepath.Join(dir, "state.json"), st, 0o644)
}

func writeJSONMode(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	// A temporary name of this process's own, so that two writers never
	// share one half-written file.
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	// rename(2) is atomic: a reader sees the old state or the new, never half.
	return os.Rename(tmp, path)
}

func readState(dir string) (State, error) {
	var s State
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read %s/state.json: %w", dir, err)
	}
	return s, nil
}

// List returns the state of every container under p, oldest first.
func List(p Paths) ([]State, error) {
	ents, err := os.ReadDir(p.Run)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, readErr(p.Run, err)
	}
	var out []State
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		s, err := readState(filepath.Join(p.Run, e.Name()))
		if err != nil {
			continue // being created or removed right now
		}
		s.Status = liveStatus(p.containerDir(s.ID), s)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// liveStatus corrects the recorded status by looking at the process: a
// container whose init is gone is stopped, whatever the file says.
func liveStatus(dir string, s State) Status {
	if st, ok := monitoredStatus(s); ok {
		return st
	}
	if s.Pid == 0 || s.Status == Stopped {
		if s.Status == Creating {
			return Creating
		}
		return Stopped
	}
	if !processAlive(s.Pid, s.PidStart) {
		return Stopped
	}
	if _, err := os.Stat(filepath.Join(dir, "exec.fifo")); err == nil {
		return Created
	}
	return Running
}

// processAlive reports whether pid runs and is the same process that was
// started (its start time matches), and not a zombie.
func processAlive(pid int, start uint64) bool {
	st, state, err := procStart(pid)
	if err != nil || state == "Z" || state == "X" {
		return false
	}
	return start == 0 || st == start
}

// procStart reads the start time and state of pid from /proc/PID/stat.
func procStart(pid int) (uint64, string, error) {
	st, err := procstat.Read(pid)
	return st.StartTime, st.State, err
}
