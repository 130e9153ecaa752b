package security

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/hint"
)

// rlimitNames maps the OCI names (getrlimit(2)) to resource numbers.
var rlimitNames = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// RlimitResource returns the resource number of an OCI rlimit name
// ("RLIMIT_NOFILE" is 7).
func RlimitResource(name string) (int, bool) {
	r, ok := rlimitNames[name]
	return r, ok
}

// CheckRlimits validates limits without applying them: every name known,
// no soft limit above its hard limit, no name twice.
func CheckRlimits(limits []specs.POSIXRlimit) error {
	seen := map[string]bool{}
	for _, l := range limits {
		if _, ok := rlimitNames[l.Type]; !ok {
			return hint.With(fmt.Errorf("unknown rlimit %q", l.Type),
				"use a getrlimit(2) name such as RLIMIT_NOFILE")
		}
		if seen[l.Type] {
			return fmt.Errorf("rlimit %s given twice", l.Type)
		}
		seen[l.Type] = true
		if l.Soft > l.Hard {
			return fmt.Errorf("rlimit %s: soft limit %s is above the hard limit %s", l.Type, limitString(l.Soft), limitString(l.Hard))
		}
	}
	return nil
}

// SetRlimits applies limits to the calling process (rlimits belong to the
// process, not the thread) with prlimit(2). Call it while the process still
// has its privileges: raising a hard limit needs CAP_SYS_RESOURCE, which
// the payload usually lacks. A hard limit above the current one without that
// capability fails with a clear error (EPERM).
//
// It goes through x/sys/unix.Prlimit, which tells Go's syscall package that
// RLIMIT_NOFILE was set on purpose: Go raises its own soft NOFILE limit at
// start and would otherwise put the old one back at execve.
func SetRlimits(limits []specs.POSIXRlimit) error {
	if err := CheckRlimits(limits); err != nil {
		return err
	}
	for _, l := range limits {
		res := rlimitNames[l.Type]
		var cur unix.Rlimit
		if err := unix.Prlimit(0, res, nil, &cur); err != nil {
			return fmt.Errorf("getrlimit %s: %w", l.Type, err)
		}
		want := unix.Rlimit{Cur: l.Soft, Max: l.Hard}
		if err := unix.Prlimit(0, res, &want, nil); err != nil {
			err = fmt.Errorf("setrlimit %s soft %s hard %s: %w", l.Type, limitString(l.Soft), limitString(l.Hard), err)
			if errors.Is(err, unix.EPERM) && l.Hard > cur.Max {
				return hint.With(fmt.Errorf("%w: the hard limit here is %s and raising it needs CAP_SYS_RESOURCE", err, limitString(cur.Max)),
					fmt.Sprintf("ask for a hard limit of at most %s", limitString(cur.Max)))
			}
			return err
		}
	}
	return nil
}

func limitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprint(v)
}
