package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stepbox/stepbox/internal/testutil"
)

// push, pull and the image aliases from the outside, against a real
// docker-registry on 127.0.0.1: docker's lines on standard output, nothing
// on standard error when it is a pipe; errors are one line, exit 1.
func TestPushPullCommands(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	root, root2 := t.TempDir(), t.TempDir()
	authfile := filepath.Join(t.TempDir(), "auth.json")
	sb := func(root string, stdin []byte, args ...string) result {
		t.Helper()
		return stepboxWith(t, bytes.NewReader(stdin), nil, append([]string{"--root", root}, args...)...)
	}
	ok := func(r result) result {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if r.stderr != "" {
			t.Errorf("standard error on a pipe: %q", r.stderr)
		}
		return r
	}
	fail := func(r result, want string) {
		t.Helper()
		if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, " (") {
			t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q and a hint", r.code, r.stderr, want)
		}
	}
	name := reg.Addr + "/course/hello:v1"
	id := strings.TrimSpace(ok(sb(root, tarOf(t, "bin/", "bin/hello=hi", "etc/", "etc/motd=welcome"), "import", "-", name)).stdout)

	fail(sb(root, nil, "push", "--authfile", authfile, name), "--tls-verify=false")
	r := ok(sb(root, nil, "push", "--authfile", authfile, "--tls-verify=false", name))
	if !regexp.MustCompile(`^The push refers to repository \[` + regexp.QuoteMeta(reg.Addr) + `/course/hello\]\n[0-9a-f]{12}: Pushed\nv1: digest: sha256:[0-9a-f]{64} size: \d+\n$`).MatchString(r.stdout) {
		t.Errorf("push printed:\n%s", r.stdout)
	}
	digest := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(r.stdout)
	r = ok(sb(root, nil, "image", "push", "--authfile", authfile, "--tls-verify=false", name, reg.Addr+"/course/hello:copy"))
	if !strings.Contains(r.stdout, ": Layer already exists\n") || !strings.Contains(r.stdout, "copy: digest: "+digest) {
		t.Errorf("second push printed:\n%s", r.stdout)
	}
	if r := ok(sb(root, nil, "push", "-q", "--authfile", authfile, "--tls-verify=false", name)); r.stdout != digest+"\n" {
		t.Errorf("push -q printed %q", r.stdout)
	}

	r = ok(sb(root2, nil, "pull", "--authfile", authfile, "--tls-verify=false", name))
	if !regexp.MustCompile(`^v1: Pulling from ` + regexp.QuoteMeta(reg.Addr) + `/course/hello\n[0-9a-f]{12}: Pull complete\nDigest: ` + digest +
		`\nStatus: Downloaded newer image for ` + regexp.QuoteMeta(name) + `\n` + regexp.QuoteMeta(name) + `\n$`).MatchString(r.stdout) {
		t.Errorf("pull printed:\n%s", r.stdout)
	}
	r = ok(sb(root2, nil, "image", "pull", "--authfile", authfile, "--tls-verify=false", name))
	if !strings.Contains(r.stdout, ": Already exists\n") || !strings.Contains(r.stdout, "Status: Image is up to date for "+name) {
		t.Errorf("second pull printed:\n%s", r.stdout)
	}
	byDigest := reg.Addr + "/course/hello@" + digest
	if r := ok(sb(root2, nil, "pull", "-q", "--authfile", authfile, "--tls-verify=false", byDigest)); r.stdout != byDigest+"\n" {
		t.Errorf("pull -q printed %q", r.stdout)
	}
	r = ok(sb(root2, nil, "image", "inspect", byDigest))
	var insp []inspectedImage
	if err := json.Unmarshal([]byte(r.stdout), &insp); err != nil || len(insp) != 1 || insp[0].ID != id ||
		len(insp[0].RepoDigests) != 1 || insp[0].RepoDigests[0] != byDigest || insp[0].RepoTags[0] != name {
		t.Errorf("inspect after pull: %v %+v", err, insp)
	}

	before, _ := os.ReadFile(filepath.Join(root2, "lib/images/images.json"))
	fail(sb(root2, nil, "pull", "--authfile", authfile, "--tls-verify=false", reg.Addr+"/course/hello:nope"), "no such image")
	fail(sb(root2, nil, "pull", "--authfile", authfile, "Bad Name"), "invalid reference")
	fail(sb(root2, nil, "push", "--authfile", authfile, "--tls-verify=false", "nope:v1", reg.Addr+"/x:v1"), "no such image")
	reg.Stop()
	fail(sb(root2, nil, "pull", "--authfile", authfile, "--tls-verify=false", reg.Addr+"/course/other:v1"), "cannot reach "+reg.Addr)
	if after, _ := os.ReadFile(filepath.Join(root2, "lib/images/images.json")); !bytes.Equal(before, after) {
		t.Error("failed pulls changed images.json")
	}
	if ents, _ := os.ReadDir(filepath.Join(root2, "lib/images/tmp")); len(ents) != 0 {
		t.Errorf("tmp/ holds %d files after failed pulls", len(ents))
	}
}

