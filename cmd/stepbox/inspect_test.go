package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/nsinspect/nstest"
)

// nobody runs a command as an unprivileged user with no groups.
var nobody = []string{"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"}

func pidArg(pid int) string { return strconv.Itoa(pid) }

func decodeReport(t *testing.T, r result) nsinspect.Report {
	t.Helper()
	var rep nsinspect.Report
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("report is not the documented JSON: %v\n%s", err, r.stdout)
	}
	return rep
}

func TestInspectJSONSchema(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := nstest.Start(t, "sleep", "unshare", "--uts", "--ipc", "--fork", "sleep", "30")
	r := stepbox(t, nil, "inspect", pidArg(pid), "--vs", pidArg(os.Getpid()), "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The raw document has exactly the documented keys (SCHEMA.md).
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema_version", "tool_version", "kernel", "target_pid", "target_command",
		"reference_pid", "reference_command", "euid", "time", "summary", "checks"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	rep := decodeReport(t, r)
	if rep.SchemaVersion != 1 || rep.TargetPID != pid || rep.ReferencePID != os.Getpid() || rep.EUID != 0 || rep.TargetCommand != "sleep" {
		t.Errorf("envelope = %+v", rep)
	}
	if _, err := time.Parse(time.RFC3339, rep.Time); err != nil {
		t.Errorf("time %q: %v", rep.Time, err)
	}
	var ids []string
	for _, c := range rep.Checks {
		ids = append(ids, c.ID)
		if !slices.Contains(nsinspect.Statuses, c.Status) || c.Category == "" || c.Title == "" || c.Detail == "" || c.Note == "" {
			t.Errorf("check %+v is incomplete", c)
		}
	}
	if !slices.Equal(ids, nsinspect.CheckIDs) {
		t.Errorf("check ids = %v", ids)
	}
	if !slices.Equal(rep.Summary.Isolated, []string{"ipc", "uts"}) || rep.Summary.Fail+rep.Summary.Pass+rep.Summary.Warn+rep.Summary.Unknown+rep.Summary.Skipped != len(ids) {
		t.Errorf("summary = %+v", rep.Summary)
	}
}

func TestInspectTable(t *testing.T) {
	testutil.RequiresRoot(t)
	r := stepbox(t, nil, "inspect")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if !strings.Contains(lines[0], "(stepbox): not isolated, shares 8 of 8 namespaces") {
		t.Errorf("verdict line = %q", lines[0])
	}
	header := -1
	for i, l := range lines {
		if w := ui.Width(l); w > 80 {
			t.Errorf("line %d is %d columns: %q", i, w, l)
		}
		if strings.HasPrefix(l, "CHECK") {
			header = i
		}
	}
	if header < 0 || !strings.Contains(lines[header], "STATUS") || !strings.Contains(lines[header], "NOTE") {
		t.Fatalf("no table header in\n%s", r.stdout)
	}
	if rows := len(lines) - header - 1; rows != len(nsinspect.CheckIDs) {
		t.Errorf("%d rows, want %d", rows, len(nsinspect.CheckIDs))
	}
}

func TestInspectNoSuchProcess(t *testing.T) {
	r := stepbox(t, nil, "inspect", "999999999")
	if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "process 999999999 does not exist") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Not a number: a container's name, and there is none.
	if r := stepbox(t, nil, "inspect", "abc"); r.code != 1 || !strings.Contains(r.stderr, "no such process or container: abc") {
		t.Errorf("inspect abc: exit %d, %q", r.code, r.stderr)
	}
	if r := stepbox(t, nil, "inspect", "0"); r.code != 2 {
		t.Errorf("inspect 0: exit %d", r.code)
	}
	if r := stepbox(t, nil, "inspect", "--vs", "0"); r.code != 2 {
		t.Errorf("inspect --vs 0: exit %d", r.code)
	}
	if r := stepbox(t, nil, "inspect", "1", "2"); r.code != 2 {
		t.Errorf("inspect 1 2: exit %d", r.code)
	}
	if r := stepbox(t, nil, "inspect", "--bogus"); r.code != 2 {
		t.Errorf("inspect --bogus: exit %d", r.code)
	}
}

