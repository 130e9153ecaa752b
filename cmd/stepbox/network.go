package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/network"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// `stepbox network`: docker's network commands, for bridge networks
// (sandbox/network). Their errors exit 1, as every command but run's.

func init() {
	register("network", newNetworkCmd)
	register("port", newPortCmd)
}

func networkStore(g *globals) network.Store {
	p := runPaths(g)
	return network.Store{Lib: p.Lib, Run: p.Run}
}

func newNetworkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Make and manage bridge networks between containers",
		Long: `Bridge networks: a Linux bridge on the host per network, a veth pair per
container with its host end on the bridge, an address for each container from
the network's subnet, and its default route via the bridge's address. The
containers on a network you make resolve one another by name and
--network-alias; the network 'bridge', made on first use, does not. Nothing
is routed off the machine unless a network is made with --nat: no NAT, and
the host's forwarding and firewall are never changed.

브리지 네트워크를 만들고 관리합니다. 네트워크마다 호스트에 리눅스 브리지가 하나, 컨테이너마다
veth 쌍이 하나씩 생기고, 컨테이너는 서브넷에서 주소를 받아 브리지 주소를 기본 경로로 씁니다.
직접 만든 네트워크의 컨테이너끼리는 이름과 별칭으로 서로를 찾습니다. 밖으로 나가는 트래픽은
없습니다(--nat으로 만든 네트워크가 아니면 NAT 없음, 호스트의 포워딩과 방화벽은 그대로).`,
		Example: `  stepbox network create --subnet 10.97.0.0/24 lab
  stepbox run -d --network lab --name web -- httpd -f -p 80
  stepbox run --rm --network lab -- wget -qO- http://web/
  stepbox network inspect lab
  stepbox network rm lab`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newNetworkCreateCmd(g), newNetworkLsCmd(g), newNetworkInspectCmd(g), newNetworkRmCmd(g),
		newNetworkConnectCmd(g), newNetworkDisconnectCmd(g))
	return cmd
}

