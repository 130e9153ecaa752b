package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// The subnets these tests use: nothing else on the build machines routes
// 10.97.0.0/16, and the tests check the host for it first (Create does).

// testStore is a store in a temporary directory, with a network defined
// in it without a bridge (for what needs no kernel).
func testStore(t *testing.T, subnet string, isDefault bool) (Store, *Network) {
	t.Helper()
	dir := t.TempDir()
	s := Store{Lib: filepath.Join(dir, "lib"), Run: filepath.Join(dir, "run")}
	p := netip.MustParsePrefix(subnet)
	n := &Network{Name: "t", ID: strings.Repeat("ab", 32), Subnet: subnet, Gateway: p.Addr().Next().String(),
		Bridge: "sb-unused", Default: isDefault}
	if err := os.MkdirAll(s.defDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(s.defPath(n.Name), n, 0o644); err != nil {
		t.Fatal(err)
	}
	return s, n
}

// containerDir makes a container's state directory, as the runtime has.
func containerDir(t *testing.T, s Store, id string) string {
	t.Helper()
	dir := filepath.Join(s.Run, id)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Containers started at once never get one address: each allocation
// holds the network's flock, here from 60 goroutines each with its own
// descriptor (flock(2) locks belong to the open file description).
func TestAllocateConcurrently(t *testing.T) {
	s, n := testStore(t, "10.97.70.0/24", false)
	const count = 60
	ips := make([]string, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("c%02d", i)
			dir := containerDir(t, s, id)
			unlock, err := s.lockLeases(n.Name)
			if err != nil {
				errs[i] = err
				return
			}
			defer unlock()
			l, err := s.allocate(n, lease{Container: id, Hosts: hostsPath(dir)}, "")
			ips[i], errs[i] = l.IP, err
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, ip := range ips {
		if errs[i] != nil {
			t.Fatalf("allocate %d: %v", i, errs[i])
		}
		a := netip.MustParseAddr(ip)
		if seen[ip] || a == n.gateway() || !n.prefix().Contains(a) || ip == "10.97.70.0" || ip == "10.97.70.255" {
			t.Fatalf("address %s given twice or outside the containers' range", ip)
		}
		seen[ip] = true
	}
	if got := len(s.Leases(n.Name)); got != count {
		t.Fatalf("%d leases, want %d", got, count)
	}
}

// A /29 has five addresses for containers; a sixth is refused in one line;
// one given back is given again only after the others (.last); a lease
// whose container's directory is gone (a crash half-way) is taken back;
// --ip takes the address asked for, or says why not.
func TestAllocateExhaustAndReuse(t *testing.T) {
	s, n := testStore(t, "10.97.71.0/29", false)
	take := func(id, want string) (string, error) {
		dir := containerDir(t, s, id)
		unlock, err := s.lockLeases(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		l, err := s.allocate(n, lease{Container: id, Hosts: hostsPath(dir)}, want)
		return l.IP, err
	}
	var got []string
	for i := range 5 {
		ip, err := take(fmt.Sprint("c", i), "")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip)
	}
	if strings.Join(got, " ") != "10.97.71.2 10.97.71.3 10.97.71.4 10.97.71.5 10.97.71.6" {
		t.Fatalf("addresses %v", got)
	}
	if _, err := take("c5", ""); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Fatalf("a sixth: %v", err)
	}
	if _, err := s.releaseOn(n.Name, "c1", ""); err != nil {
		t.Fatal(err)
	}
	if ip, err := take("c6", ""); err != nil || ip != "10.97.71.3" {
		t.Fatalf("after a release: %s %v", ip, err)
	}
	// c0's directory goes, as if its removal had died half-way.
	if err := os.RemoveAll(filepath.Join(s.Run, "c0")); err != nil {
		t.Fatal(err)
	}
	if ip, err := take("c7", "10.97.71.2"); err != nil || ip != "10.97.71.2" {
		t.Fatalf("the stale lease's address by --ip: %s %v", ip, err)
	}
	for want, why := range map[string]string{"10.97.71.4": "in use", "10.97.71.1": "not an address", "10.97.71.7": "not an address",
		"10.97.72.2": "not an address", "x": "not an IPv4 address"} {
		if _, err := take("c8", want); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("--ip %s: %v, want %q", want, err, why)
		}
	}
}

// /etc/hosts is rewritten in place (same inode, so a bind mount of it
// sees the change) with the container's own line and its peers', and
// forgets a peer that leaves; on the default network peers are not named.
func TestHostsFiles(t *testing.T) {
	for _, isDefault := range []bool{false, true} {
		s, n := testStore(t, "10.97.73.0/24", isDefault)
		type ctr struct {
			c  netconf.Container
			ip string
		}
		var cs []ctr
		for i, name := range []string{"web", "db"} {
			id := fmt.Sprintf("%064d", i+1)
			dir := containerDir(t, s, id)
			c := netconf.Container{Lib: s.Lib, Run: s.Run, ID: id, Name: name, Hostname: "h" + name, Dir: dir,
				Config: &netconf.Config{Mode: netconf.ModeBridge, ExtraHosts: []netconf.Host{{Name: "extra", IP: "10.1.2.3"}}}}
			if err := writeFiles(c); err != nil {
				t.Fatal(err)
			}
			var aliases []string
			if name == "db" {
				aliases = []string{"database"}
			}
			unlock, err := s.lockLeases(n.Name)
			if err != nil {
				t.Fatal(err)
			}
			l, err := s.allocate(n, lease{Container: id, Name: name, Hostname: c.Hostname, Aliases: aliases, Hosts: hostsPath(dir)}, "")
			unlock()
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, ctr{c, l.IP})
		}
		if err := s.refreshNetwork(n.Name); err != nil {
			t.Fatal(err)
		}
		web := hostsPath(cs[0].c.Dir)
		var before syscall.Stat_t
		if err := syscall.Stat(web, &before); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(web)
		for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.1.2.3\textra\n", peersMark} {
			if !strings.Contains(string(b), want) {
				t.Errorf("web's /etc/hosts lacks %q:\n%s", want, b)
			}
		}
		own, peer := cs[0].ip+"\thweb web\n", cs[1].ip+"\tdb database "+cs[1].c.ID[:12]+"\n"
		if isDefault {
			own = cs[0].ip + "\thweb\n"
		}
		if !strings.Contains(string(b), own) || strings.Contains(string(b), peer) == isDefault {
			t.Errorf("default %v: web's /etc/hosts:\n%s\nwant %q and, unless default, %q", isDefault, b, own, peer)
		}
		// A container being removed (its lease not yet given back, its
		// directory half emptied) does not get its file back from a refresh
		// made by a peer: that broke its rmdir with ENOTEMPTY.
		db := hostsPath(cs[1].c.Dir)
		if err := os.Remove(db); err != nil {
			t.Fatal(err)
		}
		if err := s.refreshNetwork(n.Name); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(db); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refresh made the removed %s again (%v)", db, err)
		}
		if _, err := s.releaseOn(n.Name, cs[1].c.ID, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.refreshNetwork(n.Name); err != nil {
			t.Fatal(err)
		}
		b, _ = os.ReadFile(web)
		var after syscall.Stat_t
		if err := syscall.Stat(web, &after); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "db") || after.Ino != before.Ino {
			t.Errorf("after db left: inode %d → %d\n%s", before.Ino, after.Ino, b)
		}
	}
}

