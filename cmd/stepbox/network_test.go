package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// Networks through the command line, on the real kernel: the containers'
// traffic goes only to loopback and to addresses inside the namespaces the
// tests make, on subnets of 10.97.0.0/16 that nothing else on the build
// machines routes (Create refuses one that overlaps the host's routes).
// ip(8), nsenter(1) and /proc are the witnesses.

// netRun is `stepbox --root root ARGS`.
func netRun(t *testing.T, root string, args ...string) result {
	t.Helper()
	return runIn(t, root, args...)
}

// mustNetwork makes network name under root; when the test ends the
// containers still on it are removed, then the network.
func mustNetwork(t *testing.T, root, name, subnet string) {
	t.Helper()
	args := []string{"network", "create", name}
	if subnet != "" {
		args = []string{"network", "create", "--subnet", subnet, name}
	}
	if r := netRun(t, root, args...); r.code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(r.stdout) {
		t.Fatalf("network create %s: %+v", name, r)
	}
	removeNetworkAtEnd(t, root, name)
}

// removeNetworkAtEnd removes network name when t ends, and first every
// container that is on it (they would keep it).
func removeNetworkAtEnd(t *testing.T, root, name string) {
	t.Cleanup(func() {
		paths := sandbox.DefaultPaths(root)
		states, _ := sandbox.List(paths)
		for _, s := range states {
			if c, err := sandbox.Load(paths, s.ID); err == nil && c.NetworkConfig() != nil && c.NetworkConfig().On(name) {
				_ = removeContainer(paths, s.ID)
			}
		}
		if r := netRun(t, root, "network", "rm", name); r.code != 0 && !strings.Contains(r.stderr, "no such network") {
			t.Errorf("network rm %s: %+v", name, r)
		}
	})
}

// detachedIn is `run -d` under root; the container goes when t ends.
func detachedIn(t *testing.T, root string, args ...string) string {
	t.Helper()
	r := netRun(t, root, append([]string{"run", "-d"}, args...)...)
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("run -d %v: %+v", args, r)
	}
	t.Cleanup(func() { netRun(t, root, "rm", "-f", id) })
	return id
}

func inspectIn(t *testing.T, root, ref string) inspectedContainer {
	t.Helper()
	r := netRun(t, root, "container", "inspect", ref)
	var out []inspectedContainer
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 || r.code != 0 {
		t.Fatalf("container inspect %s: %v %+v", ref, err, r)
	}
	return out[0]
}

// addrOf is the container's address on its first network.
func addrOf(t *testing.T, root, ref string) string {
	t.Helper()
	eps := inspectIn(t, root, ref).NetworkSettings.Endpoints
	if len(eps) == 0 {
		t.Fatalf("%s has no endpoint", ref)
	}
	return eps[0].IP()
}

func bridgeOf(t *testing.T, root, network string) string {
	t.Helper()
	r := netRun(t, root, "network", "inspect", network)
	var out []inspectedNetwork
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("network inspect %s: %v %+v", network, err, r)
	}
	return out[0].Bridge
}

// ping pings to from inside container from with the course's own ping.
func ping(t *testing.T, root, from, to string) result {
	t.Helper()
	return netRun(t, root, "exec", from, "stepbox", "probe", "ping", "-c1", "-W1", to)
}

// hostLinks lists the host's links by name (ip(8), the witness).
func hostLinks(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(testutil.RequiresCommand(t, "ip"), "-o", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			names = append(names, name)
		}
	}
	return names
}

// leasesOf lists the address files of network name under root.
func leasesOf(t *testing.T, root, name string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(sandbox.DefaultPaths(root).Run, "networks", name))
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// hostNetState is what must not change: forwarding and the firewall.
func hostNetState(t *testing.T) string {
	t.Helper()
	fwd, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	s := "ip_forward=" + string(fwd)
	if nft, err := exec.LookPath("nft"); err == nil {
		out, _ := exec.Command(nft, "list", "ruleset").CombinedOutput()
		s += string(out)
	}
	return s
}

