package nsinspect

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON report (SCHEMA.md). It changes
// only when a field is removed or changes meaning; new fields keep it.
const SchemaVersion = 1

// Summary counts the checks by status and says in one line what they mean.
type Summary struct {
	Pass     int      `json:"pass"`
	Warn     int      `json:"warn"`
	Fail     int      `json:"fail"`
	Unknown  int      `json:"unknown"`
	Skipped  int      `json:"skipped"`
	Isolated []string `json:"isolated"` // namespace types the target does not share
	Shared   []string `json:"shared"`   // namespace types it shares with the reference
	Denied   bool     `json:"denied"`   // some checks are unknown for lack of permission
	Verdict  string   `json:"verdict"`
}

// Report is the document `stepbox inspect --json` and `verify --json` print.
type Report struct {
	SchemaVersion    int      `json:"schema_version"`
	ToolVersion      string   `json:"tool_version"`
	Kernel           string   `json:"kernel"`
	TargetPID        int      `json:"target_pid"`
	TargetCommand    string   `json:"target_command"`
	ReferencePID     int      `json:"reference_pid"`
	ReferenceCommand string   `json:"reference_command"`
	ReferenceNote    string   `json:"reference_note,omitempty"`
	EUID             int      `json:"euid"`
	Time             string   `json:"time"` // RFC 3339, UTC
	Summary          Summary  `json:"summary"`
	Checks           []Check  `json:"checks"`
	Verify           *Verdict `json:"verify,omitempty"`
}

// NewReport wraps checks of target against reference in the envelope.
func NewReport(target, reference Snapshot, checks []Check, toolVersion string, now time.Time) Report {
	return Report{
		SchemaVersion:    SchemaVersion,
		ToolVersion:      toolVersion,
		Kernel:           KernelRelease(),
		TargetPID:        target.PID,
		TargetCommand:    target.Status.Name,
		ReferencePID:     reference.PID,
		ReferenceCommand: reference.Status.Name,
		EUID:             os.Geteuid(),
		Time:             now.UTC().Format(time.RFC3339),
		Summary:          Summarize(target.PID, target.Status.Name, checks),
		Checks:           checks,
	}
}

// KernelRelease is the running kernel's release, "6.18.44", or "unknown".
func KernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// Summarize counts the checks of process pid (named command) and writes the
// verdict line.
func Summarize(pid int, command string, checks []Check) Summary {
	s := Summary{Isolated: []string{}, Shared: []string{}}
	var unknownNS []string
	for _, c := range checks {
		switch c.Status {
		case Pass:
			s.Pass++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		case Unknown:
			s.Unknown++
			if strings.Contains(c.Detail, "EACCES") || strings.Contains(c.Detail, "EPERM") {
				s.Denied = true
			}
		case Skipped:
			s.Skipped++
		}
		typ, isNS := strings.CutPrefix(c.ID, "ns.")
		if !isNS || strings.HasSuffix(typ, "_for_children") {
			continue
		}
		switch c.Status {
		case Pass:
			s.Isolated = append(s.Isolated, typ)
		case Warn, Fail:
			s.Shared = append(s.Shared, typ)
		case Unknown:
			unknownNS = append(unknownNS, typ)
		}
	}
	total := len(s.Isolated) + len(s.Shared) + len(unknownNS)
	who := "PID " + strconv.Itoa(pid)
	if command != "" {
		who += " (" + command + ")"
	}
	var v string
	switch {
	case len(s.Isolated) == 0 && len(s.Shared) == 0:
		v = who + ": isolation unknown"
	case len(s.Isolated) == 0:
		v = who + ": not isolated, shares " + strconv.Itoa(len(s.Shared)) + " of " + strconv.Itoa(total) + " namespaces with the reference"
	default:
		v = who + ": isolated in " + strconv.Itoa(len(s.Isolated)) + " of " + strconv.Itoa(total) + " namespaces (" + strings.Join(s.Isolated, " ") + ")"
	}
	v += "; " + strconv.Itoa(s.Fail) + " fail, " + strconv.Itoa(s.Warn) + " warn"
	if s.Unknown > 0 {
		v += ", " + strconv.Itoa(s.Unknown) + " unknown"
		if s.Denied {
			v += " (permission denied: run as root to read them)"
		}
	}
	s.Verdict = v
	return s
}
