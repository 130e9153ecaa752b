package lessons

import (
	"slices"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
)

// The exercises of lesson 6 (network). The exercise's host has a network
// namespace of its own: links made there vanish with the session.
var netExercises = []*Exercise{exNetLo, exNetCable}

// withAddr finds the interface of s that has address cidr.
func withAddr(s nsinspect.Snapshot, cidr string) (nsinspect.Interface, bool) {
	for _, i := range s.Network.Interfaces {
		if slices.Contains(i.Addrs, cidr) {
			return i, true
		}
	}
	return nsinspect.Interface{}, false
}

// carrier reports whether a link's other end is up (IFF_LOWER_UP).
func carrier(i nsinspect.Interface) bool { return slices.Contains(i.Flags, "LOWER_UP") }

var exNetLo = &Exercise{
	Title: i18n.T("A network namespace whose lo works", "lo가 동작하는 네트워크 네임스페이스"),
	Task: i18n.T(
		"Start a process in a network namespace of its own, with its loopback interface lo up, so that ping 127.0.0.1 would work inside. Leave it running.",
		"자기 네트워크 네임스페이스를 가진 프로세스를 띄우고, 그 루프백 인터페이스 lo를 켜서 안에서 ping 127.0.0.1이 되게 하세요. 계속 돌게 두세요."),
	Needs: []string{"unshare", "ip", "sleep"},
	Hints: []i18n.Text{
		i18n.T("A new network namespace has one interface, lo, and it starts down: nothing answers, not even 127.0.0.1.",
			"새 네트워크 네임스페이스에는 인터페이스가 lo 하나뿐이고, 그마저 꺼진 채로 시작합니다. 127.0.0.1조차 응답하지 않습니다."),
		i18n.T("ip link set lo up must run inside the namespace: in the same sh -c before exec sleep, or later with nsenter --target PID --net.",
			"ip link set lo up은 그 네임스페이스 안에서 실행해야 합니다. exec sleep 앞의 같은 sh -c 안에서, 또는 나중에 nsenter --target PID --net으로 하면 됩니다."),
	},
	Answer: "unshare --net sh -c 'ip link set lo up; exec sleep 1000' &",
	Check: func(s *Scene) Verdict {
		own := s.Where(func(p *Proc) bool { return s.Own(p, "net") })
		for _, p := range own {
			net := p.Snapshot().Network
			if net.Err == nil && net.OnlyLoopback() && len(net.Interfaces) > 0 && net.Interfaces[0].Up {
				return Verdict{OK: true, Seen: []i18n.Text{
					tf("%s is in network namespace %d, whose only interface is %s", "%s 프로세스는 네트워크 네임스페이스 %d에 있고, 인터페이스는 %s 하나뿐입니다", p, p.NS("net").Inode, ifaces(p.Snapshot())),
				}}
			}
		}
		if len(own) > 0 {
			p := own[0]
			return Verdict{Key: "lo-down",
				Seen:  []i18n.Text{tf("%s is in a network namespace of its own: %s", "%s 프로세스는 자기 네트워크 네임스페이스에 있습니다: %s", p, ifaces(p.Snapshot()))},
				Wrong: i18n.T("its lo is down: inside, even 127.0.0.1 does not answer", "그 lo가 꺼져 있습니다. 안에서는 127.0.0.1조차 응답하지 않습니다"),
				Hint:  tf("Bring it up from the host: nsenter --target %d --net ip link set lo up", "호스트에서 켜세요: nsenter --target %d --net ip link set lo up", p.PID),
			}
		}
		return nothing(s, "no-namespace",
			i18n.T("no process of yours has a network namespace of its own", "자기 네트워크 네임스페이스를 가진 내 프로세스가 없습니다"),
			i18n.T("unshare --net starts a command in a new network namespace.", "unshare --net은 새 네트워크 네임스페이스에서 명령을 시작합니다."))
	},
}