// Two detached containers on a user-defined network ping each other by
// address, by name and by alias; one on another network reaches neither;
// one that joins a's network namespace (container:) has its inode and its
// names. Removing them leaves no link, address or lease, and `network rm`
// removes the bridges. Forwarding and the firewall stay as they were.
func TestNetworkNamesAndIsolation(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	leakCheckAtEnd(t)
	hostBefore := hostNetState(t)
	linksBefore := hostLinks(t)
	mustNetwork(t, root, "tn1", "10.97.11.0/24")
	mustNetwork(t, root, "tn2", "10.97.12.0/24")
	detachedIn(t, root, "--name", "na", "--network", "tn1", "--", "sleep", "300")
	detachedIn(t, root, "--name", "nb", "--network", "tn1", "--network-alias", "bee", "--", "sleep", "300")
	detachedIn(t, root, "--name", "nc", "--network", "tn2", "--", "sleep", "300")
	detachedIn(t, root, "--name", "nd", "--network", "container:na", "--", "sleep", "300")
	ipA, ipB, ipC := addrOf(t, root, "na"), addrOf(t, root, "nb"), addrOf(t, root, "nc")
	if !strings.HasPrefix(ipA, "10.97.11.") || !strings.HasPrefix(ipB, "10.97.11.") || ipA == ipB || !strings.HasPrefix(ipC, "10.97.12.") {
		t.Fatalf("addresses a %s, b %s, c %s", ipA, ipB, ipC)
	}
	for _, p := range [][2]string{{"na", "nb"}, {"na", ipB}, {"nb", "na"}, {"nb", ipA}, {"na", "bee"}, {"nd", "nb"}, {"nd", "bee"}} {
		if r := ping(t, root, p[0], p[1]); r.code != 0 || !strings.Contains(r.stdout, "1 packets transmitted, 1 received") {
			t.Errorf("%s pings %s: %+v", p[0], p[1], r)
		}
	}
	for _, to := range []string{ipA, ipB} {
		if r := ping(t, root, "nc", to); r.code != 1 || !strings.Contains(r.stdout, "0 received") {
			t.Errorf("nc, on another network, pings %s: %+v", to, r)
		}
	}
	if r := ping(t, root, "nc", "na"); r.code != 2 || !strings.Contains(r.stdout, "no such name") {
		t.Errorf("nc resolves na: %+v", r)
	}
	pidA, pidB, pidD := inspectIn(t, root, "na").State.Pid, inspectIn(t, root, "nb").State.Pid, inspectIn(t, root, "nd").State.Pid
	nsA, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pidA))
	nsB, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pidB))
	nsD, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pidD))
	if nsA == "" || nsD != nsA || nsB == nsA {
		t.Errorf("network namespaces: a %s, b %s, d (container:na) %s", nsA, nsB, nsD)
	}
	// The witnesses: the bridge's ports are the two host ends, and a's
	// default route goes via the bridge's address.
	ip := testutil.RequiresCommand(t, "ip")
	br := bridgeOf(t, root, "tn1")
	if out, _ := exec.Command(ip, "-o", "link", "show", "master", br).Output(); strings.Count(string(out), "veth") != 2 {
		t.Errorf("ports of %s:\n%s", br, out)
	}
	nsenter := testutil.RequiresCommand(t, "nsenter")
	if out, _ := exec.Command(nsenter, "-t", fmt.Sprint(pidA), "-n", "--", ip, "-4", "route").Output(); !strings.Contains(string(out), "default via 10.97.11.1 dev eth0") {
		t.Errorf("a's routes:\n%s", out)
	}
	if r := netRun(t, root, "exec", "na", "cat", "/etc/hosts"); !strings.Contains(r.stdout, ipB+"\tnb bee ") || !strings.Contains(r.stdout, ipA+"\t") {
		t.Errorf("a's /etc/hosts:\n%s", r.stdout)
	}
	if r := netRun(t, root, "rm", "-f", "na", "nb", "nc", "nd"); r.code != 0 {
		t.Fatalf("rm: %+v", r)
	}
	if after := hostLinks(t); len(after) != len(linksBefore)+2 {
		t.Errorf("links after rm: %v, before the networks %v (the two bridges should be the only new ones)", after, linksBefore)
	}
	for _, n := range []string{"tn1", "tn2"} {
		if ls := leasesOf(t, root, n); len(ls) != 0 {
			t.Errorf("addresses still given on %s: %v", n, ls)
		}
	}
	if r := netRun(t, root, "network", "rm", "tn1", "tn2"); r.code != 0 || r.stdout != "tn1\ntn2\n" {
		t.Fatalf("network rm: %+v", r)
	}
	if after := hostLinks(t); !slices.Equal(after, linksBefore) {
		t.Errorf("links after network rm: %v, want %v", after, linksBefore)
	}
	if after := hostNetState(t); after != hostBefore {
		t.Errorf("forwarding or the firewall changed:\n%s\n→\n%s", hostBefore, after)
	}
}

