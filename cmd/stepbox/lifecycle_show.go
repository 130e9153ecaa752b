package main

import (
	"encoding/json"
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/network"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// The commands that show containers: ps, logs, top, container inspect;
// and `container`, docker's group of the same commands.

func init() {
	register("ps", newPsCmd)
	register("logs", newLogsCmd)
	register("top", newTopCmd)
	register("container", newContainerCmd)
}

func newPsCmd(g *globals) *cobra.Command {
	var all, quiet, asJSON bool
	var format string
	cmd := &cobra.Command{
		Use:   "ps [-a] [-q] [--format json]",
		Short: "List containers",
		Long: `List the containers stepbox knows: running ones, and with -a stopped ones too.
STATUS reads as docker's: Up 3 seconds, Exited (7) 2 minutes ago, Restarting,
Created. An exit code of -1 means nobody could learn it (the container's
monitor was killed). -q prints the ids alone; --format json one JSON object per
container and line. It works unprivileged, as far as the state is readable.

stepbox가 관리하는 컨테이너를 보여 줍니다. -a를 주면 멈춘 것도 보여 주고, -q는 ID만,
--format json은 컨테이너마다 JSON 한 줄을 출력합니다. 종료 코드 -1은 모니터가 죽어서 알 수 없다는 뜻입니다.`,
		Example: "  stepbox ps\n  stepbox ps -a\n  stepbox ps -aq\n  stepbox ps -a --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON || format == "{{json .}}" {
				format = "json"
			}
			if format != "" && format != "json" && format != "table" {
				return usagef("invalid --format %q: use json or table", format)
			}
			states, err := sandbox.List(runPaths(g))
			if err != nil {
				return err
			}
			now := time.Now()
			t := ui.Table{Header: []string{"CONTAINER ID", "NAME", "IMAGE", "COMMAND", "CREATED", "STATUS", "PID", "PORTS"}, Style: g.Style()}
			enc := json.NewEncoder(g.stdout)
			enc.SetEscapeHTML(false) // "->" and "&&" as they are
			for _, s := range states {
				if !all && !s.Active() {
					continue
				}
				switch {
				case quiet:
					fmt.Fprintln(g.stdout, sandbox.ShortID(s.ID))
				case format == "json":
					row := psJSON(s, now)
					row.Ports = portsText(runPaths(g), s)
					if err := enc.Encode(row); err != nil {
						return err
					}
				default:
					t.Add(sandbox.ShortID(s.ID), s.DisplayName(), imageName(s), quoteCommand(s.Args, 20), ago(s.Created, now),
						statusText(s, now), pidText(s), portsText(runPaths(g), s))
				}
			}
			if quiet || format == "json" {
				return nil
			}
			return t.Render(g.stdout)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show stopped containers too")
	f.BoolVarP(&quiet, "quiet", "q", false, "print the ids only")
	f.StringVar(&format, "format", "", "json: one JSON object per container")
	f.BoolVar(&asJSON, "json", false, "the same as --format json")
	_ = f.MarkHidden("json")
	return cmd
}

// psRow is `ps --format json`'s object, with docker's keys.
type psRow struct {
	ID         string `json:"ID"`
	Names      string `json:"Names"`
	Image      string `json:"Image"`
	Command    string `json:"Command"`
	CreatedAt  string `json:"CreatedAt"`
	RunningFor string `json:"RunningFor"`
	State      string `json:"State"`
	Status     string `json:"Status"`
	Pid        int    `json:"Pid"`
	ExitCode   *int   `json:"ExitCode"`
	Ports      string `json:"Ports"` // 127.0.0.1:8080->80/tcp, …
}

func psJSON(s sandbox.State, now time.Time) psRow {
	r := psRow{ID: sandbox.ShortID(s.ID), Names: s.DisplayName(), Image: imageName(s), Command: quoteCommand(s.Args, 0),
		CreatedAt: s.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: ago(s.Created, now),
		State: string(s.Status), Status: statusText(s, now)}
	if s.Status == sandbox.Stopped {
		r.ExitCode = exitCode0(s)
		r.State = "exited"
	} else {
		r.Pid = s.Pid
	}
	return r
}

// exitCode0 is the recorded exit code, or -1 when unknown.
func exitCode0(s sandbox.State) *int {
	if s.ExitCode != nil {
		return s.ExitCode
	}
	n := -1
	return &n
}

func pidText(s sandbox.State) string {
	if s.Status == sandbox.Running || s.Status == sandbox.Created {
		return strconv.Itoa(s.Pid)
	}
	return "-"
}

// statusText is docker's STATUS: Up 3 seconds, Exited (7) 2 minutes ago.
func statusText(s sandbox.State, now time.Time) string {
	code := "-1"
	if s.ExitCode != nil {
		code = strconv.Itoa(*s.ExitCode)
	}
	switch s.Status {
	case sandbox.Creating:
		return "Creating"
	case sandbox.Created:
		return "Created"
	case sandbox.Running:
		since := s.Started
		if since.IsZero() {
			since = s.Created
		}
		return "Up " + humanDuration(now.Sub(since))
	case sandbox.Restarting:
		return fmt.Sprintf("Restarting (%s) %s", code, ago(s.Finished, now))
	}
	if s.Started.IsZero() && s.Finished.IsZero() {
		return "Created" // never ran
	}
	if s.Finished.IsZero() {
		return "Exited (" + code + ")" // when, nobody saw
	}
	return fmt.Sprintf("Exited (%s) %s", code, ago(s.Finished, now))
}

func ago(t, now time.Time) string { return humanDuration(now.Sub(t)) + " ago" }

// humanDuration says how long, in docker's words.
func humanDuration(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d < time.Second:
		return "Less than a second"
	case d < time.Minute:
		return plural(int(d.Seconds()), "second")
	case d < 2*time.Minute:
		return "About a minute"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute")
	case d < 2*time.Hour:
		return "About an hour"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour")
	case d < 14*24*time.Hour:
		return plural(int(d.Hours()/24), "day")
	case d < 60*24*time.Hour:
		return plural(int(d.Hours()/24/7), "week")
	case d < 2*365*24*time.Hour:
		return plural(int(d.Hours()/24/30), "month")
	}
	return plural(int(d.Hours()/24/365), "year")
}

