package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register("exec", newExecCmd) }

// execOptions are docker exec's flags.
type execOptions struct {
	interactive, tty, detach bool
	env                      []string
	user, workdir            string
}

func newExecCmd(g *globals) *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a running container: in every one of its namespaces (the user
and mount namespaces too), in its cgroups, with its capabilities, no_new_privs,
seccomp filter, rlimits and environment, as runc exec does. -u, -w and -e
change the user, the working directory and the environment for this command
alone. The exit status is the command's own, 126 when it cannot be executed,
127 when it is not found, 125 when stepbox itself failed, and 1 when the
container is unknown or not running (docker's).

실행 중인 컨테이너 안에서 명령을 실행합니다. 사용자·마운트 네임스페이스까지 컨테이너의
모든 네임스페이스와 cgroup 안에서, 컨테이너의 케이퍼빌리티, no_new_privs, seccomp
필터, rlimit, 환경 변수를 그대로 가지고 실행됩니다(runc exec와 같습니다). -u, -w,
-e는 이 명령에만 사용자, 작업 디렉터리, 환경 변수를 바꿉니다. 종료 상태는 명령 자신의
것이고, 실행할 수 없으면 126, 찾을 수 없으면 127, stepbox 자신이 실패하면 125,
컨테이너가 없거나 실행 중이 아니면 1입니다(docker와 같습니다).`,
		Example: `  stepbox exec web ps -ef
  stepbox exec -it web sh
  stepbox exec -u 1000:1000 -w /tmp -e DEBUG=1 web id
  stepbox exec -d web sh -c 'sleep 60'`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error { return runExec(g, o, args[0], args[1:]) },
	}
	f := cmd.Flags()
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep standard input open and pass it to the command")
	f.BoolVarP(&o.tty, "tty", "t", false, "give the command a terminal of its own in the container")
	f.BoolVarP(&o.detach, "detach", "d", false, "run the command in the background")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringVarP(&o.user, "user", "u", "", "run as UID[:GID] or NAME[:GROUP] of the container")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	// Everything after COMMAND is the command's: `exec web ls -l`.
	f.SetInterspersed(false)
	return cmd
}

// runExec starts the command in the container and stays with it, as run
// stays with a foreground container: its terminal, signals, exit code.
func runExec(g *globals, o *execOptions, ref string, args []string) error {
	c, err := sandbox.Find(runPaths(g), ref)
	if err != nil {
		return err
	}
	st := c.State()
	if st.Status != sandbox.Running {
		return hint.With(stateError{fmt.Sprintf("container %s is not running", st.DisplayName())},
			"start it first with 'stepbox start "+st.DisplayName()+"'")
	}
	p, err := c.ExecProcess(sandbox.ExecSettings{Args: args, Env: o.env, User: o.user, Cwd: o.workdir, Terminal: o.tty})
	if err != nil {
		return withCode(125, err)
	}
	opts := sandbox.ExecOptions{Detach: o.detach}
	// A detached command's output goes nowhere, as docker's: it must not
	// hold the caller's terminal or pipe open after we are gone.
	if !o.detach {
		opts.Stdout, opts.Stderr = g.stdout, g.stderr
		if o.interactive && !o.tty {
			opts.Stdin = g.stdin
		}
	}
	// Signals the command should get pass through (docker's --sig-proxy),
	// caught before it runs.
	forward := catchForwarded()
	forward.Wait()
	proc, err := c.Exec(p, opts)
	if err != nil {
		return withCode(sandbox.ExitCode(err), err)
	}
	if o.detach {
		return nil
	}
	code := stayWith(g, o, proc, forward)
	if code != 0 {
		return withCode(code, nil)
	}
	return nil
}

// stayWith copies the command's terminal, passes signals on, and returns
// its exit code.
func stayWith(g *globals, o *execOptions, proc *sandbox.Process, forward *notifier) int {
	drain := func() {}
	if con := proc.Console(); con != nil {
		var restore func()
		drain, restore = attachConsole(g.stdin, g.stdout, con, o.interactive)
		defer restore()
	}
	code := waitForwarding(proc.Wait, forward, proc.Console(), g.stdout, func(sig syscall.Signal) {
		if err := proc.Signal(sig); err != nil && !errors.Is(err, sandbox.ErrWrongState) {
			fmt.Fprintf(g.stderr, "stepbox: %v\n", err)
		}
	})
	drain()
	return code
}

// stateError says a container is in the wrong state for what was asked, in
// its own words, and is sandbox.ErrWrongState to errors.Is.
type stateError struct{ msg string }

func (e stateError) Error() string { return e.msg }
func (e stateError) Unwrap() error { return sandbox.ErrWrongState }
