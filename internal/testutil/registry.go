package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/childproc"
)

// Registry is a real OCI distribution registry (Debian's docker-registry,
// the CNCF distribution registry) that a test started on 127.0.0.1 with a
// configuration of its own and its storage in a temporary directory. It
// is stopped, and its storage removed, when the test ends, pass or fail.
// The package's default service (/etc/docker/registry) is never used.
type Registry struct {
	// Addr is host:port, 127.0.0.1 and a free port.
	Addr string
	// Storage is the registry's filesystem storage: what a test may read
	// (or damage) to see what the registry keeps.
	Storage string
	// Log is the registry's own log: one line per request it answered.
	Log string

	cmd  *exec.Cmd
	done <-chan struct{}
}

// RegistryOptions change StartRegistry.
type RegistryOptions struct {
	// Users are htpasswd users (name → password): the registry then wants
	// basic authentication for everything. None: anonymous access.
	Users map[string]string
	// Token, when set, has the registry want bearer tokens from that
	// token server (auth: token:) instead; Users is then ignored. Addr is
	// then the token server's, in front of the registry.
	Token *TokenServer
}

// StartRegistry starts a registry for t, or skips (fails under
// STEPBOX_TEST_ROOT=1) when docker-registry, or htpasswd for users, is
// missing.
func StartRegistry(t testing.TB, o RegistryOptions) *Registry {
	t.Helper()
	bin := RequiresCommand(t, "docker-registry")
	dir := t.TempDir()
	r := &Registry{Storage: filepath.Join(dir, "storage"), Log: filepath.Join(dir, "registry.log")}
	auth := ""
	if o.Token != nil {
		auth = fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
			o.Token.Realm, o.Token.Service, o.Token.Issuer, o.Token.CertFile)
	} else if len(o.Users) > 0 {
		htpasswd := RequiresCommand(t, "htpasswd")
		file := filepath.Join(dir, "htpasswd")
		for u, p := range o.Users {
			// -B: bcrypt, the only hash the registry accepts.
			args := []string{"-B", "-b", file, u, p}
			if _, err := os.Stat(file); err != nil {
				args = append([]string{"-c"}, args...)
			}
			if out, err := exec.Command(htpasswd, args...).CombinedOutput(); err != nil {
				t.Fatalf("htpasswd: %v: %s", err, out)
			}
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: stepbox-test\n    path: %s\n", file)
	}
	var lastErr error
	for try := 0; try < 5; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		r.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		// No cache of blob descriptors: what a test does to the storage is
		// what the registry sees. No upload purging, no notifications: it
		// talks to nothing but its clients.
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
%s`, r.Storage, r.Addr, auth)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if lastErr = r.start(bin, cfgPath); lastErr == nil {
			t.Cleanup(r.Stop)
			if o.Token != nil {
				o.Token.proxyTo(r.Addr)
				r.Addr = o.Token.Addr
			}
			return r
		}
	}
	t.Fatalf("start docker-registry: %v", lastErr)
	return nil
}

func (r *Registry) start(bin, cfg string) error {
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	// Its own process group, and killed with the test binary.
	done, err := childproc.StartServer(cmd, r.Log, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + r.Addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
	})
	var exited *childproc.ExitedError
	switch {
	case errors.As(err, &exited):
		return fmt.Errorf("docker-registry exited: %s", lastLines(exited.Log, 3))
	case errors.Is(err, childproc.ErrNotReady):
		return fmt.Errorf("docker-registry did not answer on %s in 10 s", r.Addr)
	case err != nil:
		return err
	}
	r.cmd, r.done = cmd, done
	return nil
}

// Stop stops the registry (SIGTERM, then SIGKILL) and waits for it. The
// registry can be stopped early to play one that is down.
func (r *Registry) Stop() { childproc.Stop(r.cmd, r.done, 5*time.Second) }

// Requests returns the requests the registry has answered as "METHOD
// PATH" (from its log, in order), for the test to count what a client
// asked for.
func (r *Registry) Requests(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(r.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "response completed") {
			continue
		}
		m, u := logField(line, "http.request.method"), logField(line, "http.request.uri")
		if m != "" && u != "" {
			out = append(out, m+" "+u)
		}
	}
	return out
}

// logField reads key=value or key="value" from a logrus text line.
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		v = v[1:]
		if j := strings.IndexByte(v, '"'); j >= 0 {
			return v[:j]
		}
		return v
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		return v[:j]
	}
	return v
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
