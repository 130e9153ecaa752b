package nsinspect

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fixtures is a proc tree with a host init (PID 1) and a Docker-like
// container process (PID 100), written by hand after real /proc files.
var fixtures = Reader{Root: "testdata/proc"}

func takeFixture(t *testing.T, pid int) Snapshot {
	t.Helper()
	s, err := fixtures.Take(pid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func statusOf(t *testing.T, checks []Check, id string) Check {
	t.Helper()
	for _, c := range checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s", id)
	return Check{}
}

func TestFixtureSnapshot(t *testing.T) {
	s := takeFixture(t, 100)
	if got := s.Namespace("user"); got.Inode != 4026532300 || got.Link != "user:[4026532300]" {
		t.Errorf("user namespace = %+v", got)
	}
	if want := []IDMapRange{{0, 100000, 65536}}; !reflect.DeepEqual(s.IDMap.UID, want) || s.IDMap.Setgroups != "deny" {
		t.Errorf("id map = %+v", s.IDMap)
	}
	if s.Status.Name != "nginx" || s.Status.Seccomp != 2 || s.Status.SeccompFilters != 1 || s.Status.NoNewPrivs != 1 {
		t.Errorf("status = %+v", s.Status)
	}
	if !reflect.DeepEqual(s.Status.NSpid, []int{4242, 1}) {
		t.Errorf("NSpid = %v", s.Status.NSpid)
	}
	if s.LSM.Label != "docker-default (enforce)" || s.LSM.Module != "apparmor" {
		t.Errorf("lsm = %+v", s.LSM)
	}
	if len(s.Mounts.Entries) != 18 || s.Mounts.Entries[0].Master != 1 {
		t.Errorf("mounts: %d, first %+v", len(s.Mounts.Entries), s.Mounts.Entries[0])
	}
	host := takeFixture(t, 1)
	if mp := host.Mounts.Entries[6].MountPoint; mp != "/mnt/with space" {
		t.Errorf("unescaped mount point = %q", mp)
	}
	if m := host.Mounts.Entries[7]; m.MountPoint != "/mnt/a - b" || m.Source != `/dev/back\slash` || m.FSType != "xfs" {
		t.Errorf("mount with a dash = %+v", m)
	}
	// Parts that need the live /proc are errors, never silently empty.
	if s.UTS.Err == nil || s.Network.Err == nil || s.IPC.Err == nil || s.Cgroups.InsideErr == nil {
		t.Errorf("fixture snapshot claims to have entered namespaces: %+v %+v", s.UTS, s.Network)
	}
	// The snapshot is deterministic: the same tree gives the same JSON.
	a, _ := json.Marshal(s)
	b, _ := json.Marshal(takeFixture(t, 100))
	if string(a) != string(b) {
		t.Error("two snapshots of the same fixture differ")
	}
}

func TestFixtureCompare(t *testing.T) {
	checks := Compare(takeFixture(t, 100), takeFixture(t, 1))
	if len(checks) != len(CheckIDs) {
		t.Fatalf("%d checks, want %d", len(checks), len(CheckIDs))
	}
	for i, c := range checks {
		if c.ID != CheckIDs[i] {
			t.Errorf("check %d is %s, want %s", i, c.ID, CheckIDs[i])
		}
		if c.Title == "" || c.Category == "" || c.Detail == "" {
			t.Errorf("%s lacks title, category or detail: %+v", c.ID, c)
		}
	}
	want := map[string]Status{
		"ns.cgroup": Pass, "ns.ipc": Pass, "ns.mnt": Pass, "ns.net": Pass, "ns.pid": Pass,
		"ns.pid_for_children": Skipped, "ns.time": Warn, "ns.user": Pass, "ns.uts": Pass,
		"userns.map": Pass, "uid.root": Pass, "pid.nspid": Pass,
		"caps.effective": Pass, "caps.bounding": Pass, "caps.ambient": Pass,
		"sec.seccomp": Pass, "sec.nnp": Pass, "sec.lsm": Pass, "root.pivot": Pass,
		"mnt.propagation": Pass, "mnt.sensitive": Fail, "proc.masked": Pass, "proc.readonly": Pass,
		"cgroup.path": Pass,
		// Not a live /proc: these cannot be read, so they are unknown, not pass.
		"uts.hostname": Unknown, "net.ifaces": Unknown, "ipc.sysv": Unknown, "cgroup.ns": Unknown,
	}
	for id, st := range want {
		if c := statusOf(t, checks, id); c.Status != st {
			t.Errorf("%s = %s (%s), want %s", id, c.Status, c.Detail, st)
		}
	}
	if c := statusOf(t, checks, "mnt.sensitive"); c.Detail != "host paths mounted: /run/docker.sock at /run/docker.sock" {
		t.Errorf("mnt.sensitive detail = %q", c.Detail)
	}
}

// The host compared with itself shares everything and is flagged everywhere.
func TestFixtureHostAgainstItself(t *testing.T) {
	h := takeFixture(t, 1)
	checks := Compare(h, h)
	for _, id := range []string{"ns.mnt", "ns.pid", "ns.net", "ns.ipc", "ns.uts", "caps.effective", "root.pivot", "proc.masked", "proc.readonly"} {
		if c := statusOf(t, checks, id); c.Status != Fail {
			t.Errorf("%s = %s (%s), want fail", id, c.Status, c.Detail)
		}
	}
	for _, id := range []string{"mnt.propagation", "mnt.sensitive"} {
		if c := statusOf(t, checks, id); c.Status != Skipped {
			t.Errorf("%s = %s, want skipped for the same mount namespace", id, c.Status)
		}
	}
	sum := Summarize(h.PID, h.Status.Name, checks)
	if len(sum.Isolated) != 0 || len(sum.Shared) != 8 {
		t.Errorf("summary = %+v", sum)
	}
}

// A snapshot with unreadable parts must give unknown, never pass.
func TestUnreadableIsUnknown(t *testing.T) {
	denied := &FieldError{Op: "readlink", Path: "/proc/7/ns/x", Errno: "EACCES", Msg: "permission denied"}
	var s Snapshot
	s.PID = 7
	for _, typ := range NamespaceTypes {
		s.Namespaces = append(s.Namespaces, Namespace{Type: typ, Err: denied})
	}
	s.IDMap.Err, s.Status.Err, s.LSM.Err, s.Cgroups.Err = denied, denied, denied, denied
	s.Cgroups.InsideErr, s.Root.Err, s.Mounts.Err = denied, denied, denied
	s.UTS.Err, s.Network.Err, s.IPC.Err, s.Time.Err = denied, denied, denied, denied
	checks := Compare(s, takeFixture(t, 1))
	for _, c := range checks {
		if c.Status != Unknown {
			t.Errorf("%s = %s with nothing readable", c.ID, c.Status)
		}
	}
	sum := Summarize(s.PID, s.Status.Name, checks)
	if !sum.Denied || sum.Pass != 0 || sum.Unknown != len(checks) {
		t.Errorf("summary = %+v", sum)
	}
}

func TestVerify(t *testing.T) {
	checks := Compare(takeFixture(t, 100), takeFixture(t, 1))
	_, v := Verify(checks, VerifyOptions{Expect: DefaultExpect})
	// mnt.sensitive fails in inspect, but verify's promise is the namespaces.
	if !v.OK {
		t.Errorf("default verify failed: %+v", v)
	}
	_, v = Verify(checks, VerifyOptions{Expect: []string{"time"}})
	if v.OK || v.Failing[0] != "ns.time" {
		t.Errorf("time is shared, verify passed: %+v", v)
	}
	_, v = Verify(checks, VerifyOptions{Expect: DefaultExpect, FailOn: Warn})
	if v.OK {
		t.Errorf("--fail-on warn ignored the docker.sock mount: %+v", v)
	}
	_, v = Verify(checks, VerifyOptions{Expect: DefaultExpect, Strict: true})
	if v.OK {
		t.Errorf("--strict ignored unknown checks: %+v", v)
	}
}

func TestParseExpect(t *testing.T) {
	got, err := ParseExpect("uts,pid,uts,mount")
	if err != nil || !reflect.DeepEqual(got, []string{"mnt", "pid", "uts"}) {
		t.Errorf("ParseExpect = %v, %v", got, err)
	}
	if all, _ := ParseExpect("all"); len(all) != 8 {
		t.Errorf("all = %v", all)
	}
	for _, bad := range []string{"", "uts,bogus", "pid_for_children"} {
		if _, err := ParseExpect(bad); err == nil {
			t.Errorf("ParseExpect(%q) accepted", bad)
		}
	}
}
