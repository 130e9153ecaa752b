package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox/image"
)

func init() {
	register("pull", func(g *globals) *cobra.Command { return newPullCmd(g, "pull") })
	register("push", func(g *globals) *cobra.Command { return newPushCmd(g, "push") })
	register("login", newLoginCmd)
	register("logout", newLogoutCmd)
}

// registryFlags are the flags pull, push and login share with podman.
type registryFlags struct {
	tlsVerify bool
	authfile  string
}

func (f *registryFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS with a trusted certificate; false allows plain HTTP and any certificate for this registry alone")
	cmd.Flags().StringVar(&f.authfile, "authfile", "", "credentials file (default: REGISTRY_AUTH_FILE, then $XDG_CONFIG_HOME/stepbox/auth.json)")
}

// authFile is --authfile, else the user's default one.
func (f *registryFlags) authFile() (image.AuthFile, error) {
	if f.authfile != "" {
		return image.AuthFile{Path: f.authfile}, nil
	}
	p, err := image.DefaultAuthFile()
	return image.AuthFile{Path: p}, err
}

// options are the library's options for these flags; without a place for
// credentials (no HOME) the registry is asked anonymously.
func (f *registryFlags) options() image.RemoteOptions {
	o := image.RemoteOptions{Insecure: !f.tlsVerify}
	if af, err := f.authFile(); err == nil {
		o.Keychain = af.Keychain()
	}
	return o
}

func newPullCmd(g *globals, use string) *cobra.Command {
	var rf registryFlags
	var platform string
	var quiet bool
	cmd := &cobra.Command{
		Use:   use + " [--platform OS/ARCH] [--tls-verify=false] [-q] NAME[:TAG|@DIGEST]",
		Short: "Pull an image from a registry",
		Long: `Fetch an image from a registry into the store, as docker pull and podman
pull do: its manifest (from a manifest list, the one for --platform, else
linux on this machine's architecture), its config and the layers the store
does not have yet, several at once, each checked against its digest before
it is kept, then unpacked. A pull that fails or is interrupted leaves no
image and no half file; the whole layers it fetched are used by the next
pull. Credentials come from 'stepbox login'. Plain HTTP, even to
127.0.0.1, needs --tls-verify=false.

레지스트리에서 이미지를 가져와 저장소에 넣습니다(docker pull, podman pull과 같음).
매니페스트 목록에서는 --platform(기본: linux와 이 머신의 아키텍처)에 맞는 이미지를 고르고,
저장소에 아직 없는 레이어만 여러 개를 동시에 받아 digest를 확인한 뒤에 보관하고 풉니다.
실패하거나 중간에 끊긴 pull은 이미지도 반쪽 파일도 남기지 않으며, 이미 다 받은 레이어는 다음
pull이 다시 받지 않고 씁니다. 평문 HTTP는 127.0.0.1이라도 --tls-verify=false가 있어야
씁니다.`,
		Example: "  stepbox pull --tls-verify=false 127.0.0.1:5000/course/hello:v1\n" +
			"  stepbox pull --platform linux/arm64 registry.example.com/team/app:2.1\n" +
			"  stepbox pull registry.example.com/team/app@sha256:3f1c…",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := image.ParseRemoteRef(args[0])
			if err != nil {
				return err
			}
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			o := rf.options()
			o.Platform = platform
			board := newLayerBoard(g, quiet)
			o.Progress = board.update()
			if !quiet {
				fmt.Fprintf(g.stdout, "%s: Pulling from %s\n", ref.Identifier(), familiarRepo(ref.Context()))
			}
			pulled, err := s.Pull(cmd.Context(), args[0], o)
			board.done()
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(g.stdout, pulled.Name)
				return nil
			}
			for _, l := range pulled.Layers {
				fmt.Fprintf(g.stdout, "%s: %s\n", l.Short(), l.Status)
			}
			fmt.Fprintf(g.stdout, "Digest: %s\n", pulled.Digest)
			if pulled.Fetched == 0 {
				fmt.Fprintf(g.stdout, "Status: Image is up to date for %s\n", pulled.Name)
			} else {
				fmt.Fprintf(g.stdout, "Status: Downloaded newer image for %s\n", pulled.Name)
			}
			fmt.Fprintln(g.stdout, pulled.Name)
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&platform, "platform", "", "the image to take from a manifest list, as OS/ARCH[/VARIANT] (default: linux and this machine's architecture)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image's name")
	return cmd
}