// quoteCommand is docker's COMMAND: the command line in quotes, cut to max
// characters (0: whole).
func quoteCommand(args []string, max int) string {
	s := strings.Join(args, " ")
	if r := []rune(s); max > 0 && len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return `"` + s + `"`
}

func newLogsCmd(g *globals) *cobra.Command {
	var o sandbox.LogOptions
	var tail string
	cmd := &cobra.Command{
		Use:   "logs [-f] [--tail N] [-t] NAME",
		Short: "Print a detached container's output",
		Long: `Print what a detached container wrote, its standard output here to standard
output and its standard error to standard error. The log is kept until the
container is removed, across restarts. -f follows it until the container stops
(through the restarts of its restart policy);
--tail N prints the last N lines only; -t puts the time each line was written
before it.

The log is a file in the container's state directory, in the CRI format that
kubelet and containerd use: one line per record, TIME STREAM F|P TEXT.

분리 모드 컨테이너의 출력을 보여 줍니다. 로그는 컨테이너를 지울 때까지 남습니다. -f는 컨테이너가
멈출 때까지 따라가고, --tail N은 마지막 N줄만, -t는 각 줄이 쓰인 시각을 앞에 붙입니다.`,
		Example: "  stepbox logs web\n  stepbox logs -f --tail 10 web\n  stepbox logs -t web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Tail = -1
			if tail != "all" {
				n, err := strconv.Atoi(tail)
				if err != nil || n < 0 {
					return usagef("invalid --tail %q: use a number of lines or all", tail)
				}
				o.Tail = n
			}
			c, err := sandbox.Find(runPaths(g), args[0])
			if err != nil {
				return err
			}
			return c.Logs(cmd.Context(), o, g.stdout, g.stderr)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "follow the log until the container stops")
	f.StringVarP(&tail, "tail", "n", "all", "print only the last N lines")
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "print the time of each line")
	return cmd
}

