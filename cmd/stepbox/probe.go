package main

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/lessons/probe"
)

func init() { register("probe", newProbeCmd) }

// newProbeCmd is the family of small programs the course runs inside its
// containers (package lessons/probe): each makes one or two system calls and
// prints them with the kernel's answer, as strace(1) would.
func newProbeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Ask the kernel one thing and print its answer (the course's own tools)",
		Long: `Small programs the course runs inside its containers. Each makes a system call
or two itself and prints each one as strace(1) would, with the kernel's
answer: "= 0", or "= -1 EPERM". They are part of stepbox, so the course needs
nothing from the host's root filesystem but a shell and a few core tools; the
lessons show the usual command (mount, hostname, ping) as the one to type by
hand. ping takes a name too, looked up in /etc/hosts (how containers on one
network find one another); echo is a TCP or UDP server that sends back what it
gets, for a published port. Exit status: 0 when the kernel said yes, 1 when it
refused (ping: no reply), 2 for a mistake in the command or, for ping, a call
that failed or a name not found.

강의가 컨테이너 안에서 돌리는 작은 프로그램들입니다. 각각 시스템 콜을 한두 번
직접 부르고, strace(1)처럼 커널의 대답과 함께 출력합니다. "= 0" 또는
"= -1 EPERM"처럼요. stepbox에 들어 있으므로 강의는 호스트의 루트 파일 시스템에서
셸과 기본 도구 몇 개 말고는 아무것도 빌리지 않습니다. 레슨은 손으로 칠 때 쓰는
평소의 명령(mount, hostname, ping)을 함께 보여 줍니다. 종료 상태: 커널이 허락하면 0,
거절하면 1(ping은 응답이 없을 때), 명령을 잘못 썼거나 ping의 호출이 실패하거나 이름을
찾지 못하면 2. ping은 이름도 받아 /etc/hosts에서 찾고(같은 네트워크의 컨테이너끼리 서로를
찾는 방법), echo는 받은 것을 그대로 돌려주는 TCP·UDP 서버입니다(공개한 포트를 확인할 때).`,
		Example: "  stepbox probe mount -t tmpfs none /mnt\n" +
			"  stepbox probe ping -c1 -W1 127.0.0.1\n" +
			"  stepbox probe ping -c1 web\n" +
			"  stepbox probe echo --udp 53\n" +
			"  stepbox probe as 65534:65534 /tmp/suid-stepbox probe ping 127.0.0.1",
		Args: cobra.NoArgs,
	}
	status := func(code int) error {
		if code == 0 {
			return nil
		}
		return withCode(code, nil)
	}
	var fstype string
	mount := &cobra.Command{
		Use:   "mount [-t TYPE] SOURCE TARGET",
		Short: "mount(2) a file system, then umount2(2) it",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, a []string) error {
			return status(probe.Mount(g.stdout, fstype, a[0], a[1]))
		},
	}
	mount.Flags().StringVarP(&fstype, "types", "t", "tmpfs", "the file system type")

	sethostname := &cobra.Command{
		Use:   "sethostname [NAME]",
		Short: "sethostname(2); without NAME, to the name it has",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			name := ""
			if len(a) == 1 {
				name = a[0]
			}
			return status(probe.Sethostname(g.stdout, name))
		},
	}

	unshare := &cobra.Command{
		Use:   "unshare KIND...",
		Short: "unshare(2) new namespaces (user, mnt, uts, ipc, net, pid, cgroup) in a child",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			return status(probe.Unshare(g.stdout, a))
		},
	}

	var niceValue int
	nice := &cobra.Command{
		Use:   "nice -n VALUE",
		Short: "setpriority(2) the calling process to VALUE",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			return status(probe.Nice(g.stdout, niceValue))
		},
	}
	nice.Flags().IntVarP(&niceValue, "adjustment", "n", 0, "the nice value to ask for (-20 to 19)")

	setgroups := &cobra.Command{
		Use:   "setgroups GID...",
		Short: "setgroups(2) the supplementary groups",
		Args:  cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, a []string) error {
			gids, err := ids(a)
			if err != nil {
				return err
			}
			return status(probe.Setgroups(g.stdout, gids))
		},
	}

	write := &cobra.Command{
		Use:   "write FILE TEXT",
		Short: "open(2) FILE and write(2) TEXT to it in one call",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, a []string) error {
			return status(probe.Write(g.stdout, a[0], a[1]))
		},
	}

	as := &cobra.Command{
		Use:   "as UID[:GID] PATH [ARG...]",
		Short: "run PATH as UID and GID with no other groups (setpriv --reuid --regid --clear-groups)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, a []string) error {
			uid, gid, err := uidGid(a[0])
			if err != nil {
				return err
			}
			return status(probe.As(g.stdout, uid, gid, a[1:]))
		},
	}
	as.Flags().SetInterspersed(false)

	var count int
	var wait time.Duration
	ping := &cobra.Command{
		Use:   "ping [-c COUNT] [-W SECONDS] ADDRESS|NAME",
		Short: "ICMP echo over a raw socket, as ping(8) run by root; a name is looked up in /etc/hosts",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			addr, err := hostsLookup(g, a[0])
			if err != nil {
				return err
			}
			return status(probe.Ping(g.stdout, addr, count, wait))
		},
	}
	ping.Flags().IntVarP(&count, "count", "c", 1, "how many echo requests")
	ping.Flags().DurationVarP(&wait, "timeout", "W", time.Second, "how long to wait for each reply (1 means 1s)")
	// ping's -W takes seconds: "-W1".
	ping.Flags().Lookup("timeout").Value = secondsValue{&wait}

	var udp bool
	echo := &cobra.Command{
		Use:   "echo [--udp] PORT",
		Short: "a server that sends back what it gets, on PORT of every address (TCP, or UDP)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			port, err := strconv.ParseUint(a[0], 10, 16)
			if err != nil || port == 0 {
				return usagef("%q is not a port number", a[0])
			}
			return probe.Echo(g.stdout, udp, int(port))
		},
	}
	echo.Flags().BoolVarP(&udp, "udp", "u", false, "UDP: each datagram goes back to its sender")

	var connectUDP bool
	connect := &cobra.Command{
		Use:   "connect [--udp] HOST:PORT [TEXT]",
		Short: "send TEXT to an echo server (TCP, or UDP) and wait for it back",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, a []string) error {
			text := "hello\n"
			if len(a) == 2 {
				text = a[1]
			}
			return status(probe.Connect(g.stdout, connectUDP, a[0], text, 2*time.Second))
		},
	}
	connect.Flags().BoolVarP(&connectUDP, "udp", "u", false, "UDP: one datagram")

	cmd.AddCommand(mount, sethostname, unshare, nice, setgroups, write, as, ping, echo, connect)
	return cmd
}

