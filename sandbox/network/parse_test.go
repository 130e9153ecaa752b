package network

import (
	"strings"
	"testing"

	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

func TestParsePort(t *testing.T) {
	for in, want := range map[string]netconf.Port{
		"80":                      {Proto: "tcp", HostIP: "127.0.0.1", ContainerPort: 80},
		"8080:80":                 {Proto: "tcp", HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80},
		"8053:53/udp":             {Proto: "udp", HostIP: "127.0.0.1", HostPort: 8053, ContainerPort: 53},
		"0.0.0.0:8080:80/TCP":     {Proto: "tcp", HostIP: "0.0.0.0", HostPort: 8080, ContainerPort: 80},
		"127.0.0.2::80":           {Proto: "tcp", HostIP: "127.0.0.2", ContainerPort: 80},
		"[::1]:8080:80":           {Proto: "tcp", HostIP: "::1", HostPort: 8080, ContainerPort: 80},
		"::ffff:127.0.0.1:1:2":    {}, // ambiguous without brackets
		"8080:80/sctp":            {},
		"8080:0":                  {},
		"70000:80":                {},
		"a:80":                    {},
		"8000-8010:80-90":         {},
		"1.2.3:8080:80":           {},
		"[::1:8080:80":            {},
		"127.0.0.1:8080:80:90":    {},
		"":                        {},
		"127.0.0.1:8080:80/udp/x": {},
	} {
		got, err := ParsePort(in)
		if want == (netconf.Port{}) {
			if err == nil || !strings.Contains(err.Error(), "invalid port") {
				t.Errorf("ParsePort(%q) = %+v, %v; want an error", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	p, _ := ParsePort("[::1]:8080:80/udp")
	if p.String() != "[::1]:8080:80/udp" {
		t.Errorf("String = %s", p)
	}
}

func TestParseNetworkHostExpose(t *testing.T) {
	for in, want := range map[string][2]string{
		"":            {netconf.ModeNone, ""},
		"none":        {netconf.ModeNone, ""},
		"host":        {netconf.ModeHost, ""},
		"bridge":      {netconf.ModeBridge, "bridge"},
		"default":     {netconf.ModeBridge, "bridge"},
		"lab":         {netconf.ModeBridge, "lab"},
		"container:a": {netconf.ModeContainer, "a"},
	} {
		mode, arg, err := ParseNetwork(in)
		if err != nil || mode != want[0] || arg != want[1] {
			t.Errorf("ParseNetwork(%q) = %s %s %v", in, mode, arg, err)
		}
	}
	for _, bad := range []string{"container:", "-x", "a/b", strings.Repeat("n", 65)} {
		if _, _, err := ParseNetwork(bad); err == nil {
			t.Errorf("ParseNetwork(%q): no error", bad)
		}
	}
	for in, want := range map[string]netconf.Host{
		"db:10.0.0.5":   {Name: "db", IP: "10.0.0.5"},
		"db=10.0.0.5":   {Name: "db", IP: "10.0.0.5"},
		"v6:[::1]":      {Name: "v6", IP: "::1"},
		"v6=fe80::1:2":  {Name: "v6", IP: "fe80::1:2"},
		"nope":          {},
		":10.0.0.1":     {},
		"db:10.0.0":     {},
		"a b:10.0.0.1":  {},
		"db#x:10.0.0.1": {},
	} {
		got, err := ParseHost(in)
		if (want == netconf.Host{}) != (err != nil) || got != want {
			t.Errorf("ParseHost(%q) = %+v, %v", in, got, err)
		}
	}
	if p, err := ParseExpose("53/udp"); err != nil || p.ContainerPort != 53 || p.Proto != "udp" || p.HostPort != 0 {
		t.Errorf("ParseExpose(53/udp) = %+v, %v", p, err)
	}
	if _, err := ParseExpose("80:80"); err == nil {
		t.Error("ParseExpose(80:80): no error")
	}
}
