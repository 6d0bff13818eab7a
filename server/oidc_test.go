package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/fleettest"
)

// testIdP is an OpenID Connect provider for the tests: discovery, a JWKS,
// an authorize endpoint that signs in whoever is set, and a token endpoint
// that checks the client secret and PKCE and signs ID tokens with an RSA
// key. Its knobs spoil the next ID token on purpose.
type testIdP struct {
	srv              *httptest.Server
	key              *rsa.PrivateKey
	clientID, secret string

	mu        sync.Mutex
	codes     map[string]grant
	email     string
	groups    []string
	audience  string        // "" : the client ID
	lifetime  time.Duration // 0: an hour
	nonce     string        // "": the one asked for
	exchanged int
	// claims change the next ID token's (a nil value removes one);
	// userinfo, if set, is what the UserInfo endpoint answers.
	claims   map[string]any
	userinfo map[string]any
}

type grant struct{ nonce, challenge, redirect string }

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &testIdP{key: key, clientID: "fleetscore-test-client", secret: "oidc-client-secret-Never-Logged-42", codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		u := p.srv.URL
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize",
			"token_endpoint": u + "/token", "jwks_uri": u + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported": []string{"S256"}, "userinfo_endpoint": u + "/userinfo"})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer at" || p.userinfo == nil {
			http.Error(w, "no userinfo", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.userinfo)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != p.clientID || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" {
			http.Error(w, "bad authorize request", 400)
			return
		}
		code := "code-" + base64.RawURLEncoding.EncodeToString([]byte(q.Get("state")))[:8] + time.Now().Format("150405.000000")
		p.mu.Lock()
		p.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		g, known := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code"))
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if id != p.clientID || secret != p.secret || !known || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge ||
			r.PostFormValue("redirect_uri") != g.redirect {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		p.exchanged++
		aud, life, nonce := p.audience, p.lifetime, p.nonce
		if aud == "" {
			aud = p.clientID
		}
		if life == 0 {
			life = time.Hour
		}
		if nonce == "" {
			nonce = g.nonce
		}
		now := time.Now()
		c := map[string]any{"iss": p.srv.URL, "sub": "sub-" + p.email, "aud": aud, "nonce": nonce,
			"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(life).Unix(), "email": p.email, "email_verified": true, "groups": p.groups}
		for k, v := range p.claims {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		claims, _ := json.Marshal(c)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		jws, _ := signer.Sign(claims)
		idToken, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
	})
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// set says who signs in next and how the ID token is spoiled.
func (p *testIdP) set(email string, groups []string, audience string, lifetime time.Duration, nonce string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.email, p.groups, p.audience, p.lifetime, p.nonce = email, groups, audience, lifetime, nonce
	p.claims, p.userinfo = nil, nil
}

// setClaims changes the next ID token's claims and the UserInfo answer,
// after set.
func (p *testIdP) setClaims(claims, userinfo map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims, p.userinfo = claims, userinfo
}

// TestOIDCSignIn runs the authorization code flow end to end against the
// test provider: discovery, the authorize redirect with PKCE, state and
// nonce, the code exchange, the JWKS and the ID token's checks. A bad
// state, a bad nonce, an expired token, a wrong audience and a person with
// no role are all refused without a session.
func TestOIDCSignIn(t *testing.T) {
	idp := newTestIdP(t)
	f := fleettest.New(t, fleettest.Options{Tenants: 2})
	var logs strings.Builder
	log := newTestLogger(&logs)
	var h http.Handler
	fleet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer fleet.Close()
	o, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: idp.srv.URL, ClientID: idp.clientID, ClientSecret: idp.secret,
		RedirectURL: fleet.URL + "/signin/callback", Admins: []string{"alice@msp.example"}, Analysts: []string{"analysts-group-id"},
		Clients:    []auth.OIDCClient{{Match: "carol@client.example", Tenants: []string{f.Jobs[0].Tenant.ID}}},
		HTTPClient: idp.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	svc := &auth.Service{Store: f.Store, Log: log}
	s, err := New(Options{Source: f.Store, Auth: svc, OIDC: o, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()

	signIn := func(t *testing.T, spoil func(url.Values)) (int, string, bool, http.CookieJar) {
		t.Helper()
		return idp.signIn(t, fleet.URL, spoil)
	}

	resp, err := http.Get(fleet.URL + "/signin?next=/actions")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `href="/signin/oidc?next=%2factions"`) || !strings.Contains(string(page), "Sign in with Microsoft") {
		t.Errorf("the sign-in page offers no OIDC sign-in:\n%s", page)
	}

	t.Run("admin by e-mail", func(t *testing.T) {
		idp.set("Alice@MSP.example", nil, "", 0, "")
		status, loc, session, jar := signIn(t, nil)
		if status != http.StatusSeeOther || loc != "/actions" || !session {
			t.Fatalf("callback: %d to %q, session %v", status, loc, session)
		}
		c := &http.Client{Jar: jar}
		resp, err := c.Get(fleet.URL + "/api/v1/fleet")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("admin's /api/v1/fleet: %d", resp.StatusCode)
		}
	})
	t.Run("client by e-mail sees only its tenant", func(t *testing.T) {
		idp.set("carol@client.example", nil, "", 0, "")
		_, _, session, jar := signIn(t, nil)
		if !session {
			t.Fatal("no session")
		}
		c := &http.Client{Jar: jar}
		for path, want := range map[string]int{"/api/v1/tenants/" + f.Jobs[0].Tenant.ID: 200, "/api/v1/tenants/" + f.Jobs[1].Tenant.ID: 404, "/api/v1/fleet": 403} {
			resp, err := c.Get(fleet.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("client's %s: %d; want %d", path, resp.StatusCode, want)
			}
		}
	})
	t.Run("analyst by group", func(t *testing.T) {
		idp.set("dave@msp.example", []string{"analysts-group-id"}, "", 0, "")
		if status, _, session, _ := signIn(t, nil); status != http.StatusSeeOther || !session {
			t.Errorf("analyst: %d, session %v", status, session)
		}
	})
	for _, tc := range []struct {
		name     string
		email    string
		audience string
		lifetime time.Duration
		nonce    string
		spoil    func(url.Values)
		why      string // what the audit log says
	}{
		{name: "bad state", email: "alice@msp.example", spoil: func(q url.Values) { q.Set("state", "forged") }, why: "state does not match"},
		{name: "no state", email: "alice@msp.example", spoil: func(q url.Values) { q.Del("state") }, why: "state does not match"},
		{name: "bad nonce", email: "alice@msp.example", nonce: "someone-elses-nonce", why: "nonce does not match"},
		{name: "expired token", email: "alice@msp.example", lifetime: -time.Hour, why: "token is expired"},
		{name: "wrong audience", email: "alice@msp.example", audience: "another-app", why: "expected audience"},
		{name: "bad code", email: "alice@msp.example", spoil: func(q url.Values) { q.Set("code", "guessed") }, why: "invalid_grant"},
		{name: "provider error", email: "alice@msp.example", spoil: func(q url.Values) { q.Set("error", "access_denied") }, why: "access_denied"},
		{name: "no role", email: "mallory@elsewhere.example", why: "not given a role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp.set(tc.email, nil, tc.audience, tc.lifetime, tc.nonce)
			status, _, session, _ := signIn(t, tc.spoil)
			if status != http.StatusUnauthorized || session {
				t.Errorf("%s: %d, session %v; want 401 and no session", tc.name, status, session)
			}
			last, _ := f.Store.AuditLog(context.Background(), 1)
			if len(last) != 1 || last[0].Action != "signin.failed" || !strings.Contains(last[0].Detail, tc.why) {
				t.Errorf("%s: audit %+v; want a failed sign-in saying %q", tc.name, last, tc.why)
			}
		})
	}
	if strings.Contains(logs.String(), idp.secret) {
		t.Error("the log shows the OIDC client secret")
	}
	events, _ := f.Store.AuditLog(context.Background(), 100)
	failed := 0
	for _, e := range events {
		if e.Action == "signin.failed" {
			failed++
		}
	}
	if failed != 8 {
		t.Errorf("audit log: %d failed sign-ins; want 8", failed)
	}
}

// signIn runs the browser's part of a sign-in at the fleetscore server at
// fleetURL; spoil changes the callback's query.
func (idp *testIdP) signIn(t *testing.T, fleetURL string, spoil func(url.Values)) (status int, location string, session bool, jar http.CookieJar) {
	t.Helper()
	jar, _ = cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: idp.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(fleetURL + "/signin/oidc?next=/actions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authorize := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(authorize, idp.srv.URL+"/authorize?") ||
		!strings.Contains(authorize, "code_challenge_method=S256") || !strings.Contains(authorize, "nonce=") {
		t.Fatalf("start: %d to %q", resp.StatusCode, authorize)
	}
	resp, err = browser.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(cb.String(), fleetURL+"/signin/callback?") {
		t.Fatalf("authorize: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if spoil != nil {
		q := cb.Query()
		spoil(q)
		cb.RawQuery = q.Encode()
	}
	resp, err = browser.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(fleetURL)
	for _, c := range jar.Cookies(u) {
		if c.Name == SessionCookie && c.Value != "" {
			session = true
		}
	}
	return resp.StatusCode, resp.Header.Get("Location"), session, jar
}

// oidcFleet serves a collected fleet with sign-in through idp, configured
// by c (the issuer, client and redirect are filled in).
func oidcFleet(t *testing.T, idp *testIdP, c auth.OIDCConfig) (fleetURL string, f *fleettest.Fleet) {
	t.Helper()
	f = fleettest.New(t, fleettest.Options{Tenants: 1})
	var h http.Handler
	fleet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(fleet.Close)
	c.Issuer, c.ClientID, c.ClientSecret, c.RedirectURL, c.HTTPClient = idp.srv.URL, idp.clientID, idp.secret, fleet.URL+"/signin/callback", idp.srv.Client()
	o, err := auth.NewOIDC(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Source: f.Store, Auth: &auth.Service{Store: f.Store}, OIDC: o})
	if err != nil {
		t.Fatal(err)
	}
	h = s.Handler()
	return fleet.URL, f
}

// TestOIDCClaims: a role is mapped on a verified identifier only. With a
// provider other than Entra ID that is the e-mail the provider marks
// verified, from the ID token or else from UserInfo; with Entra ID the
// token's tenant must be the MSSP's, and people match by UPN or object ID,
// never by the e-mail claim.
func TestOIDCClaims(t *testing.T) {
	idp := newTestIdP(t)
	const own, foreign = "aaaaaaaa-1111-4111-8111-111111111111", "bbbbbbbb-2222-4222-8222-222222222222"
	const oid = "cccccccc-3333-4333-8333-333333333333"
	type step struct {
		name             string
		claims, userinfo map[string]any
		ok               bool
		why              string // the audit log's detail when refused
	}
	run := func(t *testing.T, fleetURL string, f *fleettest.Fleet, email string, steps []step) {
		for _, tc := range steps {
			t.Run(tc.name, func(t *testing.T) {
				idp.set(email, nil, "", 0, "")
				idp.setClaims(tc.claims, tc.userinfo)
				status, _, session, _ := idp.signIn(t, fleetURL, nil)
				if tc.ok != session || (tc.ok && status != http.StatusSeeOther) || (!tc.ok && status != http.StatusUnauthorized) {
					t.Fatalf("%d, session %v; want signed in: %v", status, session, tc.ok)
				}
				last, _ := f.Store.AuditLog(context.Background(), 1)
				if !tc.ok && (len(last) != 1 || last[0].Action != "signin.failed" || !strings.Contains(last[0].Detail, tc.why)) {
					t.Errorf("audit %+v; want a failed sign-in saying %q", last, tc.why)
				}
			})
		}
	}
	t.Run("other provider", func(t *testing.T) {
		fleetURL, f := oidcFleet(t, idp, auth.OIDCConfig{Admins: []string{"alice@msp.example"}, Analysts: []string{"analysts-gid"}})
		sub := "sub-alice@msp.example"
		run(t, fleetURL, f, "alice@msp.example", []step{
			{name: "verified e-mail", ok: true},
			{name: "unverified e-mail refused", claims: map[string]any{"email_verified": false}, why: "not verified"},
			{name: `"false" as a string refused`, claims: map[string]any{"email_verified": "false"}, why: "not verified"},
			{name: "e-mail only in UserInfo", claims: map[string]any{"email": nil, "email_verified": nil},
				userinfo: map[string]any{"sub": sub, "email": "Alice@MSP.example", "email_verified": true}, ok: true},
			{name: "unverified in UserInfo refused", claims: map[string]any{"email": nil, "email_verified": nil},
				userinfo: map[string]any{"sub": sub, "email": "alice@msp.example", "email_verified": false}, why: "not verified"},
			{name: "UserInfo of another subject refused", claims: map[string]any{"email": nil, "email_verified": nil},
				userinfo: map[string]any{"sub": "someone-else", "email": "alice@msp.example", "email_verified": true}, why: "another subject"},
			{name: "no UserInfo and no e-mail refused", claims: map[string]any{"email": nil, "email_verified": nil}, why: "UserInfo"},
			{name: "no e-mail but a group", claims: map[string]any{"email": nil, "email_verified": nil, "groups": []string{"analysts-gid"}}, ok: true},
		})
	})
	t.Run("entra", func(t *testing.T) {
		fleetURL, f := oidcFleet(t, idp, auth.OIDCConfig{TenantID: own,
			Admins: []string{"admin@msp.onmicrosoft.com", "alice@msp.example"}, Analysts: []string{oid}})
		run(t, fleetURL, f, "alice@msp.example", []step{
			{name: "UPN accepted", claims: map[string]any{"tid": own, "preferred_username": "Admin@MSP.onmicrosoft.com"}, ok: true},
			{name: "upn claim accepted", claims: map[string]any{"tid": own, "upn": "admin@msp.onmicrosoft.com"}, ok: true},
			{name: "object ID accepted", claims: map[string]any{"tid": own, "oid": oid, "preferred_username": "dave@msp.onmicrosoft.com"}, ok: true},
			{name: "foreign tid refused", claims: map[string]any{"tid": foreign, "preferred_username": "admin@msp.onmicrosoft.com"}, why: "not of the MSSP's tenant"},
			{name: "no tid refused", claims: map[string]any{"preferred_username": "admin@msp.onmicrosoft.com"}, why: "not of the MSSP's tenant"},
			// The e-mail claim (even "verified") names alice, an admin: it is not used.
			{name: "e-mail claim not used", claims: map[string]any{"tid": own, "preferred_username": "mallory@msp.onmicrosoft.com"}, why: "not given a role"},
		})
	})
}
