// Package probe holds the small programs the course runs inside a container
// to ask the kernel one thing: mount a tmpfs, set the hostname, send one
// ping. Each makes its system calls itself and prints every one of them as
// strace(1) would, with the kernel's answer ("= 0", or "= -1 EPERM"), so a lesson's check judges the kernel's
// errno, never one implementation's wording of an error message, and the
// course needs nothing from the host but stepbox: `stepbox probe …` runs as
// /bin/stepbox in every root filesystem stepbox builds. The lessons show the
// usual command (mount, hostname, ping) as the one to type by hand.
//
// Exit status: 0 when every call succeeded, 1 when the kernel refused one
// (ping: no reply), 2 for a usage error or a failure before the kernel was
// asked (ping: as iputils' ping, 2 also when a call failed).
package probe

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Exit statuses of a probe.
const (
	OK      = 0
	Refused = 1
	Usage   = 2
)

// Call formats one system call and its result the way strace(1) does:
// `name(args) = ret`, or `name(args) = -1 ENAME`. strace adds strerror's
// text; the lessons explain the names instead, and the line fits the
// 80 columns a classroom projects.
func Call(w io.Writer, name, args string, ret int, err error) {
	fmt.Fprintf(w, "%s(%s) = %s\n", name, args, Result(ret, err))
}

// Result is the right-hand side of Call's line.
func Result(ret int, err error) string {
	if err == nil {
		return strconv.Itoa(ret)
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return "-1 " + name
		}
		return fmt.Sprintf("-1 errno %d (%s)", int(errno), errno)
	}
	return "-1 (" + err.Error() + ")"
}

// Errno finds the errno name of the last refused call a probe printed
// ("EPERM"), or "" when every call it printed succeeded.
func Errno(output string) string {
	name := ""
	for _, line := range strings.Split(output, "\n") {
		i := strings.LastIndex(line, ") = -1 ")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+len(") = -1 "):])
		if len(f) > 0 && strings.HasPrefix(f[0], "E") {
			name = f[0]
		}
	}
	return name
}

// Quote is a string argument as strace prints one.
func Quote(s string) string { return strconv.Quote(s) }

// exit is the status for a call's error.
func exit(err error) int {
	if err != nil {
		return Refused
	}
	return OK
}
