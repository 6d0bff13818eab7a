package collect_test

// A hostile upstream: Graph and Entra look-alikes that redirect, send pages
// without end, impossible numbers and NUL bytes, and echo the client secret.
// The collector must refuse each, say why, and keep what is good.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/internal/redact"
	"github.com/fleetscore/fleetscore/postgres"
	"github.com/fleetscore/fleetscore/postgres/pgtest"
	"github.com/fleetscore/fleetscore/sqlite"
)

const hostileTenant = "7a1d0c3e-5b2f-4c8d-9e6a-1f2b3c4d5e6f"

// staticToken is a credential that always has the same token: the hostile
// Graph tests need no Entra.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// hostile is an HTTPS upstream with its own handler, and a Graph client
// that trusts it.
type hostile struct {
	srv *httptest.Server
	hc  *http.Client
}

func newHostile(t *testing.T, h http.Handler) *hostile {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &hostile{srv: srv, hc: graph.NewHTTPClient(ca)}
}

func (h *hostile) graph(t *testing.T, o graph.Options) *graph.Client {
	t.Helper()
	o.BaseURL, o.HTTPClient = h.srv.URL, h.hc
	o.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	o.MaxAttempts = 2
	gc, err := graph.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return gc
}

func sqliteStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), "sqlite:"+t.TempDir()+"/fleetscore.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func hostileJob(cred azcore.TokenCredential) collect.Job {
	return collect.Job{
		Tenant: fleetscore.Tenant{ID: hostileTenant, Name: "Hostile", TargetPercent: 75},
		Target: graph.Target{TenantID: hostileTenant, ClientID: "11112222-3333-4444-5555-666677778888", Credential: cred},
	}
}

// day is a snapshot as Graph writes it; controls are name -> score.
func day(d string, current, max any, controls map[string]any) map[string]any {
	var cs []map[string]any
	for n, s := range controls {
		cs = append(cs, map[string]any{"controlName": n, "controlCategory": "Identity", "score": s})
	}
	return map[string]any{"id": hostileTenant + "_" + d, "azureTenantId": hostileTenant, "createdDateTime": d + "T00:00:00Z",
		"currentScore": current, "maxScore": max, "controlScores": cs}
}

// fixedGraph answers secureScores and secureScoreControlProfiles with the
// given values.
func fixedGraph(scores, profiles []map[string]any) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1.0/security/secureScores", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"value": scores})
	})
	mux.HandleFunc("GET /v1.0/security/secureScoreControlProfiles", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"value": profiles})
	})
	return mux
}

func profile(id, title string, max any) map[string]any {
	return map[string]any{"id": id, "azureTenantId": hostileTenant, "title": title, "maxScore": max, "controlCategory": "Identity"}
}

// A 302 from Graph never takes the bearer token anywhere: not to another
// port, not over plain http. The tenant fails with an error naming the target.
func TestGraphRedirectIsNotFollowed(t *testing.T) {
	var reached atomic.Int32
	var sawToken atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		if r.Header.Get("Authorization") != "" {
			sawToken.Store(true)
		}
	}))
	defer elsewhere.Close()
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			h := newHostile(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+"/v1.0"+strings.TrimPrefix(r.URL.Path, "/v1.0")+"?stolen=1", status)
			}))
			c := &collect.Collector{Store: sqliteStore(t), Graph: h.graph(t, graph.Options{}), Timeout: time.Minute}
			sum := c.Run(context.Background(), []collect.Job{hostileJob(staticToken("bearer-token-of-the-tenant"))})
			r := sum.Results[0]
			if r.Err == nil {
				t.Fatal("a redirect from Graph was followed as if it were an answer")
			}
			if !strings.Contains(r.Collection.Error, elsewhere.URL) || !strings.Contains(r.Collection.Error, fmt.Sprint(status)) {
				t.Errorf("the error does not name the redirect and its target: %q", r.Collection.Error)
			}
			if strings.Contains(r.Collection.Error, "stolen") {
				t.Errorf("the error repeats the target's query: %q", r.Collection.Error)
			}
		})
	}
	if n := reached.Load(); n != 0 || sawToken.Load() {
		t.Fatalf("the redirect target got %d requests (token seen: %v)", n, sawToken.Load())
	}
}

