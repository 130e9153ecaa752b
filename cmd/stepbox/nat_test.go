package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/sandbox/builtinfs"
)

// `network create --nat` changes a host's forwarding and firewall, so it
// never runs against the real host: the test makes two throw-away network
// namespaces, "host", where every stepbox command runs, and "internet",
// joined to it by a veth pair on TEST-NET-2 (198.51.100.0/24, RFC 5737),
// with a web server on TEST-NET-3's 203.0.113.10 behind it. Nothing is
// routed to any other address, and both namespaces go with the test.

// inNetns runs f on a thread of this process that is in ns: the commands f
// starts are forked from that thread, so they are born in ns (the way CNI
// plugins run a command in a namespace).
func inNetns(t *testing.T, ns netns.NsHandle, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		// A thread that cannot go back is never reused: it ends with
		// the goroutine, still locked.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	f()
}

// natWorld makes the "host" and "internet" namespaces; they are closed
// (and so removed, with their links) when t ends.
func natWorld(t *testing.T) (host, inet netns.NsHandle) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	host, err1 := netns.New()
	inet, err2 := netns.New()
	if err := netns.Set(orig); err != nil {
		t.Fatal(err) // the thread stays locked and dies with the test's goroutine
	}
	runtime.UnlockOSThread()
	orig.Close()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	t.Cleanup(func() { host.Close(); inet.Close() })
	hh, err := netlink.NewHandleAt(host)
	if err != nil {
		t.Fatal(err)
	}
	defer hh.Close()
	hi, err := netlink.NewHandleAt(inet)
	if err != nil {
		t.Fatal(err)
	}
	defer hi.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(hh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uplink0"}, PeerName: "isp0", PeerNamespace: netlink.NsFd(int(inet))}))
	up := func(h *netlink.Handle, name, addr string) {
		l, err := h.LinkByName(name)
		must(err)
		if addr != "" {
			a, err := netlink.ParseAddr(addr)
			must(err)
			must(h.AddrAdd(l, a))
		}
		must(h.LinkSetUp(l))
	}
	up(hh, "lo", "")
	up(hh, "uplink0", "198.51.100.1/24")
	up(hi, "lo", "203.0.113.10/32")
	up(hi, "isp0", "198.51.100.2/24")
	must(hh.RouteAdd(&netlink.Route{Gw: net.ParseIP("198.51.100.2")}))
	return host, inet
}

// sysctl reads a /proc/sys/net file as ns sees it (per network namespace).
func sysctl(t *testing.T, ns netns.NsHandle, name string) string {
	var v string
	inNetns(t, ns, func() {
		b, err := os.ReadFile("/proc/sys/net/" + name)
		if err != nil {
			t.Fatal(err)
		}
		v = strings.TrimSpace(string(b))
	})
	return v
}

// nftRuleset is `nft list ruleset` in ns: the independent witness.
func nftRuleset(t *testing.T, ns netns.NsHandle) string {
	nft := testutil.RequiresCommand(t, "nft")
	var out []byte
	inNetns(t, ns, func() {
		var err error
		if out, err = exec.Command(nft, "list", "ruleset").CombinedOutput(); err != nil {
			t.Fatalf("nft list ruleset: %v: %s", err, out)
		}
	})
	return string(out)
}

func TestNetworkNAT(t *testing.T) {
	testutil.RequiresRoot(t)
	root := builtinRoot(t, builtinfs.SourceBusybox)
	leakCheckAtEnd(t)
	host, inet := natWorld(t)
	// The "internet"'s web server answers with the address it sees.
	var ln net.Listener
	inNetns(t, inet, func() {
		var err error
		if ln, err = net.Listen("tcp4", "203.0.113.10:8080"); err != nil {
			t.Fatal(err)
		}
	})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "seen from %s\n", h)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	in := func(args ...string) (r result) {
		t.Helper()
		inNetns(t, host, func() { r = runIn(t, root, args...) })
		return r
	}
	// Everything made in "host" is removed there, before the namespace goes.
	t.Cleanup(func() {
		ids := strings.Fields(in("ps", "-aq").stdout)
		if len(ids) > 0 {
			in(append([]string{"rm", "-f"}, ids...)...)
		}
		in("network", "rm", "natnet")
		in("network", "rm", "plain")
	})
	if got := sysctl(t, host, "ipv4/ip_forward"); got != "0" {
		t.Fatalf("a new network namespace forwards (%s)", got)
	}
	// busybox nc, not wget: the static busybox's wget crashes here.
	wget := []string{"--", "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 203.0.113.10 8080`}
	for _, c := range [][]string{{"network", "create", "--subnet", "10.97.40.0/24", "plain"},
		{"network", "create", "--nat", "--subnet", "10.97.41.0/24", "natnet"}} {
		if r := in(c...); r.code != 0 {
			t.Fatalf("%v: %+v", c, r)
		}
	}
	var plainBridge, natBridge string
	for _, l := range strings.Split(in("network", "ls", "--format", "json").stdout, "\n") {
		if strings.Contains(l, `"plain"`) {
			plainBridge = "sb-" + jsonField(l, "ID")[:12]
		}
		if strings.Contains(l, `"natnet"`) {
			natBridge = "sb-" + jsonField(l, "ID")[:12]
		}
	}
	if got := sysctl(t, host, "ipv4/ip_forward"); got != "1" {
		t.Errorf("ip_forward %s with a --nat network", got)
	}
	if got := sysctl(t, host, "ipv4/conf/"+plainBridge+"/forwarding"); got != "0" {
		t.Errorf("the plain network's bridge forwards (%s) once ip_forward is on", got)
	}
	rules := nftRuleset(t, host)
	if !strings.Contains(rules, "table ip stepbox-"+natBridge) || !strings.Contains(rules, "ip saddr 10.97.41.0/24") ||
		!strings.Contains(rules, "masquerade") || !strings.Contains(rules, `oifname != "`+natBridge+`"`) {
		t.Errorf("nft list ruleset:\n%s", rules)
	}
	// Out through the NAT: the server sees the host's uplink address.
	r := in(append([]string{"run", "--rm", "--network", "natnet"}, wget...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "seen from 198.51.100.1\n") {
		t.Errorf("from the --nat network: %+v", r)
	}
	// The other network stays on the machine.
	if r := in(append([]string{"run", "--rm", "--network", "plain"}, wget...)...); strings.Contains(r.stdout, "seen from") {
		t.Errorf("a network without --nat reached the internet: %+v", r)
	}
	if r := in("network", "inspect", "natnet"); !strings.Contains(r.stdout, `"nat": "true"`) {
		t.Errorf("network inspect: %s", r.stdout)
	}
	if r := in("network", "rm", "natnet"); r.code != 0 {
		t.Fatalf("network rm: %+v", r)
	}
	if rules := nftRuleset(t, host); strings.Contains(rules, "stepbox") {
		t.Errorf("after network rm:\n%s", rules)
	}
	if got := sysctl(t, host, "ipv4/ip_forward"); got != "0" {
		t.Errorf("ip_forward %s after the last --nat network went, was 0", got)
	}
	if _, err := os.Stat(filepath.Join(root, "run", "networks", "ip_forward.before")); !os.IsNotExist(err) {
		t.Errorf("the record of ip_forward is left: %v", err)
	}
}

// jsonField is a string field of a one-line JSON object.
func jsonField(line, key string) string {
	_, rest, ok := strings.Cut(line, `"`+key+`":"`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