func TestResolvConf(t *testing.T) {
	host := []byte("# a comment\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nsearch example.org\noptions edns0 trust-ad\n")
	got := string(resolvConf(&netconf.Config{Mode: netconf.ModeBridge}, host))
	for _, want := range []string{"nameserver 10.255.255.53\n", "search example.org\n", "options edns0 trust-ad\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("bridge: lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "127.0.0.53") {
		t.Errorf("bridge: the host's loopback nameserver is kept:\n%s", got)
	}
	if got := string(resolvConf(&netconf.Config{Mode: netconf.ModeHost}, host)); !strings.Contains(got, "nameserver 127.0.0.53") {
		t.Errorf("host: its own nameserver is left out:\n%s", got)
	}
	got = string(resolvConf(&netconf.Config{Mode: netconf.ModeNone, DNS: []string{"10.9.9.9"}, DNSSearch: []string{"lab"},
		DNSOptions: []string{"ndots:1"}}, host))
	if !strings.Contains(got, "nameserver 10.9.9.9\nsearch lab\noptions ndots:1\n") || strings.Contains(got, "10.255") {
		t.Errorf("--dns:\n%s", got)
	}
	if got := string(resolvConf(&netconf.Config{}, []byte("nameserver 127.0.0.1\n"))); !strings.Contains(got, "# no nameserver") {
		t.Errorf("only a loopback nameserver:\n%s", got)
	}
}

