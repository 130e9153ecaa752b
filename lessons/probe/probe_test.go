package probe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/testutil"
)

func TestResultAndErrno(t *testing.T) {
	for _, c := range []struct {
		ret  int
		err  error
		want string
	}{
		{3, nil, "3"},
		{0, unix.EPERM, "-1 EPERM"},
		{0, unix.ENETUNREACH, "-1 ENETUNREACH"},
		{0, errors.New("bad"), "-1 (bad)"},
	} {
		if got := Result(c.ret, c.err); got != c.want {
			t.Errorf("Result(%d, %v) = %q, want %q", c.ret, c.err, got, c.want)
		}
	}
	var b bytes.Buffer
	Call(&b, "mount", `"none", "/tmp"`, 0, unix.EPERM)
	if b.String() != "mount(\"none\", \"/tmp\") = -1 EPERM\n" {
		t.Errorf("Call wrote %q", b.String())
	}
	for out, want := range map[string]string{
		"mount(\"none\", \"/tmp\") = 0\numount2(\"/tmp\", 0) = 0\n":             "",
		"PING 1.2.3.4\nsocket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = -1 EPERM\n":    "EPERM",
		"openat(AT_FDCWD, \"x\") = 3\nwrite(3, \"a) = -1 b\", 1) = -1 EACCES\n": "EACCES",
		"ping: not an address\n": "",
	} {
		if got := Errno(out); got != want {
			t.Errorf("Errno(%q) = %q, want %q", out, got, want)
		}
	}
}

// An echo request as RFC 792 lays it out, with a checksum that sums the
// whole message to 0xffff.
func TestEchoRequest(t *testing.T) {
	b := echoRequest(0x1234, 7)
	if b[0] != 8 || b[1] != 0 || b[4] != 0x12 || b[5] != 0x34 || b[7] != 7 {
		t.Fatalf("echo request % x", b)
	}
	if checksum(b) != 0 {
		t.Errorf("checksum over the message with its checksum = %#x, want 0", checksum(b))
	}
	if checksum([]byte{0x45}) != ^uint16(0x4500) {
		t.Error("an odd length is padded with a zero byte")
	}
}

// The ping gets its answers from the host's own loopback (root: a raw
// socket); an address that is not IPv4 is a usage error.
func TestPingLoopback(t *testing.T) {
	testutil.RequiresRoot(t)
	var b bytes.Buffer
	if code := Ping(&b, "127.0.0.1", 2, time.Second); code != OK {
		t.Fatalf("ping 127.0.0.1 = %d:\n%s", code, b.String())
	}
	if !strings.Contains(b.String(), "2 packets transmitted, 2 received") || !strings.Contains(b.String(), "icmp_seq=2") {
		t.Errorf("output:\n%s", b.String())
	}
	b.Reset()
	if code := Ping(&b, "::1", 1, time.Second); code != Usage {
		t.Errorf("an IPv6 address: %d, want %d", code, Usage)
	}
}

func TestWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, nil, 0o644)
	var b bytes.Buffer
	if code := Write(&b, p, "hello"); code != OK {
		t.Fatalf("write = %d:\n%s", code, b.String())
	}
	if got, _ := os.ReadFile(p); string(got) != "hello" {
		t.Errorf("file holds %q", got)
	}
	b.Reset()
	if code := Write(&b, filepath.Join(t.TempDir(), "missing"), "x"); code != Refused || Errno(b.String()) != "ENOENT" {
		t.Errorf("a missing file: %d\n%s", code, b.String())
	}
}

// Asking for the nice value the process already has changes nothing, and
// the kernel says yes.
func TestNiceUnchanged(t *testing.T) {
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	// getpriority(2)'s raw value is 20 - nice.
	if code := Nice(&b, 20-prio); code != OK {
		t.Errorf("nice %d = %d:\n%s", 20-prio, code, b.String())
	}
}
