package procstat

import (
	"os"
	"testing"
)

// A command name with spaces and parentheses ends at the last ')'; a
// line cut short is an error, not a guess.
func TestParse(t *testing.T) {
	line := "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615\n"
	st, err := Parse(4242, line)
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stat{Comm: "a (b) c", State: "S", PPID: 17, StartTime: 987654}) {
		t.Errorf("parsed %+v", st)
	}
	for _, bad := range []string{"", "4242 (x", "4242 (x) S 17"} {
		if _, err := Parse(4242, bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
	self, err := Read(os.Getpid())
	if err != nil || self.PPID != os.Getppid() || self.StartTime == 0 {
		t.Errorf("this process: %+v, %v", self, err)
	}
}
