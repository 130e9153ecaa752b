package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Joining namespaces by path through the runc command line, a user
// namespace above all (sandbox/joinuserns.go): the namespace of a process
// the test started with unshare(1), and a pod of two containers sharing
// one user and one network namespace, as podman makes them.

// podMap is the user namespaces' map here: root inside is 100000 outside.
const podMap = "0 100000 65536"

// nsTarget starts `unshare --user [flags] sleep`, writes its maps from
// outside (Debian's unshare maps ranges only through newuidmap, which
// wants /etc/subuid), and returns the pid of the process holding the
// namespaces: sleep itself, or its child with --fork.
func nsTarget(t *testing.T, flags ...string) int {
	t.Helper()
	unshare := exec.Command("unshare", append(append([]string{"--user"}, flags...), "sleep", "300")...)
	if err := unshare.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	t.Cleanup(func() { unshare.Process.Kill(); unshare.Wait() })
	pid := unshare.Process.Pid
	eventually(t, "unshare made its namespaces", func() bool {
		pid = unshare.Process.Pid
		if slicesContain(flags, "--fork") {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
			c, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return false
			}
			pid = c
		}
		return nsIno(t, pid, "user") != nsIno(t, os.Getpid(), "user") && status(t, pid, "Name") == "sleep"
	})
	for _, f := range []string{"uid_map", "gid_map"} {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/%s", pid, f), []byte(podMap), 0); err != nil {
			t.Fatal(err)
		}
	}
	return pid
}

