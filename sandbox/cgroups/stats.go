package cgroups

// Stats is what the cgroup's counters say, read from the files of whichever
// hierarchy owns each controller. A controller the host does not mount
// leaves its part zero.
type Stats struct {
	Memory MemoryStats `json:"memory"`
	CPU    CPUStats    `json:"cpu"`
	Pids   PidsStats   `json:"pids"`
}

func (m *manager) Stats() (*Stats, error) {
	var s Stats
	if err := m.memoryStats(&s.Memory); err != nil {
		return nil, err
	}
	if err := m.cpuStats(&s.CPU); err != nil {
		return nil, err
	}
	if err := m.pidsStats(&s.Pids); err != nil {
		return nil, err
	}
	return &s, nil
}
