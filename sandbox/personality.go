package sandbox

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Execution domains of personality(2) that linux.personality names
// (config-linux.md, "Personality"; <linux/personality.h>).
const (
	perLinux   = 0x0000
	perLinux32 = 0x0008
)

// personalityValue turns linux.personality into personality(2)'s argument.
// The spec defines no flags yet: any given is refused rather than ignored.
func personalityValue(p *specs.LinuxPersonality) (uintptr, error) {
	if len(p.Flags) > 0 {
		return 0, invalidf("linux.personality.flags %v: no flags are supported", p.Flags)
	}
	switch p.Domain {
	case specs.PerLinux:
		return perLinux, nil
	case specs.PerLinux32:
		return perLinux32, nil
	}
	return 0, invalidf("linux.personality.domain %q: want LINUX or LINUX32", p.Domain)
}

// setPersonality sets the execution domain the payload runs in (`setarch
// linux32` is the same call); it survives execve(2).
func setPersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	v, err := personalityValue(p)
	if err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_PERSONALITY, v, 0, 0); errno != 0 {
		return fmt.Errorf("personality %s: %w", p.Domain, errno)
	}
	return nil
}
