package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\n"), 0o644)
	for _, tc := range []struct {
		in      string
		want    specs.User
		home    string
		wantErr bool
	}{
		{in: "0", want: specs.User{}, home: "/root"},
		{in: "alice", want: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}, home: "/home/alice"},
		{in: "1000:10", want: specs.User{UID: 1000, GID: 10}, home: "/home/alice"},
		{in: "4242", want: specs.User{UID: 4242, GID: 0}, home: "/"},
		{in: "4242:4242", want: specs.User{UID: 4242, GID: 4242}, home: "/"},
		{in: "alice:wheel", want: specs.User{UID: 1000, GID: 10}, home: "/home/alice"},
		{in: "mallory", wantErr: true},
		{in: "alice:nogroup", wantErr: true},
		{in: ":1", wantErr: true},
		{in: "1:", wantErr: true},
	} {
		u, home, err := ResolveUser(root, tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: err = %v", tc.in, err)
			continue
		}
		if err != nil {
			continue
		}
		if d := cmp.Diff(tc.want, u); d != "" || home != tc.home {
			t.Errorf("%q: home %q, user diff (-want +got):\n%s", tc.in, home, d)
		}
	}
}

func TestResolveUserDoesNotFollowSymlinksOut(t *testing.T) {
	root := t.TempDir()
	// A hostile rootfs pointing its passwd at the host's.
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink("/etc/passwd", filepath.Join(root, "etc/passwd"))
	if _, _, err := ResolveUser(root, "root"); err == nil {
		t.Fatal("resolved a user through a symlink to the host's /etc/passwd")
	}
}

func TestValidateID(t *testing.T) {
	for id, ok := range map[string]bool{
		"web": true, "a": true, "web-1.db_x": true, "0abc": true,
		"": false, "-x": false, ".x": false, "_x": false, "../x": false, "a/b": false,
		"a b": false, "é": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
	} {
		if err := ValidateID(id); (err == nil) != ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}
