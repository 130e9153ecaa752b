package lessons

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
)

// The agent is the lab container's payload: `stepbox agent`, answering
// requests from the lesson runner on its standard input. Being inside every
// namespace the container has, it can report what the container sees (its
// own /proc) and run commands there. It exists because a Go program cannot
// setns(2) into a user namespace (the runtime is multi-threaded), so the
// runner cannot simply enter the container the way nsenter(1) does.

// agentRequest is one line from the runner.
type agentRequest struct {
	Op      string `json:"op"`                // "hello", "snapshot", "sh", "shell"
	Cmd     string `json:"cmd,omitempty"`     // for sh and shell
	Timeout int    `json:"timeout,omitempty"` // seconds, for sh
}

// agentResponse is one line back.
type agentResponse struct {
	Version  string              `json:"version,omitempty"`
	Pid      int                 `json:"pid,omitempty"`
	Output   string              `json:"output,omitempty"`
	Code     int                 `json:"code"`
	Error    string              `json:"error,omitempty"`
	Snapshot *nsinspect.Snapshot `json:"snapshot,omitempty"`
}

// agentProtocol changes whenever requests or responses change meaning; the
// runner refuses an agent that speaks another.
const agentProtocol = "stepbox-agent/1"

// agentShellFD is the descriptor of the socket over which the agent hands the
// runner the master side of an interactive shell's terminal.
const agentShellFD = 3

// RunAgent serves requests until its input closes. It is the body of the
// hidden `stepbox agent` command.
func RunAgent(in io.Reader, out io.Writer) error {
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var req agentRequest
		resp := agentResponse{}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp.Error = "bad request: " + err.Error()
		} else {
			resp = serve(req)
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
	}
	return sc.Err()
}

func serve(req agentRequest) agentResponse {
	switch req.Op {
	case "hello":
		return agentResponse{Version: agentProtocol, Pid: os.Getpid()}
	case "snapshot":
		pid := selfPid()
		s, err := nsinspect.Take(pid)
		if err != nil {
			return agentResponse{Error: err.Error()}
		}
		return agentResponse{Snapshot: &s, Pid: pid}
	case "sh":
		return runShell(req.Cmd, req.Timeout)
	case "shell":
		if err := interactiveShell(req.Cmd); err != nil {
			return agentResponse{Error: err.Error()}
		}
		return agentResponse{}
	}
	return agentResponse{Error: fmt.Sprintf("unknown request %q", req.Op)}
}

// runShell runs cmd with /bin/sh inside the container and returns what it
// printed (stdout and stderr together, as a learner would see it).
func runShell(cmd string, timeout int) agentResponse {
	if timeout <= 0 {
		timeout = 10
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeout)*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Env = agentEnviron()
	out, err := c.CombinedOutput()
	resp := agentResponse{Output: string(out)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		resp.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			resp.Code = 128 + int(ws.Signal())
		}
	case err != nil:
		resp.Code, resp.Error = 127, err.Error()
	}
	if ctx.Err() != nil {
		resp.Error = fmt.Sprintf("timed out after %ds", timeout)
	}
	return resp
}

// agentEnviron is the environment of the commands the agent runs: its own,
// with the agent's directory in the PATH, so that `stepbox probe …` finds
// this binary in a container that still uses the host's files (the lessons
// before the root filesystem), as it finds /bin/stepbox after.
func agentEnviron() []string {
	env := os.Environ()
	self, err := os.Executable()
	if err != nil {
		return env
	}
	dir := filepath.Dir(self)
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			if !slices.Contains(filepath.SplitList(v), dir) {
				env[i] = "PATH=" + v + ":" + dir
			}
			return env
		}
	}
	return append(env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin:"+dir)
}

// interactiveShell opens a terminal inside the container, starts a shell
// on it and sends the terminal's master to the runner (SCM_RIGHTS over
// descriptor 3); it returns when the shell exits.
func interactiveShell(shell string) error {
	if shell == "" {
		shell = "/bin/sh"
	}
	master, peer, err := sandbox.OpenPTY()
	if err != nil {
		return err
	}
	defer unix.Close(master)
	slave := os.NewFile(uintptr(peer), "pty")
	defer slave.Close()
	c := exec.Command(shell)
	c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
	c.Env = append(os.Environ(), "PS1=[stepbox] \\w # ")
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start %s: %w", shell, err)
	}
	slave.Close()
	if err := unix.Sendmsg(agentShellFD, []byte("pty"), unix.UnixRights(master), nil, 0); err != nil {
		c.Process.Kill()
		c.Wait()
		return fmt.Errorf("send the terminal to the runner: %w", err)
	}
	_ = c.Wait()
	return nil
}

// selfPid is our pid as the /proc we can see numbers it. In a pid namespace
// that still reads the host's /proc (lesson 2, before /proc is mounted
// again) getpid(2) says 1, and /proc/1 there is the host's init: only
// /proc/self names us.
func selfPid() int {
	if target, err := os.Readlink("/proc/self"); err == nil {
		if pid, err := strconv.Atoi(target); err == nil {
			return pid
		}
	}
	return os.Getpid()
}
