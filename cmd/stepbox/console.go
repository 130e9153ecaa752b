package main

import (
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/term"
)

// attachConsole wires our terminal to a container process's own: ours in
// raw mode, its size ours (resize), its output copied to ours, and our
// input to it when interactive. restore gives our terminal back; drain
// waits for the output to be copied once the process has ended, at most a
// second, as the copy ends only when the last holder of the terminal
// closes it and a background child may keep it open.
func attachConsole(stdin io.Reader, stdout io.Writer, con *os.File, interactive bool) (drain, restore func()) {
	restore = rawTerminal(stdin)
	resize(con, stdout)
	if interactive {
		go io.Copy(con, stdin)
	}
	copied := make(chan struct{})
	go func() { io.Copy(stdout, con); close(copied) }()
	drain = func() {
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
	}
	return drain, restore
}

// waitForwarding waits for a foreground process to exit (wait) and returns
// its code, passing on meanwhile what forward catches: SIGWINCH gives con,
// its terminal when it has one, our size; any other signal goes to it
// through send.
func waitForwarding(wait func() (int, error), forward *notifier, con *os.File, stdout io.Writer, send func(syscall.Signal)) int {
	done := make(chan int, 1)
	go func() { code, _ := wait(); done <- code }()
	for {
		select {
		case code := <-done:
			return code
		case sig := <-forward.C:
			if sig == syscall.SIGWINCH {
				if con != nil {
					resize(con, stdout)
				}
				continue
			}
			send(sig.(syscall.Signal))
		}
	}
}

// terminal returns the stream s as a file when it is a terminal.
func terminal(s any) (*os.File, bool) {
	f, ok := s.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return f, true
}
