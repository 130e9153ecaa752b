package main

import (
	"errors"
	"fmt"
	"net/netip"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/network"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// netOptions are run's network flags, docker's.
type netOptions struct {
	networks   []string
	aliases    []string
	ip         string
	addHosts   []string
	dns        []string
	dnsSearch  []string
	dnsOptions []string
	publish    []string
	publishAll bool
	expose     []string
}

func (n *netOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&n.networks, "network", nil, "none (the default: only lo), host, bridge, container:NAME or a network of 'stepbox network create'; repeat for more networks")
	f.StringArrayVar(&n.networks, "net", nil, "the same as --network")
	_ = f.MarkHidden("net")
	f.StringArrayVar(&n.aliases, "network-alias", nil, "another name the container has on its user-defined networks")
	f.StringVar(&n.ip, "ip", "", "the container's IPv4 address on its (first) user-defined network")
	f.StringArrayVar(&n.addHosts, "add-host", nil, "add NAME:IP to its /etc/hosts")
	f.StringArrayVar(&n.dns, "dns", nil, "a nameserver for its /etc/resolv.conf")
	f.StringArrayVar(&n.dnsSearch, "dns-search", nil, "a search domain for its /etc/resolv.conf")
	f.StringArrayVar(&n.dnsOptions, "dns-option", nil, "an option for its /etc/resolv.conf")
	f.StringArrayVarP(&n.publish, "publish", "p", nil, "publish a port, [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], on 127.0.0.1 unless IP says otherwise")
	f.BoolVarP(&n.publishAll, "publish-all", "P", false, "publish every --expose'd port on a free port of 127.0.0.1")
	f.StringArrayVar(&n.expose, "expose", nil, "a port the container serves, PORT[/tcp|udp], for -P")
}

// given reports whether any network flag was given: without one a
// container is made as before (a network namespace with only lo, or the
// host's with --ns leaving net out), with no cost.
func (n *netOptions) given() bool {
	return len(n.networks) > 0 || len(n.aliases) > 0 || n.ip != "" || len(n.addHosts) > 0 || len(n.dns) > 0 ||
		len(n.dnsSearch) > 0 || len(n.dnsOptions) > 0 || len(n.publish) > 0 || n.publishAll || len(n.expose) > 0
}

// config turns the flags into the container's network request, and
// adjusts the description: the host's network leaves out the network
// namespace. nil when no network flag was given.
func (n *netOptions) config(g *globals, spec *specs.Spec) (*netconf.Config, error) {
	if !n.given() {
		return nil, nil
	}
	cfg := &netconf.Config{Mode: netconf.ModeNone}
	nets := n.networks
	if len(nets) == 0 && (len(n.publish) > 0 || n.publishAll || len(n.aliases) > 0 || n.ip != "") {
		// A port needs a network to reach: docker's default, the bridge.
		nets = []string{netconf.DefaultNetwork}
	}
	for i, s := range nets {
		mode, arg, err := network.ParseNetwork(s)
		if err != nil {
			return nil, hint.With(err, "--network takes none, host, bridge, container:NAME or a network's name")
		}
		if i > 0 && (mode != netconf.ModeBridge || cfg.Mode != netconf.ModeBridge) {
			return nil, hint.With(fmt.Errorf("conflicting options: --network %s with --network %s", nets[0], s), "only bridge networks can be combined")
		}
		cfg.Mode = mode
		switch mode {
		case netconf.ModeBridge:
			if cfg.On(arg) {
				return nil, fmt.Errorf("--network %s given twice", arg)
			}
			cfg.Networks = append(cfg.Networks, netconf.Attach{Network: arg})
		case netconf.ModeContainer:
			cfg.Container = arg
		}
	}
	if err := n.names(cfg); err != nil {
		return nil, err
	}
	if err := n.ports(g, cfg); err != nil {
		return nil, err
	}
	if cfg.Mode == netconf.ModeHost {
		fmt.Fprintln(g.stderr, "stepbox: warning: --network host: the container shares the host's network namespace: it sees every interface and may use every port of the host")
		sandbox.SetNamespace(spec, specs.NetworkNamespace, false)
	} else if !sandbox.HasNamespace(spec, specs.NetworkNamespace) {
		return nil, hint.With(fmt.Errorf("--network %s needs a network namespace, which --ns leaves out", nets[0]), "add net to --ns, or use --network host")
	}
	return cfg, nil
}

