package image

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	digest "github.com/opencontainers/go-digest"

	"github.com/stepbox/stepbox/internal/hint"
)

// RemoteOptions change Pull, Push and Login.
type RemoteOptions struct {
	// Platform picks an image from a manifest list or index, as
	// "os/arch[/variant]"; linux and this machine's architecture when
	// empty.
	Platform string
	// Insecure is podman's --tls-verify=false: the named registry (and no
	// other host) may answer over plain HTTP or with a certificate nobody
	// vouches for. Without it stepbox speaks only verified HTTPS, even to
	// 127.0.0.1 and private addresses, where go-containerregistry alone
	// would fall back to HTTP.
	Insecure bool
	// Keychain gives the credentials for a registry (AuthFile.Keychain);
	// anonymous when nil.
	Keychain authn.Keychain
	// Jobs is how many blobs move at once (3 when 0, as docker's
	// max-concurrent-downloads).
	Jobs int
	// Progress, when set, hears about each layer as it goes. It is called
	// from several goroutines, never at once.
	Progress func(LayerProgress)
	// Transport replaces the HTTP transport under the guard (tests).
	Transport http.RoundTripper
}

// LayerStatus is what happened to a layer, in docker's words.
type LayerStatus string

const (
	LayerWaiting     LayerStatus = "Waiting"
	LayerDownloading LayerStatus = "Downloading"
	LayerExtracting  LayerStatus = "Extracting"
	LayerPulled      LayerStatus = "Pull complete"
	LayerHad         LayerStatus = "Already exists"
	LayerPushing     LayerStatus = "Pushing"
	LayerPushed      LayerStatus = "Pushed"
	LayerThere       LayerStatus = "Layer already exists"
)

// LayerProgress is one layer's state during a pull or a push.
type LayerProgress struct {
	Index, Layers int // 0-based, and how many
	Digest        digest.Digest
	Status        LayerStatus
	Bytes, Total  int64
}

// Short is the layer's name as docker prints it: 12 hex digits.
func (p LayerProgress) Short() string { return ShortID(p.Digest) }

// Done reports whether the layer has reached its end.
func (p LayerProgress) Done() bool {
	switch p.Status {
	case LayerPulled, LayerHad, LayerPushed, LayerThere:
		return true
	}
	return false
}

const defaultJobs = 3

// ParseRemoteRef parses an image reference as docker pull takes it:
// [REGISTRY/]NAME[:TAG] (latest by default) or NAME@sha256:DIGEST; a
// "docker://" prefix (podman's transport) is allowed.
func ParseRemoteRef(s string) (name.Reference, error) {
	in := s
	s = strings.TrimPrefix(s, "docker://")
	r, err := name.ParseReference(s, name.WithDefaultTag(name.DefaultTag), name.StrictValidation)
	if err != nil && !strings.Contains(s, "@") {
		// StrictValidation wants a tag; only a missing one is defaulted.
		r, err = name.ParseReference(s, name.WithDefaultTag(name.DefaultTag))
	}
	if err != nil {
		return nil, hint.With(fmt.Errorf("invalid reference %q: %v", in, strings.TrimPrefix(err.Error(), "could not parse reference: ")),
			"use [REGISTRY/]NAME[:TAG] or NAME@sha256:DIGEST, in lower case")
	}
	return r, nil
}

// refString is a reference as stepbox shows it: the familiar tag, or
// repository@digest.
func refString(r name.Reference) string {
	switch r := r.(type) {
	case name.Tag:
		return familiar(r)
	case name.Digest:
		return familiarRepo(r.Context()) + "@" + r.DigestStr()
	}
	return r.String()
}

// client is one conversation with one registry.
type client struct {
	reg   name.Registry
	guard *guard
	opts  []remote.Option
	o     RemoteOptions
}

func newClient(ctx context.Context, reg name.Registry, o RemoteOptions) *client {
	g := newGuard(reg, o)
	kc := o.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain()
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = defaultJobs
	}
	return &client{reg: reg, guard: g, o: o, opts: []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(g),
		remote.WithAuthFromKeychain(kc),
		remote.WithJobs(jobs),
		remote.WithUserAgent("stepbox"),
		// A registry that is down should say so in about a second, not
		// after go-containerregistry's default of 1 + 3 + 9 s.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
	}}
}