func newNetworkCreateCmd(g *globals) *cobra.Command {
	var o network.CreateOptions
	cmd := &cobra.Command{
		Use:   "create [--subnet CIDR] [--nat] NAME",
		Short: "Make a bridge network",
		Long: `Make a network: its bridge on the host, with the subnet's first address. The
subnet must overlap no other network and nothing the host routes; without
--subnet the next free /24 of 10.210.0.0/16 is taken. The network's id is
printed.

--nat (opt-in, never the default) lets the containers reach other hosts: their
packets leave by the host's own interfaces with the host's address
(masquerade, an nftables table of the network's own, ip stepbox-<bridge>),
and the host forwards them (net.ipv4.ip_forward is turned on if it was off,
and the bridge's forwarding). 'network rm' removes the table, and gives
ip_forward back its old value when stepbox changed it and no other --nat
network is left. A host firewall that drops forwarded packets still drops
them: stepbox adds no rule to other tables.

브리지 네트워크를 만듭니다. 서브넷은 다른 네트워크나 호스트의 경로와 겹치면 안 되며,
--subnet이 없으면 10.210.0.0/16에서 비어 있는 /24를 씁니다.

--nat(직접 켜야 하며 기본값이 아님)을 주면 컨테이너가 다른 호스트에 닿습니다. 패킷은 호스트의
주소로 바뀌어(masquerade, 네트워크 전용 nftables 테이블 ip stepbox-<브리지>) 호스트의
인터페이스로 나가고, 호스트가 이를 포워딩합니다(net.ipv4.ip_forward가 꺼져 있으면 켬).
'network rm'은 테이블을 지우고, stepbox가 바꾼 경우이며 다른 --nat 네트워크가 없으면
ip_forward를 원래 값으로 되돌립니다. 포워딩을 막는 호스트 방화벽은 그대로 막습니다.`,
		Example: "  stepbox network create lab\n  stepbox network create --subnet 10.97.0.0/24 lab\n  stepbox network create --nat out   # outbound access",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("network create"); err != nil {
				return err
			}
			n, err := networkStore(g).Create(args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, n.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Subnet, "subnet", "", "the network's IPv4 subnet, e.g. 10.97.0.0/24 (default: a free /24 of 10.210.0.0/16)")
	cmd.Flags().BoolVar(&o.NAT, "nat", false, "let the containers reach other hosts: masquerade and forwarding, removed with the network")
	return cmd
}

// networkRow is `network ls --format json`'s line.
type networkRow struct {
	ID         string `json:"ID"`
	Name       string `json:"Name"`
	Driver     string `json:"Driver"`
	Subnet     string `json:"Subnet"`
	Bridge     string `json:"Bridge"`
	Containers int    `json:"Containers"`
}

func newNetworkLsCmd(g *globals) *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [-q] [--format json]",
		Aliases: []string{"list"},
		Short:   "List the networks",
		Long: `List the networks: bridge, host and none, which are always there (bridge's
subnet is chosen on its first use), and the ones made with 'network create',
with their subnet, bridge and how many containers are on them now.

네트워크 목록을 보여 줍니다.`,
		Example: "  stepbox network ls\n  stepbox network ls --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format == "{{json .}}" {
				format = "json"
			}
			if format != "" && format != "json" && format != "table" {
				return usagef("invalid --format %q: use json or table", format)
			}
			store := networkStore(g)
			nets, err := store.List()
			if err != nil {
				return err
			}
			rows := []networkRow{{ID: "-", Name: "host", Driver: "host", Subnet: "-", Bridge: "-"},
				{ID: "-", Name: "none", Driver: "null", Subnet: "-", Bridge: "-"}}
			if !slices.ContainsFunc(nets, func(n *network.Network) bool { return n.Name == netconf.DefaultNetwork }) {
				rows = append(rows, networkRow{ID: "-", Name: netconf.DefaultNetwork, Driver: "bridge", Subnet: "(made on first use)", Bridge: "-"})
			}
			for _, n := range nets {
				rows = append(rows, networkRow{ID: n.ID[:12], Name: n.Name, Driver: "bridge", Subnet: n.Subnet, Bridge: n.Bridge,
					Containers: len(store.Leases(n.Name))})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
			t := ui.Table{Header: []string{"NETWORK ID", "NAME", "DRIVER", "SUBNET", "BRIDGE", "CONTAINERS"}, Style: g.Style()}
			enc := json.NewEncoder(g.stdout)
			for _, r := range rows {
				switch {
				case quiet:
					if r.ID != "-" {
						fmt.Fprintln(g.stdout, r.ID)
					}
				case format == "json":
					if err := enc.Encode(r); err != nil {
						return err
					}
				default:
					t.Add(r.ID, r.Name, r.Driver, r.Subnet, r.Bridge, fmt.Sprint(r.Containers))
				}
			}
			if quiet || format == "json" {
				return nil
			}
			return t.Render(g.stdout)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only the ids of the networks made")
	cmd.Flags().StringVar(&format, "format", "", "json: one JSON object per network and line")
	return cmd
}

// inspectedNetwork is one network in `network inspect`'s JSON, in
// docker's shape.
type inspectedNetwork struct {
	Name       string                       `json:"Name"`
	ID         string                       `json:"Id"`
	Created    time.Time                    `json:"Created"`
	Driver     string                       `json:"Driver"`
	IPAM       inspectedIPAM                `json:"IPAM"`
	Bridge     string                       `json:"Bridge"`
	Names      bool                         `json:"ResolvesNames"`
	Containers map[string]inspectedEndpoint `json:"Containers"`
	Options    map[string]string            `json:"Options"`
}

type inspectedIPAM struct {
	Config []map[string]string `json:"Config"`
}

type inspectedEndpoint struct {
	Name        string   `json:"Name"`
	IPv4Address string   `json:"IPv4Address"`
	MacAddress  string   `json:"MacAddress"`
	HostIf      string   `json:"HostInterface"`
	Aliases     []string `json:"Aliases,omitempty"`
}

func newNetworkInspectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NETWORK...",
		Short: "Show networks in detail, as JSON",
		Long: `Print a JSON array with one object per network: its id, subnet and gateway,
its bridge on the host, and each container on it now with its address.

네트워크의 자세한 정보(서브넷, 게이트웨이, 브리지, 연결된 컨테이너와 주소)를 JSON으로 출력합니다.`,
		Example: "  stepbox network inspect lab",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store := networkStore(g)
			out := []inspectedNetwork{}
			failed := false
			for _, name := range args {
				n, err := store.Find(name)
				if err != nil {
					printError(g.stderr, err)
					failed = true
					continue
				}
				in := inspectedNetwork{Name: n.Name, ID: n.ID, Created: n.Created, Driver: "bridge", Bridge: n.Bridge,
					Names: n.ResolvesNames(), Containers: map[string]inspectedEndpoint{},
					IPAM:    inspectedIPAM{Config: []map[string]string{{"Subnet": n.Subnet, "Gateway": n.Gateway}}},
					Options: map[string]string{"bridge.name": n.Bridge, "nat": strconv.FormatBool(n.NAT)}}
				prefix := n.Subnet[strings.IndexByte(n.Subnet, '/'):]
				for _, l := range store.Leases(n.Name) {
					in.Containers[l.Container] = inspectedEndpoint{Name: l.Name, IPv4Address: l.IP + prefix, MacAddress: l.MAC,
						HostIf: l.HostIf, Aliases: l.Aliases}
				}
				out = append(out, in)
			}
			if err := writeJSON(g.stdout, out); err != nil {
				return err
			}
			if failed {
				return withCode(exitError, nil)
			}
			return nil
		},
	}
}

func newNetworkRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NETWORK...",
		Aliases: []string{"remove"},
		Short:   "Remove networks",
		Long: `Remove each network: its bridge, its addresses and its definition. A network
that any container is on (a stopped one too) is refused: remove the
containers, or take them off it with 'network disconnect', first.

네트워크를 지웁니다(브리지, 주소 기록, 정의). 컨테이너가 하나라도(멈춘 것 포함) 연결되어 있으면
거절합니다.`,
		Example: "  stepbox network rm lab",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("network rm"); err != nil {
				return err
			}
			store := networkStore(g)
			failed := false
			for _, name := range args {
				if name == "host" || name == "none" {
					printError(g.stderr, fmt.Errorf("network %s is stepbox's own and cannot be removed", name))
					failed = true
					continue
				}
				if err := store.Remove(name, func(name string) []string { return containersOn(g, name) }); err != nil {
					printError(g.stderr, err)
					failed = true
					continue
				}
				fmt.Fprintln(g.stdout, name)
			}
			if failed {
				return withCode(exitError, nil)
			}
			return nil
		},
	}
}

// containersOn names the containers, running or stopped, whose request
// puts them on network name.
func containersOn(g *globals, name string) []string {
	paths := runPaths(g)
	states, _ := sandbox.List(paths)
	var out []string
	for _, s := range states {
		c, err := sandbox.Load(paths, s.ID)
		if err != nil {
			continue
		}
		if cfg := c.NetworkConfig(); cfg != nil && cfg.On(name) {
			out = append(out, s.DisplayName())
		}
	}
	return out
}

func newNetworkConnectCmd(g *globals) *cobra.Command {
	var aliases []string
	var ip string
	cmd := &cobra.Command{
		Use:   "connect [--alias NAME] [--ip IP] NETWORK CONTAINER",
		Short: "Put a container on a network",
		Long: `Put a container on a network (docker's argument order). A running one gets a
new interface (eth1, …) with an address at once, and the others on the network
find it by name; a stopped one, at its next start.

컨테이너를 네트워크에 연결합니다. 실행 중이면 새 인터페이스와 주소를 곧바로 받고, 멈춘
컨테이너는 다음 start 때 연결됩니다.`,
		Example: "  stepbox network connect lab web\n  stepbox network connect --alias db lab postgres",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("network connect"); err != nil {
				return err
			}
			return connect(g, args[0], args[1], netconf.Attach{Network: args[0], Aliases: aliases, IP: ip})
		},
	}
	cmd.Flags().StringArrayVar(&aliases, "alias", nil, "another name of the container on this network")
	cmd.Flags().StringVar(&ip, "ip", "", "the container's IPv4 address on this network")
	return cmd
}