// An unprivileged inspector cannot read a root process: its rows are unknown,
// never pass, and the verdict says why.
func TestInspectUnprivileged(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresCommand(t, "setpriv")
	pid := nstest.Start(t, "sleep", "unshare", "--uts", "--fork", "sleep", "30")
	r := stepbox(t, nobody, "inspect", pidArg(pid), "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rep := decodeReport(t, r)
	if rep.EUID != 65534 || !rep.Summary.Denied || len(rep.Summary.Isolated) != 0 {
		t.Errorf("euid %d, summary %+v", rep.EUID, rep.Summary)
	}
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.ID, "ns.") && c.Status != nsinspect.Unknown {
			t.Errorf("%s = %s for an unreadable process", c.ID, c.Status)
		}
	}
	human := stepbox(t, nobody, "inspect", pidArg(pid))
	if head, _, _ := strings.Cut(human.stdout, "reference:"); !strings.Contains(strings.ReplaceAll(head, "\n", " "), "unknown (permission denied: run as root") {
		t.Errorf("verdict = %q", head)
	}
}

func TestVerifyExitCodes(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := pidArg(nstest.Start(t, "sleep", "unshare", "--uts", "--ipc", "--fork", "sleep", "30"))
	for _, tc := range []struct {
		prefix []string
		args   []string
		code   int
	}{
		{nil, []string{"verify", pid, "--expect", "uts,ipc"}, 0},
		{nil, []string{"verify", pid, "--expect", "uts"}, 0},
		{nil, []string{"verify", pid, "--expect", "uts,net"}, 3},
		{nil, []string{"verify", pid}, 3}, // the default expects mnt pid net too
		{nil, []string{"verify", pid, "--expect", "all"}, 3},
		{nil, []string{"verify", pid, "--expect", "uts", "--fail-on", "warn"}, 3},
		{nil, []string{"verify", pid, "--expect", "uts,bogus"}, 2},
		{nil, []string{"verify", pid, "--fail-on", "never"}, 2},
		{nil, []string{"verify", pid, "--bogus"}, 2},
		{nil, []string{"verify"}, 2},
		// Not a number: a container's name, and there is none.
		{nil, []string{"verify", "x"}, 1},
		{nil, []string{"verify", "0"}, 2},
		{nil, []string{"verify", "999999999"}, 1},
		// Unreadable is unknown: it fails only with --strict.
		{nobody, []string{"verify", pid, "--expect", "uts"}, 0},
		{nobody, []string{"verify", pid, "--expect", "uts", "--strict"}, 3},
	} {
		r := stepbox(t, tc.prefix, tc.args...)
		if r.code != tc.code {
			t.Errorf("%v %v: exit %d, want %d\n%s%s", tc.prefix, tc.args, r.code, tc.code, r.stdout, r.stderr)
		}
	}
	r := stepbox(t, nil, "verify", pid, "--expect", "uts,net", "--json")
	rep := decodeReport(t, r)
	if rep.Verify == nil || rep.Verify.OK || !slices.Equal(rep.Verify.Failing, []string{"ns.net"}) || !slices.Equal(rep.Verify.Expect, []string{"net", "uts"}) {
		t.Errorf("verify = %+v", rep.Verify)
	}
	if r := stepbox(t, nil, "verify", pid, "--expect", "uts,ipc"); !strings.HasPrefix(r.stdout, "✓ verified") {
		t.Errorf("verify output starts %q", r.stdout)
	}
}