// ip runs the ip(8) witness, in pid's network namespace when pid > 0.
func ip(t *testing.T, pid int, args ...string) string {
	t.Helper()
	argv := append([]string{testutil.RequiresCommand(t, "ip")}, args...)
	if pid > 0 {
		argv = append([]string{testutil.RequiresCommand(t, "nsenter"), "-t", strconv.Itoa(pid), "-n", "--"}, argv...)
	}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return string(out)
}

// A network's life on the real kernel: its bridge with the gateway's
// address and forwarding off; subnets overlapping another network or the
// host's own routes refused with nothing made; rm refused while a
// container holds an address, and then removing the bridge.
func TestCreateAndRemove(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	dir := t.TempDir()
	s := Store{Lib: filepath.Join(dir, "lib"), Run: filepath.Join(dir, "run")}
	n, err := s.Create("lab", CreateOptions{Subnet: "10.97.60.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteLink(n.Bridge) })
	if out := ip(t, 0, "-o", "-4", "addr", "show", "dev", n.Bridge); !strings.Contains(out, "inet 10.97.60.1/24") {
		t.Errorf("the bridge's address: %s", out)
	}
	if out := ip(t, 0, "-d", "-o", "link", "show", "dev", n.Bridge); !strings.Contains(out, "bridge") || !strings.Contains(out, "state UP") && !strings.Contains(out, ",UP") {
		t.Errorf("the bridge: %s", out)
	}
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/conf/" + n.Bridge + "/forwarding"); strings.TrimSpace(string(b)) != "0" {
		t.Errorf("forwarding on the bridge: %q", b)
	}
	links := ip(t, 0, "-o", "link")
	for subnet, why := range map[string]string{"10.97.60.128/25": "network lab's", "10.97.0.0/16": "network lab's",
		"127.1.0.0/16": "the host's address 127.0.0.1/8 on lo"} {
		_, err := s.Create("x", CreateOptions{Subnet: subnet})
		if !errors.Is(err, ErrOverlap) || !strings.Contains(err.Error(), why) {
			t.Errorf("create %s: %v, want an overlap with %s", subnet, err, why)
		}
	}
	for subnet, why := range map[string]string{"10.97.61.1/24": "host bits", "10.97.61.0/31": "from /8 to /30", "fd00::/64": "IPv4", "x": "IPv4"} {
		if _, err := s.Create("x", CreateOptions{Subnet: subnet}); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("create %s: %v, want %q", subnet, err, why)
		}
	}
	for name, why := range map[string]string{"lab": "already exists", "bridge": "reserved", "host": "reserved", "a/b": "invalid network name"} {
		if _, err := s.Create(name, CreateOptions{Subnet: "10.97.62.0/24"}); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("create %s: %v, want %q", name, err, why)
		}
	}
	if after := ip(t, 0, "-o", "link"); after != links {
		t.Errorf("a refused create changed the host's links:\n%s\n→\n%s", links, after)
	}
	if _, err := os.Stat(s.defPath("x")); err == nil {
		t.Error("a refused create left a definition")
	}
	// An address in use keeps the network.
	cdir := containerDir(t, s, "c1")
	unlock, _ := s.lockLeases("lab")
	if _, err := s.allocate(n, lease{Container: "c1", Name: "one", Hosts: hostsPath(cdir)}, ""); err != nil {
		t.Fatal(err)
	}
	unlock()
	noUsers := func(string) []string { return nil }
	if err := s.Remove("lab", noUsers); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "one") {
		t.Fatalf("rm with an address in use: %v", err)
	}
	if err := s.Remove("lab", func(string) []string { return []string{"stopped"} }); !errors.Is(err, ErrInUse) {
		t.Fatalf("rm with a stopped container on it: %v", err)
	}
	if _, err := s.releaseOn("lab", "c1", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("lab", noUsers); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ip(t, 0, "-o", "link"), n.Bridge) {
		t.Error("rm left the bridge")
	}
	if err := s.Remove("lab", noUsers); !errors.Is(err, ErrNoNetwork) {
		t.Errorf("rm again: %v", err)
	}
	l.Check(t, 5*time.Second)
}

