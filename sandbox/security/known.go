package security

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// What the seccomp compiler knows, for the runtime-spec's features
// document (features.md, "linux.seccomp").

// KnownActions are the actions a profile may use.
func KnownActions() []string {
	return []string{string(specs.ActKill), string(specs.ActKillProcess), string(specs.ActKillThread),
		string(specs.ActTrap), string(specs.ActErrno), string(specs.ActTrace), string(specs.ActAllow),
		string(specs.ActLog), string(specs.ActNotify)}
}

// KnownOperators are the argument comparisons.
func KnownOperators() []string {
	return []string{string(specs.OpNotEqual), string(specs.OpLessThan), string(specs.OpLessEqual),
		string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan),
		string(specs.OpMaskedEqual)}
}

// KnownArchs are the architectures a filter can check for.
func KnownArchs() []string {
	out := make([]string, 0, len(abis))
	for _, a := range abis {
		out = append(out, string(a.name))
	}
	return out
}

// KnownFlags are the filter flags (SECCOMP_FILTER_FLAG_*).
func KnownFlags() []string {
	return []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow),
		string(specs.LinuxSeccompFlagWaitKillableRecv)}
}
