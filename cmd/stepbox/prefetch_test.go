package main

import "testing"

// The sealed copy is prefetched exactly for the commands that start
// containers, found past the global flags as cobra finds them.
func TestStartsContainers(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"run", "--", "true"}, true},
		{[]string{"--root", "/tmp/run", "run", "--rm", "--", "true"}, true},
		{[]string{"--root=/tmp/x", "--lang", "ko", "tour", "--auto"}, true},
		{[]string{"learn", "uts"}, true},
		{[]string{"--root", "run", "ps"}, false}, // "run" is --root's value
		{[]string{"inspect", "run"}, false},
		{[]string{"spec", "--", "run"}, false},
		{[]string{"--", "run"}, false},
		{[]string{"--version"}, false},
		{nil, false},
	} {
		if got := startsContainers(tc.args); got != tc.want {
			t.Errorf("startsContainers(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
