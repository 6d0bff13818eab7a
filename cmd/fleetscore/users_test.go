package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func runWithStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runWithStdinEnv(t, func(string) string { return "" }, stdin, args...)
}

// TestUsersAndTokens: serve refuses a non-loopback address until a user
// exists; users and tokens are added, listed and removed; a token is
// printed once and never listed.
func TestUsersAndTokens(t *testing.T) {
	cfg, ids := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}})
	r := runCmd(t, nil, "serve", "--config", cfg, "--listen", "0.0.0.0:0")
	if r.err == nil || !strings.Contains(r.err.Error(), "fleetscore user add") {
		t.Fatalf("serve on 0.0.0.0 with no user: %v; want a refusal saying how to add a user", r.err)
	}
	if r := runWithStdin(t, "short\n", "user", "add", "ann", "--config", cfg, "--role", "client", "--tenant", ids[0]); r.err == nil {
		t.Error("a short password was accepted")
	}
	if r := runWithStdin(t, "long enough password\n", "user", "add", "ann", "--config", cfg, "--role", "client"); r.err == nil {
		t.Error("a client without --tenant was accepted")
	}
	r = runWithStdin(t, "long enough password\n", "user", "add", "ann", "--config", cfg, "--role", "client", "--tenant", ids[0])
	if r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	r = runCmd(t, nil, "user", "list", "--config", cfg)
	if r.err != nil || !strings.Contains(r.stdout, "ann") || !strings.Contains(r.stdout, ids[0]) || strings.Contains(r.stdout, "argon2") {
		t.Errorf("user list: %v\n%s", r.err, r.stdout)
	}
	r = runCmd(t, nil, "token", "create", "--config", cfg, "--role", "analyst", "--expires", "30d")
	secret := strings.TrimSpace(r.stdout)
	if r.err != nil || !strings.HasPrefix(secret, "fs_") {
		t.Fatalf("token create: %v %q", r.err, r.stdout)
	}
	r = runCmd(t, nil, "token", "list", "--config", cfg)
	if r.err != nil || strings.Contains(r.stdout, secret) || !strings.Contains(r.stdout, "analyst") {
		t.Errorf("token list: %v\n%s", r.err, r.stdout)
	}
	id := strings.Fields(strings.Split(r.stdout, "\n")[1])[0]
	// Typed after `token revoke`: an ID that may start with - (base64 did,
	// one time in 32) would be read as a flag.
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("token ID %q is not 12 hex digits", id)
	}
	if r := runCmd(t, nil, "token", "revoke", id, "--config", cfg); r.err != nil {
		t.Errorf("token revoke: %v", r.err)
	}
	if r := runCmd(t, nil, "token", "list", "--config", cfg); !strings.Contains(r.stdout, "revoked") {
		t.Errorf("token list after revoke:\n%s", r.stdout)
	}
	if r := runCmd(t, nil, "user", "remove", "ann", "--config", cfg); r.err != nil {
		t.Errorf("user remove: %v", r.err)
	}
	if r := runCmd(t, nil, "user", "remove", "ann", "--config", cfg); r.err == nil {
		t.Error("removing a user twice succeeded")
	}
}

