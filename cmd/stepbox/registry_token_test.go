package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
)

// login, push and pull through docker's bearer-token exchange: the real
// docker-registry wants tokens from a token server the test runs, which
// grants only what each user may do.
func TestTokenAuthCommands(t *testing.T) {
	testutil.RequiresRoot(t)
	ts := testutil.StartTokenServer(t, testutil.TokenServerOptions{
		Users:  map[string]string{"learner": "s3cret", "reader": "r3ad"},
		Grants: map[string][]string{"learner": {"pull", "push"}, "reader": {"pull"}},
	})
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{Token: ts})
	root := t.TempDir()
	authfile := filepath.Join(t.TempDir(), "stepbox", "auth.json")
	readerAuth := filepath.Join(t.TempDir(), "auth.json")
	sb := func(stdin string, args ...string) result {
		t.Helper()
		return stepboxWith(t, strings.NewReader(stdin), nil, append([]string{"--root", root}, args...)...)
	}
	one := func(r result, want string) {
		t.Helper()
		if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q", r.code, r.stderr, want)
		}
	}
	name := reg.Addr + "/private/hello:v1"
	if r := sb(string(tarOf(t, "hello=hi")), "import", "-", name); r.code != 0 {
		t.Fatal(r.stderr)
	}

	// A wrong password: the token server refuses it, nothing is kept.
	one(sb("wrong\n", "login", "--authfile", authfile, "--tls-verify=false", "-u", "learner", "--password-stdin", reg.Addr),
		"refused the credentials")
	if _, err := os.Stat(authfile); err == nil {
		t.Error("a refused login wrote the credentials file")
	}
	if reqs := ts.Requests(); len(reqs) == 0 || reqs[len(reqs)-1].Status != 401 {
		t.Errorf("the token server did not refuse the wrong password: %+v", reqs)
	}

	r := sb("s3cret\n", "login", "--authfile", authfile, "--tls-verify=false", "-u", "learner", "--password-stdin", reg.Addr)
	if r.code != 0 || r.stdout != "Login Succeeded\n" || r.stderr != "" {
		t.Fatalf("login: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if st, err := os.Stat(authfile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v %v", st, err)
	}

	n := len(ts.Requests())
	if r := sb("", "push", "--authfile", authfile, "--tls-verify=false", name); r.code != 0 {
		t.Fatalf("push through the token exchange: %s", r.stderr)
	}
	if !granted(ts.Requests()[n:], "learner", "repository:private/hello:push,pull", "repository:private/hello:pull,push") {
		t.Errorf("push did not get a push token: %+v", ts.Requests()[n:])
	}
	n = len(ts.Requests())
	if r := stepboxWith(t, nil, nil, "--root", t.TempDir(), "pull", "-q", "--authfile", authfile, "--tls-verify=false", name); r.code != 0 || r.stdout != name+"\n" {
		t.Fatalf("pull through the token exchange: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if !granted(ts.Requests()[n:], "learner", "repository:private/hello:pull") {
		t.Errorf("pull did not get a pull token: %+v", ts.Requests()[n:])
	}

	// A user granted only pull may pull, not push.
	if r := sb("r3ad\n", "login", "--authfile", readerAuth, "--tls-verify=false", "-u", "reader", "--password-stdin", reg.Addr); r.code != 0 {
		t.Fatalf("reader login: %s", r.stderr)
	}
	if r := stepboxWith(t, nil, nil, "--root", t.TempDir(), "pull", "-q", "--authfile", readerAuth, "--tls-verify=false", name); r.code != 0 {
		t.Errorf("reader pull: %s", r.stderr)
	}
	n = len(ts.Requests())
	one(sb("", "push", "--authfile", readerAuth, "--tls-verify=false", name, reg.Addr+"/private/hello:reader"), "or they do not allow this")
	asked := false
	for _, q := range ts.Requests()[n:] {
		asked = asked || q.User == "reader" && slices.ContainsFunc(q.Scopes, func(s string) bool { return strings.Contains(s, "push") })
		for _, g := range q.Granted {
			if strings.Contains(g, "push") {
				t.Errorf("the reader was granted %s", g)
			}
		}
	}
	if !asked {
		t.Errorf("the reader's push never asked for push: %+v", ts.Requests()[n:])
	}
	if slices.ContainsFunc(reg.Requests(t), func(s string) bool { return strings.Contains(s, "/manifests/reader") && strings.HasPrefix(s, "PUT ") }) {
		t.Error("the registry took the reader's push")
	}
}

// granted says whether one of reqs gave user one of the grants.
func granted(reqs []testutil.TokenRequest, user string, grants ...string) bool {
	for _, q := range reqs {
		if q.User != user || q.Status != 200 {
			continue
		}
		for _, g := range q.Granted {
			if slices.Contains(grants, g) {
				return true
			}
		}
	}
	return false
}
