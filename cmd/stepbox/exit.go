package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stepbox/stepbox/internal/hint"
)

// Exit codes shared by every command (DESIGN.md). `run` follows docker
// instead: the container's own status, or 125, 126, 127.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitFindings = 3
)

// usageError marks a mistake in how the command was called (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitStatus carries a command's chosen exit code. A nil err means the command
// has already said what it had to (verify's findings, run's container status).
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e exitStatus) Unwrap() error { return e.err }

// withCode returns err that exits with code.
func withCode(code int, err error) error { return exitStatus{code: code, err: err} }

// exitCode maps an error to the process exit code: the one place that does.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var st exitStatus
	if errors.As(err, &st) {
		return st.code
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitError
}

// isCobraUsage recognises the usage errors cobra makes itself (unknown
// command, wrong number of arguments), which carry no type of their own.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag",
		"accepts ", "requires at least", "requires at most", "requires exactly",
		"invalid argument", "flag needs an argument", "required flag"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// printError writes one line: what was wrong, and what to do about it.
func printError(w io.Writer, err error) {
	var st exitStatus
	if errors.As(err, &st) && st.err == nil {
		return
	}
	msg := err.Error()
	if h := hint.Of(err); h != "" {
		msg += " (" + h + ")"
	} else if exitCode(err) == exitUsage {
		msg += " (see 'stepbox --help')"
	}
	fmt.Fprintln(w, "stepbox: "+msg)
}
