package image

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/stepbox/stepbox/internal/hint"
)

// AuthFile is a file of registry credentials in the format of docker's
// config.json and podman's auth.json: {"auths": {"REGISTRY": {"auth":
// base64("user:password")}}}. The password is encoded, not encrypted, as
// in theirs without a credential helper: the file's mode (0600, in a
// directory of mode 0700) is what keeps it secret. Keys other than
// "auths", and entries stepbox does not touch, are kept as they are, so
// the file can be shared with podman and skopeo (REGISTRY_AUTH_FILE).
type AuthFile struct {
	Path string
}

// EnvAuthFile names the credentials file, as it does for podman, buildah
// and skopeo.
const EnvAuthFile = "REGISTRY_AUTH_FILE"

// DefaultAuthFile is where a user's credentials live: $REGISTRY_AUTH_FILE
// when set, else $XDG_CONFIG_HOME/stepbox/auth.json, else
// ~/.config/stepbox/auth.json.
func DefaultAuthFile() (string, error) {
	if p := os.Getenv(EnvAuthFile); p != "" {
		return p, nil
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return "", hint.With(errors.New("no place for registry credentials: neither HOME nor XDG_CONFIG_HOME is set"),
				"set HOME, or name a file with --authfile or "+EnvAuthFile)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "stepbox", "auth.json"), nil
}

// RegistryKey is the name credentials are filed under: the registry's
// host[:port] without a scheme or path, and "docker.io" for Docker Hub
// whichever of its names is given (docker files it as
// "https://index.docker.io/v1/", podman as "docker.io").
func RegistryKey(s string) (string, error) {
	in := s
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "docker.io", name.DefaultRegistry, "registry-1.docker.io":
		return "docker.io", nil
	}
	if _, err := name.NewRegistry(s); err != nil || s == "" {
		return "", hint.With(fmt.Errorf("invalid registry %q", in), "give a registry's host, as 127.0.0.1:5000 or registry.example.com")
	}
	return s, nil
}

type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// read returns the file's top-level keys and its auths; a missing file is
// empty.
func (a AuthFile) read() (map[string]json.RawMessage, map[string]json.RawMessage, error) {
	top := map[string]json.RawMessage{}
	auths := map[string]json.RawMessage{}
	b, err := os.ReadFile(a.Path)
	if errors.Is(err, os.ErrNotExist) {
		return top, auths, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read credentials %s: %w", a.Path, err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return top, auths, nil
	}
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, nil, hint.With(fmt.Errorf("read credentials %s: %w", a.Path, err), "fix or remove the file, then log in again")
	}
	if raw, ok := top["auths"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return nil, nil, hint.With(fmt.Errorf("read credentials %s: auths: %w", a.Path, err), "fix or remove the file, then log in again")
		}
	}
	return top, auths, nil
}

// find returns the entry filed for registry key, under any of the names
// docker and podman give it.
func find(auths map[string]json.RawMessage, key string) (string, *authEntry, error) {
	for k, raw := range auths {
		if nk, err := RegistryKey(k); err != nil || nk != key {
			continue
		}
		var e authEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return k, nil, fmt.Errorf("credentials for %s: %w", key, err)
		}
		return k, &e, nil
	}
	return "", nil, nil
}

// Get returns the credentials filed for registry, or ok false.
func (a AuthFile) Get(registry string) (cfg authn.AuthConfig, ok bool, err error) {
	key, err := RegistryKey(registry)
	if err != nil {
		return cfg, false, err
	}
	_, auths, err := a.read()
	if err != nil {
		return cfg, false, err
	}
	_, e, err := find(auths, key)
	if err != nil || e == nil {
		return cfg, false, err
	}
	cfg = authn.AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken}
	if e.Auth != "" {
		b, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return cfg, false, fmt.Errorf("credentials for %s in %s: %w", key, a.Path, err)
		}
		u, p, found := strings.Cut(string(b), ":")
		if !found {
			return cfg, false, fmt.Errorf("credentials for %s in %s: no ':' between user and password", key, a.Path)
		}
		cfg.Username, cfg.Password = u, p
	}
	return cfg, true, nil
}

// Set files user and password for registry, replacing what was there.
func (a AuthFile) Set(registry, user, password string) error {
	key, err := RegistryKey(registry)
	if err != nil {
		return err
	}
	top, auths, err := a.read()
	if err != nil {
		return err
	}
	if k, _, _ := find(auths, key); k != "" {
		delete(auths, k)
	}
	e, _ := json.Marshal(authEntry{Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password))})
	auths[key] = e
	return a.write(top, auths)
}

// Remove forgets the credentials for registry; removed is false when
// there were none.
func (a AuthFile) Remove(registry string) (removed bool, err error) {
	key, err := RegistryKey(registry)
	if err != nil {
		return false, err
	}
	top, auths, err := a.read()
	if err != nil {
		return false, err
	}
	k, _, _ := find(auths, key)
	if k == "" {
		return false, nil
	}
	delete(auths, k)
	return true, a.write(top, auths)
}

// write replaces the file whole: a temporary file of mode 0600 beside
// it, synced and renamed, so a reader never sees half of one and the
// secret is never readable by others, even for a moment.
func (a AuthFile) write(top, auths map[string]json.RawMessage) error {
	raw, err := json.Marshal(auths)
	if err != nil {
		return err
	}
	top["auths"] = raw
	b, err := json.MarshalIndent(top, "", "\t")
	if err != nil {
		return err
	}
	dir := filepath.Dir(a.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write credentials %s: %w", a.Path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(a.Path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write credentials %s: %w", a.Path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write credentials %s: %w", a.Path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), a.Path); err != nil {
		return fmt.Errorf("write credentials %s: %w", a.Path, err)
	}
	return nil
}

// Keychain gives go-containerregistry the file's credentials for each
// registry it talks to, and anonymous access where there are none.
func (a AuthFile) Keychain() authn.Keychain { return fileKeychain{a} }

type fileKeychain struct{ a AuthFile }

func (k fileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	cfg, ok, err := k.a.Get(r.RegistryStr())
	if err != nil {
		return nil, err
	}
	if !ok {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(cfg), nil
}
