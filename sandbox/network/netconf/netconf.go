// Package netconf is what a container asks of the network, as data: the
// mode (a namespace of its own with only lo, the host's, another
// container's, or bridge networks), the ports to publish, the names and
// resolvers its /etc/hosts and /etc/resolv.conf hold; what is wired for it
// now; and the Driver that does the wiring.
//
// It holds no kernel code. The runtime (package sandbox) imports it, and
// with sandbox every container's init, which stepbox copies into each new
// container: a netlink library there would cost every start the copy and
// the initialisation of code the init never runs. The driver,
// sandbox/network, registers itself when a program imports it, as a
// database/sql driver does; stepbox and the lessons import it.
package netconf

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// The network modes (docker run --network).
const (
	// ModeNone is a network namespace of the container's own with only a
	// loopback device (the default: nothing reaches it, it reaches nothing).
	ModeNone = "none"
	// ModeHost is the host's network namespace: no isolation at all.
	ModeHost = "host"
	// ModeContainer joins another container's network namespace, as the
	// containers of a pod share one (Config.Container names it).
	ModeContainer = "container"
	// ModeBridge attaches the container to bridge networks
	// (Config.Networks): a veth per network, its host end on the bridge.
	ModeBridge = "bridge"
)

// DefaultNetwork is the network `--network bridge` names: made on first
// use, with no name resolution between its containers (docker's default
// bridge behaves so; user-defined networks resolve names).
const DefaultNetwork = "bridge"

// Config is a container's request, kept in its state directory for its
// whole life: a start after a stop wires it again from here.
type Config struct {
	Mode string `json:"mode"`
	// Container is the name or id of the container whose network
	// namespace a ModeContainer container joins.
	Container string `json:"container,omitempty"`
	// Networks are the bridge networks of a ModeBridge container, the
	// first one carrying the default route.
	Networks []Attach `json:"networks,omitempty"`
	// Ports are published on the host (-p, and -P for Expose).
	Ports []Port `json:"ports,omitempty"`
	// DNS, DNSSearch and DNSOptions replace the host's in the
	// container's /etc/resolv.conf (resolv.conf(5)).
	DNS        []string `json:"dns,omitempty"`
	DNSSearch  []string `json:"dnsSearch,omitempty"`
	DNSOptions []string `json:"dnsOptions,omitempty"`
	// ExtraHosts are added to its /etc/hosts (--add-host).
	ExtraHosts []Host `json:"extraHosts,omitempty"`
}

// Attach is one network a container is on.
type Attach struct {
	Network string   `json:"network"`
	Aliases []string `json:"aliases,omitempty"`
	// IP is the address asked for (--ip); empty for the next free one.
	IP string `json:"ip,omitempty"`
}

// Host is one line of /etc/hosts (hosts(5)).
type Host struct {
	Name string `json:"name"`
	IP   string `json:"ip"`
}

// Port is a published port: HostIP:HostPort on the host forwards to
// ContainerPort inside, for Proto (tcp or udp).
type Port struct {
	Proto         string `json:"proto"`
	HostIP        string `json:"hostIp"`
	HostPort      uint16 `json:"hostPort"` // 0: any free port
	ContainerPort uint16 `json:"containerPort"`
}

// DefaultHostIP is where ports are published when -p names no address.
// docker publishes on every address (0.0.0.0), which puts the service on
// every network the host is on; stepbox keeps it on the host itself.
const DefaultHostIP = "127.0.0.1"

// Files reports whether the container gets /etc/hosts, /etc/resolv.conf
// and /etc/hostname of its own, written in its state directory and bound
// over the root filesystem's (which all containers share). A container
// joined to another's network namespace gets that one's instead.
func (c *Config) Files() bool { return c != nil && c.Mode != ModeContainer }

// NetworkNames lists the networks of a bridge container.
func (c *Config) NetworkNames() []string {
	var out []string
	for _, a := range c.Networks {
		out = append(out, a.Network)
	}
	return out
}

// On reports whether the container is on network name.
func (c *Config) On(name string) bool {
	for _, a := range c.Networks {
		if a.Network == name {
			return true
		}
	}
	return false
}

