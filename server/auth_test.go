package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/fleettest"
)

type idleRunner struct{}

func (idleRunner) Status() collect.Status { return collect.Status{} }
func (idleRunner) CollectNow() bool       { return true }

// authFixture is a collected fleet served with sign-in on: a token per
// role, a client bound to tenant A, and a metrics token.
type authFixture struct {
	f        *fleettest.Fleet
	s        *Server
	srv      *httptest.Server
	svc      *auth.Service
	a, b     string // tenant IDs: the client's, and another
	bName    string
	tokens   map[string]string // by role name; "" is anonymous
	metrics  string
	password string
	logs     *strings.Builder
}

// newAuthFixture serves with sign-in on; with open, serve started in open
// mode (Options.Open), which the fixture's tokens and user end at once.
func newAuthFixture(t *testing.T, open ...bool) *authFixture {
	t.Helper()
	f := fleettest.New(t, fleettest.Options{Tenants: 3})
	logs := &strings.Builder{}
	log := newTestLogger(logs)
	svc := &auth.Service{Store: f.Store, Log: log}
	x := &authFixture{f: f, svc: svc, a: f.Jobs[0].Tenant.ID, b: f.Jobs[1].Tenant.ID, bName: f.Jobs[1].Tenant.Name,
		tokens: map[string]string{"": ""}, metrics: "metrics-secret-0123456789", password: "correct horse battery staple", logs: logs}
	ctx := context.Background()
	for _, role := range auth.Roles {
		var tenants []string
		if role == auth.RoleClient {
			tenants = []string{x.a}
		}
		tok, _, err := svc.CreateToken(ctx, role, tenants, time.Hour, "test")
		if err != nil {
			t.Fatal(err)
		}
		x.tokens[string(role)] = tok
	}
	if err := f.Store.PutUser(ctx, auth.User{Name: "ann", Role: auth.RoleClient, Tenants: []string{x.a}, PasswordHash: auth.HashPassword(x.password)}); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Source: f.Store, Runner: idleRunner{}, Auth: svc, MetricsToken: x.metrics, Logger: log, Open: len(open) > 0 && open[0]})
	if err != nil {
		t.Fatal(err)
	}
	x.tokens["bad"] = "not-a-token"
	x.s = s
	x.srv = httptest.NewServer(s.Handler())
	t.Cleanup(x.srv.Close)
	return x
}

// do sends a request with the role's token (none for "").
func (x *authFixture) do(t *testing.T, method, path, role string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, x.srv.URL+path, nil)
	if tok := x.tokens[role]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// concrete turns a route pattern into a method and a path to request.
func (x *authFixture) concrete(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	switch path {
	case "/{$}":
		path = "/"
	case "/static/":
		path = "/static/app.css"
	case "/api/":
		path = "/api/v1/nothing"
	case "/":
		path = "/nothing"
	}
	return method, strings.ReplaceAll(path, "{id}", x.a)
}

// TestEveryRouteForEveryRole requests every route of the table as nobody,
// each role's API token and the metrics token: a role below the route's
// need gets 403, nobody 401 (or, on a page, the sign-in page), everyone
// else an answer.
//
// It runs twice: with sign-in from the start, and started in open mode,
// which the tokens end. In both, a bad token gets 401 on every route, and
// a foreign Host changes nothing (only open mode checks it).
func TestEveryRouteForEveryRole(t *testing.T) {
	for _, mode := range []string{"signed-in", "open"} {
		t.Run(mode, func(t *testing.T) { everyRouteForEveryRole(t, newAuthFixture(t, mode == "open")) })
	}
}

func everyRouteForEveryRole(t *testing.T, x *authFixture) {
	for _, r := range x.s.routeTable() {
		method, path := x.concrete(r.pattern)
		if resp, _ := x.do(t, method, path, "bad"); resp.StatusCode != 401 {
			t.Errorf("%s %s with a bad token: %d; want 401", method, path, resp.StatusCode)
		}
		if resp, _ := x.do(t, method, path, "", "Host", "rebind.evil.example"); resp.StatusCode == 421 || resp.StatusCode == 200 && r.need != public {
			t.Errorf("%s %s as nobody, Host rebind.evil.example: %d", method, path, resp.StatusCode)
		}
		for _, role := range []string{"", "client", "analyst", "admin"} {
			for _, variant := range []string{"", "?format=csv"} {
				if variant != "" && !strings.HasPrefix(path, "/api/v1/") {
					continue
				}
				resp, _ := x.do(t, method, path+variant, role)
				got := resp.StatusCode
				name := method + " " + path + variant + " as " + role
				if role == "" {
					name += "nobody"
				}
				switch {
				case r.need == public:
					// (POST /signin with no password is a failed sign-in.)
					if (got == 401 && r.pattern != "POST /signin") || got == 403 || got >= 500 {
						t.Errorf("%s: %d; a public route answers everyone", name, got)
					}
				case r.need == metricsToken:
					if got != 401 {
						t.Errorf("%s: %d; want 401 (metrics take their own token)", name, got)
					}
				case role == "":
					want := 401
					if method == http.MethodGet && !strings.HasPrefix(path, "/api/") {
						want = 303
					}
					if got != want {
						t.Errorf("%s: %d; want %d", name, got, want)
					}
				case !auth.Role(role).AtLeast(r.need):
					if got != 403 {
						t.Errorf("%s: %d; want 403 (needs %s)", name, got, r.need)
					}
				default:
					if got == 401 || got == 403 || got >= 500 {
						t.Errorf("%s: %d; want an answer", name, got)
					}
				}
			}
		}
	}
	resp, body := x.do(t, "GET", "/api/v1/audit?format=csv", "admin")
	if resp.StatusCode != 200 || !strings.Contains(body, "token.use") || !strings.Contains(body, "token.create") {
		t.Errorf("admin's audit log: %d\n%s", resp.StatusCode, body)
	}
	resp, body = x.do(t, "GET", "/metrics", "", "Authorization", "Bearer "+x.metrics)
	if resp.StatusCode != 200 || !strings.Contains(body, "fleetscore_secure_score_percent") {
		t.Errorf("metrics with their token: %d", resp.StatusCode)
	}
}

