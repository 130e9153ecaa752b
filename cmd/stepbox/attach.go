package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
)

func init() { register("attach", newAttachCmd) }

var (
	msgDetached = i18n.T("stepbox: detached from %s; it runs on (stepbox attach %s to come back)",
		"stepbox: %s에서 떨어졌습니다. 컨테이너는 계속 실행됩니다(다시 붙으려면 stepbox attach %s)")
	msgDropped = i18n.T("the container's monitor let this attach go (its output came faster than it was read); the container runs on",
		"컨테이너의 모니터가 이 attach를 끊었습니다(출력을 읽는 속도가 따라가지 못했습니다). 컨테이너는 계속 실행됩니다")
)

type attachOptions struct {
	noStdin    bool
	sigProxy   bool
	detachKeys string
}

func newAttachCmd(g *globals) *cobra.Command {
	o := &attachOptions{}
	cmd := &cobra.Command{
		Use:   "attach [--no-stdin] [--sig-proxy=true] [--detach-keys KEYS] NAME",
		Short: "Attach to a running container's input and output",
		Long: `Attach this terminal to a detached container's standard streams, through its
monitor, as docker attach does. From now on its output is shown (what the log
gets; 'stepbox logs' has what came before); what you type reaches it when it
was started with -i. A container with a terminal (run -dit) gets this terminal's
size, and follows it when it changes. The detach keys (ctrl-p ctrl-q unless
--detach-keys says otherwise) leave it running; so does closing the terminal or
killing attach. When the container exits, attach exits with its exit code.
Several attaches at once all see the output. Without a terminal, signals sent
to attach are passed to the container (--sig-proxy=false: not).

분리 모드로 실행 중인 컨테이너의 표준 입출력에 이 터미널을 붙입니다(docker attach와 같음).
지금부터의 출력이 보이고(그 전의 출력은 'stepbox logs'), -i로 시작한 컨테이너에는 입력이
전달됩니다. 터미널이 있는 컨테이너(run -dit)는 이 터미널의 크기를 받고 바뀌면 따라갑니다.
떼어 내는 키(기본 ctrl-p ctrl-q, --detach-keys로 바꿈)를 누르거나 터미널을 닫거나 attach를
죽여도 컨테이너는 계속 실행됩니다. 컨테이너가 끝나면 그 종료 코드로 끝납니다. 여러 attach가
동시에 붙을 수 있습니다. 터미널이 없으면 attach가 받은 시그널을 컨테이너에 넘깁니다
(--sig-proxy=false면 넘기지 않음).

Exit status: the container's, 0 after the detach keys, 1 when attach fails.`,
		Example: "  stepbox run -dit --name shell busybox sh\n  stepbox attach shell          # ctrl-p ctrl-q to leave it running\n  stepbox attach --no-stdin web  # only watch",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := parseDetachKeys(o.detachKeys)
			if err != nil {
				return err
			}
			if err := needsRoot("attach"); err != nil {
				return err
			}
			c, err := sandbox.Find(runPaths(g), args[0])
			if err != nil {
				return err
			}
			return attach(cmd.Context(), g, c, o, keys)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.noStdin, "no-stdin", false, "do not pass this terminal's input on")
	f.BoolVar(&o.sigProxy, "sig-proxy", true, "pass the signals attach gets on to the container (not with a terminal)")
	f.StringVar(&o.detachKeys, "detach-keys", "ctrl-p,ctrl-q", "the keys that detach, docker's format: a letter or ctrl-X, comma-separated")
	return cmd
}

func attach(ctx context.Context, g *globals, c *sandbox.Container, o *attachOptions, keys []byte) error {
	lang, err := g.Lang()
	if err != nil {
		return err
	}
	a, err := c.Attach()
	if err != nil {
		return err
	}
	return attached(ctx, g, lang, c, a, o, keys)
}

