package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
)

// The commands of a container's life after `run`: run -d, start, stop,
// restart, kill, wait, rm (this file), ps, logs, top and container inspect
// (lifecycle_show.go). A container is named by its name, its id or a
// prefix of its id that only it has (sandbox.Resolve).

func init() {
	register("stop", newStopCmd)
	register("start", newStartCmd)
	register("restart", newRestartCmd)
	register("kill", newKillCmd)
	register("wait", newWaitCmd)
	register("rm", newRmCmd)
}

// detachFlags are run's flags for a detached container.
func (o *runOptions) detachFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVarP(&o.detach, "detach", "d", false, "run in the background under a monitor and print the container's id")
	f.StringVar(&o.restart, "restart", "no", "with -d: restart policy, no, on-failure[:N] or always")
}

// checkDetach refuses what cannot be run before anything is made.
func (o *runOptions) checkDetach() error {
	if o.name != "" {
		if err := sandbox.ValidateID(o.name); err != nil {
			return err
		}
	}
	if _, err := sandbox.ParseRestartPolicy(o.restart); err != nil {
		return err
	}
	if o.restart != "no" && o.restart != "" {
		if !o.detach {
			return hint.With(errors.New("--restart needs -d: only a detached container has a monitor to restart it"), "add -d")
		}
		if o.rm {
			return hint.With(errors.New("conflicting options: --restart and --rm"), "a container that removes itself is never restarted: keep one of them")
		}
	}
	return nil
}

// runDetached is `run -d`: the container runs under its monitor, and its
// full id is printed once it runs.
func runDetached(g *globals, o *runOptions, paths sandbox.Paths, id string, spec *specs.Spec, src *runSource) error {
	policy, _ := sandbox.ParseRestartPolicy(o.restart)
	warned := false
	err := named(o.name, func(name string) error {
		// Made again for each name tried: a failed start releases it.
		r, wait, err := src.prepare(g, id, spec, &warned)
		if err != nil {
			return err
		}
		if err := wait(); err != nil {
			return err
		}
		_, err = sandbox.RunDetached(paths, id, spec, sandbox.DetachOptions{Name: name, Init: o.init, Stdin: o.stdin,
			Restart: policy, AutoRemove: o.rm, Image: r, Network: o.netCfg})
		if err != nil {
			_ = sandbox.ReleaseImageRootfs(r, id)
		}
		return err
	})
	if err != nil {
		return runFailed(err)
	}
	fmt.Fprintln(g.stdout, id)
	return nil
}

// named runs f with the container's name: the one given, or a made-up one,
// and another while those are taken.
func named(given string, f func(name string) error) error {
	if given != "" {
		return f(given)
	}
	var err error
	for range 8 {
		if err = f(sandbox.GenerateName()); !errors.Is(err, sandbox.ErrNameInUse) {
			return err
		}
	}
	return err
}

// needsRoot refuses a command that changes containers, which are root's.
func needsRoot(what string) error {
	if os.Geteuid() == 0 {
		return nil
	}
	return hint.With(fmt.Errorf("%s: %w", what, sandbox.ErrNeedsRoot), "containers are root's: run it as root, e.g. with sudo")
}

// eachContainer runs f on each container named, as docker does: it goes on
// past a failure, prints each failure as one line, and exits 1 if any.
func eachContainer(g *globals, refs []string, f func(ref string, c *sandbox.Container) error) error {
	failed := false
	for _, ref := range refs {
		c, err := sandbox.Find(runPaths(g), ref)
		if err == nil {
			err = f(ref, c)
		}
		if err != nil {
			printError(g.stderr, err)
			failed = true
		}
	}
	if failed {
		return withCode(exitError, nil)
	}
	return nil
}