// leakCheckAtEnd checks, once t and all its cleanups are done, that
// nothing it made is left in the kernel.
func leakCheckAtEnd(t *testing.T) {
	l := testutil.Snapshot()
	t.Cleanup(func() { l.Check(t, 5*time.Second) })
}

func freePort(t *testing.T, proto string) int {
	t.Helper()
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// httpGet fetches http://addr/ and returns the body ("" on failure).
func httpGet(addr string) string {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// udpEcho sends msg to addr and returns the answer ("" on none).
func udpEcho(addr, msg string) string {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Write([]byte(msg)); err != nil {
		return ""
	}
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// proxyOf is the container's port proxy as its state records it (nil when
// none).
func proxyOf(t *testing.T, root, ref string) *sandbox.ProcessRef {
	t.Helper()
	c, err := sandbox.Find(sandbox.DefaultPaths(root), ref)
	if err != nil {
		t.Fatal(err)
	}
	return c.State().Proxy
}

// A server in a detached container (busybox httpd, and the course's UDP
// echo) answers on its ports published on 127.0.0.1, and on no other
// address of the host; its proxy is the monitor's child. A port already
// published is refused in one line with nothing made. Stopped, the
// container's proxy and port are gone; started again, it answers again;
// its monitor killed, the proxy ends with the container, and rm removes
// what is left.
func TestPublishedPorts(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	leakCheckAtEnd(t)
	mustNetwork(t, root, "tp", "10.97.13.0/24")
	tcp, udp := freePort(t, "tcp"), freePort(t, "udp")
	detachedIn(t, root, "--name", "web", "--network", "tp", "-p", fmt.Sprintf("%d:80", tcp), "-p", fmt.Sprintf("127.0.0.1:%d:53/udp", udp),
		"--", "sh", "-c", "mkdir -p /tmp/w && echo hello > /tmp/w/index.html && httpd -p 80 -h /tmp/w && exec stepbox probe echo --udp 53")
	tcpAddr, udpAddr := fmt.Sprintf("127.0.0.1:%d", tcp), fmt.Sprintf("127.0.0.1:%d", udp)
	eventually(t, "httpd answers on "+tcpAddr, func() bool { return httpGet(tcpAddr) == "hello\n" })
	eventually(t, "the echo answers on udp "+udpAddr, func() bool { return udpEcho(udpAddr, "ping") == "ping" })
	if r := netRun(t, root, "port", "web"); r.stdout != fmt.Sprintf("80/tcp -> 127.0.0.1:%d\n53/udp -> 127.0.0.1:%d\n", tcp, udp) {
		t.Errorf("port web: %+v", r)
	}
	if r := netRun(t, root, "port", "web", "80"); r.stdout != tcpAddr+"\n" {
		t.Errorf("port web 80: %+v", r)
	}
	if r := netRun(t, root, "ps", "--format", "json"); !strings.Contains(r.stdout, fmt.Sprintf(`"Ports":"127.0.0.1:%d->80/tcp, 127.0.0.1:%d->53/udp"`, tcp, udp)) {
		t.Errorf("ps: %s", r.stdout)
	}
	// Published on the host's loopback only.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !strings.HasPrefix(ipn.IP.String(), "10.97.") {
				if c, err := net.DialTimeout("tcp4", fmt.Sprintf("%s:%d", ipn.IP, tcp), time.Second); err == nil {
					c.Close()
					t.Errorf("the port answers on %s too", ipn.IP)
				}
			}
		}
	}
	proxy := proxyOf(t, root, "web")
	monitor := inspectIn(t, root, "web").MonitorPid
	if proxy == nil || !alive(proxy.Pid) {
		t.Fatalf("no proxy running: %+v", proxy)
	}
	if _, ppid, _, _, _ := procStat(proxy.Pid); ppid != monitor {
		t.Errorf("the proxy's parent is %d, the monitor is %d", ppid, monitor)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", proxy.Pid)); string(comm) != "stepbox-proxy\n" {
		t.Errorf("the proxy is %q", comm)
	}

	// The same port again: one line, 125, nothing made.
	linksBefore, leasesBefore, psBefore := hostLinks(t), leasesOf(t, root, "tp"), netRun(t, root, "ps", "-aq").stdout
	r := netRun(t, root, "run", "-d", "--network", "tp", "-p", fmt.Sprintf("%d:80", tcp), "--", "sleep", "300")
	if r.code != 125 || !strings.Contains(r.stderr, "already in use") {
		t.Errorf("a port already published: %+v", r)
	}
	oneLine(t, "a port already published", r)
	if !slices.Equal(hostLinks(t), linksBefore) || !slices.Equal(leasesOf(t, root, "tp"), leasesBefore) || netRun(t, root, "ps", "-aq").stdout != psBefore {
		t.Errorf("the refused run left something: links %v, leases %v, ps %q", hostLinks(t), leasesOf(t, root, "tp"), netRun(t, root, "ps", "-aq").stdout)
	}

	// Stopped: the proxy goes, the port is free, the address is given back.
	if r := netRun(t, root, "stop", "-t", "1", "web"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	eventually(t, "the proxy ends", func() bool { return !alive(proxy.Pid) })
	if l, err := net.Listen("tcp4", tcpAddr); err != nil {
		t.Errorf("the port is still taken after stop: %v", err)
	} else {
		l.Close()
	}
	if ls := leasesOf(t, root, "tp"); len(ls) != 0 {
		t.Errorf("addresses given after stop: %v", ls)
	}
	// Started again: the same ports answer.
	if r := netRun(t, root, "start", "web"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	eventually(t, "httpd answers again", func() bool { return httpGet(tcpAddr) == "hello\n" })
	eventually(t, "the echo answers again", func() bool { return udpEcho(udpAddr, "again") == "again" })

	// The monitor killed: its container dies with it, and so does the
	// proxy; rm removes the rest.
	proxy = proxyOf(t, root, "web")
	if err := syscallKill(inspectIn(t, root, "web").MonitorPid); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the proxy ends with the container", func() bool { return !alive(proxy.Pid) })
	if r := netRun(t, root, "rm", "web"); r.code != 0 {
		t.Fatalf("rm: %+v", r)
	}
	if ls := leasesOf(t, root, "tp"); len(ls) != 0 {
		t.Errorf("addresses given after rm: %v", ls)
	}
	for _, name := range hostLinks(t) {
		if strings.HasPrefix(name, "veth") && !slices.Contains(linksBefore, name) {
			t.Errorf("link %s left", name)
		}
	}
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// A foreground run with -p and no --network is on the default network,
// made on first use; its port answers while it runs, and nothing of it is
// left when it ends.
func TestForegroundPublish(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	leakCheckAtEnd(t)
	removeNetworkAtEnd(t, root, netconf.DefaultNetwork)
	tcp := freePort(t, "tcp")
	addr := fmt.Sprintf("127.0.0.1:%d", tcp)
	p := startRun(t, root, nil, "--rm", "-p", fmt.Sprintf("%d:80", tcp), "--", "sh", "-c",
		"mkdir -p /tmp/w && echo fg > /tmp/w/index.html && httpd -p 80 -h /tmp/w && sleep 30")
	eventually(t, "httpd answers on "+addr, func() bool { return httpGet(addr) == "fg\n" })
	if r := netRun(t, root, "network", "ls"); !regexp.MustCompile(`bridge\s+bridge\s+10\.\d+\.\d+\.0/24\s+sb-[0-9a-f]{12}\s+1\n`).MatchString(r.stdout) {
		t.Errorf("network ls:\n%s", r.stdout)
	}
	if r := netRun(t, root, "ps", "-q"); r.code != 0 {
		t.Fatal(r)
	} else if r := netRun(t, root, "stop", "-t", "1", strings.TrimSpace(r.stdout)); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	p.exit(t, 10*time.Second)
	if c, err := net.DialTimeout("tcp4", addr, time.Second); err == nil {
		c.Close()
		t.Error("the port still answers")
	}
	if ls := leasesOf(t, root, netconf.DefaultNetwork); len(ls) != 0 {
		t.Errorf("addresses given: %v", ls)
	}
	if r := netRun(t, root, "network", "rm", netconf.DefaultNetwork); r.code != 0 {
		t.Errorf("network rm bridge: %+v", r)
	}
}

// 30 containers started at once on one network get 30 addresses; removed
// at once, they leave no link, address or name behind.
func TestManyOnOneNetwork(t *testing.T) {
	testutil.RequiresRoot(t)
	const n = 30
	root := builtinRoot(t, builtinfs.SourceBusybox)
	leakCheckAtEnd(t)
	linksBefore := hostLinks(t)
	mustNetwork(t, root, "tm", "10.97.14.0/24")
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := netRun(t, root, "run", "-d", "--name", fmt.Sprintf("m%02d", i), "--network", "tm", "--", "sleep", "300")
			ids[i] = strings.TrimSpace(r.stdout)
			if r.code != 0 {
				t.Errorf("run m%02d: %+v", i, r)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	seen := map[string]string{}
	r := netRun(t, root, "network", "inspect", "tm")
	var nets []inspectedNetwork
	if err := json.Unmarshal([]byte(r.stdout), &nets); err != nil || len(nets) != 1 {
		t.Fatalf("network inspect: %v %+v", err, r)
	}
	for id, ep := range nets[0].Containers {
		if other, ok := seen[ep.IPv4Address]; ok {
			t.Errorf("%s given to %s and %s", ep.IPv4Address, other, ep.Name)
		}
		seen[ep.IPv4Address] = id
	}
	if len(seen) != n {
		t.Errorf("%d addresses for %d containers", len(seen), n)
	}
	// One of them names all the others.
	if r := netRun(t, root, "exec", "m00", "cat", "/etc/hosts"); strings.Count(r.stdout, "10.97.14.") != n {
		t.Errorf("m00's /etc/hosts has %d addresses, want %d:\n%s", strings.Count(r.stdout, "10.97.14."), n, r.stdout)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := netRun(t, root, "rm", "-f", ids[i]); r.code != 0 {
				t.Errorf("rm %s: %+v", ids[i], r)
			}
		}()
	}
	wg.Wait()
	if ls := leasesOf(t, root, "tm"); len(ls) != 0 {
		t.Errorf("addresses given after rm: %v", ls)
	}
	if r := netRun(t, root, "network", "rm", "tm"); r.code != 0 {
		t.Fatalf("network rm: %+v", r)
	}
	if after := hostLinks(t); !slices.Equal(after, linksBefore) {
		t.Errorf("links after: %v, before %v", after, linksBefore)
	}
}

// Mistakes cost one line and the right exit code, and make nothing.
func TestNetworkBadInput(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	leakCheckAtEnd(t)
	mustNetwork(t, root, "tb", "10.97.15.0/24")
	detachedIn(t, root, "--name", "user", "--network", "tb", "--", "sleep", "300")
	linksBefore, psBefore := hostLinks(t), netRun(t, root, "ps", "-aq").stdout
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"network", "create", "--subnet", "10.97.15.128/25", "over"}, 1, "overlaps with network tb's"},
		{[]string{"network", "create", "--subnet", "10.97.16.1/24", "bad"}, 1, "host bits"},
		{[]string{"network", "create", "tb"}, 1, "already exists"},
		{[]string{"network", "create", "host"}, 1, "reserved"},
		{[]string{"network", "rm", "tb"}, 1, "in use by 1 container(s): user"},
		{[]string{"network", "rm", "nosuch"}, 1, "no such network"},
		{[]string{"network", "connect", "nosuch", "user"}, 1, "no such network"},
		{[]string{"network", "connect", "tb", "user"}, 1, "already on network tb"},
		{[]string{"network", "disconnect", "tb", "nosuch"}, 1, "no such container"},
		{[]string{"network", "inspect", "nosuch"}, 1, "no such network"},
		{[]string{"run", "--network", "nosuch", "--", "true"}, 125, "no such network"},
		{[]string{"run", "-d", "--network", "nosuch", "--", "true"}, 125, "no such network"},
		{[]string{"run", "--network", "tb", "-p", "1:2:3:4", "--", "true"}, 125, "invalid port"},
		{[]string{"run", "--network", "tb", "-p", "99999:80", "--", "true"}, 125, "invalid port"},
		{[]string{"run", "--network", "tb", "-p", "8080:80/sctp", "--", "true"}, 125, "tcp or udp"},
		{[]string{"run", "--network", "none", "-p", "8080:80", "--", "true"}, 125, "needs a network"},
		{[]string{"run", "--network-alias", "x", "--", "true"}, 125, "user-defined networks only"},
		{[]string{"run", "--network", "tb", "--ip", "10.97.99.2", "--", "true"}, 125, "is not an address network tb gives"},
		{[]string{"run", "--network", "container:nosuch", "--", "true"}, 125, "no such container"},
		{[]string{"run", "--network", "container:user", "--userns", "--", "true"}, 125, "cannot go with --userns"},
		{[]string{"run", "--network", "container:user", "-p", "80", "--", "true"}, 125, "conflicting options"},
		{[]string{"run", "--network", "host", "--network", "tb", "--", "true"}, 125, "conflicting options"},
		{[]string{"run", "--network", "tb", "--ns", "uts,pid,mnt", "--", "true"}, 125, "needs a network namespace"},
		{[]string{"run", "--add-host", "nocolon", "--", "true"}, 125, "invalid --add-host"},
		{[]string{"run", "--dns", "x", "--", "true"}, 125, "invalid --dns"},
	} {
		r := netRun(t, root, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.says) {
			t.Errorf("%v: exit %d, %q; want %d, %q", c.args, r.code, r.stderr, c.code, c.says)
			continue
		}
		oneLine(t, strings.Join(c.args, " "), r)
	}
	if !slices.Equal(hostLinks(t), linksBefore) || netRun(t, root, "ps", "-aq").stdout != psBefore {
		t.Errorf("the refusals left something: links %v (before %v), ps %q", hostLinks(t), linksBefore, netRun(t, root, "ps", "-aq").stdout)
	}
	if ls := leasesOf(t, root, "tb"); len(ls) != 1 {
		t.Errorf("leases: %v, want user's alone", ls)
	}
}

