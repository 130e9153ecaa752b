package lessons

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/network"
)

// The network lesson's last step: what docker's networks are, done with
// the command a user types. Two detached containers on a bridge network of
// the lesson's own (`stepbox network create`), one serving an echo on a
// port published on the host's loopback; the other pings it by name, and
// the host talks to the port. Every packet stays on this machine: the
// bridge forwards nothing out, and the port is on 127.0.0.1.

// bridgeSubnet is the lesson network's, apart from the cable's 10.200.0.0/24.
const bridgeSubnet = "10.201.0.0/24"

// bridgePort is where the echo listens inside the serving container.
const bridgePort = "8080"

// The names of what the step makes, one per lesson run.
func (l *Lab) bridgeNet() string { return l.name("-net") }
func (l *Lab) bridgeA() string   { return l.name("-a") }
func (l *Lab) bridgeB() string   { return l.name("-b") }

// The probes: {a} and {b} are the two containers, {published} the host
// address of a's port.
const (
	bridgePing    = "{stepbox} exec {b} stepbox probe ping -c1 -W1 {a}"
	bridgeConnect = "stepbox probe connect {published} hello"
)

// hostHasNoNetNS reports whether the lab's containers go without a network
// namespace of their own: the failure demo without one, where the step's
// containers get no network either and there is no bridge to be on.
func hostHasNoNetNS(l *Lab) bool {
	spec := cloneSpec(l.spec)
	opts := l.opts
	if l.filter != nil {
		l.filter(spec, &opts)
	}
	return !sandbox.HasNamespace(spec, specs.NetworkNamespace)
}

// startBridge makes the network and the two containers with stepbox's own
// command line, as a user would, and notes what the host sees of them.
func startBridge(l *Lab) error {
	sb, err := l.stepboxCommand()
	if err != nil {
		return err
	}
	net, a, b := l.bridgeNet(), l.bridgeA(), l.bridgeB()
	l.Defer(func() error {
		_, err := l.Host(fmt.Sprintf("%s rm -f %s %s >/dev/null 2>&1; %s network rm %s >/dev/null 2>&1; true", sb, a, b, sb, net))
		return err
	})
	netFlags := "--network " + net + " -p 127.0.0.1::" + bridgePort
	if hostHasNoNetNS(l) {
		netFlags = "--network none"
	} else if err := hostOK(l, fmt.Sprintf("%s network create --subnet %s %s", sb, bridgeSubnet, net)); err != nil {
		return err
	}
	if err := hostOK(l, fmt.Sprintf("%s run -d --name %s %s --rootfs %s -- stepbox probe echo %s", sb, a, netFlags, l.Rootfs(), bridgePort)); err != nil {
		return err
	}
	netFlags = strings.TrimSuffix(netFlags, " -p 127.0.0.1::"+bridgePort)
	if err := hostOK(l, fmt.Sprintf("%s run -d --name %s %s --rootfs %s -- sleep 3600", sb, b, netFlags, l.Rootfs())); err != nil {
		return err
	}
	for _, name := range []string{a, b} {
		c, err := sandbox.Find(l.paths, name)
		if err != nil {
			return err
		}
		addr, published := "-", ""
		if st, err := network.LoadState(c.Dir()); err == nil {
			for _, ep := range st.Endpoints {
				addr, _, _ = strings.Cut(ep.Address, "/")
			}
			for _, p := range st.Ports {
				published = fmt.Sprintf("%s:%d", p.HostIP, p.HostPort)
			}
		}
		note(l, "bridge.addr."+name, addr)
		if published != "" {
			note(l, "bridge.published", published)
		}
	}
	if n, err := (network.Store{Lib: l.paths.Lib, Run: l.paths.Run}).Find(net); err == nil {
		ports, _ := os.ReadDir(filepath.Join("/sys/class/net", n.Bridge, "brif"))
		note(l, "bridge.name", fmt.Sprintf("%s, %d ports", n.Bridge, len(ports)))
	}
	return nil
}

// hostOK runs a command on the host that must succeed.
func hostOK(l *Lab, cmd string) error {
	out, err := l.Host(cmd)
	if err != nil {
		return err
	}
	if out.Code != 0 {
		return &stepError{what: cmd, out: out.Output}
	}
	return nil
}

// notedByLab is a note of the lab's running container (note), for a probe's
// placeholders, which are filled before there is any evidence.
func notedByLab(l *Lab, key string) string {
	labNotes.Lock()
	defer labNotes.Unlock()
	return labNotes.byPid[l.Pid()][key]
}