// TestClientSeesOnlyItsTenant asks, as a client bound to tenant A, for
// tenant B through every path: the answer is 403 or 404, never B's data;
// and no list, page or CSV it can read mentions B.
//
// It runs with sign-in from the start and started in open mode.
func TestClientSeesOnlyItsTenant(t *testing.T) {
	for _, mode := range []string{"signed-in", "open"} {
		t.Run(mode, func(t *testing.T) { clientSeesOnlyItsTenant(t, newAuthFixture(t, mode == "open")) })
	}
}

func clientSeesOnlyItsTenant(t *testing.T, x *authFixture) {
	b := x.b
	for _, path := range []string{
		"/tenants/" + b, "/tenants/" + b + "?from=2020-01-01",
		"/api/v1/tenants/" + b, "/api/v1/tenants/" + b + "?format=csv",
		"/api/v1/tenants/" + b + "/scores", "/api/v1/tenants/" + b + "/scores?format=csv&from=2020-01-01",
		"/api/v1/tenants/" + b + "/controls", "/api/v1/tenants/" + b + "/controls?format=csv",
		"/api/v1/tenants/" + b + "/changes", "/api/v1/tenants/" + b + "/changes?format=csv&from=2020-01-01",
		"/api/v1/collections?tenant=" + b, "/api/v1/collections?tenant=" + b + "&format=csv",
		"/collections?tenant=" + b,
		"/api/v1/fleet", "/api/v1/fleet?format=csv", "/api/v1/collect", "/metrics",
	} {
		resp, body := x.do(t, "GET", path, "client")
		if resp.StatusCode != 403 && resp.StatusCode != 404 && resp.StatusCode != 401 {
			t.Errorf("client GET %s: %d; want 403 or 404", path, resp.StatusCode)
		}
		if strings.Contains(body, x.bName) {
			t.Errorf("client GET %s shows tenant B's name", path)
		}
	}
	resp, _ := x.do(t, "POST", "/collect", "client")
	if resp.StatusCode != 403 {
		t.Errorf("client POST /collect: %d; want 403", resp.StatusCode)
	}
	for _, path := range []string{
		"/", "/actions", "/collections", "/actions?category=Identity",
		"/api/v1/tenants", "/api/v1/tenants?format=csv",
		"/api/v1/actions", "/api/v1/actions?format=csv", "/api/v1/actions?category=Identity",
		"/api/v1/collections", "/api/v1/collections?format=csv&limit=10000",
		"/tenants/" + x.a, "/api/v1/tenants/" + x.a + "/scores?format=csv",
		"/api/v1/changes", "/api/v1/changes?format=csv&days=90", "/api/v1/tenants/" + x.a + "/changes?format=csv",
	} {
		resp, body := x.do(t, "GET", path, "client")
		if resp.StatusCode != 200 {
			t.Errorf("client GET %s: %d; want 200", path, resp.StatusCode)
		}
		if strings.Contains(body, b) || strings.Contains(body, x.bName) {
			t.Errorf("client GET %s mentions tenant B", path)
		}
		if !strings.Contains(body, x.a) && !strings.Contains(path, "/scores") && !strings.Contains(path, x.a+"/changes") {
			t.Errorf("client GET %s lacks its own tenant", path)
		}
	}
	// Searching for B finds nothing (the box shows what was typed, so
	// look for B's ID, which only a row would show).
	for _, path := range []string{"/?q=" + url.QueryEscape(x.bName), "/?q=" + url.QueryEscape(x.bName[:3]) + "&filter=below&sort=name&dir=desc",
		"/actions?category=Identity&tier=Core", "/api/v1/actions?category=Identity&format=csv", "/collections?tenant=" + x.a + "&limit=10000"} {
		resp, body := x.do(t, "GET", path, "client")
		if resp.StatusCode != 200 || strings.Contains(body, b) {
			t.Errorf("client GET %s: %d, mentions B: %v", path, resp.StatusCode, strings.Contains(body, b))
		}
	}
	// The client's overview speaks of its tenants, not of the fleet.
	if _, body := x.do(t, "GET", "/", "client"); strings.Contains(body, "Fleet trend") || strings.Contains(body, "fleet&#39;s") || !strings.Contains(body, ">Trend of your tenants<") {
		t.Error("the client's overview shows fleet labels")
	}
	if _, body := x.do(t, "GET", "/", "analyst"); !strings.Contains(body, "Fleet trend") {
		t.Error("the analyst's overview lacks the fleet trend")
	}
	// The analyst sees both.
	_, body := x.do(t, "GET", "/api/v1/tenants?format=csv", "analyst")
	if !strings.Contains(body, b) || !strings.Contains(body, x.a) {
		t.Error("analyst's tenant list lacks a tenant")
	}
}