// syncBuffer is a bytes.Buffer safe to read while serve writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeWithUsersSignsIn: once a user exists, serve listens on any
// address and answers the API only with a token.
func TestServeWithUsersSignsIn(t *testing.T) {
	cfg, ids := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}})
	if r := runWithStdin(t, "long enough password\n", "user", "add", "ann", "--config", cfg, "--role", "admin"); r.err != nil {
		t.Fatal(r.err)
	}
	tok := strings.TrimSpace(runCmd(t, nil, "token", "create", "--config", cfg, "--role", "client", "--tenant", ids[0]).stdout)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "0.0.0.0:0"}, func(string) string { return "" },
			strings.NewReader(""), &out, io.Discard)
	}()
	var base string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && base == ""; time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`dashboard: http://\S*:(\d+)/`).FindStringSubmatch(out.String()); m != nil {
			base = "http://127.0.0.1:" + m[1]
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("serve did not start: %v\n%s", <-done, out.String())
	}
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/api/v1/tenants", "", 401},
		{"/api/v1/tenants", tok, 200},
		{"/api/v1/fleet", tok, 403},
		{"/metrics", "", 404}, // no metrics token configured: off
		{"/healthz", "", 200},
	} {
		req, _ := http.NewRequest("GET", base+c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s (token %v): %d; want %d", c.path, c.token != "", resp.StatusCode, c.want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestServeTLS: with auth.tls_cert and tls_key, serve answers HTTPS with
// HSTS, and the session cookie is Secure.
func TestServeTLS(t *testing.T) {
	cfg, _ := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}})
	dir := filepath.Dir(cfg)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	_ = os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("auth:\n  tls_cert: tls.crt\n  tls_key: tls.key\n")
	f.Close()
	const password = "long enough password"
	if r := runWithStdin(t, password+"\n", "user", "add", "ann", "--config", cfg, "--role", "admin"); r.err != nil {
		t.Fatal(r.err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, func(string) string { return "" },
			strings.NewReader(""), &out, io.Discard)
	}()
	var base string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && base == ""; time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`dashboard: (https://\S+)/ `).FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("serve did not start on HTTPS: %v\n%s", <-done, out.String())
	}
	pool := x509.NewCertPool()
	if c, err := x509.ParseCertificate(der); err == nil {
		pool.AddCert(c)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.PostForm(base+"/signin", url.Values{"name": {"ann"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("sign-in over HTTPS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	secure := false
	for _, c := range resp.Cookies() {
		secure = secure || (c.Name == "fleetscore_session" && c.Secure && c.HttpOnly)
	}
	if !secure {
		t.Errorf("the session cookie is not Secure and HttpOnly: %v", resp.Header["Set-Cookie"])
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestServeOpenModeEndsWithAToken: serve with nobody to sign in says it is
// in open mode; a client token made with `token create` while it serves is
// checked (it sees only its tenant), a bad one is refused, and from then on
// a request without a credential is refused too. Served again, with only
// that token and no user, serve is not in open mode.
func TestServeOpenModeEndsWithAToken(t *testing.T) {
	cfg, ids := writeConfig(t, []tenantSpec{{name: "Contoso", consent: true}, {name: "Fabrikam", consent: true}})
	serveOnce := func(check func(base string, out *syncBuffer)) {
		ctx, cancel := context.WithCancel(context.Background())
		var out syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, func(string) string { return "" },
				strings.NewReader(""), &out, io.Discard)
		}()
		var base string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && base == ""; time.Sleep(50 * time.Millisecond) {
			if m := regexp.MustCompile(`dashboard: (http://\S*:\d+)/`).FindStringSubmatch(out.String()); m != nil {
				base = m[1]
			}
		}
		if base == "" {
			cancel()
			t.Fatalf("serve did not start: %v\n%s", <-done, out.String())
		}
		check(base, &out)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	get := func(url, token string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	var tok string
	serveOnce(func(base string, out *syncBuffer) {
		if !strings.Contains(out.String(), "open mode") {
			t.Errorf("serve does not say it is in open mode:\n%s", out.String())
		}
		if code, _ := get(base+"/api/v1/tenants", ""); code != 200 {
			t.Errorf("open mode, no credential: %d", code)
		}
		if code, _ := get(base+"/api/v1/tenants", "not-a-token"); code != 401 {
			t.Errorf("open mode, a bad token: %d; want 401", code)
		}
		tok = strings.TrimSpace(runCmd(t, nil, "token", "create", "--config", cfg, "--role", "client", "--tenant", ids[0]).stdout)
		code, body := get(base+"/api/v1/tenants?format=csv", tok)
		if code != 200 || !strings.Contains(body, ids[0]) || strings.Contains(body, ids[1]) {
			t.Errorf("a client token while serving: %d\n%s", code, body)
		}
		if code, _ := get(base+"/api/v1/tenants", ""); code != 401 {
			t.Errorf("no credential once a token exists: %d; want 401", code)
		}
	})
	serveOnce(func(base string, out *syncBuffer) {
		if strings.Contains(out.String(), "open mode") {
			t.Errorf("serve with a token says it is in open mode:\n%s", out.String())
		}
		if code, _ := get(base+"/api/v1/tenants", ""); code != 401 {
			t.Errorf("no credential, a token exists: %d; want 401", code)
		}
	})
}