func newStopCmd(g *globals) *cobra.Command {
	var seconds int
	cmd := &cobra.Command{
		Use:   "stop [-t SECONDS] NAME...",
		Short: "Stop running containers",
		Long: `Stop each container as docker stop does: SIGTERM to its init, which passes it
on to the command; then, if it is still running after the grace time, SIGKILL to
every process in its cgroups. A restart policy then rests until the container is
started again. The name of each container stopped is printed.

실행 중인 컨테이너를 멈춥니다. 먼저 SIGTERM을 보내고, 유예 시간(-t)이 지나도 살아 있으면
cgroup 안의 모든 프로세스에 SIGKILL을 보냅니다. 재시작 정책은 다시 start할 때까지 쉽니다.`,
		Example: "  stepbox stop web\n  stepbox stop -t 2 web db",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("stop"); err != nil {
				return err
			}
			return eachContainer(g, args, func(ref string, c *sandbox.Container) error {
				if err := c.Stop(time.Duration(seconds) * time.Second); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, ref)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&seconds, "time", "t", 10, "seconds to wait before SIGKILL")
	return cmd
}

func newStartCmd(g *globals) *cobra.Command {
	var attach, interactive bool
	o := &attachOptions{sigProxy: true}
	cmd := &cobra.Command{
		Use:   "start [-a [-i]] NAME...",
		Short: "Start stopped containers again",
		Long: `Start each stopped container again, detached, under a new monitor: the same
description, the same root filesystem (what the container wrote there is still
there), the same log. With -a, stay with the one container named, attached
before it runs, as 'stepbox attach' is: its output from the first byte,
signals passed on, and its exit code at the end; -i also passes this
terminal's input on (its standard input is kept open for this run), and a
container with a terminal gets this one's size. The detach keys (ctrl-p
ctrl-q) leave it running.

멈춘 컨테이너를 같은 설정과 같은 루트 파일 시스템으로 다시 시작합니다(분리 모드, 새 모니터).
-a를 주면 실행 전에 붙어서 첫 출력부터 보여 주고 시그널을 넘기며, 컨테이너의 종료 코드로
끝납니다. -i를 함께 주면 이 터미널의 입력도 넘깁니다. 떼어 내는 키(ctrl-p ctrl-q)를 누르면
컨테이너는 계속 실행됩니다.`,
		Example: "  stepbox start web\n  stepbox start -a job\n  stepbox start -ai shell",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interactive && !attach {
				return usagef("start -i needs -a (docker's start -ai)")
			}
			if err := needsRoot("start"); err != nil {
				return err
			}
			if attach {
				if len(args) != 1 {
					return usagef("start -a takes one container")
				}
				o.noStdin = !interactive
				return startAttached(cmd, g, args[0], o)
			}
			return eachContainer(g, args, func(ref string, c *sandbox.Container) error {
				if err := startOne(g, c); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, ref)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&attach, "attach", "a", false, "stay attached: its output, signals passed on, its exit code")
	f.BoolVarP(&interactive, "interactive", "i", false, "with -a, pass this terminal's input on too")
	f.StringVar(&o.detachKeys, "detach-keys", "ctrl-p,ctrl-q", "with -a, the keys that detach, docker's format")
	return cmd
}

// startOne starts c; one already running is left as it is, as docker does
// (the exit code stays 0), with a word on standard error.
func startOne(g *globals, c *sandbox.Container) error {
	_, err := sandbox.StartDetached(runPaths(g), c.ID)
	if errors.Is(err, sandbox.ErrWrongState) && c.State().Active() {
		fmt.Fprintf(g.stderr, "stepbox: container %s is already running\n", c.State().DisplayName())
		return nil
	}
	return err
}

func newRestartCmd(g *globals) *cobra.Command {
	var seconds int
	cmd := &cobra.Command{
		Use:   "restart [-t SECONDS] NAME...",
		Short: "Stop and start containers again",
		Long: `Stop each container (as stop does, with its grace time) and start it again
(as start does). A stopped container is simply started.

컨테이너를 멈췄다가(stop과 같음) 다시 시작합니다(start와 같음).`,
		Example: "  stepbox restart web",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("restart"); err != nil {
				return err
			}
			return eachContainer(g, args, func(ref string, c *sandbox.Container) error {
				if err := c.Stop(time.Duration(seconds) * time.Second); err != nil {
					return err
				}
				if err := startOne(g, c); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, ref)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&seconds, "time", "t", 10, "seconds to wait before SIGKILL")
	return cmd
}

func newKillCmd(g *globals) *cobra.Command {
	var signame string
	cmd := &cobra.Command{
		Use:   "kill [-s SIGNAL] NAME...",
		Short: "Send a signal to containers",
		Long: `Send a signal (SIGKILL unless -s says otherwise) to each container's init, which
passes it on to the command. A signal that ends a container (KILL, TERM, INT,
QUIT) also makes its restart policy rest until it is started again; others
(HUP, USR1, …) leave it, as with docker.

컨테이너의 init에 시그널을 보냅니다(기본값 SIGKILL). KILL, TERM, INT, QUIT는 재시작 정책도
다음 start까지 쉬게 합니다.`,
		Example: "  stepbox kill web\n  stepbox kill -s HUP web",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := parseSignal(signame)
			if err != nil {
				return err
			}
			if err := needsRoot("kill"); err != nil {
				return err
			}
			return eachContainer(g, args, func(ref string, c *sandbox.Container) error {
				if err := c.Kill(sig); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, ref)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&signame, "signal", "s", "KILL", "signal: a name (TERM, SIGHUP) or a number")
	return cmd
}

// parseSignal reads a signal as docker does: KILL, SIGKILL or 9.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, usageError{hint.With(fmt.Errorf("invalid signal %q", s), "use a name such as TERM or KILL, or a number")}
}

func newWaitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait NAME...",
		Short: "Wait for containers to stop and print their exit codes",
		Long: `Wait until each container has stopped and print its exit code, one per line
(-1 when it cannot be known: its monitor was killed). A container between the
runs of its restart policy counts as stopped.

컨테이너가 멈출 때까지 기다렸다가 종료 코드를 한 줄에 하나씩 출력합니다(알 수 없으면 -1).`,
		Example: "  stepbox wait job",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(ref string, c *sandbox.Container) error {
				st, err := c.WaitStopped(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, exitCodeText(st))
				return nil
			})
		},
	}
}

// exitCodeText is the recorded exit code, or -1 when it is unknown.
func exitCodeText(st sandbox.State) string {
	if st.ExitCode == nil {
		return "-1"
	}
	return strconv.Itoa(*st.ExitCode)
}

func newRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm [-f] NAME...",
		Short: "Remove containers",
		Long: `Remove stopped containers: their record, log and name. With -f, running ones
too: every process in their cgroups is killed first, and their monitor ends.
Whatever a container held in the kernel (cgroups, mounts, processes) goes
with it, even when its monitor was killed.

멈춘 컨테이너를 지웁니다(기록, 로그, 이름). -f를 주면 실행 중인 것도 cgroup 안의 프로세스를
모두 죽이고 지웁니다. 모니터가 죽었더라도 커널에 남은 것(cgroup, 마운트, 프로세스)은 모두 사라집니다.`,
		Example: "  stepbox rm web\n  stepbox rm -f web db",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("rm"); err != nil {
				return err
			}
			return eachContainer(g, args, func(ref string, c *sandbox.Container) error {
				if err := c.Remove(force); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, ref)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill and remove running containers")
	return cmd
}
