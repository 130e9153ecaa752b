//go:build linux && cgo

package nsenter

/*
#cgo LDFLAGS: -static
#include "nsenter.h"
*/
import "C"

// Available reports whether this binary carries the constructor.
const Available = true

// Arg and Env mark a process started as the exec stage (see doc.go).
const (
	Arg = "exec-init"
	Env = "_STEPBOX_EXEC"
)

// Entered reports whether the constructor has put this process inside a
// container's namespaces: true only in the child it forked.
func Entered() bool { return C.stepbox_nsenter_entered != 0 }

// cNames returns the C side's Arg and Env, which a test compares with the
// constants above.
func cNames() (arg, env string) {
	return C.GoString(C.stepbox_nsenter_arg()), C.GoString(C.stepbox_nsenter_env())
}
