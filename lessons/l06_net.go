package lessons

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/lessons/probe"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/network"
)

func init() { register(lessonNet) }

const (
	// The cable's two ends. The addresses are used only between the two
	// namespaces the lesson made: nothing routes them anywhere else.
	netBoxIf    = "eth0"
	netBoxAddr  = "10.200.0.2/24"
	netPeerIf   = "veth0"
	netPeerAddr = "10.200.0.1/24"
	netPeerIP   = "10.200.0.1"

	netRoute = "ip route"
	netLink  = "ip link"
	// The pings are stepbox's own (lessons/probe): a raw ICMP socket and
	// one echo request, each call printed with the kernel's answer, so the
	// course needs no ping in the root filesystem (Debian's base has none)
	// and its checks read errno, not a ping's wording.
	netFreshPing = "unshare -n stepbox probe ping -c1 127.0.0.1"
	netPingLo    = "stepbox probe ping -c1 -W1 127.0.0.1"
	netLoDown    = "ip link set lo down"
	netLoUp      = "ip link set lo up"
	netPeerAddrs = "nsenter -t {peer} -n ip -4 -o addr"
	netPingPeer  = "stepbox probe ping -c1 -W1 " + netPeerIP
)

// netIf finds an interface by name in a snapshot's network namespace.
func netIf(s nsinspect.Snapshot, name string) (nsinspect.Interface, bool) {
	for _, i := range s.Network.Interfaces {
		if i.Name == name {
			return i, true
		}
	}
	return nsinspect.Interface{}, false
}

// loUp reports whether a snapshot's lo is up.
func loUp(s nsinspect.Snapshot) bool {
	lo, ok := netIf(s, "lo")
	return ok && lo.Up
}

// hasAddr reports whether any interface of a snapshot has addr.
func hasAddr(s nsinspect.Snapshot, addr string) bool {
	for _, i := range s.Network.Interfaces {
		if slices.Contains(i.Addrs, addr) {
			return true
		}
	}
	return false
}

// rowAddrs lists the IPv4 addresses outside loopback on each side.
var rowAddrs = Row{
	Label: i18n.T("IPv4 addresses", "IPv4 주소"),
	Host:  func(e *Evidence) string { return ipv4(e.Host) },
	Box:   func(e *Evidence) string { return ipv4(e.Inside) },
}