// startAttached is start -a: the container started again, attached before
// its payload runs (sandbox.StartAttached), then as attach is.
func startAttached(cmd *cobra.Command, g *globals, ref string, o *attachOptions) error {
	keys, err := parseDetachKeys(o.detachKeys)
	if err != nil {
		return err
	}
	lang, err := g.Lang()
	if err != nil {
		return err
	}
	c, err := sandbox.Find(runPaths(g), ref)
	if err != nil {
		return err
	}
	if c.State().Active() {
		return attach(cmd.Context(), g, c, o, keys) // as docker's start -a of a running one
	}
	a, _, err := sandbox.StartAttached(runPaths(g), c.ID, !o.noStdin)
	if err != nil {
		return err
	}
	return attached(cmd.Context(), g, lang, c, a, o, keys)
}

func newTopCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "top NAME",
		Short: "Show a container's processes, as the host and the container see them",
		Long: `Show every process in a container's cgroups: its pid and parent on the host,
its pid inside the container (from NSpid in /proc/PID/status), its user on the
host and its command line. A container with a pid namespace sees its init as
PID 1 where the host sees some large number: the same process.

컨테이너의 cgroup에 있는 모든 프로세스를 보여 줍니다. 호스트에서 본 PID와 컨테이너 안에서 본
PID(/proc/PID/status의 NSpid)를 나란히 보여 주므로, 같은 프로세스가 두 번호를 가진다는 것을 볼 수 있습니다.`,
		Example: "  stepbox top web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sandbox.Find(runPaths(g), args[0])
			if err != nil {
				return err
			}
			procs, err := c.Processes()
			if err != nil {
				return err
			}
			t := ui.Table{Header: []string{"PID", "PPID", "CONTAINER PID", "USER", "COMMAND"}, Style: g.Style()}
			for _, p := range procs {
				cpid := "-"
				if p.CPid > 0 {
					cpid = strconv.Itoa(p.CPid)
				}
				t.Add(strconv.Itoa(p.Pid), strconv.Itoa(p.PPid), cpid, userName(p.UID), p.Args)
			}
			return t.Render(g.stdout)
		},
	}
}

