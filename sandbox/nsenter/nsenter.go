//go:build linux && cgo

package nsenter

/*
#cgo LDFLAGS: -static
#include "nsenter.h"
*/
import "C"

// Available reports whether this binary carries the constructor.
const Available = true

// Entered reports whether the constructor has put this process inside a
// container's namespaces: true only in the child it forked.
func Entered() bool { return C.stepbox_nsenter_entered != 0 }

// cNames returns how the C side recognises the exec stage (argv[1] and the
// environment variable), which a test compares with the sandbox package's.
func cNames() (arg, env string) {
	return C.GoString(C.stepbox_nsenter_arg()), C.GoString(C.stepbox_nsenter_env())
}

// cUserNSNames is the same for the user-namespace stage of create.
func cUserNSNames() (arg, env string) {
	return C.GoString(C.stepbox_userns_arg()), C.GoString(C.stepbox_userns_env())
}

// cReapNames is the same for the minimal init (reaper.c).
func cReapNames() (arg, env string) {
	return C.GoString(C.stepbox_reap_arg()), C.GoString(C.stepbox_reap_env())
}

// cReapForwarded lists the signals the C minimal init passes on.
func cReapForwarded() []int {
	var sigs []int
	for i := C.int(0); ; i++ {
		s := C.stepbox_reap_forwarded(i)
		if s == 0 {
			return sigs
		}
		sigs = append(sigs, int(s))
	}
}