// ValidateName checks a network's name: it names a file, so the rules of
// container names (1 to 64 letters, digits, '_', '.', '-').
func ValidateName(name string) error {
	ok := len(name) > 0 && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || i > 0 && (c == '_' || c == '.' || c == '-')
	}
	if !ok {
		return fmt.Errorf("invalid network name %q: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", name)
	}
	return nil
}

// String is the port as -p takes it: 127.0.0.1:8080:80/tcp.
func (p Port) String() string {
	host := p.HostIP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	hp := ""
	if p.HostPort != 0 {
		hp = strconv.Itoa(int(p.HostPort))
	}
	return fmt.Sprintf("%s:%s:%d/%s", host, hp, p.ContainerPort, p.Proto)
}

// State is what is wired for a container now, kept in its state directory
// (StateFile) while it runs; inspect and port read it.
type State struct {
	Mode      string       `json:"mode"`
	Endpoints []Endpoint   `json:"endpoints,omitempty"`
	Ports     []Published  `json:"ports,omitempty"`
	Files     *ConfigFiles `json:"files,omitempty"`
}

// ConfigFiles are the container's own /etc files on the host.
type ConfigFiles struct {
	Hosts      string `json:"hosts"`
	ResolvConf string `json:"resolvConf"`
	Hostname   string `json:"hostname"`
}

// FilesIn are the /etc files of the container whose state directory is
// dir: hosts(5), resolv.conf(5) and hostname(5), bound over the root
// filesystem's.
func FilesIn(dir string) ConfigFiles {
	return ConfigFiles{Hosts: dir + "/hosts", ResolvConf: dir + "/resolv.conf", Hostname: dir + "/hostname"}
}

// Endpoint is a container's place on one network: the veth pair (veth(4))
// whose host end is a port of the network's bridge.
type Endpoint struct {
	Network   string   `json:"network"`
	NetworkID string   `json:"networkId"`
	Bridge    string   `json:"bridge"`
	IfName    string   `json:"ifName"` // inside: eth0, eth1, …
	HostIf    string   `json:"hostIf"` // the host end, on the bridge
	Address   string   `json:"address"`
	Gateway   string   `json:"gateway"`
	MAC       string   `json:"mac"`
	Aliases   []string `json:"aliases,omitempty"`
}

// IP is the endpoint's address without its prefix length.
func (e Endpoint) IP() string {
	ip, _, _ := strings.Cut(e.Address, "/")
	return ip
}

// Published is a port as it is published now: the host port is the one
// the kernel gave when any was asked for, and Target is where the proxy
// forwards, the container's address on its first network.
type Published struct {
	Port
	Target string `json:"target"`
}

// Listener is a published port's listening socket, bound on the host by
// the driver and served by the container's proxy (sandbox).
type Listener struct {
	Published
	File *os.File
}

// Container is a container as the driver sees it.
type Container struct {
	// Lib and Run are the runtime's state directories (sandbox.Paths):
	// network definitions live under Lib, addresses in use under Run.
	Lib, Run string
	ID       string
	Name     string
	Hostname string
	// Dir is the container's state directory: its /etc files and
	// StateFile go there.
	Dir    string
	Config *Config
}

// StateFile is the name of a container's wired State in its directory.
const StateFile = "netstate.json"

// Driver wires containers' networks.
type Driver interface {
	// Attach wires the container whose init is pid (born in a network
	// namespace of its own, waiting): links, addresses, routes, its /etc
	// files, and the published ports' listening sockets, which it returns
	// for the caller to serve. On failure nothing of it is left.
	Attach(c Container, pid int) ([]Listener, error)
	// Detach removes whatever the container has on the host's side: its
	// links, its addresses on every network, its names in the other
	// containers' /etc/hosts. Whatever is already gone is no error.
	Detach(c Container) error
}

var (
	driverMu sync.Mutex
	driver   Driver
)

// Register makes d the driver (sandbox/network calls it as it is
// initialised).
func Register(d Driver) {
	driverMu.Lock()
	defer driverMu.Unlock()
	driver = d
}

// ErrNoDriver: the program has no network driver linked in.
var ErrNoDriver = errors.New("this program has no network driver (import github.com/stepbox/stepbox/sandbox/network)")

// Registered returns the driver, or ErrNoDriver.
func Registered() (Driver, error) {
	driverMu.Lock()
	defer driverMu.Unlock()
	if driver == nil {
		return nil, ErrNoDriver
	}
	return driver, nil
}
