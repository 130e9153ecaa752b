package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// os/signal enables each signal by a round trip to a thread of its own
// (ensureSigM in os/signal's runtime half); on the build machines, whose
// idle vCPUs halt, two signals took 0.9 ms and seven 0.4 ms, on the way to
// every container. So registration runs in the background, overlapping
// what the command does first; a signal in the first moment, before it is
// in place, has its default effect, as it had a moment before: the process
// ends, having made nothing yet.

// notifier is a signal.Notify registered in the background.
type notifier struct {
	C       chan os.Signal
	mu      sync.Mutex
	stopped bool
	ready   chan struct{}
}

// notifyAsync starts registering C for sigs.
func notifyAsync(sigs ...os.Signal) *notifier {
	n := &notifier{C: make(chan os.Signal, 8), ready: make(chan struct{})}
	go func() {
		n.mu.Lock()
		if !n.stopped {
			signal.Notify(n.C, sigs...)
		}
		n.mu.Unlock()
		close(n.ready)
	}()
	return n
}

// Wait returns once the signals are registered: from then on they reach C.
func (n *notifier) Wait() { <-n.ready }

// Stop unregisters C, or makes sure it is never registered.
func (n *notifier) Stop() {
	n.mu.Lock()
	n.stopped = true
	signal.Stop(n.C)
	n.mu.Unlock()
}

// catchForwarded starts catching what run, exec and their OCI forms pass
// on to the container's process (docker's --sig-proxy): the signals that
// mean "stop" or that a program may handle itself, and a terminal's
// resize. They are never unregistered: the command's process ends once its
// container's has, and Stop would cost a round trip per signal (0.3 to
// 0.5 ms at the end of every run); meanwhile a signal that comes during a
// teardown is caught and dropped instead of cutting it short.
func catchForwarded() *notifier {
	return notifyAsync(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
}

// notifyContext is signal.NotifyContext, registered in the background: the
// context is cancelled at the first of sigs, which stay caught (a second
// Ctrl-C does not kill a lesson tearing down) until stop.
func notifyContext(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	n := notifyAsync(sigs...)
	go func() {
		select {
		case <-n.C:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		n.Stop()
		cancel()
	}
}
