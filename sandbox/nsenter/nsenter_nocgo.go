//go:build !(linux && cgo)

package nsenter

// Available reports whether this binary carries the constructor: not when
// built without cgo (CGO_ENABLED=0).
const Available = false

// Entered is always false without the constructor.
func Entered() bool { return false }