// guard is the HTTP transport under go-containerregistry's: it keeps
// --tls-verify=false to the named registry, checks a manifest fetched by
// tag against the digest the registry names for it, and remembers what
// went wrong underneath so that the error can say it in one line.
type guard struct {
	host     string // the registry's host[:port]
	hostname string
	insecure bool
	secure   http.RoundTripper
	lax      http.RoundTripper // no certificate check, for the named registry only

	mu        sync.Mutex
	refused   bool  // plain HTTP was asked for without --tls-verify=false
	httpsErr  error // the last failure of an HTTPS request to the registry
	netErr    error // the last failure to reach it at all
	digestErr error // a manifest whose content is not what the registry says
}

func newGuard(reg name.Registry, o RemoteOptions) *guard {
	base := o.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	g := &guard{host: reg.RegistryStr(), insecure: o.Insecure, secure: base, lax: base}
	g.hostname, _, _ = strings.Cut(g.host, ":")
	if h, _, err := net.SplitHostPort(g.host); err == nil {
		g.hostname = h
	}
	if t, ok := base.(*http.Transport); ok && o.Insecure {
		lax := t.Clone()
		lax.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --tls-verify=false, for the named registry only
		g.lax = lax
	}
	return g
}

var errPlainHTTP = errors.New("plain HTTP refused without --tls-verify=false")

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := g.secure
	sameHost := req.URL.Host == g.host
	// A token server on another port of the same host (a registry's own
	// auth service) gets the same trust, as podman gives its client.
	// go-containerregistry (v0.22) asks such a realm only when the host is
	// a name: it refuses a realm on a loopback or private IP other than
	// the registry's own host and port (its SSRF guard), so a registry
	// named 127.0.0.1:5000 must serve its tokens on that address too, as
	// the tests' token server does.
	sameMachine := req.URL.Hostname() == g.hostname
	if req.URL.Scheme == "http" {
		if !g.insecure || !sameMachine {
			g.mu.Lock()
			g.refused = true
			g.mu.Unlock()
			return nil, errPlainHTTP
		}
	}
	if g.insecure && sameMachine {
		rt = g.lax
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		g.mu.Lock()
		if sameHost && req.URL.Scheme == "https" {
			g.httpsErr = err
		}
		if isUnreachable(err) {
			g.netErr = err
		}
		g.mu.Unlock()
		return nil, err
	}
	// The distribution spec ("Pulling manifests") has the registry name a
	// manifest's digest in Docker-Content-Digest. A manifest fetched by
	// digest is checked by go-containerregistry; one fetched by tag is
	// not, so a registry whose storage was damaged or tampered with would
	// hand over other content than the tag names. Check it here, as the
	// body is read.
	if req.Method == http.MethodGet && resp.StatusCode == http.StatusOK && isManifestPath(req.URL.Path) {
		if want, err := digest.Parse(resp.Header.Get("Docker-Content-Digest")); err == nil && want.Algorithm() == digest.SHA256 {
			resp.Body = &checkedBody{ReadCloser: resp.Body, h: sha256.New(), want: want, g: g, what: req.URL.Path}
		}
	}
	return resp, nil
}

func isManifestPath(p string) bool {
	i := strings.LastIndex(p, "/manifests/")
	return strings.HasPrefix(p, "/v2/") && i > 0 && !strings.Contains(p[i+len("/manifests/"):], "/")
}

// checkedBody hashes a manifest as it is read and fails at its end if it
// is not what the registry said.
type checkedBody struct {
	io.ReadCloser
	h    hash.Hash
	want digest.Digest
	g    *guard
	what string
}

// ErrDigestMismatch is a manifest or blob whose content does not have
// the digest that names it.
var ErrDigestMismatch = errors.New("content does not match its digest")

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		got := "sha256:" + hex.EncodeToString(b.h.Sum(nil))
		if got != string(b.want) {
			e := fmt.Errorf("%w: the registry names the manifest %s but sent one with digest %s", ErrDigestMismatch, short(b.want), short(digest.Digest(got)))
			b.g.mu.Lock()
			b.g.digestErr = e
			b.g.mu.Unlock()
			return n, e
		}
	}
	return n, err
}

func isUnreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.As(err, &dns) || errors.As(err, &op) && op.Op == "dial"
}