// names reads --network-alias, --ip, --add-host and --dns*.
func (n *netOptions) names(cfg *netconf.Config) error {
	conflict := func(flag string) error {
		return hint.With(fmt.Errorf("conflicting options: %s and --network %s", flag, cfg.Mode), "a container on another's network namespace takes its names and addresses")
	}
	userDefined := cfg.Mode == netconf.ModeBridge && cfg.Networks[0].Network != netconf.DefaultNetwork
	if len(n.aliases) > 0 {
		if !userDefined {
			return hint.With(errors.New("--network-alias works on user-defined networks only"), "make one with 'stepbox network create NAME' and add --network NAME")
		}
		for i := range cfg.Networks {
			cfg.Networks[i].Aliases = n.aliases
		}
	}
	if n.ip != "" {
		if !userDefined {
			return hint.With(errors.New("--ip works on user-defined networks only"), "make one with 'stepbox network create --subnet CIDR NAME' and add --network NAME")
		}
		cfg.Networks[0].IP = n.ip
	}
	if cfg.Mode == netconf.ModeContainer && (len(n.addHosts) > 0 || len(n.dns) > 0 || len(n.dnsSearch) > 0 || len(n.dnsOptions) > 0) {
		return conflict("--add-host and --dns")
	}
	for _, h := range n.addHosts {
		host, err := network.ParseHost(h)
		if err != nil {
			return err
		}
		cfg.ExtraHosts = append(cfg.ExtraHosts, host)
	}
	for _, d := range n.dns {
		if _, err := netip.ParseAddr(d); err != nil {
			return hint.With(fmt.Errorf("invalid --dns %q: not an IP address", d), "--dns takes a nameserver's address")
		}
	}
	cfg.DNS, cfg.DNSSearch, cfg.DNSOptions = n.dns, n.dnsSearch, n.dnsOptions
	return nil
}

// ports reads -p, -P and --expose.
func (n *netOptions) ports(g *globals, cfg *netconf.Config) error {
	var ports []netconf.Port
	for _, s := range n.publish {
		p, err := network.ParsePort(s)
		if err != nil {
			return err
		}
		ports = append(ports, p)
	}
	if n.publishAll {
		for _, s := range n.expose {
			p, err := network.ParseExpose(s)
			if err != nil {
				return err
			}
			ports = append(ports, p)
		}
	} else {
		for _, s := range n.expose {
			if _, err := network.ParseExpose(s); err != nil {
				return err
			}
		}
	}
	seen := map[string]bool{}
	for _, p := range ports {
		if p.HostPort == 0 {
			continue
		}
		k := fmt.Sprintf("%s:%d/%s", p.HostIP, p.HostPort, p.Proto)
		if seen[k] {
			return hint.With(fmt.Errorf("port %s is published twice", k), "give each -p its own host port")
		}
		seen[k] = true
	}
	if len(ports) == 0 {
		return nil
	}
	switch cfg.Mode {
	case netconf.ModeHost:
		fmt.Fprintln(g.stderr, "stepbox: warning: published ports are discarded with --network host: the container's ports are the host's")
		return nil
	case netconf.ModeContainer:
		return hint.With(errors.New("conflicting options: -p and --network container:"), "publish the ports on the container whose network it joins")
	case netconf.ModeNone:
		return hint.With(errors.New("publishing a port needs a network, and --network none has none"), "use --network bridge, or a network of yours")
	}
	cfg.Ports = ports
	return nil
}

// checkNetworks makes sure the networks a container asks for exist, before
// anything of it is made; the default network is made on first use.
func checkNetworks(paths sandbox.Paths, cfg *netconf.Config) error {
	if cfg == nil {
		return nil
	}
	store := network.Store{Lib: paths.Lib, Run: paths.Run}
	for _, a := range cfg.Networks {
		if _, err := store.Get(a.Network); err != nil {
			return err
		}
	}
	return nil
}
