package security

import (
	"fmt"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultProfile is docker's default seccomp profile for spec, from
// github.com/moby/profiles/seccomp: an allow-list of about 370 calls, every
// other call failing with EPERM. It depends on the container: a call that
// needs a capability (mount needs CAP_SYS_ADMIN, reboot CAP_SYS_BOOT) is
// allowed only when spec's bounding set holds that capability, and the
// architectures are the host's own ABIs (x86_64, i386 and x32 on amd64). So
// set the capabilities first, then ask for the profile.
func DefaultProfile(spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	p, err := seccomp.GetDefaultProfile(withProcess(spec))
	if err != nil {
		return nil, fmt.Errorf("docker's default seccomp profile: %w", err)
	}
	return p, nil
}

// LoadProfile reads a profile in docker's format (--security-opt
// seccomp=PROFILE.json: archMap, and rules with includes/excludes by
// capability, architecture and kernel version) and resolves it for spec the
// way docker does. A plain runtime-spec profile is docker's format too.
func LoadProfile(profileJSON []byte, spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	p, err := seccomp.LoadProfile(string(profileJSON), withProcess(spec))
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	if p == nil {
		return nil, fmt.Errorf("seccomp profile: no default action and no rules")
	}
	return p, nil
}

// withProcess returns spec, or a copy with empty capabilities when it has
// none: the moby code reads spec.Process.Capabilities.Bounding without
// checking for nil.
func withProcess(spec *specs.Spec) *specs.Spec {
	if spec != nil && spec.Process != nil && spec.Process.Capabilities != nil {
		return spec
	}
	s := specs.Spec{}
	if spec != nil {
		s = *spec
	}
	p := specs.Process{}
	if s.Process != nil {
		p = *s.Process
	}
	p.Capabilities = &specs.LinuxCapabilities{}
	s.Process = &p
	return &s
}