// explain turns what went wrong talking to a registry into one line: what
// happened, and (as a hint) what to do.
func (c *client) explain(what string, err error) error {
	if err == nil {
		return nil
	}
	reg := c.reg.RegistryStr()
	c.guard.mu.Lock()
	refused, httpsErr, netErr, digestErr := c.guard.refused, c.guard.httpsErr, c.guard.netErr, c.guard.digestErr
	c.guard.mu.Unlock()
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: interrupted", what)
	case digestErr != nil || errors.Is(err, ErrDigestMismatch) || strings.Contains(err.Error(), "does not match requested digest") ||
		strings.Contains(err.Error(), "error verifying"):
		e := digestErr
		if e == nil {
			e = fmt.Errorf("%w: %v", ErrDigestMismatch, err)
		}
		return hint.With(fmt.Errorf("%s: %w", what, e), "the registry's copy is damaged or was tampered with; nothing of it was stored")
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		codes := map[transport.ErrorCode]bool{}
		for _, d := range terr.Errors {
			codes[d.Code] = true
		}
		switch {
		case terr.StatusCode == http.StatusUnauthorized || codes[transport.UnauthorizedErrorCode]:
			switch {
			case c.hasCredentials() && strings.HasPrefix(what, "login "):
				return hint.With(fmt.Errorf("%s: %s refused the credentials", what, reg), "log in again with the right user and password: stepbox login "+reg)
			case c.hasCredentials():
				// distribution answers 401 both to credentials it no
				// longer takes and to a token without the scope asked
				// for (a user who may pull but not push), with the same
				// body; say both.
				return hint.With(fmt.Errorf("%s: %s refused the credentials, or they do not allow this", what, reg),
					"log in again with the right user and password, or as a user allowed to do this: stepbox login "+reg)
			}
			return hint.With(fmt.Errorf("%s: %s wants credentials", what, reg), "log in first: stepbox login "+reg)
		case terr.StatusCode == http.StatusForbidden || codes[transport.DeniedErrorCode]:
			return hint.With(fmt.Errorf("%s: %s denied access", what, reg), "check that your account may use this repository")
		case codes[transport.ManifestUnknownErrorCode] || codes[transport.NameUnknownErrorCode] || terr.StatusCode == http.StatusNotFound:
			return hint.With(fmt.Errorf("%s: no such image in %s (manifest unknown)", what, reg), "check the repository's name and the tag or digest")
		}
		return fmt.Errorf("%s: %s answered: %s", what, reg, registryMessage(terr))
	}
	switch {
	case netErr != nil:
		return hint.With(fmt.Errorf("%s: cannot reach %s: %s", what, reg, rootCause(netErr)), "is the registry running at that address? Check the host and port")
	case httpsErr != nil && (strings.Contains(httpsErr.Error(), "HTTP response to HTTPS client") ||
		strings.Contains(httpsErr.Error(), "does not look like a TLS handshake")) && !c.guard.insecure:
		return hint.With(fmt.Errorf("%s: %s speaks plain HTTP, not HTTPS", what, reg), "give --tls-verify=false to allow plain HTTP for this registry alone")
	case httpsErr != nil && isTLSError(httpsErr):
		return hint.With(fmt.Errorf("%s: TLS with %s failed: %s", what, reg, rootCause(httpsErr)), "install the registry's CA certificate, or give --tls-verify=false for this registry alone")
	case refused:
		return hint.With(fmt.Errorf("%s: %s: %w", what, reg, errPlainHTTP), "give --tls-verify=false to allow plain HTTP for this registry alone")
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (c *client) hasCredentials() bool {
	if c.o.Keychain == nil {
		return false
	}
	a, err := c.o.Keychain.Resolve(c.reg)
	return err == nil && a != authn.Anonymous
}

func isTLSError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "x509:") || strings.Contains(s, "tls:")
}

// rootCause is the innermost message of a network error ("connection
// refused"), without the URL and operation around it.
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// registryMessage is a registry's error without the request before it.
func registryMessage(e *transport.Error) string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	var out []string
	for _, d := range e.Errors {
		out = append(out, d.String())
	}
	return strings.Join(out, "; ")
}

// wantPlatform parses --platform; linux on this machine's architecture
// when empty.
func wantPlatform(s string) (v1.Platform, error) {
	if s == "" {
		return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, hint.With(fmt.Errorf("invalid platform %q", s), "use OS/ARCH[/VARIANT], as linux/amd64 or linux/arm64/v8")
	}
	return *p, nil
}