func ipv4(s nsinspect.Snapshot) string {
	if s.Network.Err != nil {
		return "?"
	}
	var out []string
	for _, i := range s.Network.Interfaces {
		for _, a := range i.Addrs {
			if !i.Loopback && strings.Contains(a, ".") {
				out = append(out, i.Name+" "+a)
			}
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}

var lessonNet = &Lesson{
	ID:      "net",
	Title:   i18n.T("Network: a network stack of its own", "네트워크: 자기만의 네트워크 스택"),
	Summary: i18n.T("only lo, and it starts down; then a veth cable to a second namespace and a ping", "lo 하나, 그것도 처음엔 꺼져 있다. 그다음 두 번째 네임스페이스로 veth 케이블을 잇고 ping"),
	Intro: i18n.T(
		"A network namespace has its own network stack: interfaces, addresses, routes, firewall rules, sockets and port numbers (network_namespaces(7)). A new one is nearly empty, and connecting it to anything is work the runtime, or a tool like docker's, has to do. In this lesson every packet stays between namespaces the lesson made.",
		"네트워크 네임스페이스는 자기만의 네트워크 스택을 가집니다. 인터페이스, 주소, 라우팅, 방화벽 규칙, 소켓과 포트 번호까지 모두 따로입니다(network_namespaces(7)). 새 네임스페이스는 거의 비어 있고, 어딘가에 연결하는 일은 런타임이나 docker 같은 도구가 따로 해야 합니다. 이 레슨의 모든 패킷은 레슨이 만든 네임스페이스 사이에서만 오갑니다."),
	Needs: Needs{Inside: []string{"ip", "sleep", "stepbox", "unshare"}, Host: []string{"ip", "nsenter", "stepbox"}},
	Steps: []Step{
		{
			Title: i18n.T("Before: the host's network", "시작: 호스트의 네트워크"),
			Explain: i18n.T(
				"The container still shares the host's network namespace: the same interfaces, the same addresses, the same routes. Whatever the host can reach, it can reach, and a port it listens on is a port of the host.",
				"컨테이너는 아직 호스트의 네트워크 네임스페이스를 함께 씁니다. 인터페이스도, 주소도, 라우팅도 같습니다. 호스트가 닿는 곳이면 컨테이너도 닿고, 컨테이너가 여는 포트는 곧 호스트의 포트입니다."),
			Syscalls: []Syscall{{"socket", 2, "AF_NETLINK, NETLINK_ROUTE"}},
			Shell:    "ip link; ip route",
			Probes:   []Probe{{Inside, netRoute}},
			Rows:     []Row{RowNS("net"), RowInterfaces, rowAddrs},
			Expect: Expect{
				Text: i18n.T("the container sees the host's interfaces", "컨테이너에 호스트의 인터페이스가 보인다"),
				Check: func(e *Evidence) bool {
					return !e.Isolated("net") && e.Inside.Network.Err == nil && ifaces(e.Inside) == ifaces(e.Host)
				},
			},
		},
		{
			Title: i18n.T("A new network namespace: only lo, and down", "새 네트워크 네임스페이스: lo 하나, 그것도 꺼진 채"),
			Explain: i18n.T(
				"The runtime adds CLONE_NEWNET to clone(2). The kernel gives a new network namespace a single device, the loopback lo, down and without an address. stepbox's runtime, like docker's, brings lo up before the payload starts; here we take ours down again, so that the container starts where the kernel starts. A brand-new namespace made from inside shows the kernel's own state: there, a ping to 127.0.0.1 cannot even be sent: sendto(2) fails with ENETUNREACH, network unreachable. (The pings of this lesson are `stepbox probe ping`, stepbox's own small ping: it opens a raw ICMP socket, sends one echo request and prints each system call with the kernel's answer, as strace(1) would. On a host you would type ping.)",
				"런타임이 clone(2)에 CLONE_NEWNET을 더합니다. 커널은 새 네트워크 네임스페이스에 장치를 딱 하나, 루프백 lo만 주는데, 꺼져 있고 주소도 없습니다. stepbox 런타임은 docker처럼 페이로드를 시작하기 전에 lo를 켜 두는데, 여기서는 커널이 주는 상태에서 시작하려고 우리 lo를 다시 끕니다. 안에서 새 네임스페이스를 하나 더 만들어 보면 커널이 주는 그대로의 모습이 보입니다. 거기서는 127.0.0.1로 가는 ping을 보낼 수조차 없습니다. sendto(2)가 ENETUNREACH(네트워크에 닿을 수 없음)로 실패합니다. (이 레슨의 ping은 stepbox에 들어 있는 작은 ping인 `stepbox probe ping`입니다. raw ICMP 소켓을 열어 에코 요청을 하나 보내고, strace(1)처럼 시스템 콜마다 커널의 대답을 출력합니다. 호스트에서라면 ping을 치면 됩니다.)"),
			Syscalls: []Syscall{{"clone", 2, "CLONE_NEWNET"}, {"ioctl", 2, "SIOCSIFFLAGS lo, flags &^ IFF_UP"}},
			Shell:    "unshare --net ip link\nunshare --net ping -c1 127.0.0.1",
			Apply: func(l *Lab) error {
				l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.NetworkNamespace, true) })
				_, err := insideOK(l, netLoDown)
				return err
			},
			Probes: []Probe{{Inside, netLink}, {Inside, netFreshPing}},
			Rows:   []Row{RowNS("net"), RowInterfaces, rowAddrs},
			Expect: Expect{
				Text: i18n.T("only lo inside, down; a brand-new namespace cannot send at all",
					"안에는 꺼진 lo뿐이고, 갓 만든 네임스페이스는 아무것도 보내지 못한다"),
				Check: func(e *Evidence) bool {
					fresh := e.Probe(Inside, netFreshPing)
					return e.Isolated("net") && e.Inside.Network.Err == nil &&
						len(e.Inside.Network.Interfaces) == 1 && e.Inside.Network.OnlyLoopback() && !loUp(e.Inside) &&
						fresh.Code != 0 && probe.Errno(fresh.Output) == "ENETUNREACH"
				},
			},
		},
		{
			Title: i18n.T("Bring lo up", "lo 켜기"),
			Explain: i18n.T(
				"Bringing lo up is one flag, IFF_UP, set with ioctl(2) SIOCSIFFLAGS (netdevice(7)) or over netlink. The first time lo comes up, the kernel gives it 127.0.0.1/8 and the local routes to it, and the container can talk to itself, as many programs do.",
				"lo를 켜는 일은 플래그 하나, IFF_UP입니다. ioctl(2)의 SIOCSIFFLAGS(netdevice(7))로도, netlink로도 켤 수 있습니다. lo가 처음 켜질 때 커널이 127.0.0.1/8 주소와 그리로 가는 로컬 라우팅을 주고, 컨테이너는 여러 프로그램이 그러듯 자기 자신과 이야기할 수 있게 됩니다."),
			Syscalls: []Syscall{{"ioctl", 2, "SIOCSIFFLAGS lo, flags | IFF_UP"}},
			Shell:    netLoUp + "\n" + netPingLo,
			Apply: func(l *Lab) error {
				_, err := insideOK(l, netLoUp)
				return err
			},
			Probes: []Probe{{Inside, netPingLo}},
			Rows:   []Row{RowInterfaces},
			Expect: Expect{
				Text: i18n.T("lo is up and 127.0.0.1 answers", "lo가 켜졌고 127.0.0.1이 대답한다"),
				Check: func(e *Evidence) bool {
					return loUp(e.Inside) && e.Probe(Inside, netPingLo).Code == 0
				},
			},
		},
		{
			Title: i18n.T("A cable to a second namespace: a veth pair", "두 번째 네임스페이스로 잇는 케이블: veth 쌍"),
			Explain: i18n.T(
				"A veth pair (veth(4)) is a virtual cable: two interfaces, and what goes into one comes out of the other. The lesson starts a second container with nothing of its own but a network namespace, and asks the kernel over netlink (rtnetlink(7)) for a pair with one end made in our container's namespace and the other directly in the second one's. Each end gets an address and is brought up ($BOX and $PEER below stand for the two containers' pids). Nothing is made on the host: the pair lives only in the two namespaces and vanishes with either. Docker does the same, with the other end on the host, plugged into a bridge.",
				"veth 쌍(veth(4))은 가상 케이블입니다. 인터페이스 두 개로 되어 있고, 한쪽에 들어간 것은 다른 쪽으로 나옵니다. 레슨이 네트워크 네임스페이스 말고는 아무것도 따로 갖지 않은 두 번째 컨테이너를 띄우고, netlink(rtnetlink(7))로 커널에 veth 쌍을 요청합니다. 한쪽 끝은 우리 컨테이너의 네임스페이스에, 다른 쪽 끝은 곧바로 두 번째 컨테이너의 네임스페이스에 만듭니다. 양쪽 끝에 주소를 주고 켭니다(아래의 $BOX와 $PEER는 두 컨테이너의 PID입니다). 호스트에는 아무것도 만들지 않습니다. 이 쌍은 두 네임스페이스에만 있고, 둘 중 하나가 사라지면 함께 사라집니다. docker도 같은 일을 하는데, 다른 쪽 끝을 호스트에 두고 브리지에 꽂는다는 점이 다릅니다."),
			Syscalls: []Syscall{{"sendmsg", 2, "RTM_NEWLINK veth, VETH_INFO_PEER, IFLA_NET_NS_FD"}, {"sendmsg", 2, "RTM_NEWADDR"}},
			Shell: "ip link add " + netBoxIf + " netns $BOX type veth peer " + netPeerIf + " netns $PEER\n" +
				"nsenter -t $BOX -n ip addr add " + netBoxAddr + " dev " + netBoxIf + "\n" +
				"nsenter -t $BOX -n ip link set " + netBoxIf + " up\n" +
				"nsenter -t $PEER -n ip addr add " + netPeerAddr + " dev " + netPeerIf + "\n" +
				"nsenter -t $PEER -n ip link set " + netPeerIf + " up",
			Apply: func(l *Lab) error {
				peer := baseSpec(l.Rootfs())
				sandbox.SetNamespace(peer, specs.NetworkNamespace, true)
				if err := l.StartPeer(peer); err != nil {
					return err
				}
				if err := l.Ensure(); err != nil {
					return err
				}
				return network.Veth(
					network.End{Pid: l.Pid(), Name: netBoxIf, Address: netBoxAddr},
					network.End{Pid: l.PeerPid(), Name: netPeerIf, Address: netPeerAddr})
			},
			Probes: []Probe{{Host, netPeerAddrs}},
			Rows:   []Row{RowInterfaces, rowAddrs},
			Expect: Expect{
				Text: i18n.T("the container's end has its address; the host has neither end",
					"컨테이너 쪽 끝에 주소가 있고, 호스트에는 어느 쪽 끝도 없다"),
				Check: func(e *Evidence) bool {
					end, ok := netIf(e.Inside, netBoxIf)
					return ok && end.Up && slices.Contains(end.Addrs, netBoxAddr) &&
						!hasAddr(e.Host, netBoxAddr) && !hasAddr(e.Host, netPeerAddr) &&
						strings.Contains(probeText(e, Host, netPeerAddrs), netPeerAddr)
				},
			},
		},
		{
			Title: i18n.T("A ping across the cable", "케이블 너머로 ping"),
			Explain: i18n.T(
				"Adding the address also gave the container a route to its subnet, and nothing more: no default route, so the peer is the only place it can reach. The ping goes out of eth0, through the pair, and the second namespace answers.",
				"주소를 더하면서 컨테이너에는 그 서브넷으로 가는 라우팅도 생겼습니다. 그것뿐입니다. 기본 라우팅이 없으니 닿을 수 있는 곳은 두 번째 네임스페이스 하나뿐입니다. ping은 eth0으로 나가 veth 쌍을 지나고, 두 번째 네임스페이스가 대답합니다."),
			Syscalls: []Syscall{{"socket", 2, "AF_INET, SOCK_RAW, IPPROTO_ICMP"}, {"sendto", 2, netPeerIP}},
			Shell:    "nsenter -t $BOX -n " + netPingPeer,
			Probes:   []Probe{{Inside, netRoute}, {Inside, netPingPeer}},
			Rows:     []Row{rowAddrs},
			Expect: Expect{
				Text: i18n.T("the peer answers, and there is no default route", "상대가 대답하고, 기본 라우팅은 없다"),
				Check: func(e *Evidence) bool {
					ping := e.Probe(Inside, netPingPeer)
					return ping.Code == 0 && strings.Contains(ping.Output, "1 received") &&
						!strings.Contains(probeText(e, Inside, netRoute), "default")
				},
			},
		},
		stepBridge,
	},
	Demo: Demo{
		Feature: "net",
		Explain: i18n.T(
			"Without a network namespace the container uses the host's: it sees the host's interfaces, and the cable's end lands on the host. With no network of their own, the bridge step's containers have nothing to plug into a bridge: b cannot find a, and no port is published. In this demo the host is a throwaway network namespace that has only lo and what the lesson puts there.",
			"네트워크 네임스페이스가 없으면 컨테이너는 호스트의 것을 씁니다. 호스트의 인터페이스가 보이고, 케이블의 한쪽 끝도 호스트에 꽂힙니다. 자기 네트워크가 없으니 브리지 단계의 컨테이너들도 브리지에 꽂을 것이 없습니다. b는 a를 찾지 못하고, 공개되는 포트도 없습니다. 이 데모의 호스트는 lo와 레슨이 넣은 것밖에 없는 일회용 네트워크 네임스페이스입니다."),
		Remove: withoutNS(specs.NetworkNamespace),
		Fails:  []int{2, 4, 6},
	},
	Exercises: netExercises,
	Outro: i18n.T(
		"The container has a network stack of its own, connected only where the lesson laid a cable. Next: users, and a root that is root only inside.",
		"컨테이너는 자기만의 네트워크 스택을 가졌고, 레슨이 케이블을 놓은 곳에만 연결됩니다. 다음은 사용자입니다. 안에서만 root인 root를 만나 봅니다."),
	Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) { sandbox.SetNamespace(s, specs.NetworkNamespace, true) })
	},
}