func TestNSAgainstLsns(t *testing.T) {
	testutil.RequiresRoot(t)
	lsns := testutil.RequiresCommand(t, "lsns")
	pid := nstest.Start(t, "sleep", "unshare", "--net", "--fork", "sleep", "30")
	r := stepbox(t, nil, "ns", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got nsinspect.NSListing
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(lsns, "--json", "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Namespaces []struct {
			NS     uint64 `json:"ns"`
			Type   string `json:"type"`
			NProcs int    `json:"nprocs"`
			PID    int    `json:"pid"`
		} `json:"namespaces"`
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	ours := map[uint64]nsinspect.NSEntry{}
	for _, n := range got.Namespaces {
		ours[n.Inode] = n
	}
	for _, w := range want.Namespaces {
		n, ok := ours[w.NS]
		if !ok || n.Type != w.Type || n.PID != w.PID {
			t.Errorf("lsns has %s:[%d] (pid %d); stepbox ns has %+v", w.Type, w.NS, w.PID, n)
		}
	}
	// The new network namespace is there, holding unshare and its sleep.
	snap, err := nsinspect.Take(pid)
	if err != nil {
		t.Fatal(err)
	}
	if n := ours[snap.Namespace("net").Inode]; n.Type != "net" || n.NProcs != 2 || !strings.HasPrefix(n.Command, "unshare --net") {
		t.Errorf("the new net namespace of %d: %+v", pid, n)
	}
	table := stepbox(t, nil, "ns")
	if !strings.HasPrefix(table.stdout, "NS") || !strings.Contains(table.stdout, "[kthreadd]") {
		t.Errorf("ns table:\n%s", table.stdout)
	}
}

func TestDoctor(t *testing.T) {
	testutil.RequiresRoot(t)
	r := stepbox(t, nil, "doctor", "--json")
	var h struct {
		nsinspect.Host
		Ready bool `json:"ready"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !slices.Contains([]string{"v1", "v2", "hybrid"}, h.Cgroup.Mode) || len(h.Namespaces) != 8 || h.EUID != 0 {
		t.Errorf("host = %+v", h.Host)
	}
	if want := 0; !h.Ready {
		want = 1
		if r.code != want {
			t.Errorf("not ready, exit %d", r.code)
		}
	} else if r.code != want {
		t.Errorf("ready, exit %d: %s", r.code, r.stderr)
	}
	ko := stepbox(t, nil, "doctor", "--lang", "ko")
	if !strings.Contains(ko.stdout, "네임스페이스") {
		t.Errorf("Korean doctor output:\n%s", ko.stdout)
	}
	// Not root: the one thing missing, said in one line, exit 1.
	if testutil.RequiresCommand(t, "setpriv") != "" {
		r := stepbox(t, nobody, "doctor")
		if r.code != 1 || !strings.Contains(r.stderr, "root (uid 65534)") || !strings.Contains(r.stdout, "✗ root") {
			t.Errorf("doctor as nobody: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, c := range []string{"inspect", "verify", "ns", "doctor"} {
		r := stepbox(t, nil, c, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "stepbox "+c) {
			t.Errorf("%s --help: exit %d\n%s", c, r.code, r.stdout)
		}
	}
}

// A network namespace kept only by a bind mount (what ip netns add does) is
// listed with the mount that holds it. The mount is made inside a throwaway
// mount namespace, never in the host's.
func TestNSHeldByBindMount(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresCommand(t, "unshare")
	holder := filepath.Join(t.TempDir(), "netns")
	script := `touch "$1" && unshare --net="$1" true && exec "$2" ns --json`
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "--mount", "sh", "-c", script, "sh", holder, stepboxBin).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var l nsinspect.NSListing
	if err := json.Unmarshal(out, &l); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, n := range l.Namespaces {
		if slices.Contains(n.Held, holder) {
			if n.Type != "net" || n.PID != 0 || n.NProcs != 0 {
				t.Errorf("held namespace = %+v", n)
			}
			return
		}
	}
	t.Errorf("no namespace held by %s in\n%s", holder, out)
}

// inspect --fail-on: exit 3 exactly when the report has a check that bad;
// without it, always 0. The report is printed either way.
func TestInspectFailOn(t *testing.T) {
	testutil.RequiresRoot(t)
	pid := pidArg(nstest.Start(t, "sleep", "unshare", "--uts", "--ipc", "--fork", "sleep", "30"))
	rep := decodeReport(t, stepbox(t, nil, "inspect", pid, "--json"))
	count := map[nsinspect.Status]int{}
	for _, c := range rep.Checks {
		count[c.Status]++
	}
	if count[nsinspect.Fail] == 0 {
		t.Fatalf("a process sharing most namespaces has no failing check: %v", count)
	}
	code := func(n int) int {
		if n > 0 {
			return 3
		}
		return 0
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"inspect", pid}, 0},
		{[]string{"inspect", pid, "--fail-on", "fail"}, code(count[nsinspect.Fail])},
		{[]string{"inspect", pid, "--fail-on", "warn"}, code(count[nsinspect.Fail] + count[nsinspect.Warn])},
		{[]string{"inspect", pid, "--fail-on", "warn", "--json"}, code(count[nsinspect.Fail] + count[nsinspect.Warn])},
		{[]string{"inspect", pid, "--fail-on", "unknown"}, 2},
	} {
		r := stepbox(t, nil, tc.args...)
		if r.code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, r.code, tc.code, r.stderr)
		}
		if tc.code != 2 && r.stdout == "" {
			t.Errorf("%v: no report printed", tc.args)
		}
	}
}

// inspect and verify take a container's name as well as a PID: the report
// is of its payload (the minimal init's child), with its hostname beside
// the host's in the table.
func TestInspectAndVerifyByName(t *testing.T) {
	testutil.RequiresRoot(t)
	l := testutil.Snapshot()
	id := detached(t, "--name", "insp", "--hostname", "insp-box", "--", "sleep", "300")
	initPid := inspectOne(t, id).State.Pid
	payload := 0
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(initPid) + "/task/" + strconv.Itoa(initPid) + "/children"); err == nil {
		payload, _ = strconv.Atoi(strings.Fields(string(b))[0])
	}
	r := run(t, "inspect", "insp", "--json")
	var rep struct {
		TargetPID int `json:"target_pid"`
		Checks    []struct {
			ID     string `json:"id"`
			Target string `json:"target"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("inspect insp --json: %v %+v", err, r)
	}
	if payload == 0 || rep.TargetPID != payload {
		t.Errorf("inspected pid %d, want the payload %d (init %d)", rep.TargetPID, payload, initPid)
	}
	for _, c := range rep.Checks {
		if c.ID == "uts.hostname" && c.Target != "insp-box" {
			t.Errorf("uts.hostname target %q", c.Target)
		}
	}
	// The table: the container's hostname in TARGET, the host's beside it
	// in HOST (cut to the table's value width as the table cuts it).
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^uts\.hostname\s+pass\s+insp-box\s+` + regexp.QuoteMeta(ui.Truncate(host, 12)) + `(\s|$)`)
	if r := run(t, "inspect", "insp"); r.code != 0 || !row.MatchString(r.stdout) {
		t.Errorf("the table does not show the container's hostname beside the host's (%s):\n%s", host, r.stdout)
	}
	if r := run(t, "verify", id[:12], "--expect", "uts,pid,mnt,ipc,net,cgroup"); r.code != 0 {
		t.Errorf("verify by id prefix: %+v", r)
	}
	if r := run(t, "verify", "insp", "--expect", "all"); r.code != exitFindings {
		t.Errorf("verify --expect all of a container without a user namespace: exit %d, want 3", r.code)
	}
	run(t, "stop", "-t", "0", "insp")
	r = run(t, "verify", "insp")
	if r.code != 1 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("verify of a stopped container: %+v", r)
	}
	run(t, "rm", "-f", "insp")
	l.Check(t, 5*time.Second)
}
