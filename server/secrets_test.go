package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSecretsNeverLeak signs in and fails to, uses good, bad and revoked
// API tokens, asks for metrics with a wrong token and for pages and API
// answers that fail, then looks for every secret in the log, the audit
// log and every answer: none shows.
func TestSecretsNeverLeak(t *testing.T) {
	x := newAuthFixture(t)
	ctx := context.Background()
	var bodies strings.Builder
	record := func(resp *http.Response) {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&bodies, "%d %v\n%s\n", resp.StatusCode, resp.Header, b)
	}
	post := func(path string, form url.Values, cookies ...*http.Cookie) *http.Response {
		req, _ := http.NewRequest("POST", x.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	wrongPassword := "Wrong-Password-Never-Logged-99"
	for range 7 { // past the lockout
		record(post("/signin", url.Values{"name": {"ann"}, "password": {wrongPassword}}))
		record(post("/signin", url.Values{"name": {"nobody"}, "password": {x.password}}))
	}
	_ = x.f.Store.ClearFailures(ctx, "user:ann")
	_ = x.f.Store.ClearFailures(ctx, "ip:127.0.0.1")
	resp := post("/signin", url.Values{"name": {"ann"}, "password": {x.password}})
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			session = c
		}
	}
	resp.Body.Close()
	if session == nil {
		t.Fatal("no session")
	}
	for _, path := range []string{"/", "/tenants/" + x.b, "/api/v1/fleet", "/api/v1/tenants/" + x.b, "/nothing", "/api/v1/nothing"} {
		req, _ := http.NewRequest("GET", x.srv.URL+path, nil)
		req.AddCookie(session)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		record(resp)
	}
	record(post("/collect", url.Values{"csrf": {"forged"}}, session))
	revoked := x.tokens["analyst"]
	toks, _ := x.f.Store.Tokens(ctx)
	for _, tk := range toks {
		if tk.Role == "analyst" {
			_ = x.f.Store.RevokeToken(ctx, tk.ID)
		}
	}
	for _, tok := range []string{x.tokens["admin"], x.tokens["client"], revoked, "fs_not-a-real-token-Never-Logged", "garbage"} {
		for _, path := range []string{"/api/v1/tenants", "/api/v1/fleet?format=csv", "/api/v1/tenants/" + x.b + "/scores", "/metrics"} {
			resp, _ := x.do(t, "GET", path, "", "Authorization", "Bearer "+tok)
			fmt.Fprintf(&bodies, "%d\n", resp.StatusCode)
			_, body := x.do(t, "GET", path, "", "Authorization", "Bearer "+tok)
			bodies.WriteString(body)
		}
	}
	_, body := x.do(t, "GET", "/metrics", "", "Authorization", "Bearer wrong-"+x.metrics)
	bodies.WriteString(body)
	record(post("/signout", url.Values{"csrf": {"forged"}}, session))

	audit, _ := x.f.Store.AuditLog(ctx, 1000)
	var auditText strings.Builder
	for _, e := range audit {
		fmt.Fprintf(&auditText, "%+v\n", e)
	}
	if !strings.Contains(auditText.String(), "signin.failed") || !strings.Contains(auditText.String(), "signin.locked") || !strings.Contains(auditText.String(), "token.use") {
		t.Errorf("the audit log lacks sign-in failures, lockouts or token use:\n%s", auditText.String())
	}
	secrets := map[string]string{"password": x.password, "wrong password": wrongPassword, "session cookie": session.Value,
		"metrics token": x.metrics, "unknown token": "fs_not-a-real-token-Never-Logged"}
	for role, tok := range x.tokens {
		if tok != "" {
			secrets[role+" token"] = tok
		}
	}
	for where, text := range map[string]string{"log": x.logs.String(), "audit log": auditText.String(), "answers": bodies.String()} {
		for name, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("the %s shows the %s", where, name)
			}
		}
	}
	if !strings.Contains(x.logs.String(), "signin.failed") {
		t.Error("the test's log captured nothing")
	}
}