// attached stays with the container through a: its output, its input
// when it takes any, signals and resizes, until it exits or is left.
func attached(ctx context.Context, g *globals, lang i18n.Lang, c *sandbox.Container, a *sandbox.Attachment, o *attachOptions, keys []byte) error {
	defer a.Close()
	name := c.State().DisplayName()
	input := a.Stdin && !o.noStdin
	if a.Terminal {
		// Raw only when the keys go to the container (docker's rule):
		// otherwise ctrl-c is this terminal's, and ends attach.
		if input {
			restore := rawTerminal(g.stdin)
			defer restore()
		}
		sendSize(a, g.stdout)
	}
	sigs := make(chan os.Signal, 8)
	interrupted := ctx.Done()
	if a.Terminal {
		signal.Notify(sigs, unix.SIGWINCH)
	} else if o.sigProxy {
		proxySignals(sigs)
		// INT and TERM are the container's to act on: attach waits
		// for what it does with them.
		ctx, interrupted = context.Background(), nil
	}
	defer signal.Stop(sigs)
	detached := make(chan struct{})
	if input {
		go func() {
			if copyInput(a, g.stdin, keys) {
				close(detached)
			}
		}()
	}
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		for {
			stream, data, err := a.Recv()
			if err != nil {
				done <- result{err}
				return
			}
			w := g.stdout
			if stream == 2 {
				w = g.stderr
			}
			if _, err := w.Write(data); err != nil {
				done <- result{err}
				return
			}
		}
	}()
	for {
		select {
		case s := <-sigs:
			if s == unix.SIGWINCH {
				sendSize(a, g.stdout)
			} else {
				_ = c.Kill(s.(syscall.Signal))
			}
		case <-interrupted:
			return withCode(exitError, nil) // the container runs on
		case <-detached:
			if a.Terminal {
				fmt.Fprint(g.stderr, "\r\n")
			}
			fmt.Fprintf(g.stderr, msgDetached.In(lang)+"\n", name, name)
			return nil
		case r := <-done:
			switch {
			case errors.Is(r.err, io.EOF):
				st, err := c.WaitStopped(ctx)
				if err != nil {
					return err
				}
				return containerExit(st)
			case errors.Is(r.err, sandbox.ErrDropped):
				if st := c.State(); !st.Active() {
					return containerExit(st)
				}
				return errors.New(msgDropped.In(lang))
			}
			return r.err // our own output is gone: the container runs on
		}
	}
}

// proxySignals catches what docker's --sig-proxy passes on: every signal a
// user sends, not those the terminal and the runtime make for themselves.
func proxySignals(c chan os.Signal) {
	for s := unix.Signal(1); s < 32; s++ {
		switch s {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGPIPE, unix.SIGWINCH, unix.SIGURG,
			unix.SIGTTIN, unix.SIGTTOU, unix.SIGTSTP, unix.SIGCONT, unix.SIGPROF, unix.SIGSEGV,
			unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS:
			continue
		}
		signal.Notify(c, s)
	}
}

// containerExit is attach's and start -a's end: the container's exit code,
// 1 when it is unknown (its monitor was killed).
func containerExit(st sandbox.State) error {
	if st.ExitCode == nil {
		return withCode(exitError, nil)
	}
	if *st.ExitCode != 0 {
		return withCode(*st.ExitCode, nil)
	}
	return nil
}

// sendSize gives the container's terminal the size of ours.
func sendSize(a *sandbox.Attachment, out io.Writer) {
	if ws, ok := winsize(out); ok {
		_ = a.Resize(ws.Row, ws.Col)
	}
}

// copyInput passes in on to the container until it ends (false) or the
// detach keys are typed (true). Keys that begin the sequence are held back
// until it is clear they are not it, then sent, as docker does.
func copyInput(a *sandbox.Attachment, in io.Reader, keys []byte) bool {
	buf := make([]byte, 4096)
	matched := 0
	for {
		n, err := in.Read(buf)
		if n > 0 {
			out := make([]byte, 0, n+matched)
			for _, b := range buf[:n] {
				if len(keys) > 0 && b == keys[matched] {
					matched++
					if matched == len(keys) {
						if len(out) > 0 {
							_, _ = a.Write(out)
						}
						return true
					}
					continue
				}
				if matched > 0 {
					out = append(out, keys[:matched]...)
					matched = 0
					if b == keys[0] {
						matched = 1
						continue
					}
				}
				out = append(out, b)
			}
			if len(out) > 0 {
				if _, err := a.Write(out); err != nil {
					return false
				}
			}
		}
		if err != nil {
			return false
		}
	}
}

// parseDetachKeys reads docker's --detach-keys: comma-separated keys, each
// one character or ctrl-X (X a letter or one of @ [ \ ] ^ _). Empty: none.
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			x := k[5]
			switch {
			case x >= 'a' && x <= 'z':
				keys = append(keys, x-'a'+1)
			case x >= 'A' && x <= 'Z':
				keys = append(keys, x-'A'+1)
			case x >= '@' && x <= '_':
				keys = append(keys, x-'@')
			default:
				return nil, badDetachKeys(s)
			}
		default:
			return nil, badDetachKeys(s)
		}
	}
	return keys, nil
}

func badDetachKeys(s string) error {
	return usageError{hint.With(fmt.Errorf("invalid --detach-keys %q", s), "give keys such as ctrl-p,ctrl-q or ctrl-a,d: a letter or ctrl-X, comma-separated")}
}
