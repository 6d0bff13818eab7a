package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/fleettest"
)

// countingRunner counts the collections it was asked to start.
type countingRunner struct{ n atomic.Int32 }

func (*countingRunner) Status() collect.Status { return collect.Status{} }
func (c *countingRunner) CollectNow() bool     { c.n.Add(1); return true }

type openFixture struct {
	f      *fleettest.Fleet
	svc    *auth.Service
	runner *countingRunner
	srv    *httptest.Server
	s      *Server
}

// newOpenFixture serves a collected fleet as `serve` does with nobody to
// sign in: the auth service is there, open mode is on.
func newOpenFixture(t *testing.T) *openFixture {
	t.Helper()
	f := fleettest.New(t, fleettest.Options{Tenants: 2})
	x := &openFixture{f: f, svc: &auth.Service{Store: f.Store}, runner: &countingRunner{}}
	s, err := New(Options{Source: f.Store, Runner: x.runner, Auth: x.svc, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	x.s = s
	x.srv = httptest.NewServer(s.Handler())
	t.Cleanup(x.srv.Close)
	return x
}

func (x *openFixture) do(t *testing.T, method, path string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, x.srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// In open mode a presented credential is still checked: a bad token gets
// 401 on every route, nobody gets in with it.
func TestOpenModeChecksPresentedTokens(t *testing.T) {
	x := newOpenFixture(t)
	if code, _ := x.do(t, "GET", "/api/v1/tenants"); code != 200 {
		t.Fatalf("open mode, no credential: %d; want 200", code)
	}
	for _, r := range x.s.routeTable() {
		method, path := (&authFixture{a: x.f.Jobs[0].Tenant.ID}).concrete(r.pattern)
		if code, _ := x.do(t, method, path, "Authorization", "Bearer not-a-token"); code != 401 {
			t.Errorf("open mode, %s %s with a bad token: %d; want 401", method, path, code)
		}
	}
}

// A client's token sees only its tenant, in open mode too, and its very
// existence ends open mode: nobody without a credential gets in after.
func TestOpenModeEndsWithTheFirstToken(t *testing.T) {
	x := newOpenFixture(t)
	a, b := x.f.Jobs[0].Tenant, x.f.Jobs[1].Tenant
	tok, _, err := x.svc.CreateToken(context.Background(), auth.RoleClient, []string{a.ID}, time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	code, body := x.do(t, "GET", "/api/v1/tenants", "Authorization", "Bearer "+tok)
	if code != 200 {
		t.Fatalf("client token: %d", code)
	}
	var list []struct {
		ID string `json:"tenant_id"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != a.ID || strings.Contains(body, b.Name) {
		t.Errorf("a client token in open mode sees %s", body)
	}
	for _, path := range []string{"/api/v1/tenants/" + b.ID, "/tenants/" + b.ID} {
		if code, body := x.do(t, "GET", path, "Authorization", "Bearer "+tok); code != 404 || strings.Contains(body, b.Name) {
			t.Errorf("client token, %s: %d", path, code)
		}
	}
	if code, _ := x.do(t, "GET", "/api/v1/tenants"); code != 401 {
		t.Errorf("no credential after a token exists: %d; want 401", code)
	}
	if code, _ := x.do(t, "GET", "/"); code != 303 {
		t.Errorf("overview, no credential after a token exists: %d; want 303 to sign-in", code)
	}
	if code, _ := x.do(t, "GET", "/metrics"); code != 404 {
		t.Errorf("metrics after open mode ended, with no metrics token set: %d; want 404", code)
	}
}

// A user, made while serving (by `fleetscore user add` in another
// process), ends open mode too.
func TestOpenModeEndsWithTheFirstUser(t *testing.T) {
	x := newOpenFixture(t)
	if code, _ := x.do(t, "GET", "/"); code != 200 {
		t.Fatalf("open mode: %d", code)
	}
	if err := x.f.Store.PutUser(context.Background(), auth.User{Name: "ann", Role: auth.RoleAdmin, PasswordHash: auth.HashPassword("a long admin password")}); err != nil {
		t.Fatal(err)
	}
	if code, _ := x.do(t, "GET", "/"); code != 303 {
		t.Errorf("overview after a user exists: %d; want 303 to sign-in", code)
	}
	if code, _ := x.do(t, "POST", "/collect", "Origin", x.srv.URL); code != 401 {
		t.Errorf("collect after a user exists: %d; want 401", code)
	}
	if n := x.runner.n.Load(); n != 0 {
		t.Errorf("%d collections started", n)
	}
}

// Open mode answers only requests addressed to this machine: a page of
// another site that rebinds its DNS name to 127.0.0.1 gets 421, and cannot
// start a collection with a matching Origin.
func TestOpenModeRefusesForeignHosts(t *testing.T) {
	x := newOpenFixture(t)
	port := strings.TrimPrefix(x.srv.URL[strings.LastIndex(x.srv.URL, ":"):], ":")
	for _, host := range []string{"rebind.evil.example", "rebind.evil.example:" + port, "127.0.0.1.evil.example:" + port, "localhost.:" + port} {
		for _, path := range []string{"/", "/api/v1/tenants", "/metrics", "/tenants/" + x.f.Jobs[0].Tenant.ID} {
			if code, body := x.do(t, "GET", path, "Host", host); code != 421 || strings.Contains(body, x.f.Jobs[0].Tenant.Name) {
				t.Errorf("GET %s with Host %s: %d; want 421", path, host, code)
			}
		}
		if code, _ := x.do(t, "POST", "/collect", "Host", host, "Origin", "http://"+host); code != 421 {
			t.Errorf("POST /collect with Host and Origin %s: %d; want 421", host, code)
		}
	}
	if n := x.runner.n.Load(); n != 0 {
		t.Fatalf("a foreign Host started %d collections", n)
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port} {
		if code, _ := x.do(t, "GET", "/api/v1/tenants", "Host", host); code != 200 {
			t.Errorf("Host %s: %d; want 200", host, code)
		}
	}
	// Told its listen address, the server takes no other port.
	s, err := New(Options{Source: x.f.Store, Auth: x.svc, Open: true, Listen: "127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{"127.0.0.1:8080": 200, "localhost:8080": 200, "127.0.0.1:9090": 421, "evil.example:8080": 421} {
		req := httptest.NewRequest("GET", "/api/v1/fleet", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("listening on 127.0.0.1:8080, Host %s: %d; want %d", host, rec.Code, want)
		}
	}
}

// multipartBody is a multipart form whose one file has n bytes.
func multipartBody(t *testing.T, n int) (io.Reader, string) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		_ = mw.WriteField("name", "nobody")
		_ = mw.WriteField("password", "wrong password")
		fw, err := mw.CreateFormFile("upload", "big.bin")
		if err == nil {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for left := n; left > 0 && err == nil; left -= len(chunk) {
				_, err = fw.Write(chunk[:min(len(chunk), left)])
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

// Form routes read at most a few KB and refuse multipart, so no upload,
// signed in or not, locked out or not, leaves a file in the temp directory.
func TestFormBodiesAreBounded(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	x := newAuthFixture(t)
	send := func(path string, body io.Reader, ctype string, cookie *http.Cookie) int {
		req, _ := http.NewRequest("POST", x.srv.URL+path, body)
		req.Header.Set("Content-Type", ctype)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			return -1 // the server stopped reading: fine, if it kept nothing
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const big = 48 << 20 // past net/http's 32 MB kept in memory
	body, ctype := multipartBody(t, big)
	if code := send("/signin", body, ctype, nil); code != 415 && code != -1 {
		t.Errorf("multipart POST /signin: %d; want 415", code)
	}
	// Locked out: five wrong passwords for ann, then the upload again.
	for range auth.MaxUserFailures {
		send("/signin", strings.NewReader(url.Values{"name": {"ann"}, "password": {"wrong password!"}}.Encode()), "application/x-www-form-urlencoded", nil)
	}
	body, ctype = multipartBody(t, big)
	if code := send("/signin", body, ctype, nil); code != 415 && code != -1 {
		t.Errorf("multipart POST /signin while locked out: %d; want 415", code)
	}
	// Signed in, a multipart POST /collect with a bad CSRF token.
	id, _, err := x.svc.NewSession(context.Background(), auth.Principal{Name: "root", Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	cookie := &http.Cookie{Name: SessionCookie, Value: id}
	body, ctype = multipartBody(t, big)
	if code := send("/collect", body, ctype, cookie); code != 415 && code != -1 {
		t.Errorf("multipart POST /collect: %d; want 415", code)
	}
	// A form of urlencoded fields past the cap is refused, unread.
	huge := url.Values{"name": {strings.Repeat("n", 1<<20)}, "password": {"x"}}.Encode()
	if code := send("/signin", strings.NewReader(huge), "application/x-www-form-urlencoded", nil); code != 413 && code != -1 {
		t.Errorf("1 MB urlencoded POST /signin: %d; want 413", code)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if len(names) > 0 {
		t.Errorf("form uploads left %d files in the temp directory: %s", len(names), fmt.Sprint(names))
	}
}