// editConfig rewrites a bundle's config.json through edit.
func editConfig(t *testing.T, path string, edit func(*specs.Spec)) {
	t.Helper()
	var s specs.Spec
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		t.Fatal(err)
	}
	edit(&s)
	b, _ = json.MarshalIndent(&s, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// nsIno is the namespace's identity as readlink shows it ("user:[4026…]").
func nsIno(t *testing.T, pid int, ns string) string {
	s, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
	return s
}

// reachable lets the container's root (100000 outside, no capability over
// the host's files) walk to its bundle: t.TempDir makes directories 0700.
func reachable(t *testing.T, bundle string) string {
	for d := bundle; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bundle
}

// netAdmin lets the payload (and exec) change its network namespace.
func netAdmin(s *specs.Spec) {
	c := s.Process.Capabilities
	c.Bounding = append(c.Bounding, "CAP_NET_ADMIN")
	c.Effective = append(c.Effective, "CAP_NET_ADMIN")
	c.Permitted = append(c.Permitted, "CAP_NET_ADMIN")
}

// joinNS replaces the spec's namespace of type t with one joined by path.
func joinNS(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			s.Linux.Namespaces = append(s.Linux.Namespaces[:i], s.Linux.Namespaces[i+1:]...)
			break
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
}

// checkInUserNS checks a container's init against the user namespace it
// was to join: the same namespace, the payload's root is 100000 on the
// host and 0 inside (through exec), and the maps are the namespace's.
func checkInUserNS(t *testing.T, e *ociEnv, id string, target int) int {
	t.Helper()
	pid := e.state(id).Pid
	if got, want := nsIno(t, pid, "user"), nsIno(t, target, "user"); got != want {
		t.Errorf("%s: user namespace %s, want the target's %s", id, got, want)
	}
	if uid := strings.Fields(status(t, pid, "Uid")); len(uid) == 0 || uid[0] != "100000" {
		t.Errorf("%s: uid on the host %v, want 100000 (root inside, by the joined namespace's map)", id, uid)
	}
	m, _ := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if f := strings.Fields(string(m)); strings.Join(f, " ") != podMap {
		t.Errorf("%s: uid_map %q, want %q", id, m, podMap)
	}
	if out := e.must("exec", id, "id", "-u"); strings.TrimSpace(out) != "0" {
		t.Errorf("%s: id -u inside says %q, want 0", id, out)
	}
	return pid
}

// TestOCIJoinUserNS: a bundle that joins the user namespace of a process
// the test started, with new namespaces of every other kind (which the
// joined user namespace then owns); the same with mount and pid joined by
// path too; and mappings given with a path refused, as the runtime-spec
// says.
func TestOCIJoinUserNS(t *testing.T) {
	e := newOCIEnv(t)
	target := nsTarget(t)
	userPath := fmt.Sprintf("/proc/%d/ns/user", target)
	bundle := reachable(t, e.bundle(func(s *specs.Spec) {
		joinNS(s, specs.UserNamespace, userPath)
		s.Hostname = "joined"
		netAdmin(s)
	}, "sleep", "60"))
	e.must("create", "--bundle", bundle, "u1")
	if st := e.state("u1"); st.Status != "created" {
		t.Fatalf("after create: %+v", st)
	}
	e.must("start", "u1")
	pid := checkInUserNS(t, e, "u1", target)
	// The new namespaces belong to the joined user namespace: its root
	// could set the hostname, and may change the network's.
	if out := e.must("exec", "u1", "hostname"); strings.TrimSpace(out) != "joined" {
		t.Errorf("hostname %q", out)
	}
	if r := e.run("exec", "u1", "ip", "link", "set", "lo", "mtu", "1400"); r.code != 0 {
		t.Errorf("the container's root cannot change its own network namespace: %q", r.stderr)
	}
	if nsIno(t, pid, "net") == nsIno(t, target, "net") {
		t.Error("the container shares the target's network namespace; it asked for a new one")
	}
	e.must("delete", "--force", "u1")

	t.Run("with mount and pid by path", func(t *testing.T) {
		// Made before the target, whose mount namespace is a copy of
		// ours at that moment.
		bundle := reachable(t, e.bundle(nil, "sleep", "60"))
		target := nsTarget(t, "--mount", "--pid", "--fork", "--kill-child")
		cfg := filepath.Join(bundle, "config.json")
		editConfig(t, cfg, func(s *specs.Spec) {
			for _, ns := range []specs.LinuxNamespaceType{specs.UserNamespace, specs.MountNamespace, specs.PIDNamespace} {
				name := map[specs.LinuxNamespaceType]string{specs.UserNamespace: "user", specs.MountNamespace: "mnt", specs.PIDNamespace: "pid"}[ns]
				joinNS(s, ns, fmt.Sprintf("/proc/%d/ns/%s", target, name))
			}
		})
		e.must("create", "--bundle", bundle, "u2")
		e.must("start", "u2")
		pid := checkInUserNS(t, e, "u2", target)
		for _, ns := range []string{"mnt", "pid"} {
			if got, want := nsIno(t, pid, ns), nsIno(t, target, ns); got != want {
				t.Errorf("%s namespace %s, want the target's %s", ns, got, want)
			}
		}
		// The target's sleep is pid 1 there; the payload is another.
		if out := e.must("exec", "u2", "sh", "-c", "cat /proc/1/comm"); strings.TrimSpace(out) != "sleep" {
			t.Errorf("pid 1 in the joined pid namespace is %q", out)
		}
		e.must("delete", "--force", "u2")
	})

	t.Run("not a user namespace", func(t *testing.T) {
		bad := e.bundle(func(s *specs.Spec) {
			joinNS(s, specs.UserNamespace, fmt.Sprintf("/proc/%d/ns/net", target))
		}, "true")
		ociOneLine(t, "a network namespace as the user namespace", e.run("create", "--bundle", bad, "bad"), "setns: invalid argument")
		if ents, _ := os.ReadDir(e.root); len(ents) != 0 {
			t.Errorf("a failed create left %d entries in the state root", len(ents))
		}
	})

	t.Run("mappings with a path", func(t *testing.T) {
		bad := e.bundle(func(s *specs.Spec) {
			joinNS(s, specs.UserNamespace, userPath)
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = s.Linux.UIDMappings
		}, "true")
		ociOneLine(t, "mappings with a path", e.run("create", "--bundle", bad, "bad"), "must not be set when the user namespace is joined by path")
		if ents, _ := os.ReadDir(e.root); len(ents) != 0 {
			t.Errorf("a refused create left %d entries in the state root", len(ents))
		}
	})
}

// TestOCIPodUserNet: podman's pod, on the runc command line: a first
// container with a user namespace of its own (root is 100000 outside) and
// a network namespace; a second joins both by path and its other new
// namespaces belong to that user namespace.
func TestOCIPodUserNet(t *testing.T) {
	e := newOCIEnv(t)
	infra := reachable(t, e.bundle(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = s.Linux.UIDMappings
		netAdmin(s)
	}, "sleep", "60"))
	e.must("create", "--bundle", infra, "infra")
	e.must("start", "infra")
	first := e.state("infra").Pid
	member := reachable(t, e.bundle(func(s *specs.Spec) {
		joinNS(s, specs.UserNamespace, fmt.Sprintf("/proc/%d/ns/user", first))
		joinNS(s, specs.NetworkNamespace, fmt.Sprintf("/proc/%d/ns/net", first))
		s.Hostname = "member"
	}, "sleep", "60"))
	e.must("create", "--bundle", member, "member")
	e.must("start", "member")
	second := checkInUserNS(t, e, "member", first)
	if got, want := nsIno(t, second, "net"), nsIno(t, first, "net"); got != want {
		t.Errorf("network namespace %s, want the first container's %s", got, want)
	}
	if nsIno(t, second, "uts") == nsIno(t, first, "uts") || nsIno(t, second, "mnt") == nsIno(t, first, "mnt") {
		t.Error("the second container shares a namespace it asked to have new")
	}
	// What one sets on the shared network, the other sees.
	e.must("exec", "infra", "ip", "link", "set", "lo", "mtu", "1300")
	if out := e.must("exec", "member", "cat", "/sys/class/net/lo/mtu"); strings.TrimSpace(out) != "1300" {
		t.Errorf("the member sees lo's mtu as %q, want the infra container's 1300", out)
	}
	e.must("delete", "--force", "member")
	e.must("delete", "--force", "infra")
}