// ids parses a list of numeric ids.
func ids(a []string) ([]int, error) {
	var out []int
	for _, s := range a {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, usagef("%q is not a numeric id", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// uidGid parses "UID" or "UID:GID" (the gid defaults to the uid).
func uidGid(s string) (int, int, error) {
	u, g, found := strings.Cut(s, ":")
	if !found {
		g = u
	}
	v, err := ids([]string{u, g})
	if err != nil {
		return 0, 0, err
	}
	return v[0], v[1], nil
}

// secondsValue is a duration flag that takes whole or decimal seconds
// ("1", "0.5") as ping's -W does, or a Go duration ("500ms").
type secondsValue struct{ d *time.Duration }

func (s secondsValue) String() string {
	if s.d == nil {
		return "1"
	}
	return strconv.FormatFloat(s.d.Seconds(), 'f', -1, 64)
}

func (s secondsValue) Set(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
		*s.d = time.Duration(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a number of seconds", v)
	}
	*s.d = d
	return nil
}

func (s secondsValue) Type() string { return "seconds" }

// hostsLookup turns a name into its IPv4 address as /etc/hosts gives it
// (hosts(5): the first line that names it), printing where it was found;
// an address is returned as it is. Containers on one network find one
// another this way (sandbox/network writes their /etc/hosts).
func hostsLookup(g *globals, name string) (string, error) {
	if _, err := netip.ParseAddr(name); err == nil {
		return name, nil
	}
	b, _ := os.ReadFile("/etc/hosts")
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil || !ip.Is4() {
			continue
		}
		for _, n := range f[1:] {
			if strings.EqualFold(n, name) {
				fmt.Fprintf(g.stdout, "%s is %s in /etc/hosts\n", name, ip)
				return ip.String(), nil
			}
		}
	}
	fmt.Fprintf(g.stdout, "ping: %s: no such name in /etc/hosts\n", name)
	return "", withCode(probe.Usage, nil)
}
