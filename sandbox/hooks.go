package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// HookKind names one of the runtime-spec's points in a container's life
// where hooks run (config.md, "POSIX-platform Hooks").
type HookKind string

const (
	// HookPrestart and HookCreateRuntime run in the runtime's namespaces
	// once the container's namespaces exist, before pivot_root(2).
	HookPrestart      HookKind = "prestart"
	HookCreateRuntime HookKind = "createRuntime"
	// HookCreateContainer runs in the container's namespaces, before
	// pivot_root(2), so its path is the host's (runc does the same).
	HookCreateContainer HookKind = "createContainer"
	// HookStartContainer runs in the container just before the payload.
	HookStartContainer HookKind = "startContainer"
	// HookPoststart runs in the runtime's namespaces once the payload runs.
	HookPoststart HookKind = "poststart"
	// HookPoststop runs in the runtime's namespaces once the container is
	// deleted.
	HookPoststop HookKind = "poststop"
)

// Hooks returns the spec's hooks of one kind.
func Hooks(h *specs.Hooks, kind HookKind) []specs.Hook {
	if h == nil {
		return nil
	}
	switch kind {
	case HookPrestart:
		return h.Prestart //nolint:staticcheck // deprecated in the spec, still honoured
	case HookCreateRuntime:
		return h.CreateRuntime
	case HookCreateContainer:
		return h.CreateContainer
	case HookStartContainer:
		return h.StartContainer
	case HookPoststart:
		return h.Poststart
	case HookPoststop:
		return h.Poststop
	}
	return nil
}

// hasCreateHooks reports whether the init must stop before pivot_root for
// hooks (the parent's prestart and createRuntime, its own createContainer).
// The startContainer hooks need the state the exchange brings too.
func hasCreateHooks(h *specs.Hooks) bool {
	return len(Hooks(h, HookPrestart)) > 0 || len(Hooks(h, HookCreateRuntime)) > 0 ||
		len(Hooks(h, HookCreateContainer)) > 0 || len(Hooks(h, HookStartContainer)) > 0
}

// RunHooks runs hooks in order, each with the container's state as JSON on
// its standard input, as the runtime-spec asks; the first that fails or
// outlives its timeout stops the rest and is the error.
func RunHooks(kind HookKind, hooks []specs.Hook, st specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return runHooks(kind, hooks, b)
}

func runHooks(kind HookKind, hooks []specs.Hook, state []byte) error {
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// runHook runs one hook and waits for it. Its output is kept, and its last
// line names why it failed (runc reports a hook's output the same way).
func runHook(h specs.Hook, state []byte) error {
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	var out bytes.Buffer
	cmd := &exec.Cmd{Path: h.Path, Args: args, Env: h.Env, Stdin: bytes.NewReader(state),
		Stdout: &out, Stderr: &out}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if h.Timeout != nil {
		t := time.NewTimer(time.Duration(*h.Timeout) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err := <-done:
		if err != nil {
			if s := lastLine(out.String()); s != "" {
				return fmt.Errorf("%w: %s", err, s)
			}
			return err
		}
		return nil
	case <-timeout:
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("timed out after %d s", *h.Timeout)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// checkHooks refuses hooks the runtime cannot run: a relative path, or a
// timeout that is not positive (config.md: "timeout ... MUST be greater
// than zero").
func checkHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	for _, kind := range []HookKind{HookPrestart, HookCreateRuntime, HookCreateContainer, HookStartContainer, HookPoststart, HookPoststop} {
		for i, hk := range Hooks(h, kind) {
			if !strings.HasPrefix(hk.Path, "/") {
				return invalidf("hooks.%s[%d].path %q is not absolute", kind, i, hk.Path)
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return invalidf("hooks.%s[%d].timeout must be greater than zero", kind, i)
			}
		}
	}
	return nil
}

// hookState is the state passed to the hooks run while the container is
// made, by the parent and by the init.
func (c *Container) hookState(status Status) specs.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state.OCI()
	st.Status = specs.ContainerState(status)
	return st
}

// runCreateHooks answers the init's "hooks" message: the prestart and
// createRuntime hooks run here, then the init is sent the state for its
// createContainer and startContainer hooks. A failure is the create's.
func (c *Container) runCreateHooks() error {
	st := c.hookState(Creating)
	// prestart is runtime-spec 1.0's hook "called after the start
	// operation is called": its state says created, which the
	// runtime-tools suite checks for; the newer hooks get creating.
	pre := st
	pre.Status = specs.StateCreated
	if err := RunHooks(HookPrestart, Hooks(c.spec.Hooks, HookPrestart), pre); err != nil {
		return err
	}
	if err := RunHooks(HookCreateRuntime, Hooks(c.spec.Hooks, HookCreateRuntime), st); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := sendMsg(c.sync, syncMsg{Type: "hooks-done", Message: string(b)}, -1); err != nil {
		return fmt.Errorf("tell the container init the hooks ran: %w", err)
	}
	return nil
}

// initCreateHooks is the init's side of the create hooks, called once its
// mounts are made and before it enters the root: it asks the parent to run
// the prestart and createRuntime hooks, waits for the state, and runs the
// createContainer hooks itself, in the container's namespaces. It returns
// the state, which the startContainer hooks get too.
func initCreateHooks(sync *os.File, h *specs.Hooks) ([]byte, error) {
	if err := sendMsg(sync, syncMsg{Type: "hooks"}, -1); err != nil {
		return nil, fmt.Errorf("ask the parent to run the hooks: %w", err)
	}
	m, fd, ok, err := recvMsg(sync)
	if fd >= 0 {
		unix.Close(fd)
	}
	if err != nil {
		return nil, err
	}
	if !ok || m.Type != "hooks-done" {
		return nil, errors.New("the parent did not run the hooks")
	}
	state := []byte(m.Message)
	if err := runHooks(HookCreateContainer, Hooks(h, HookCreateContainer), state); err != nil {
		return nil, err
	}
	return state, nil
}

// initStartHooks runs the startContainer hooks in the container, once
// started, just before the payload (config.md: "after the start operation
// is called but before the user-specified program command is executed").
func initStartHooks(h *specs.Hooks, state []byte) error {
	hooks := Hooks(h, HookStartContainer)
	if len(hooks) == 0 {
		return nil
	}
	var st specs.State
	if err := json.Unmarshal(state, &st); err == nil {
		st.Status = specs.StateCreated
		if b, err := json.Marshal(st); err == nil {
			state = b
		}
	}
	return runHooks(HookStartContainer, hooks, state)
}