// login checks the password with the registry before it keeps it (mode
// 0600, docker's format); pull and push then use it; logout forgets it.
func TestLoginLogoutCommands(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{Users: map[string]string{"learner": "s3cret"}})
	root := t.TempDir()
	authfile := filepath.Join(t.TempDir(), "stepbox", "auth.json")
	sb := func(stdin string, args ...string) result {
		t.Helper()
		return stepboxWith(t, strings.NewReader(stdin), nil, append([]string{"--root", root}, args...)...)
	}
	one := func(r result, code int, want string) {
		t.Helper()
		if r.code != code || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", r.code, r.stderr, code, want)
		}
	}
	name := reg.Addr + "/private/hello:v1"
	if r := sb(string(tarOf(t, "hello=hi")), "import", "-", name); r.code != 0 {
		t.Fatal(r.stderr)
	}
	one(sb("", "push", "--authfile", authfile, "--tls-verify=false", name), 1, "wants credentials (log in first: stepbox login "+reg.Addr+")")
	one(sb("wrong\n", "login", "--authfile", authfile, "--tls-verify=false", "-u", "learner", "--password-stdin", reg.Addr), 1,
		"refused the credentials")
	if _, err := os.Stat(authfile); err == nil {
		t.Error("a refused login wrote the credentials file")
	}
	one(sb("", "login", "--authfile", authfile, "--password-stdin", reg.Addr), 2, "needs -u USER")
	r := sb("s3cret\n", "login", "--authfile", authfile, "--tls-verify=false", "-u", "learner", "--password-stdin", reg.Addr)
	if r.code != 0 || r.stdout != "Login Succeeded\n" || r.stderr != "" {
		t.Fatalf("login: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	st, err := os.Stat(authfile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v %v", st, err)
	}
	var file struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	b, _ := os.ReadFile(authfile)
	if json.Unmarshal(b, &file) != nil || file.Auths[reg.Addr].Auth != base64.StdEncoding.EncodeToString([]byte("learner:s3cret")) {
		t.Errorf("credentials file holds %s", b)
	}
	if r := sb("", "push", "--authfile", authfile, "--tls-verify=false", name); r.code != 0 {
		t.Errorf("push after login: %s", r.stderr)
	}
	if r := stepboxWith(t, nil, nil, "--root", t.TempDir(), "pull", "-q", "--authfile", authfile, "--tls-verify=false", name); r.code != 0 {
		t.Errorf("pull after login: %s", r.stderr)
	}
	// REGISTRY_AUTH_FILE, as podman and skopeo read it.
	t.Setenv("REGISTRY_AUTH_FILE", authfile)
	if r := stepboxWith(t, nil, nil, "--root", t.TempDir(), "pull", "-q", "--tls-verify=false", name); r.code != 0 {
		t.Errorf("pull with REGISTRY_AUTH_FILE: %s", r.stderr)
	}
	r = sb("", "login", "--authfile", authfile, "--tls-verify=false", "-u", "learner", "-p", "s3cret", reg.Addr)
	if r.code != 0 || !strings.Contains(r.stderr, "--password-stdin") {
		t.Errorf("login -p: exit %d, stderr %q (want a warning)", r.code, r.stderr)
	}
	if r := sb("", "logout", "--authfile", authfile, reg.Addr); r.code != 0 || r.stdout != "Removed login credentials for "+reg.Addr+"\n" {
		t.Errorf("logout: %d %q %q", r.code, r.stdout, r.stderr)
	}
	one(sb("", "logout", "--authfile", authfile, reg.Addr), 1, "not logged in to "+reg.Addr)
	os.WriteFile(authfile, []byte(`{"auths":{"`+reg.Addr+`":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("learner:old"))+`"}}}`), 0o600)
	one(sb("", "pull", "--authfile", authfile, "--tls-verify=false", name), 1, "refused the credentials, or they do not allow this (log in again")
}
