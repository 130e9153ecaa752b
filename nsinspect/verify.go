package nsinspect

import (
	"slices"
	"strings"
)

// DefaultExpect are the namespaces every container runtime makes by default
// (Docker, podman, containerd): what `stepbox verify` expects without --expect.
var DefaultExpect = []string{"ipc", "mnt", "net", "pid", "uts"}

// VerifyOptions say what `verify` demands.
type VerifyOptions struct {
	Expect []string // namespace types that must be isolated (KernelNamespaces)
	FailOn Status   // Fail (default) or Warn: the least severe status that fails
	Strict bool     // an unknown check fails too
}

// Verdict is verify's outcome, included in the report.
type Verdict struct {
	Expect   []string `json:"expect"`
	FailOn   Status   `json:"fail_on"`
	Strict   bool     `json:"strict"`
	OK       bool     `json:"ok"`
	Failing  []string `json:"failing"`  // check IDs that made it fail
	Unproven []string `json:"unproven"` // expected isolations that could not be read
}

// ParseExpect reads a --expect list: namespace names separated by commas,
// or "all". It returns the names sorted and without duplicates.
func ParseExpect(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" {
		return slices.Clone(KernelNamespaces), nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "mount" {
			f = "mnt" // the name unshare(1) uses
		}
		if !slices.Contains(KernelNamespaces, f) {
			return nil, errf("unknown namespace %q in --expect: use %s or all", f, strings.Join(KernelNamespaces, ","))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Verify turns inspect's checks into verify's: an expected namespace must be
// isolated (pass) and fails when shared, whatever its severity in inspect;
// a namespace not expected is skipped; every other check keeps its finding
// but as a warning at most, because verify's promise is about the expected
// isolations (--fail-on warn makes those warnings count). It returns the new
// checks and the verdict.
func Verify(checks []Check, opt VerifyOptions) ([]Check, Verdict) {
	if opt.FailOn == "" {
		opt.FailOn = Fail
	}
	v := Verdict{Expect: opt.Expect, FailOn: opt.FailOn, Strict: opt.Strict, Failing: []string{}, Unproven: []string{}}
	out := make([]Check, len(checks))
	for i, c := range checks {
		typ, isNS := strings.CutPrefix(c.ID, "ns.")
		switch {
		case isNS && slices.Contains(opt.Expect, typ):
			switch c.Status {
			case Warn, Fail, Skipped:
				c.Status = Fail
				c.Detail = "expected isolated, " + c.Detail
			case Unknown:
				v.Unproven = append(v.Unproven, typ)
			}
		case isNS:
			c.Status = Skipped
			c.Detail = "not expected; " + c.Detail
		case c.Status == Fail:
			c.Status = Warn
		}
		switch {
		case c.Status == Fail, c.Status == Warn && opt.FailOn == Warn, c.Status == Unknown && opt.Strict:
			v.Failing = append(v.Failing, c.ID)
		}
		c.Note = noteOf(c.Detail)
		out[i] = c
	}
	v.OK = len(v.Failing) == 0
	return out, v
}