// The driver puts two network namespaces (processes this test made) on a
// network: an address each, the default route via the bridge, the host
// ends on the bridge, names in each other's /etc/hosts; one pings the
// other (busybox through nsenter, the witness); a published port's
// socket is bound. Detach leaves nothing: links, addresses, names.
func TestAttachAndDetach(t *testing.T) {
	testutil.RequiresRoot(t)
	nsenter := testutil.RequiresCommand(t, "nsenter")
	busybox := testutil.StaticBusybox(t)
	l := testutil.Snapshot()
	dir := t.TempDir()
	s := Store{Lib: filepath.Join(dir, "lib"), Run: filepath.Join(dir, "run")}
	n, err := s.Create("lab", CreateOptions{Subnet: "10.97.63.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteLink(n.Bridge) })
	var cs []netconf.Container
	var pids []int
	var holders []*exec.Cmd
	for _, name := range []string{"a", "b"} {
		holder := namespaceHolder(t)
		holders = append(holders, holder)
		// Ids a caller chose, as a lesson's are (not docker's hex).
		id := "lesson-1-" + name
		c := netconf.Container{Lib: s.Lib, Run: s.Run, ID: id, Name: name, Hostname: name + "-host", Dir: containerDir(t, s, id),
			Config: &netconf.Config{Mode: netconf.ModeBridge, Networks: []netconf.Attach{{Network: "lab"}}}}
		if name == "b" {
			c.Config.Ports = []netconf.Port{{Proto: "tcp", HostIP: "127.0.0.1", ContainerPort: 80}}
		}
		ls, err := Driver{}.Attach(c, holder.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = Driver{}.Detach(c) })
		for _, l := range ls {
			l.File.Close()
			if l.Target != "10.97.63.3:80" || l.HostPort == 0 || l.Proto != "tcp" {
				t.Errorf("published: %+v", l.Published)
			}
		}
		if name == "b" && len(ls) != 1 {
			t.Errorf("%d listeners, want 1", len(ls))
		}
		cs, pids = append(cs, c), append(pids, holder.Process.Pid)
	}
	if out := ip(t, pids[0], "-o", "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet 10.97.63.2/24") {
		t.Errorf("a's eth0: %s", out)
	}
	if out := ip(t, pids[0], "-d", "-o", "link", "show", "dev", "eth0"); !strings.Contains(out, "link/ether 02:5b:0a:61:3f:02") || !strings.Contains(out, "veth") {
		t.Errorf("a's eth0: %s", out)
	}
	if out := ip(t, pids[1], "-4", "route"); !strings.Contains(out, "default via 10.97.63.1 dev eth0") {
		t.Errorf("b's routes: %s", out)
	}
	if out := ip(t, 0, "-o", "link", "show", "master", n.Bridge); !strings.Contains(out, vethPrefix(cs[0].ID)+"0") || !strings.Contains(out, vethPrefix(cs[1].ID)+"0") {
		t.Errorf("the bridge's ports: %s", out)
	}
	hosts, _ := os.ReadFile(hostsPath(cs[0].Dir))
	// b's id is one the caller chose, not docker's hex: it is named whole,
	// not by its first twelve characters, which another such id may share.
	if !strings.Contains(string(hosts), "10.97.63.2\ta-host a\n") || !strings.Contains(string(hosts), "10.97.63.3\tb "+cs[1].ID+"\n") {
		t.Errorf("a's /etc/hosts:\n%s", hosts)
	}
	out, err := exec.Command(nsenter, "-t", strconv.Itoa(pids[0]), "-n", "--", busybox, "ping", "-c", "1", "-W", "2", "10.97.63.3").CombinedOutput()
	if err != nil {
		t.Errorf("a pings b: %v\n%s", err, out)
	}
	st, err := LoadState(cs[1].Dir)
	if err != nil || len(st.Endpoints) != 1 || st.Endpoints[0].Address != "10.97.63.3/24" || len(st.Ports) != 1 {
		t.Errorf("b's state: %+v %v", st, err)
	}
	if err := (Driver{}).Detach(cs[1]); err != nil {
		t.Fatal(err)
	}
	if out := ip(t, 0, "-o", "link"); strings.Contains(out, vethPrefix(cs[1].ID)) {
		t.Errorf("b's veth is left: %s", out)
	}
	if hosts, _ := os.ReadFile(hostsPath(cs[0].Dir)); strings.Contains(string(hosts), "10.97.63.3") {
		t.Errorf("a still names b:\n%s", hosts)
	}
	if err := (Driver{}).Detach(cs[0]); err != nil {
		t.Fatal(err)
	}
	if ls := s.Leases("lab"); len(ls) != 0 {
		t.Errorf("leases left: %+v", ls)
	}
	if err := s.Remove("lab", func(string) []string { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, h := range holders {
		h.Process.Kill()
		h.Wait()
	}
	l.Check(t, 5*time.Second)
}
