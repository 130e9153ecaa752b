package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TokenServer is an authorization server of docker's token protocol
// (distribution's docs/spec/auth/token.md and jwt.md) on 127.0.0.1: a
// client sends GET Realm?service=S&scope=repository:NAME:pull,push with
// basic credentials and gets a JWT (ES256) naming the actions granted,
// which the registry checks against CertFile. It grants, of what was
// asked, only what Grants gives the user; wrong credentials get 401.
//
// It answers on the registry's own address (Addr) and passes every other
// request to the registry behind it: go-containerregistry v0.22.1 refuses
// a realm on a loopback or private IP unless it is the registry's own
// host:port (validateRealmURL, against SSRF), so a token server on
// another port of 127.0.0.1 is never asked.
type TokenServer struct {
	Addr    string // 127.0.0.1:PORT, the address clients use
	Realm   string // http://Addr/token
	Service string
	Issuer  string
	// CertFile is the self-signed certificate (PEM) the registry trusts
	// (rootcertbundle); tokens carry it in their x5c header.
	CertFile string

	users  map[string]string
	grants map[string][]string
	key    *ecdsa.PrivateKey
	cert   []byte // DER

	mu      sync.Mutex
	reqs    []TokenRequest
	backend *httputil.ReverseProxy
}

// TokenRequest is one request the token server answered.
type TokenRequest struct {
	User    string   // "" when no or wrong credentials
	Scopes  []string // as asked, one per resource
	Granted []string // "repository:NAME:actions" as put in the token
	Status  int
}

// TokenServerOptions are StartTokenServer's users and what they may do.
type TokenServerOptions struct {
	Users map[string]string // name → password
	// Grants are the actions (pull, push, *) a user may have on any
	// repository. A user not named here gets valid tokens with no access.
	Grants map[string][]string
}

// StartTokenServer starts a token server for t, stopped when t ends.
func StartTokenServer(t testing.TB, o TokenServerOptions) *TokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "stepbox test token issuer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ts := &TokenServer{
		Service: "stepbox-test-registry",
		Issuer:  "stepbox-test-issuer",
		users:   o.Users, grants: o.Grants, key: key, cert: der,
		CertFile: filepath.Join(t.TempDir(), "token-ca.pem"),
	}
	if err := os.WriteFile(ts.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(srv.Close)
	ts.Addr = srv.Listener.Addr().String()
	ts.Realm = "http://" + ts.Addr + "/token"
	return ts
}

// proxyTo sends everything but /token to the registry at addr. The Host
// header stays the client's, so the registry's Location headers name Addr.
func (ts *TokenServer) proxyTo(addr string) {
	p := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	ts.mu.Lock()
	ts.backend = p
	ts.mu.Unlock()
}

// Requests returns what the server was asked, in order.
func (ts *TokenServer) Requests() []TokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.reqs)
}

func (ts *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		ts.mu.Lock()
		p := ts.backend
		ts.mu.Unlock()
		if p == nil {
			http.Error(w, "no registry behind the token server yet", http.StatusBadGateway)
			return
		}
		p.ServeHTTP(w, r)
		return
	}
	rec := TokenRequest{Status: http.StatusOK}
	defer func() {
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, rec)
		ts.mu.Unlock()
	}()
	q := r.URL.Query()
	// Scopes come as repeated scope= parameters or space-separated in one.
	for _, s := range q["scope"] {
		rec.Scopes = append(rec.Scopes, strings.Fields(s)...)
	}
	if r.Method != http.MethodGet || r.URL.Path != "/token" || q.Get("service") != ts.Service {
		rec.Status = http.StatusNotFound
		http.Error(w, "not found", rec.Status)
		return
	}
	user, pass, ok := r.BasicAuth()
	if want, known := ts.users[user]; !ok || !known || want != pass {
		rec.Status = http.StatusUnauthorized
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Status)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return
	}
	rec.User = user
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	accesses := []access{}
	for _, s := range rec.Scopes {
		// type:name:actions; a name may hold a port (host:port/repo) only
		// in other registries' scopes, so split off the ends.
		typ, rest, ok1 := strings.Cut(s, ":")
		i := strings.LastIndex(rest, ":")
		if !ok1 || i < 0 || typ != "repository" {
			continue
		}
		a := access{Type: typ, Name: rest[:i], Actions: []string{}}
		may := ts.grants[user]
		for _, act := range strings.Split(rest[i+1:], ",") {
			if slices.Contains(may, act) || slices.Contains(may, "*") {
				a.Actions = append(a.Actions, act)
			}
		}
		accesses = append(accesses, a)
		rec.Granted = append(rec.Granted, a.Type+":"+a.Name+":"+strings.Join(a.Actions, ","))
	}
	now := time.Now()
	claims := map[string]any{
		"iss": ts.Issuer, "sub": user, "aud": ts.Service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": fmt.Sprintf("%d", now.UnixNano()), "access": accesses,
	}
	tok, err := ts.sign(claims)
	if err != nil {
		rec.Status = http.StatusInternalServerError
		http.Error(w, err.Error(), rec.Status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300, "issued_at": now.UTC().Format(time.RFC3339)})
}

// sign makes a compact JWS (RFC 7515) with ES256 (RFC 7518 3.4: the
// signature is r and s, 32 bytes each), the certificate in x5c, which
// distribution 2.8 verifies against its rootcertbundle.
func (ts *TokenServer) sign(claims map[string]any) (string, error) {
	hdr, err := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(ts.cert)}})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(body)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, ts.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig), nil
}