// The host's network (with a warning), none with --add-host and --dns
// (files of its own; the shared root filesystem's stay as they were),
// network connect and disconnect of running containers, and a restart on
// a network.
func TestNetworkModes(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	leakCheckAtEnd(t)
	hostNS, _ := os.Readlink("/proc/self/ns/net")
	r := netRun(t, root, "run", "--rm", "--network", "host", "--", "readlink", "/proc/self/ns/net")
	if r.code != 0 || strings.TrimSpace(r.stdout) != hostNS || !strings.Contains(r.stderr, "warning: --network host") {
		t.Errorf("--network host: %+v, the host's is %s", r, hostNS)
	}
	rootfsHosts := filepath.Join(defaultRootfsDir(sandbox.DefaultPaths(root)), "etc/hosts")
	before, _ := os.ReadFile(rootfsHosts)
	r = netRun(t, root, "run", "--rm", "--network", "none", "--hostname", "solo", "--add-host", "db:10.1.2.3", "--dns", "10.9.9.9",
		"--", "sh", "-c", "cat /etc/hosts /etc/resolv.conf /etc/hostname; ip -o link | wc -l")
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.1.2.3\tdb\n", "nameserver 10.9.9.9\n", "solo\n1\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--network none --add-host --dns: lacks %q: %+v", want, r)
		}
	}
	if after, _ := os.ReadFile(rootfsHosts); string(after) != string(before) {
		t.Errorf("the shared root filesystem's /etc/hosts changed:\n%s", after)
	}

	mustNetwork(t, root, "tc1", "10.97.17.0/24")
	mustNetwork(t, root, "tc2", "10.97.18.0/24")
	detachedIn(t, root, "--name", "ca", "--network", "tc1", "--restart", "always", "--", "sleep", "300")
	detachedIn(t, root, "--name", "cb", "--network", "tc2", "--", "sleep", "300")
	if r := ping(t, root, "cb", "ca"); r.code != 2 {
		t.Errorf("cb resolves ca before connect: %+v", r)
	}
	if r := netRun(t, root, "network", "connect", "--alias", "alpha", "tc2", "ca"); r.code != 0 {
		t.Fatalf("network connect: %+v", r)
	}
	if r := netRun(t, root, "exec", "ca", "ip", "-o", "-4", "addr", "show", "dev", "eth1"); !strings.Contains(r.stdout, "inet 10.97.18.") {
		t.Errorf("ca's eth1 after connect: %+v", r)
	}
	for _, to := range []string{"ca", "alpha"} {
		if r := ping(t, root, "cb", to); r.code != 0 {
			t.Errorf("cb pings %s after connect: %+v", to, r)
		}
	}
	if r := ping(t, root, "ca", "cb"); r.code != 0 {
		t.Errorf("ca pings cb after connect: %+v", r)
	}
	eps := inspectIn(t, root, "ca").NetworkSettings.Endpoints
	if len(eps) != 2 || eps[1].Network != "tc2" || eps[1].IfName != "eth1" {
		t.Fatalf("ca's endpoints: %+v", eps)
	}
	caOnTc2 := eps[1].IP()
	if r := netRun(t, root, "network", "disconnect", "tc2", "ca"); r.code != 0 {
		t.Fatalf("network disconnect: %+v", r)
	}
	if r := netRun(t, root, "exec", "ca", "ip", "-o", "link"); strings.Contains(r.stdout, "eth1") {
		t.Errorf("ca's eth1 after disconnect: %+v", r)
	}
	if r := ping(t, root, "cb", caOnTc2); r.code != 1 {
		t.Errorf("cb pings ca's old address after disconnect: %+v", r)
	}
	if r := netRun(t, root, "exec", "cb", "cat", "/etc/hosts"); strings.Contains(r.stdout, "alpha") {
		t.Errorf("cb still names ca:\n%s", r.stdout)
	}
	// Restarted (by its policy, after a kill, and by restart), ca is wired
	// again each time.
	pid := inspectIn(t, root, "ca").State.Pid
	if err := syscallKill(pid); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ca restarted by its policy", func() bool {
		st := inspectIn(t, root, "ca").State
		return st.Running && st.Pid != pid && st.RestartCount == 1
	})
	if r := netRun(t, root, "restart", "-t", "1", "ca"); r.code != 0 {
		t.Fatalf("restart: %+v", r)
	}
	detachedIn(t, root, "--name", "cc", "--network", "tc1", "--", "sleep", "300")
	if r := ping(t, root, "cc", "ca"); r.code != 0 {
		t.Errorf("cc pings ca after its restarts: %+v", r)
	}
	// A container with a user namespace of its own gets its /etc files
	// too (bound from detached copies taken before the clone).
	if r := netRun(t, root, "run", "--rm", "--userns", "--network", "tc1", "--", "stepbox", "probe", "ping", "-c1", "-W1", "ca"); r.code != 0 {
		t.Errorf("a --userns container pings ca by name: %+v", r)
	}
	if ls := leasesOf(t, root, "tc1"); len(ls) != 2 {
		t.Errorf("addresses on tc1: %v, want ca's and cc's", ls)
	}
}