// familiarRepo is a repository as docker prints it.
func familiarRepo(r name.Repository) string {
	if r.RegistryStr() == name.DefaultRegistry {
		return strings.TrimPrefix(r.RepositoryStr(), "library/")
	}
	return r.RegistryStr() + "/" + r.RepositoryStr()
}

func newPushCmd(g *globals, use string) *cobra.Command {
	var rf registryFlags
	var quiet bool
	cmd := &cobra.Command{
		Use:   use + " [--tls-verify=false] [-q] IMAGE [DESTINATION]",
		Short: "Push an image to a registry",
		Long: `Send an image of the store to a registry, as docker push and podman push
do: to IMAGE's own name (which must then name a registry, as
127.0.0.1:5000/course/hello:v1), or to DESTINATION. Only the layers the
registry lacks are sent; the manifest goes last, byte for byte the one the
store keeps, so the image has the same digest there as here. -q prints only
that digest.

저장소의 이미지를 레지스트리로 보냅니다(docker push, podman push와 같음). IMAGE의 이름
(레지스트리가 들어 있어야 함)이나 DESTINATION으로 보내며, 레지스트리에 없는 레이어만
보냅니다. 매니페스트는 저장소에 있는 바이트 그대로 마지막에 보내므로 레지스트리에서도
digest가 같습니다.`,
		Example: "  stepbox push --tls-verify=false 127.0.0.1:5000/course/hello:v1\n" +
			"  stepbox push course/hello:v1 registry.example.com/team/hello:v1",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			target := dest
			if target == "" {
				target = args[0]
			}
			s, err := imageStore(g)
			if err != nil {
				return err
			}
			o := rf.options()
			board := newLayerBoard(g, quiet)
			o.Progress = board.update()
			if ref, err := image.ParseRemoteRef(target); err == nil && !quiet {
				fmt.Fprintf(g.stdout, "The push refers to repository [%s]\n", familiarRepo(ref.Context()))
			}
			pushed, err := s.Push(cmd.Context(), args[0], dest, o)
			board.done()
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(g.stdout, pushed.Digest)
				return nil
			}
			for i := len(pushed.Layers) - 1; i >= 0; i-- {
				l := pushed.Layers[i]
				fmt.Fprintf(g.stdout, "%s: %s\n", l.Short(), l.Status)
			}
			_, tag := image.SplitRef(pushed.Name)
			fmt.Fprintf(g.stdout, "%s: digest: %s size: %d\n", tag, pushed.Digest, pushed.Size)
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress; print only the manifest's digest")
	return cmd
}

