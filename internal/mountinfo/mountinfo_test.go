package mountinfo

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`a\040b`: "a b", `a\011b\012`: "a\tb\n", `back\134slash`: `back\slash`, `a\04`: `a\04`, `plain`: "plain", `end\`: `end\`} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseLine(t *testing.T) {
	// A mount point with a dash and an escaped space, two optional tags:
	// the separator is the lone "-" field, not the first dash.
	e, err := ParseLine(`36 35 98:0 /mnt1 /a\040-\040b rw,noatime shared:3 master:1 - ext3 /dev/root rw,errors=continue`)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{ID: 36, Parent: 35, Major: 98, Root: "/mnt1", MountPoint: "/a - b", Options: "rw,noatime",
		Optional: []string{"shared:3", "master:1"}, Shared: 3, Master: 1, FSType: "ext3", Source: "/dev/root", SuperOptions: "rw,errors=continue"}
	if d := cmp.Diff(want, e); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if e.Propagation() != "shared+slave" {
		t.Errorf("propagation %q", e.Propagation())
	}
	for _, bad := range []string{"", "1 2 3", "x 35 98:0 / / rw - ext3 /dev/root rw", "36 35 98 / / rw - ext3 /dev/root rw"} {
		if _, err := ParseLine(bad); err == nil {
			t.Errorf("ParseLine(%q) accepted", bad)
		}
	}
}
