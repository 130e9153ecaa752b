package main

import (
	"strings"
	"testing"
)

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

// Each command is registered under the name cobra dispatches on, so that
// building only the named one (newRootCmd) finds it.
func TestCommandNames(t *testing.T) {
	g := &globals{}
	for name, f := range commands {
		if got := strings.Fields(f(g).Use)[0]; got != name {
			t.Errorf("command %q is registered as %q", got, name)
		}
	}
	// The whole tree when no command is named, one command when one is.
	if n := len(newRootCmd(g, []string{"--version"}).Commands()); n != len(commands) {
		t.Errorf("with no command named, %d commands built, want %d", n, len(commands))
	}
	if cs := newRootCmd(g, []string{"--root", "/x", "run", "--", "true"}).Commands(); len(cs) != 1 || cs[0].Name() != "run" {
		t.Errorf("for run, built %v", cs)
	}
}