// TestSignInSessionAndCSRF signs in with the form, uses the session, and
// checks that a form without the session's token is refused.
func TestSignInSessionAndCSRF(t *testing.T) {
	x := newAuthFixture(t)
	post := func(path string, form url.Values, cookie *http.Cookie) *http.Response {
		req, _ := http.NewRequest("POST", x.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post("/signin", url.Values{"name": {"ann"}, "password": {"wrong password!"}}, nil)
	if resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Errorf("wrong password: %d %v", resp.StatusCode, resp.Cookies())
	}
	resp = post("/signin", url.Values{"name": {"ann"}, "password": {x.password}, "next": {"//evil.example/"}}, nil)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie: %+v", cookie)
	}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", x.srv.URL+path, nil)
		req.AddCookie(cookie)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "ann") || strings.Contains(body, x.bName) {
		t.Errorf("overview as ann: %d", code)
	}
	if code, _ := get("/tenants/" + x.b); code != 404 {
		t.Errorf("tenant B as ann: %d; want 404", code)
	}
	// Sign-out without the form token is refused; with it, the session ends.
	if resp := post("/signout", url.Values{}, cookie); resp.StatusCode != 403 {
		t.Errorf("sign-out without csrf: %d; want 403", resp.StatusCode)
	}
	sess, err := x.svc.CheckSession(context.Background(), cookie.Value)
	if err != nil {
		t.Fatal(err)
	}
	if resp := post("/signout", url.Values{"csrf": {sess.CSRF}}, cookie); resp.StatusCode != 303 {
		t.Errorf("sign-out: %d", resp.StatusCode)
	}
	if code, _ := get("/"); code != 303 {
		t.Errorf("overview after sign-out: %d; want 303 to the sign-in page", code)
	}
}

// TestNoSignInConfiguredIsTodaysBehaviour: without Auth everyone is the
// admin, metrics are open and there is no sign-in.
func TestNoSignInConfiguredIsTodaysBehaviour(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 2})
	s, err := New(Options{Source: f.Store})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, path := range []string{"/", "/metrics", "/api/v1/fleet", "/tenants/" + f.Jobs[1].Tenant.ID} {
		resp, err := noRedirect.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s without sign-in configured: %d", path, resp.StatusCode)
		}
	}
}

// newTestLogger logs everything, as text, into b.
func newTestLogger(b *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: b}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestHeaders: HSTS only with TLS; the CSP forbids inline script and
// framing on every answer, the sign-in page too.
func TestHeaders(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 1})
	for _, tls := range []bool{false, true} {
		s, err := New(Options{Source: f.Store, Auth: &auth.Service{Store: f.Store}, TLS: tls})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/signin", nil))
		h := rec.Header()
		if rec.Code != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			!strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self';") || strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") {
			t.Errorf("sign-in page: %d, CSP %q", rec.Code, h.Get("Content-Security-Policy"))
		}
		if got := h.Get("Strict-Transport-Security") != ""; got != tls {
			t.Errorf("TLS %v: HSTS %q", tls, h.Get("Strict-Transport-Security"))
		}
	}
}

// TestCookieSecureBehindTLSProxy: over plain HTTP the session cookie is not
// Secure (a browser would drop it), behind a proxy that says https it is.
func TestCookieSecureBehindTLSProxy(t *testing.T) {
	x := newAuthFixture(t)
	for _, proto := range []string{"", "https"} {
		req, _ := http.NewRequest("POST", x.srv.URL+"/signin", strings.NewReader(url.Values{"name": {"ann"}, "password": {x.password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var c *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == SessionCookie {
				c = k
			}
		}
		if c == nil || c.Secure != (proto == "https") || !c.HttpOnly {
			t.Errorf("X-Forwarded-Proto %q: cookie %+v", proto, c)
		}
	}
}