var stepBridge = Step{
	Title: i18n.T("A bridge between containers, and a port for the host", "컨테이너를 잇는 브리지, 호스트를 위한 포트"),
	Explain: i18n.T(
		"This is what docker's networks are. `stepbox network create` makes a bridge on the host (bridge(8)): a switch in the kernel. Each container on the network gets a veth pair, its end named eth0 with an address from the network's subnet and a default route to the bridge's address, the host's end plugged into the bridge; the containers find each other by name through the /etc/hosts the runtime keeps for each. A port published with -p is served on the host's loopback by a small proxy that passes each connection on to the container. The lesson uses the command line a user would, and nothing it sends leaves this machine: the bridge forwards nothing out, and the port is on 127.0.0.1 only. (`stepbox probe echo` answers on the port inside, `stepbox probe connect` talks to it from the host.)",
		"docker의 네트워크가 바로 이것입니다. `stepbox network create`는 호스트에 브리지(bridge(8))를 만듭니다. 커널 안의 스위치입니다. 네트워크에 붙는 컨테이너마다 veth 쌍이 생기는데, 컨테이너 쪽 끝은 eth0이라는 이름으로 네트워크의 서브넷에서 받은 주소와 브리지 주소로 가는 기본 라우팅을 갖고, 호스트 쪽 끝은 브리지에 꽂힙니다. 컨테이너들은 런타임이 컨테이너마다 관리하는 /etc/hosts로 서로의 이름을 찾습니다. -p로 공개한 포트는 호스트의 루프백에서 작은 프록시가 받아 연결마다 컨테이너로 넘겨 줍니다. 레슨은 사용자가 치는 그대로의 명령줄을 쓰고, 보내는 것은 하나도 이 기계를 떠나지 않습니다. 브리지는 밖으로 아무것도 넘기지 않고, 포트는 127.0.0.1에만 열립니다. (`stepbox probe echo`가 안에서 포트에 대답하고, `stepbox probe connect`가 호스트에서 그 포트와 이야기합니다.)"),
	Syscalls: []Syscall{{"sendmsg", 2, "RTM_NEWLINK bridge, veth; IFLA_MASTER"}, {"connect", 2, "127.0.0.1:PORT"}},
	Shell: "stepbox network create --subnet " + bridgeSubnet + " net\n" +
		"stepbox run -d --network net --name a -p 127.0.0.1::" + bridgePort + " \\\n" +
		"  -- stepbox probe echo " + bridgePort + "\n" +
		"stepbox run -d --network net --name b -- sleep 3600\n" +
		"stepbox exec b ping -c1 a; stepbox port a",
	Apply:  startBridge,
	Probes: []Probe{{Host, bridgePing}, {Host, bridgeConnect}},
	Rows: []Row{
		hostRow(i18n.T("bridge", "브리지"), func(e *Evidence) string { return dashIfEmpty(noted(e, "bridge.name")) }),
		{
			Label: i18n.T("a, b", "a, b"),
			Host:  func(e *Evidence) string { return "-" },
			Box:   func(e *Evidence) string { return strings.Join(bridgeAddrs(e), ", ") },
		},
		{
			Label: i18n.T("b pings a by name", "b가 a에 이름으로 ping"),
			Host:  func(e *Evidence) string { return "-" },
			Box:   func(e *Evidence) string { return exitText(e.Probe(Host, bridgePing)) },
		},
		{
			Label: i18n.T("host → published port", "호스트 → 공개 포트"),
			Host:  func(e *Evidence) string { return exitText(e.Probe(Host, bridgeConnect)) },
			Box:   func(e *Evidence) string { return dashIfEmpty(noted(e, "bridge.published")) },
		},
	},
	Expect: Expect{
		Text: i18n.T("b reaches a by name over the bridge, and the host reaches a's port",
			"b는 브리지 너머 a에 이름으로 닿고, 호스트는 a의 포트에 닿는다"),
		Check: func(e *Evidence) bool {
			ping := e.Probe(Host, bridgePing)
			return ping.Code == 0 && strings.Contains(ping.Output, "1 received") &&
				succeeded(e.Probe(Host, bridgeConnect)) && strings.HasSuffix(noted(e, "bridge.name"), ", 2 ports")
		},
	},
}

// bridgeAddrs are the two containers' addresses, in order.
func bridgeAddrs(e *Evidence) []string {
	var out []string
	labNotes.Lock()
	defer labNotes.Unlock()
	notes := labNotes.byPid[e.Outside.PID]
	for k, v := range notes {
		if strings.HasPrefix(k, "bridge.addr.") && strings.HasSuffix(k, "-a") {
			out = append([]string{v}, out...)
		} else if strings.HasPrefix(k, "bridge.addr.") {
			out = append(out, v)
		}
	}
	return out
}
