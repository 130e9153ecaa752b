package sandbox

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// STEPBOX_TRACE=1 prints how long each phase of a container's start took,
// to standard error: the way to answer "where does the time go" without a
// profiler. Off, it costs one branch per phase.
var (
	traceOn    = os.Getenv("STEPBOX_TRACE") != ""
	traceStart = time.Now()
	traceLast  = traceStart
)

func tracef(format string, a ...any) {
	if !traceOn {
		return
	}
	now := time.Now()
	// The wall clock too, which the parent, the init and strace -ttt
	// share, to put the processes' lines in one order.
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &ts)
	fmt.Fprintf(os.Stderr, "stepbox trace %8.3fms %+7.3fms  @%d.%06d  %s\n",
		float64(now.Sub(traceStart).Microseconds())/1000, float64(now.Sub(traceLast).Microseconds())/1000,
		ts.Sec%1000, ts.Nsec/1000, fmt.Sprintf(format, a...))
	traceLast = now
}

// Tracef adds a line to the STEPBOX_TRACE=1 output, for the command line's
// own phases before and after the runtime's.
func Tracef(format string, a ...any) { tracef(format, a...) }