var exNetCable = &Exercise{
	Title: i18n.T("A cable between two namespaces", "두 네임스페이스를 잇는 케이블"),
	Task: i18n.T(
		"Start two processes, each in a network namespace of its own, and join them with a veth pair: 10.0.0.1/24 on the end in the first, 10.0.0.2/24 on the end in the second, both ends up. Leave both running.",
		"각자 자기 네트워크 네임스페이스를 가진 프로세스 둘을 띄우고 veth 쌍으로 이으세요. 첫째 쪽 끝에는 10.0.0.1/24, 둘째 쪽 끝에는 10.0.0.2/24를 주고 양쪽 끝을 모두 켜야 합니다. 둘 다 계속 돌게 두세요."),
	Needs: []string{"unshare", "ip", "nsenter", "sleep"},
	Hints: []i18n.Text{
		i18n.T("ip link add A netns PID1 type veth peer B netns PID2 makes the pair with each end already in its namespace (a pid names the namespace of that process).",
			"ip link add A netns PID1 type veth peer B netns PID2는 양 끝을 처음부터 각 네임스페이스에 넣은 채로 쌍을 만듭니다(pid는 그 프로세스의 네임스페이스를 가리킵니다)."),
		i18n.T("Addresses and up go inside each namespace: nsenter --target PID --net ip addr add … dev A, then ip link set A up. A veth shows carrier (LOWER_UP) only once both ends are up.",
			"주소와 켜기는 각 네임스페이스 안에서 합니다: nsenter --target PID --net ip addr add … dev A, 그리고 ip link set A up. veth는 양 끝이 모두 켜져야 캐리어(LOWER_UP)가 잡힙니다."),
	},
	Answer: "unshare --net sleep 1000 & A=$!\n" +
		"unshare --net sleep 1000 & B=$!\n" +
		"sleep 0.2; ip link add va netns $A type veth peer vb netns $B\n" +
		"nsenter --target $A --net sh -c 'ip addr add 10.0.0.1/24 dev va; ip link set va up'\n" +
		"nsenter --target $B --net sh -c 'ip addr add 10.0.0.2/24 dev vb; ip link set vb up'",
	Check: func(s *Scene) Verdict {
		ends := map[string]*Proc{}
		ifs := map[string]nsinspect.Interface{}
		for _, p := range s.Where(func(p *Proc) bool { return s.Own(p, "net") }) {
			for _, a := range []string{"10.0.0.1/24", "10.0.0.2/24"} {
				if i, ok := withAddr(p.Snapshot(), a); ok && ends[a] == nil {
					ends[a], ifs[a] = p, i
				}
			}
		}
		for _, a := range []string{"10.0.0.1/24", "10.0.0.2/24"} {
			if _, onHost := withAddr(s.Host, a); onHost {
				return Verdict{Key: "on-host",
					Seen:  []i18n.Text{tf("the exercise's host has %s", "연습용 호스트가 %s 주소를 가졌습니다", a)},
					Wrong: tf("%s is in the host's network namespace, not in one of the two", "%s 주소가 두 네임스페이스가 아니라 호스트의 네트워크 네임스페이스에 있습니다", a),
					Hint:  i18n.T("Put each end into its namespace when making the pair (netns PID), and give addresses inside, with nsenter --target PID --net.", "쌍을 만들 때 양 끝을 각 네임스페이스에 넣고(netns PID), 주소는 nsenter --target PID --net으로 안에서 주세요."),
				}
			}
			if ends[a] == nil {
				return nothing(s, "missing-address",
					tf("no network namespace of yours has %s", "%s 주소를 가진 내 네트워크 네임스페이스가 없습니다", a),
					i18n.T("Make the pair with ip link add … type veth peer …, then give each end its address inside its namespace.", "ip link add … type veth peer …로 쌍을 만든 다음, 각 끝에 자기 네임스페이스 안에서 주소를 주세요."))
			}
		}
		one, two := ends["10.0.0.1/24"], ends["10.0.0.2/24"]
		if one.NS("net").Same(two.NS("net")) {
			return Verdict{Key: "one-namespace",
				Seen:  []i18n.Text{tf("%s has both addresses", "%s 프로세스가 두 주소를 모두 가졌습니다", one)},
				Wrong: i18n.T("both ends are in one namespace: the cable joins nothing", "양 끝이 한 네임스페이스에 있습니다. 케이블이 아무것도 잇지 않습니다"),
				Hint:  i18n.T("Start two processes with unshare --net, and put one end of the pair into each (netns PID).", "unshare --net으로 프로세스를 둘 띄우고, 쌍의 한쪽 끝씩 각각에 넣으세요(netns PID)."),
			}
		}
		addrs := []string{"10.0.0.1/24", "10.0.0.2/24"}
		for _, a := range addrs {
			i := ifs[a]
			if !i.Up {
				return Verdict{Key: "down",
					Seen:  []i18n.Text{tf("%s has %s on %s, which is down", "%s 프로세스는 %s 인터페이스에 %s 주소를 가졌지만, 그 인터페이스가 꺼져 있습니다", ends[a], i.Name, a)},
					Wrong: tf("%s is down", "%s 인터페이스가 꺼져 있습니다", i.Name),
					Hint:  tf("Bring it up inside its namespace: nsenter --target %d --net ip link set %s up", "그 네임스페이스 안에서 켜세요: nsenter --target %d --net ip link set %s up", ends[a].PID, i.Name),
				}
			}
		}
		for _, a := range addrs {
			if i := ifs[a]; !carrier(i) {
				return Verdict{Key: "no-carrier",
					Seen:  []i18n.Text{tf("%s is up, with no carrier", "%s 인터페이스는 켜져 있지만 캐리어가 없습니다", i.Name)},
					Wrong: tf("the other end of %s is down or gone", "%s 인터페이스의 반대쪽 끝이 꺼져 있거나 없습니다", i.Name),
					Hint:  i18n.T("A veth carries only when both ends are up: bring up the end in the other namespace.", "veth는 양 끝이 모두 켜져야 통합니다. 다른 네임스페이스의 끝을 켜세요."),
				}
			}
		}
		return Verdict{OK: true, Seen: []i18n.Text{
			tf("%s, in network namespace %d: %s up with 10.0.0.1/24", "네트워크 네임스페이스 %[2]d의 %[1]s 프로세스: %[3]s 인터페이스가 10.0.0.1/24 주소로 켜져 있습니다", one, one.NS("net").Inode, ifs["10.0.0.1/24"].Name),
			tf("%s, in network namespace %d: %s up with 10.0.0.2/24", "네트워크 네임스페이스 %[2]d의 %[1]s 프로세스: %[3]s 인터페이스가 10.0.0.2/24 주소로 켜져 있습니다", two, two.NS("net").Inode, ifs["10.0.0.2/24"].Name),
			i18n.T("both ends have carrier (LOWER_UP): the cable is plugged in at both ends", "양 끝 모두 캐리어(LOWER_UP)가 있습니다. 케이블의 양쪽이 다 꽂혀 있습니다"),
		}}
	},
}