// The monitor of a container with a network and a published port is
// killed at each phase of its life: rm (or the failed run itself)
// removes every address, link and proxy it had.
func TestNetworkMonitorCrash(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	mustNetwork(t, root, "tx", "10.97.19.0/24")
	for _, stall := range []string{"monitor-created", "monitor-reported", "watch", "exited", "restarted"} {
		t.Run(stall, func(t *testing.T) {
			leakCheckAtEnd(t)
			linksBefore := hostLinks(t)
			name := "netcrash-" + stall
			t.Cleanup(func() { netRun(t, root, "rm", "-f", name) })
			pidfile := filepath.Join(t.TempDir(), "stalled")
			args := []string{"--root", root, "run", "-d", "--name", name, "--network", "tx", "-p", fmt.Sprintf("%d:80", freePort(t, "tcp"))}
			payload := []string{"--", "sleep", "100"}
			switch stall {
			case "exited":
				payload = []string{"--", "sleep", "0.2"}
			case "restarted":
				args = append(args, "--restart", "always")
				payload = []string{"--", "sleep", "0.2"}
			}
			cli := exec.Command(stepboxBin, append(args, payload...)...)
			cli.Env = append(os.Environ(), "NO_COLOR=1", "_STEPBOX_TEST_STALL="+stall+":"+pidfile)
			if err := cli.Start(); err != nil {
				t.Fatal(err)
			}
			cliDone := make(chan struct{})
			go func() { _ = cli.Wait(); close(cliDone) }()
			var monitor int
			eventually(t, "the monitor stops at "+stall, func() bool {
				b, err := os.ReadFile(pidfile)
				if err != nil {
					return false
				}
				fmt.Sscan(string(b), &monitor)
				st, _, _, _, _ := procStat(monitor)
				return st == "T"
			})
			if err := syscallKill(monitor); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the monitor dies", func() bool { return !alive(monitor) })
			select {
			case <-cliDone:
			case <-time.After(20 * time.Second):
				cli.Process.Kill()
				t.Fatal("the command line hangs")
			}
			netRun(t, root, "rm", "-f", name)
			if ls := leasesOf(t, root, "tx"); len(ls) != 0 {
				t.Errorf("addresses left: %v", ls)
			}
			for _, l := range hostLinks(t) {
				if !slices.Contains(linksBefore, l) {
					t.Errorf("link %s left", l)
				}
			}
		})
	}
}
