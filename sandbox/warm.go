package sandbox

import "os"

// warmPidfdCheck makes os run, in the background, the check it does before
// its first process start: whether pidfds work, which it answers by cloning
// and waiting for a throwaway child (os/pidfd_linux.go, checkPidfd). Done
// now, it overlaps the runtime's other preparations instead of delaying the
// init's clone.
func warmPidfdCheck() {
	go func() {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			p.Release()
		}
	}()
}