// entra is a token endpoint look-alike: discovery as Entra answers it, and
// the token endpoint given.
func entra(token http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		b := "https://" + r.Host + "/" + r.PathValue("tenant")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint": b + "/oauth2/v2.0/token", "issuer": b + "/v2.0", "authorization_endpoint": b + "/oauth2/v2.0/authorize",
			"jwks_uri": b + "/discovery/v2.0/keys", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"pairwise"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", token)
	return mux
}

func secretCredential(t *testing.T, h *hostile, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := graph.NewCredential(graph.App{ClientID: "11112222-3333-4444-5555-666677778888", Secret: func() string { return secret }},
		hostileTenant, graph.AuthOptions{AuthorityHost: h.srv.URL + "/", Custom: true, HTTPClient: h.hc})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// A 307 from the token endpoint would repeat the POST, client_secret and
// all, to wherever it points: it is refused, and the target never sees it.
func TestTokenRedirectKeepsTheSecret(t *testing.T) {
	const secret = "Zq8~hostile.redirect-secret_0123456789"
	var got bytes.Buffer
	var mu sync.Mutex
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.Write(b)
		got.WriteString(r.URL.String())
		mu.Unlock()
	}))
	defer thief.Close()
	h := newHostile(t, entra(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, thief.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	c := &collect.Collector{Store: sqliteStore(t), Graph: h.graph(t, graph.Options{}), Timeout: time.Minute}
	sum := c.Run(context.Background(), []collect.Job{hostileJob(secretCredential(t, h, secret))})
	r := sum.Results[0]
	if r.Err == nil {
		t.Fatal("the token request succeeded through a redirect")
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Len() > 0 {
		t.Fatalf("the redirect target received %q", got.String())
	}
	if !strings.Contains(r.Collection.Error, thief.URL+"/steal") {
		t.Errorf("the error does not name the redirect's target: %q", r.Collection.Error)
	}
}

// A page without end is refused at the cap, the tenant fails with a clear
// error, and the client stops reading: the upstream cannot push more than
// a little past the cap.
func TestEndlessPageIsRefused(t *testing.T) {
	const capBytes = 1 << 20
	var written atomic.Int64
	h := newHostile(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "ControlProfiles") {
			_, _ = io.WriteString(w, `{"value":[]}`)
			return
		}
		_, _ = io.WriteString(w, `{"value":[`)
		chunk := []byte(strings.Repeat(`{"id":"x","createdDateTime":"2026-11-01T00:00:00Z","currentScore":1,"maxScore":2},`, 256))
		// Bounded: 64 times the cap at most, in case the client never stops.
		for written.Load() < 64*capBytes {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	c := &collect.Collector{Store: sqliteStore(t), Graph: h.graph(t, graph.Options{MaxPageBytes: capBytes}), Timeout: time.Minute}
	sum := c.Run(context.Background(), []collect.Job{hostileJob(staticToken("tok"))})
	r := sum.Results[0]
	if r.Err == nil || r.Collection.Status != fleetscore.StatusError {
		t.Fatalf("an endless page was accepted: %+v", r.Collection)
	}
	if !strings.Contains(r.Collection.Error, "more than 1 MB") {
		t.Errorf("the error does not say the page was too large: %q", r.Collection.Error)
	}
	h.srv.CloseClientConnections()
	if n := written.Load(); n >= 64*capBytes {
		t.Errorf("the client read on to %d bytes", n)
	}
}

// Impossible snapshots (500 of 100 points, NaN, negative points or a
// negative control) are refused day by day, naming each day; the good
// days are stored, and no stored percent passes 100.
func TestImpossibleSnapshotsAreRefused(t *testing.T) {
	scores := []map[string]any{
		day("2026-11-05", 40.5, 80, map[string]any{"MFA": 10}),
		day("2026-11-04", 500, 100, nil),
		day("2026-11-03", "NaN", 80, nil),
		day("2026-11-02", -3, 80, nil),
		day("2026-11-01", 40, 80, map[string]any{"MFA": -10}),
		day("2026-10-31", 80.3, 80, nil), // within Graph's rounding of the max
		day("2026-10-30", 39, "Infinity", nil),
	}
	profiles := []map[string]any{profile("MFA", "Require MFA", 10)}
	h := newHostile(t, fixedGraph(scores, profiles))
	store := sqliteStore(t)
	c := &collect.Collector{Store: store, Graph: h.graph(t, graph.Options{}), Timeout: time.Minute}
	sum := c.Run(context.Background(), []collect.Job{hostileJob(staticToken("tok"))})
	r := sum.Results[0]
	if r.Err == nil {
		t.Fatal("impossible snapshots were stored without a word")
	}
	for _, d := range []string{"2026-11-04", "2026-11-03", "2026-11-02", "2026-11-01", "2026-10-30"} {
		if !strings.Contains(r.Collection.Error, d) {
			t.Errorf("the error does not name the refused day %s: %q", d, r.Collection.Error)
		}
	}
	for _, d := range []string{"2026-11-05", "2026-10-31"} {
		if strings.Contains(r.Collection.Error, d) {
			t.Errorf("the error names the good day %s: %q", d, r.Collection.Error)
		}
	}
	got, err := store.Scores(context.Background(), hostileTenant, fleetscore.MustDay("2026-10-01"), fleetscore.MustDay("2026-11-30"))
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, s := range got {
		days = append(days, s.Day.String())
		if p := s.Percent(); p > 100+100*fleetscore.ScoreTolerance/s.MaxScore || p < 0 {
			t.Errorf("%s stored at %.1f %%", s.Day, p)
		}
	}
	if strings.Join(days, ",") != "2026-10-31,2026-11-05" {
		t.Errorf("stored days %v, want the two good ones", days)
	}
	if r.Collection.Days != 2 {
		t.Errorf("the collection log says %d days written, want 2", r.Collection.Days)
	}
}

// A profile with a negative maximum is refused, and the stored profiles stay
// as they were.
func TestImpossibleProfileKeepsTheStoredOnes(t *testing.T) {
	good := []map[string]any{day("2026-11-05", 5, 10, map[string]any{"MFA": 5})}
	store := sqliteStore(t)
	first := newHostile(t, fixedGraph(good, []map[string]any{profile("MFA", "Require MFA", 10)}))
	c := &collect.Collector{Store: store, Graph: first.graph(t, graph.Options{}), Timeout: time.Minute}
	if r := c.Run(context.Background(), []collect.Job{hostileJob(staticToken("tok"))}).Results[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	bad := newHostile(t, fixedGraph(good, []map[string]any{profile("MFA", "Require MFA (changed)", -10)}))
	c.Graph = bad.graph(t, graph.Options{})
	r := c.Run(context.Background(), []collect.Job{hostileJob(staticToken("tok"))}).Results[0]
	if r.Err == nil || !strings.Contains(r.Collection.Error, "MFA has a maximum of -10") {
		t.Fatalf("a negative control maximum was not refused: %v / %q", r.Err, r.Collection.Error)
	}
	profs, err := store.Profiles(context.Background(), hostileTenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(profs) != 1 || profs[0].Title != "Require MFA" || profs[0].MaxScore != 10 {
		t.Errorf("stored profiles %+v, want the first collection's", profs)
	}
}

// A token endpoint that echoes the client secret in error_description (raw
// and URL-encoded) gets it into no log line, no stored collection and no
// returned error.
func TestEchoedSecretIsScrubbed(t *testing.T) {
	const secret = "Qx7~echoed+secret/value=42_abcdef"
	h := newHostile(t, entra(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"error":             "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided: '" + r.PostForm.Get("client_secret") + "' (" + url.QueryEscape(secret) + ")",
			"error_codes":       []int{7000215},
		})
	}))
	var logs bytes.Buffer
	sc := redact.New(secret)
	log := slog.New(sc.Handler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	store := sqliteStore(t)
	c := &collect.Collector{Store: store, Graph: h.graph(t, graph.Options{Logger: log}), Timeout: time.Minute, Logger: log, Scrub: sc}
	r := c.Run(context.Background(), []collect.Job{hostileJob(secretCredential(t, h, secret))}).Results[0]
	if r.Err == nil {
		t.Fatal("a refused token was taken")
	}
	cols, err := store.Collections(context.Background(), hostileTenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	var stored strings.Builder
	for _, c := range cols {
		stored.WriteString(c.Error + " " + c.Advice + "\n")
	}
	if !strings.Contains(stored.String(), "AADSTS7000215") {
		t.Fatalf("the stored error lost Entra's message: %q", stored.String())
	}
	for what, text := range map[string]string{"log": logs.String(), "stored collection": stored.String(), "returned error": r.Err.Error(), "result": r.Collection.Error} {
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
			if strings.Contains(text, form) {
				t.Errorf("the %s holds the secret (%q): %s", what, form, text)
			}
		}
	}
}

// A NUL byte in a control title (Graph's JSON may carry \u0000) is dropped
// on the way in: PostgreSQL cannot store it, and it would fail the tenant
// at every run.
func TestNULInTitlesIsStripped(t *testing.T) {
	store, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scores := []map[string]any{day("2026-11-05", 5, 10, map[string]any{"MF\u0000A": 5})}
	profiles := []map[string]any{profile("MF\u0000A", "Require\u0000 MFA", 10)}
	h := newHostile(t, fixedGraph(scores, profiles))
	c := &collect.Collector{Store: store, Graph: h.graph(t, graph.Options{}), Timeout: time.Minute}
	r := c.Run(context.Background(), []collect.Job{hostileJob(staticToken("tok"))}).Results[0]
	if r.Err != nil {
		t.Fatalf("a NUL in a title failed the tenant: %v", r.Err)
	}
	profs, err := store.Profiles(context.Background(), hostileTenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(profs) != 1 || profs[0].ID != "MFA" || profs[0].Title != "Require MFA" {
		t.Errorf("stored profiles %+v, want MFA / Require MFA", profs)
	}
}

// tokenIssuer is an Entra look-alike that issues tok-1, tok-2, ... one per
// token request, and a Graph that refuses the tokens refused holds (as
// "expired or not yet valid") on any page after the first.
func tokenIssuer(t *testing.T, refused func(tok string) bool) (*hostile, *atomic.Int32) {
	t.Helper()
	var issued atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/{tenant}/", entra(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("tok-%d", issued.Add(1)), "token_type": "Bearer", "expires_in": 3600})
	}))
	scores := []map[string]any{day("2026-11-05", 5, 10, nil), day("2026-11-04", 4, 10, nil)}
	mux.HandleFunc("GET /v1.0/security/secureScores", func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if r.URL.Query().Get("page") == "" {
			_ = json.NewEncoder(w).Encode(map[string]any{"value": scores[:1], "@odata.nextLink": "https://" + r.Host + "/v1.0/security/secureScores?page=2"})
			return
		}
		if refused(tok) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"value": scores[1:]})
	})
	mux.HandleFunc("GET /v1.0/security/secureScoreControlProfiles", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"value":[]}`)
	})
	return newHostile(t, mux), &issued
}

// A token Graph refuses in the middle of a tenant's pages is replaced by a
// new one from Entra (not the cache), once; the tenant is collected.
func TestRefusedTokenIsRenewedOnce(t *testing.T) {
	h, issued := tokenIssuer(t, func(tok string) bool { return tok == "tok-1" })
	store := sqliteStore(t)
	c := &collect.Collector{Store: store, Graph: h.graph(t, graph.Options{}), Timeout: time.Minute}
	r := c.Run(context.Background(), []collect.Job{hostileJob(secretCredential(t, h, "a-secret-of-the-app"))}).Results[0]
	if r.Err != nil {
		t.Fatalf("a token refused mid-pages failed the tenant: %v", r.Err)
	}
	if r.Collection.Days != 2 || issued.Load() != 2 {
		t.Errorf("%d days written, %d tokens issued; want 2 and 2", r.Collection.Days, issued.Load())
	}
}

// When the new token is refused too, the tenant fails, with advice about
// the clock and the cloud, after exactly one renewal.
func TestRefusedNewTokenAdvisesOnTheClock(t *testing.T) {
	h, issued := tokenIssuer(t, func(string) bool { return true })
	c := &collect.Collector{Store: sqliteStore(t), Graph: h.graph(t, graph.Options{}), Timeout: time.Minute}
	r := c.Run(context.Background(), []collect.Job{hostileJob(secretCredential(t, h, "a-secret-of-the-app"))}).Results[0]
	if r.Err == nil {
		t.Fatal("a refused token was taken")
	}
	if !strings.Contains(r.Collection.Advice, "clock") || !strings.Contains(r.Collection.Advice, "new token too") {
		t.Errorf("advice %q; want the clock and the cloud, after a new token", r.Collection.Advice)
	}
	if n := issued.Load(); n != 2 {
		t.Errorf("%d tokens issued; want 2 (one renewal)", n)
	}
}
