package main

import (
	"io"
	"os"
	"time"
)

// attachConsole wires our terminal to a container process's own: ours in
// raw mode, its size ours (resize), its output copied to ours, and our
// input to it when interactive. restore gives our terminal back; drain
// waits for the output to be copied once the process has ended, at most a
// second, as the copy ends only when the last holder of the terminal
// closes it and a background child may keep it open.
func attachConsole(g *globals, con *os.File, interactive bool) (drain, restore func()) {
	restore = rawTerminal(g.stdin)
	resize(con, g.stdout)
	if interactive {
		go io.Copy(con, g.stdin)
	}
	copied := make(chan struct{})
	go func() { io.Copy(g.stdout, con); close(copied) }()
	drain = func() {
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
	}
	return drain, restore
}