func newLoginCmd(g *globals) *cobra.Command {
	var rf registryFlags
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [-u USER] [-p PASSWORD | --password-stdin] [--tls-verify=false] REGISTRY",
		Short: "Log in to a registry",
		Long: `Check a user and password against a registry and keep them for pull and
push, as docker login and podman login do. They are kept in
$XDG_CONFIG_HOME/stepbox/auth.json (~/.config/stepbox/auth.json), or the
file REGISTRY_AUTH_FILE or --authfile names, in docker's config.json
format, readable by you alone (mode 0600). The password is encoded there,
not encrypted, as docker and podman keep it without a credential helper.
Prefer --password-stdin to -p: a password on the command line is seen by
every user's ps.

레지스트리에 사용자와 비밀번호를 확인받고, pull과 push에 쓰도록 보관합니다(docker
login, podman login과 같음). 보관 위치는 $XDG_CONFIG_HOME/stepbox/auth.json
(~/.config/stepbox/auth.json)이나 REGISTRY_AUTH_FILE, --authfile이 가리키는 파일이며,
docker의 config.json 형식으로 본인만 읽을 수 있게(0600) 저장합니다. 비밀번호는 암호화가
아니라 인코딩만 되어 있습니다. 명령줄의 -p보다 --password-stdin을 쓰세요. 명령줄 인자는
다른 사용자의 ps에도 보입니다.`,
		Example: "  stepbox login -u learner 127.0.0.1:5000\n  printf '%s' \"$PASS\" | stepbox login -u learner --password-stdin --tls-verify=false 127.0.0.1:5000",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if passwordStdin && password != "" {
				return usagef("give -p or --password-stdin, not both")
			}
			if passwordStdin && user == "" {
				return usagef("--password-stdin needs -u USER")
			}
			af, err := rf.authFile()
			if err != nil {
				return err
			}
			in, tty := terminal(g.stdin)
			rd := bufio.NewReader(g.stdin)
			if user == "" {
				if !tty {
					return usagef("no user: give -u USER")
				}
				fmt.Fprint(g.stderr, "Username: ")
				line, _ := rd.ReadString('\n')
				user = strings.TrimSpace(line)
				if user == "" {
					return usagef("no user given")
				}
			}
			switch {
			case password != "":
				fmt.Fprintln(g.stderr, "WARNING! A password on the command line is seen by every user of this machine (ps); use --password-stdin.")
			case passwordStdin:
				b, err := io.ReadAll(io.LimitReader(g.stdin, 64<<10))
				if err != nil {
					return fmt.Errorf("read the password from standard input: %w", err)
				}
				password = strings.TrimRight(string(b), "\r\n")
			case tty:
				fmt.Fprint(g.stderr, "Password: ")
				b, err := term.ReadPassword(int(in.Fd()))
				fmt.Fprintln(g.stderr)
				if err != nil {
					return fmt.Errorf("read the password: %w", err)
				}
				password = string(b)
			default:
				return usagef("no password: give --password-stdin and write it to standard input")
			}
			if password == "" {
				return usagef("empty password")
			}
			if err := image.Login(cmd.Context(), args[0], user, password, image.RemoteOptions{Insecure: !rf.tlsVerify}); err != nil {
				return err
			}
			if err := af.Set(args[0], user, password); err != nil {
				return hint.With(err, "check that the credentials file's directory is yours and writable")
			}
			fmt.Fprintln(g.stdout, "Login Succeeded")
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVarP(&user, "username", "u", "", "user name")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (seen by ps: prefer --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func newLogoutCmd(g *globals) *cobra.Command {
	var rf registryFlags
	cmd := &cobra.Command{
		Use:   "logout REGISTRY",
		Short: "Forget the credentials kept for a registry",
		Long: `Remove the credentials 'stepbox login' kept for REGISTRY.

'stepbox login'으로 보관한 REGISTRY의 사용자와 비밀번호를 지웁니다.`,
		Example: "  stepbox logout 127.0.0.1:5000",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			af, err := rf.authFile()
			if err != nil {
				return err
			}
			removed, err := af.Remove(args[0])
			if err != nil {
				return err
			}
			key, _ := image.RegistryKey(args[0])
			if !removed {
				return hint.With(fmt.Errorf("not logged in to %s", key), "nothing to forget: "+af.Path+" holds no credentials for it")
			}
			fmt.Fprintf(g.stdout, "Removed login credentials for %s\n", key)
			return nil
		},
	}
	cmd.Flags().StringVar(&rf.authfile, "authfile", "", "credentials file (default: REGISTRY_AUTH_FILE, then $XDG_CONFIG_HOME/stepbox/auth.json)")
	return cmd
}

// layerBoard draws one line per layer on standard error while a pull or
// push goes on, when it is a terminal (and nothing on a pipe), and
// erases them at the end: what stays is the summary on standard output.
type layerBoard struct {
	mu     sync.Mutex
	w      io.Writer
	layers []image.LayerProgress
	drawn  int
	last   time.Time
}

func newLayerBoard(g *globals, quiet bool) *layerBoard {
	f, ok := terminal(g.stderr)
	if quiet || !ok {
		return nil
	}
	return &layerBoard{w: f}
}

func (b *layerBoard) update() func(image.LayerProgress) {
	if b == nil {
		return nil
	}
	return func(p image.LayerProgress) {
		b.mu.Lock()
		defer b.mu.Unlock()
		for len(b.layers) < p.Layers {
			b.layers = append(b.layers, image.LayerProgress{})
		}
		b.layers[p.Index] = p
		if time.Since(b.last) < 100*time.Millisecond && !p.Done() {
			return
		}
		b.last = time.Now()
		b.draw()
	}
}

func (b *layerBoard) draw() {
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", b.drawn)
	}
	n := 0
	for _, l := range b.layers {
		if l.Digest == "" {
			continue
		}
		line := fmt.Sprintf("%s: %s", l.Short(), l.Status)
		if !l.Done() && l.Total > 0 && l.Bytes > 0 {
			line += fmt.Sprintf("  %s / %s", humanSize(l.Bytes), humanSize(l.Total))
		}
		sb.WriteString("\r\x1b[K" + line + "\n")
		n++
	}
	b.drawn = n
	io.WriteString(b.w, sb.String())
}

func (b *layerBoard) done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn > 0 {
		fmt.Fprintf(b.w, "\x1b[%dA\r\x1b[J", b.drawn)
		b.drawn = 0
	}
}
