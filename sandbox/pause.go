package sandbox

import (
	"fmt"
)

// Freeze stops every process of a running container where it stands
// (frozen true), or lets them go on, as docker pause and unpause do, with
// the cgroup freezer (cgroups.Manager.Freeze). commit freezes a running
// container while it reads its upper directory, so that the layer is one
// moment of it.
func (c *Container) Freeze(frozen bool) error {
	st := c.State()
	if st.Status != Running {
		return fmt.Errorf("freeze container %s: it is %s, not running: %w", st.DisplayName(), st.Status, ErrWrongState)
	}
	cg := c.cg
	if cg == nil {
		cg = c.findCgroups()
	}
	if cg == nil {
		return fmt.Errorf("freeze container %s: its cgroups are gone", st.DisplayName())
	}
	if err := cg.Freeze(frozen); err != nil {
		return fmt.Errorf("freeze container %s: %w", st.DisplayName(), err)
	}
	return nil
}