func connect(g *globals, name, ref string, a netconf.Attach) error {
	store := networkStore(g)
	n, err := store.Get(name)
	if err != nil {
		return err
	}
	if n.Default && (len(a.Aliases) > 0 || a.IP != "") {
		return hint.With(errors.New("--alias and --ip work on user-defined networks only"), "make one with 'stepbox network create NAME'")
	}
	c, err := sandbox.Find(runPaths(g), ref)
	if err != nil {
		return err
	}
	return c.UpdateNetwork(func(cfg *netconf.Config, st sandbox.State) error {
		switch {
		case cfg.On(name):
			return fmt.Errorf("container %s is already on network %s", st.DisplayName(), name)
		case cfg.Mode == netconf.ModeHost || cfg.Mode == netconf.ModeContainer:
			return hint.With(fmt.Errorf("container %s is on the network of %s, and can join no other", st.DisplayName(), describeMode(cfg)),
				"start a new container with --network "+name)
		}
		if st.Status == sandbox.Running {
			ns, err := c.OpenNetns()
			if err != nil {
				return err
			}
			defer ns.Close()
			nc := c.NetworkContainer()
			if nc.Config == nil || !nc.Config.Files() {
				fmt.Fprintf(g.stderr, "stepbox: warning: %s was started without a network: its own /etc/hosts names no peers until it is started again\n", st.DisplayName())
			}
			if _, err := network.Connect(nc, int(ns.Fd()), a); err != nil {
				return err
			}
		}
		cfg.Mode = netconf.ModeBridge
		cfg.Networks = append(cfg.Networks, a)
		return nil
	})
}

func describeMode(cfg *netconf.Config) string {
	if cfg.Mode == netconf.ModeContainer {
		return "container " + cfg.Container
	}
	return "the host"
}

func newNetworkDisconnectCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [-f] NETWORK CONTAINER",
		Short: "Take a container off a network",
		Long: `Take a container off a network: a running one loses that interface and its
address at once, and the others there forget its name.

컨테이너를 네트워크에서 뗍니다. 실행 중이면 그 인터페이스와 주소가 곧바로 사라집니다.`,
		Example: "  stepbox network disconnect lab web",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needsRoot("network disconnect"); err != nil {
				return err
			}
			name := args[0]
			c, err := sandbox.Find(runPaths(g), args[1])
			if err != nil {
				return err
			}
			return c.UpdateNetwork(func(cfg *netconf.Config, st sandbox.State) error {
				if !cfg.On(name) {
					if force {
						return nil
					}
					return fmt.Errorf("container %s is not on network %s", st.DisplayName(), name)
				}
				if st.Status == sandbox.Running {
					if err := network.Disconnect(c.NetworkContainer(), name); err != nil {
						return err
					}
				}
				cfg.Networks = slices.DeleteFunc(cfg.Networks, func(a netconf.Attach) bool { return a.Network == name })
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "no error if the container is not on the network")
	return cmd
}

func newPortCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "port NAME [PORT[/PROTO]]",
		Short: "List a container's published ports",
		Long: `List the ports a running container publishes, as docker port does: each
container port, and the host address and port that reach it.

실행 중인 컨테이너가 공개한 포트를 보여 줍니다.`,
		Example: "  stepbox port web\n  stepbox port web 80/tcp",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sandbox.Find(runPaths(g), args[0])
			if err != nil {
				return err
			}
			st, err := network.LoadState(c.Dir())
			if err != nil {
				return err
			}
			found := false
			for _, p := range st.Ports {
				key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
				if len(args) == 2 && args[1] != key && args[1] != fmt.Sprint(p.ContainerPort) {
					continue
				}
				found = true
				host := p.HostIP
				if strings.Contains(host, ":") {
					host = "[" + host + "]"
				}
				if len(args) == 2 {
					fmt.Fprintf(g.stdout, "%s:%d\n", host, p.HostPort)
				} else {
					fmt.Fprintf(g.stdout, "%s -> %s:%d\n", key, host, p.HostPort)
				}
			}
			if len(args) == 2 && !found {
				return fmt.Errorf("container %s publishes no port %s", args[0], args[1])
			}
			return nil
		},
	}
}

// portsText is a running container's published ports as docker ps shows
// them.
func portsText(paths sandbox.Paths, s sandbox.State) string {
	if !s.Active() {
		return ""
	}
	st, err := network.LoadState(paths.ContainerDir(s.ID))
	if err != nil {
		return ""
	}
	var out []string
	for _, p := range st.Ports {
		host := p.HostIP
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", host, p.HostPort, p.ContainerPort, p.Proto))
	}
	return strings.Join(out, ", ")
}