// userName is the host's name for uid, or the number.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// newContainerCmd is docker's `container` group: the same commands under
// one name, and inspect.
func newContainerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers (docker's container group: ls, inspect, run, stop, …)",
		Long: `The commands of a container's life under one name, as docker has them:
stepbox container ls is stepbox ps, and so on; and container inspect.

컨테이너 명령을 docker처럼 한 이름 아래 모은 것입니다(container ls는 ps와 같습니다). container inspect도 있습니다.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	for _, name := range []string{"ps", "run", "start", "stop", "restart", "kill", "wait", "rm", "logs", "top", "export", "commit", "diff"} {
		sub := commands[name](g)
		if name == "ps" {
			sub.Use, sub.Aliases = "ls [-a] [-q] [--format json]", []string{"ps", "list"}
		}
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(newContainerInspectCmd(g))
	return cmd
}

// inspectedContainer is one container in `container inspect`'s JSON.
type inspectedContainer struct {
	ID            string                `json:"id"`
	Name          string                `json:"name"`
	Created       time.Time             `json:"created"`
	Path          string                `json:"path"`
	Args          []string              `json:"args"`
	State         inspectedState        `json:"state"`
	RestartPolicy sandbox.RestartPolicy `json:"restartPolicy"`
	AutoRemove    bool                  `json:"autoRemove"`
	LogPath       string                `json:"logPath"`
	StateDir      string                `json:"stateDir"`
	Rootfs        string                `json:"rootfs"`
	// Image is the image's ID and ImageName the name it was run by (empty
	// for a container on a plain directory); GraphDriver says where its
	// layers are, as docker's inspect does.
	Image       string            `json:"image"`
	ImageName   string            `json:"imageName,omitempty"`
	GraphDriver *inspectedDriver  `json:"graphDriver,omitempty"`
	CgroupPaths map[string]string `json:"cgroupPaths"`
	// Namespaces are the inodes of the init's namespaces, read from
	// /proc/PID/ns (null when it does not run, or unprivileged).
	Namespaces map[string]uint64 `json:"namespaces"`
	MonitorPid int               `json:"monitorPid"`
	// Config is the OCI description (null when unreadable: it is root's).
	Config *specs.Spec `json:"config"`
	// Network is what the container asked of the network (null: nothing,
	// a namespace of its own with only lo), and NetworkSettings what is
	// wired for it now.
	Network         *netconf.Config `json:"network"`
	NetworkSettings netconf.State   `json:"networkSettings"`
}

// inspectedDriver is where a container's layers are: overlay (its upper
// directory over the image's layers) or copy (a private copy of them).
type inspectedDriver struct {
	Name string            `json:"name"`
	Data map[string]string `json:"data"`
}

type inspectedState struct {
	Status  string `json:"status"`
	Running bool   `json:"running"`
	Pid     int    `json:"pid"`
	// ExitCode is null while the container has not exited, -1 when its
	// exit could not be known.
	ExitCode     *int      `json:"exitCode"`
	StartedAt    time.Time `json:"startedAt"`
	FinishedAt   time.Time `json:"finishedAt"`
	RestartCount int       `json:"restartCount"`
	Error        string    `json:"error,omitempty"`
}

func newContainerInspectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME...",
		Short: "Show containers in detail, as JSON",
		Long: `Print a JSON array with one object per container: its id, name, times, the
OCI description (config), its state (status, pid, exit code, start and finish
times, restarts), its log, its cgroups, the inode of each of its namespaces as
/proc/PID/ns shows them, and its monitor's pid.

컨테이너의 자세한 정보를 JSON 배열로 출력합니다: 설정(OCI), 상태, 로그, cgroup 경로,
/proc/PID/ns에서 읽은 네임스페이스 inode, 모니터 PID.`,
		Example: "  stepbox container inspect web\n  stepbox container inspect web | jq '.[0].state'",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := []inspectedContainer{}
			err := eachContainer(g, args, func(_ string, c *sandbox.Container) error {
				out = append(out, inspectContainer(c))
				return nil
			})
			if eerr := writeJSON(g.stdout, out); eerr != nil {
				return eerr
			}
			return err
		},
	}
}

func inspectContainer(c *sandbox.Container) inspectedContainer {
	s := c.State()
	in := inspectedContainer{ID: s.ID, Name: s.DisplayName(), Created: s.Created, Args: s.Args, LogPath: s.LogPath(),
		StateDir: c.Dir(), Rootfs: s.Rootfs, CgroupPaths: s.CgroupPaths, RestartPolicy: sandbox.RestartPolicy{Name: "no"},
		State: inspectedState{Status: string(s.Status), Running: s.Status == sandbox.Running,
			StartedAt: s.Started, FinishedAt: s.Finished}}
	if len(s.Args) > 0 {
		in.Path = s.Args[0]
	}
	if s.Status == sandbox.Running || s.Status == sandbox.Created {
		in.State.Pid = s.Pid
		if ns := sandbox.NamespaceInodes(s.Pid); len(ns) > 0 {
			in.Namespaces = ns
		}
	} else if s.Status == sandbox.Stopped && !s.Finished.IsZero() || s.ExitCode != nil {
		in.State.ExitCode = exitCode0(s)
	}
	if d := s.Detached; d != nil {
		in.RestartPolicy, in.AutoRemove = d.Restart, d.AutoRemove
		in.State.RestartCount, in.State.Error = d.RestartCount, d.Error
		if s.Active() {
			in.MonitorPid = d.MonitorPid
		}
	}
	if spec := c.Spec(); spec != nil && spec.Version != "" {
		in.Config = spec
	}
	if r := s.Image; r != nil {
		in.Image, in.ImageName = r.Image, r.Name
		if o := r.Overlay; o != nil {
			in.GraphDriver = &inspectedDriver{Name: "overlay", Data: map[string]string{"LowerDir": strings.Join(o.Lower, ":"),
				"UpperDir": o.Upper, "WorkDir": o.Work, "MergedDir": s.Rootfs}}
		} else {
			in.GraphDriver = &inspectedDriver{Name: "copy", Data: map[string]string{"Dir": r.Copy}}
		}
	}
	in.Network = c.NetworkConfig()
	if s.Active() {
		in.NetworkSettings, _ = network.LoadState(c.Dir())
	}
	return in
}

// imageName is what ps shows in IMAGE: the name the container was run by,
// or "-" for a plain directory.
func imageName(s sandbox.State) string {
	if s.Image == nil {
		return "-"
	}
	if s.Image.Name != "" {
		return s.Image.Name
	}
	id := strings.TrimPrefix(s.Image.Image, "sha256:")
	return id[:min(12, len(id))]
}
