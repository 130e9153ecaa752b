package lessons

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stepbox/stepbox/internal/childproc"
)

// The registry of lesson 14: Debian's docker-registry (the CNCF
// distribution registry), started by the lesson on 127.0.0.1 with a
// configuration and a storage of its own in the lab's directory, and
// stopped, its storage removed, when the lab closes (Ctrl-C included).
// Nothing it serves is reachable from another host.

// EnvRegistryBinary names the registry program lesson 14 starts; by
// default docker-registry on the PATH. A path that is not there shows the
// lesson's way without a registry (save and load).
const EnvRegistryBinary = "STEPBOX_REGISTRY_BINARY"

// registryBinary is the registry program to start, "" when there is none.
func registryBinary() string {
	name := os.Getenv(EnvRegistryBinary)
	if name == "" {
		name = "docker-registry"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

// labRegistry is a running registry.
type labRegistry struct {
	Addr    string // 127.0.0.1:PORT
	Storage string // its filesystem storage
	cmd     *exec.Cmd
	done    <-chan struct{}
}

// startRegistry starts bin serving from dir/storage on a free port of
// 127.0.0.1, and waits until it answers.
func startRegistry(bin, dir string) (*labRegistry, error) {
	var last error
	for try := 0; try < 5; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := l.Addr().String()
		l.Close()
		r := &labRegistry{Addr: addr, Storage: filepath.Join(dir, "storage")}
		// No blob descriptor cache: the storage is what the registry
		// serves. No upload purging, no notifications: it talks to its
		// clients and nobody else (distribution's configuration.md).
		cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: %s\n", r.Storage, addr)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		if last = r.start(bin, cfgPath, filepath.Join(dir, "registry.log")); last == nil {
			return r, nil
		}
		os.RemoveAll(r.Storage)
	}
	return nil, fmt.Errorf("start %s on 127.0.0.1: %w", bin, last)
}

func (r *labRegistry) start(bin, cfg, logPath string) error {
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	// Its own process group, and killed should stepbox die first.
	done, err := childproc.StartServer(cmd, logPath, 10*time.Second, func() bool {
		code, err := r.ping()
		return err == nil && code == http.StatusOK
	})
	var exited *childproc.ExitedError
	switch {
	case errors.As(err, &exited):
		return fmt.Errorf("it exited: %s", strings.TrimSpace(exited.Log))
	case errors.Is(err, childproc.ErrNotReady):
		return fmt.Errorf("it did not answer on %s in 10 s", r.Addr)
	case err != nil:
		return err
	}
	r.cmd, r.done = cmd, done
	return nil
}

// ping asks the registry's base endpoint (distribution spec, "GET /v2/").
func (r *labRegistry) ping() (int, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + r.Addr + "/v2/")
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// stop ends the registry: SIGTERM, then SIGKILL.
func (r *labRegistry) stop() error {
	if r != nil {
		childproc.Stop(r.cmd, r.done, 5*time.Second)
	}
	return nil
}

// blobsDir is where the registry keeps its blobs, one directory each,
// named by its digest (distribution's storage driver layout, paths.go).
func blobsDir(storage string) string {
	return filepath.Join(storage, "docker/registry/v2/blobs/sha256")
}

// storedBlobs lists the digests of the blobs in the registry's storage,
// and how many of them hold content whose SHA-256 is their name.
func storedBlobs(storage string) (names []string, good int, err error) {
	files, err := filepath.Glob(filepath.Join(blobsDir(storage), "*", "*", "data"))
	if err != nil {
		return nil, 0, err
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f))
		names = append(names, "sha256:"+name)
		if sumOf(f) == name {
			good++
		}
	}
	return names, good, nil
}

// sumOf is the hex SHA-256 of a file's content, "" when unreadable.
func sumOf(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// tagLink is the manifest digest the registry's storage links to a tag
// of repository repo.
func tagLink(storage, repo, tag string) string {
	b, err := os.ReadFile(filepath.Join(storage, "docker/registry/v2/repositories", repo, "_manifests/tags", tag, "current/link"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// errNoRegistry says the lab has no registry running.
var errNoRegistry = errors.New("no registry")
