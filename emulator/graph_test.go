package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

func TestGraphRejectsBadTokens(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 1, Tenants: 1, Now: c.Now})
	tenant := e.Tenants()[0].ID
	expired := e.issueAccessToken(accessClaims{Aud: "https://graph.microsoft.com", Tid: tenant, AppID: testApp,
		Roles: []string{roleSecurityEventsRead}, Nbf: time.Now().Add(-2 * time.Hour).Unix(), Exp: time.Now().Add(-time.Hour).Unix()})
	stranger := New(Options{Seed: 1, Tenants: 1}) // same tenants, different signing key
	foreign := stranger.issueAccessToken(accessClaims{Aud: "https://graph.microsoft.com", Tid: tenant, AppID: testApp,
		Roles: []string{roleSecurityEventsRead}, Nbf: time.Now().Unix(), Exp: time.Now().Add(time.Hour).Unix()})
	tests := []struct {
		name, token, message string
	}{
		{"no token", "", "Access token is empty."},
		{"not a JWT", "opaque", "JWT is not well formed"},
		{"signed by someone else", foreign, "Invalid signature"},
		{"expired", expired, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, e, tt.token, "/v1.0/security/secureScores")
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", r.Status)
			}
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
			ge := decodeGraphError(t, r)
			if ge.Error.Code != "InvalidAuthenticationToken" || !strings.Contains(ge.Error.Message, tt.message) {
				t.Errorf("got %s %q", ge.Error.Code, ge.Error.Message)
			}
		})
	}
	if got := e.Stats(tenant).Unauthorized; got != 1 {
		t.Errorf("tenant Stats.Unauthorized = %d, want 1 (the expired token is the tenant's)", got)
	}
	if got := e.Stats("").Unauthorized; got != len(tests) {
		t.Errorf("Stats(\"\").Unauthorized = %d, want %d", got, len(tests))
	}
}

func TestRevokedConsentGivesTokenWithoutRolesAnd403(t *testing.T) {
	e := startEmulator(t, Options{Seed: 1, Tenants: 1})
	tenant := e.Tenants()[0].ID
	e.SetFaults(tenant, Faults{RevokeConsent: true})
	tok := token(t, e, tenant) // Entra still issues a token ...
	if _, ok := accessTokenClaims(t, tok)["roles"]; ok {
		t.Fatal("token of a revoked app has a roles claim")
	}
	for _, path := range []string{"/v1.0/security/secureScores", "/beta/security/secureScoreControlProfiles"} {
		r := get(t, e, tok, path) // ... and Graph refuses it
		ge := decodeGraphError(t, r)
		if r.Status != http.StatusForbidden || ge.Error.Code != "Forbidden" ||
			ge.Error.Message != "Auth token does not contain valid permissions or user does not have valid roles." {
			t.Errorf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	if s := e.Stats(tenant); s.Forbidden != 2 {
		t.Errorf("Stats.Forbidden = %d, want 2", s.Forbidden)
	}
}

func TestGraphHeaders(t *testing.T) {
	e := startEmulator(t, Options{Seed: 1, Tenants: 1})
	tok := token(t, e, e.Tenants()[0].ID)
	req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v1.0/security/secureScores?$top=1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("client-request-id", "my-correlation-id")
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("client-request-id"); got != "my-correlation-id" {
		t.Errorf("client-request-id %q, want the client's echoed", got)
	}
	if resp.Header.Get("request-id") == "" {
		t.Error("no request-id")
	}
	if ct := resp.Header.Get("Content-Type"); ct != graphContentType {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestSecureScoresQuery(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 9, Now: c.Now})
	ti := e.AddTenant(Tenant{ID: "7f3c2a10-5b6d-4e8f-9a01-23456789abcd", Controls: 160})
	tok := token(t, e, ti.ID)
	days := func(p page) []string {
		var out []string
		for _, raw := range p.Value {
			var v struct{ ID, CreatedDateTime string }
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(v.CreatedDateTime, "T00:00:00Z") || v.ID != ti.ID+"_"+v.CreatedDateTime[:10] {
				t.Errorf("id %s, createdDateTime %s", v.ID, v.CreatedDateTime)
			}
			out = append(out, v.CreatedDateTime[:10])
		}
		return out
	}

	p := decodePage(t, get(t, e, tok, "/v1.0/security/secureScores"))
	all := days(p)
	if len(all) != 90 || all[0] != "2026-03-15" || all[89] != "2025-12-16" {
		t.Fatalf("want 90 days newest first, 2026-03-15 .. 2025-12-16; got %d: %s .. %s", len(all), all[0], all[len(all)-1])
	}
	if p.NextLink != "" || p.Count != nil {
		t.Errorf("unpaged list has nextLink %q / count %v", p.NextLink, p.Count)
	}
	if p.Context != e.URL()+"/v1.0/$metadata#security/secureScores" {
		t.Errorf("@odata.context %q", p.Context)
	}

	tests := []struct {
		query string
		want  []string
		count int
	}{
		{"$top=3", all[:3], -1},
		{"$top=1&$skip=7", all[7:8], -1},
		{"$top=2&$count=true", all[:2], 90},
		{"$filter=createdDateTime ge 2026-03-10T00:00:00Z", all[:6], -1},
		{"$filter=createdDateTime gt 2026-03-10T00:00:00Z and createdDateTime le 2026-03-12T00:00:00Z&$count=true", all[3:5], 2},
		{"$filter=createdDateTime eq 2026-01-01T00:00:00Z", []string{"2026-01-01"}, -1},
		{"$filter=createdDateTime lt 2025-12-17T00:00:00Z", all[89:], -1},
		{"$filter=azureTenantId eq '" + ti.ID + "'&$top=1", all[:1], -1},
		{"$filter=azureTenantId eq 'someone-else'", nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			p := decodePage(t, get(t, e, tok, "/v1.0/security/secureScores?"+strings.ReplaceAll(tt.query, " ", "%20")))
			if got := days(p); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if tt.count >= 0 && (p.Count == nil || *p.Count != tt.count) {
				t.Errorf("@odata.count %v, want %d", p.Count, tt.count)
			}
		})
	}

	for _, bad := range []string{"$select=currentScore", "$orderby=createdDateTime", "$top=many", "$filter=currentScore gt 5",
		"$filter=createdDateTime ge yesterday", "$filter=createdDateTime between 1 and 2", "$skiptoken=forged", "$expand=controlScores"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			r := get(t, e, tok, "/v1.0/security/secureScores?"+strings.ReplaceAll(bad, " ", "%20"))
			if ge := decodeGraphError(t, r); r.Status != http.StatusBadRequest || ge.Error.Code != "BadRequest" {
				t.Errorf("status %d %s", r.Status, r.Body)
			}
		})
	}
}

func TestSecureScoresPaging(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 9, Now: c.Now})
	ti := e.AddTenant(Tenant{Controls: 150, ScorePageSize: 7})
	tok := token(t, e, ti.ID)

	first := decodePage(t, get(t, e, tok, "/v1.0/security/secureScores?$count=true"))
	if len(first.Value) != 7 || !strings.HasPrefix(first.NextLink, e.URL()+"/v1.0/security/secureScores?") ||
		!strings.Contains(first.NextLink, "$skiptoken=") || !strings.Contains(first.NextLink, "$count=true") {
		t.Fatalf("first page: %d items, nextLink %q", len(first.Value), first.NextLink)
	}
	items, pages := getAll(t, e, tok, "/v1.0/security/secureScores")
	if len(items) != 90 || pages != 13 {
		t.Errorf("got %d items in %d pages, want 90 in 13", len(items), pages)
	}
	want, _ := e.Expected(ti.ID)
	for i, raw := range items {
		if got := decodeScore(t, raw); got.Day != want[89-i].Day {
			t.Fatalf("item %d is %s, want %s", i, got.Day, want[89-i].Day)
		}
	}
	items, pages = getAll(t, e, tok, "/v1.0/security/secureScores?$top=20")
	if len(items) != 20 || pages != 3 {
		t.Errorf("$top=20: %d items in %d pages, want 20 in 3", len(items), pages)
	}
	items, _ = getAll(t, e, tok, "/v1.0/security/secureScores?$filter=createdDateTime%20ge%202026-03-01T00:00:00Z")
	if len(items) != 15 {
		t.Errorf("filtered paging: %d items, want 15", len(items))
	}

	// A paging sequence keeps the day it started on, even across midnight.
	next := first.NextLink
	c.AddDays(1)
	p := decodePage(t, get(t, e, tok, next))
	if got := decodeScore(t, p.Value[0]).Day; got != fleetscore.MustDay("2026-03-08") {
		t.Errorf("page 2 after midnight starts at %s, want 2026-03-08", got)
	}
}

func TestControlProfilesPaging(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 9, Now: c.Now})
	ti := e.AddTenant(Tenant{Controls: 290})
	tok := token(t, e, ti.ID)
	_, want := e.Expected(ti.ID)
	if len(want) <= 250 {
		t.Fatalf("want more than 250 profiles for this test, have %d", len(want))
	}

	first := decodePage(t, get(t, e, tok, "/v1.0/security/secureScoreControlProfiles"))
	if len(first.Value) != 250 || !strings.HasPrefix(first.NextLink, e.URL()+"/v1.0/security/secureScoreControlProfiles?$skiptoken=") {
		t.Fatalf("first page: %d items, nextLink %q; want 250 and a $skiptoken link", len(first.Value), first.NextLink)
	}
	items, pages := getAll(t, e, tok, "/v1.0/security/secureScoreControlProfiles?$top=999")
	if len(items) != len(want) || pages != 2 {
		t.Errorf("$top=999: %d profiles in %d pages, want %d in 2 (the page size still applies)", len(items), pages, len(want))
	}
	for i, raw := range items {
		if p := decodeProfile(t, raw); p.ID != want[i].ID || p.Rank != i+1 {
			t.Fatalf("profile %d: %s rank %d, want %s rank %d", i, p.ID, p.Rank, want[i].ID, i+1)
		}
	}
	p := decodePage(t, get(t, e, tok, "/beta/security/secureScoreControlProfiles?$top=10"))
	if len(p.Value) != 10 || p.NextLink != "" {
		t.Errorf("$top=10: %d items, nextLink %q", len(p.Value), p.NextLink)
	}
	items, _ = getAll(t, e, tok, "/v1.0/security/secureScoreControlProfiles?$filter=controlCategory%20eq%20'Identity'")
	identity := 0
	for _, w := range want {
		if w.Category == fleetscore.CategoryIdentity {
			identity++
		}
	}
	if len(items) != identity || identity == 0 {
		t.Errorf("Identity filter: %d profiles, want %d", len(items), identity)
	}
}

func TestGetOneByID(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 9, Now: c.Now, NoQuirks: true, Tenants: 1})
	ti := e.Tenants()[0]
	tok := token(t, e, ti.ID)
	scores, profiles := e.Expected(ti.ID)

	r := get(t, e, tok, "/v1.0/security/secureScores/"+ti.ID+"_2026-03-01")
	if r.Status != 200 {
		t.Fatalf("status %d %s", r.Status, r.Body)
	}
	got := decodeScore(t, r.Body)
	for _, s := range scores {
		if s.Day == got.Day && s.CurrentScore != got.CurrentScore {
			t.Errorf("currentScore %v, want %v", got.CurrentScore, s.CurrentScore)
		}
	}
	r = get(t, e, tok, "/v1.0/security/secureScoreControlProfiles/"+profiles[3].ID)
	if p := decodeProfile(t, r.Body); r.Status != 200 || p.ID != profiles[3].ID || p.Rank != 4 {
		t.Errorf("profile: %d %s", r.Status, r.Body)
	}
	for _, path := range []string{"/v1.0/security/secureScores/" + ti.ID + "_2020-01-01", "/v1.0/security/secureScoreControlProfiles/NoSuchControl"} {
		if r := get(t, e, tok, path); r.Status != http.StatusNotFound {
			t.Errorf("%s: status %d", path, r.Status)
		}
	}
	if r := get(t, e, tok, "/v1.0/security/secureScorez"); r.Status != http.StatusBadRequest {
		t.Errorf("unknown segment: status %d", r.Status)
	}
}

func TestInjectedFaults(t *testing.T) {
	e := startEmulator(t, Options{Seed: 1, Tenants: 1})
	tenant := e.Tenants()[0].ID
	tok := token(t, e, tenant)
	const path = "/v1.0/security/secureScores?$top=2"

	t.Run("throttle with a fractional Retry-After", func(t *testing.T) {
		e.SetFaults(tenant, Faults{Throttle: 2, RetryAfter: "2.128"})
		for i := 0; i < 2; i++ {
			r := get(t, e, tok, path)
			if ge := decodeGraphError(t, r); r.Status != 429 || r.Header.Get("Retry-After") != "2.128" || ge.Error.Code != "TooManyRequests" {
				t.Fatalf("request %d: %d Retry-After %q %s", i, r.Status, r.Header.Get("Retry-After"), r.Body)
			}
		}
		if r := get(t, e, tok, path); r.Status != 200 {
			t.Errorf("third request: %d", r.Status)
		}
	})
	t.Run("throttle without Retry-After", func(t *testing.T) {
		e.SetFaults(tenant, Faults{Throttle: 1})
		if r := get(t, e, tok, path); r.Status != 429 || r.Header.Get("Retry-After") != "" {
			t.Errorf("%d Retry-After %q", r.Status, r.Header.Get("Retry-After"))
		}
	})
	t.Run("503 then 504", func(t *testing.T) {
		e.SetFaults(tenant, Faults{Unavailable: 1})
		if r := get(t, e, tok, path); r.Status != 503 || decodeGraphError(t, r).Error.Code != "ServiceUnavailable" {
			t.Errorf("%d %s", r.Status, r.Body)
		}
		e.SetFaults(tenant, Faults{Unavailable: 1, UnavailableStatus: 504, RetryAfter: "1"})
		if r := get(t, e, tok, path); r.Status != 504 || r.Header.Get("Retry-After") != "1" {
			t.Errorf("%d %s", r.Status, r.Body)
		}
		if r := get(t, e, tok, path); r.Status != 200 {
			t.Errorf("after the fault: %d", r.Status)
		}
	})
	t.Run("malformed body", func(t *testing.T) {
		e.SetFaults(tenant, Faults{Malformed: 2})
		for _, p := range []string{path, "/v1.0/security/secureScoreControlProfiles"} {
			r := get(t, e, tok, p)
			if r.Status != 200 || json.Valid(r.Body) || len(r.Body) == 0 {
				t.Errorf("%s: status %d, valid JSON %v (%d bytes)", p, r.Status, json.Valid(r.Body), len(r.Body))
			}
		}
		if r := get(t, e, tok, path); !json.Valid(r.Body) {
			t.Error("the body after the fault is malformed too")
		}
	})
	t.Run("slow", func(t *testing.T) {
		e.SetFaults(tenant, Faults{Slow: 150 * time.Millisecond})
		start := time.Now()
		get(t, e, tok, path)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("took %v", d)
		}
	})
	t.Run("crash after two successes", func(t *testing.T) {
		e.SetFaults(tenant, Faults{FailAfter: 2})
		for i := 0; i < 2; i++ {
			if r := get(t, e, tok, path); r.Status != 200 {
				t.Fatalf("request %d: %d", i, r.Status)
			}
		}
		for i := 0; i < 2; i++ {
			req, _ := http.NewRequest(http.MethodGet, e.URL()+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if resp, err := e.Client().Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("request after the crash: status %d, want a dropped connection", resp.StatusCode)
			}
		}
		e.SetFaults(tenant, Faults{})
		if r := get(t, e, tok, path); r.Status != 200 {
			t.Errorf("after clearing faults: %d", r.Status)
		}
	})
	s := e.Stats(tenant)
	if s.Throttled != 3 || s.Unavailable != 2 || s.Malformed != 2 || s.Dropped != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestGraphLimitsPerAppPerTenant(t *testing.T) {
	t.Run("more than 4 concurrent requests get 429", func(t *testing.T) {
		e := startEmulator(t, Options{Seed: 1, Tenants: 2, Latency: 400 * time.Millisecond})
		ts := e.Tenants()
		tok := token(t, e, ts[0].ID)
		tok2 := token(t, e, ts[1].ID)
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				tk := tok
				if i >= 8 {
					tk = tok2 // another tenant has its own limits
				}
				r := get(t, e, tk, "/v1.0/security/secureScores?$top=1")
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
				if r.Status == 429 && r.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			}(i)
		}
		wg.Wait()
		if statuses[200] != 6 || statuses[429] != 4 {
			t.Errorf("statuses %v, want 4+2 OK and 4 throttled", statuses)
		}
		// The collector's own test reads MaxConcurrent to prove it stays at 4.
		if s := e.Stats(ts[0].ID); s.MaxConcurrent < 5 || s.Throttled != 4 {
			t.Errorf("stats %+v, want MaxConcurrent over 4 and Throttled 4", s)
		}
	})
	t.Run("more than 150 requests a minute get 429", func(t *testing.T) {
		e := startEmulator(t, Options{Seed: 1, Tenants: 1})
		tenant := e.Tenants()[0].ID
		tok := token(t, e, tenant)
		for i := 0; i < 150; i++ {
			if r := get(t, e, tok, "/v1.0/security/secureScores?$top=1"); r.Status != 200 {
				t.Fatalf("request %d: status %d", i+1, r.Status)
			}
		}
		r := get(t, e, tok, "/v1.0/security/secureScores?$top=1")
		ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if r.Status != 429 || err != nil || ra < 1 || ra > 60 {
			t.Errorf("request 151: %d Retry-After %q", r.Status, r.Header.Get("Retry-After"))
		}
		const otherApp = "77777777-7777-7777-7777-777777777777"
		e.AddApp(App{ClientID: otherApp, Secrets: []string{"x"}})
		e.ConsentAll(otherApp)
		other := postToken(t, e, tenant, secretForm(otherApp, "x")).AccessToken
		if r := get(t, e, other, "/v1.0/security/secureScores?$top=1"); r.Status != 200 {
			t.Errorf("another app in the same tenant: %d; limits are per app", r.Status)
		}
	})
	t.Run("Unthrottled lifts the limits", func(t *testing.T) {
		e := startEmulator(t, Options{Seed: 1, Tenants: 1, Unthrottled: true})
		tok := token(t, e, e.Tenants()[0].ID)
		for i := 0; i < 160; i++ {
			if r := get(t, e, tok, "/v1.0/security/secureScores?$top=1"); r.Status != 200 {
				t.Fatalf("request %d: status %d", i+1, r.Status)
			}
		}
	})
}

// Each quirk must actually show in the bytes, or the client never meets it.
func TestQuirksShowInResponses(t *testing.T) {
	c := newClock("2026-03-15")
	e := startEmulator(t, Options{Seed: 21, Tenants: 40, Now: c.Now, Unthrottled: true})
	markers := map[string]func(q quirks) bool{
		`"score":"`:                                    func(q quirks) bool { return q.stringNumbers },
		`"scoreInPercentage":"`:                        func(q quirks) bool { return q.stringNumbers },
		`"deviceScore":"`:                              func(q quirks) bool { return q.stringNumbers },
		`"seatSizeRangeLowerValue"`:                    func(q quirks) bool { return q.lowerSeat },
		`"SeatSizeRangeLowerValue"`:                    func(q quirks) bool { return !q.lowerSeat },
		`"IndustryTypes"`:                              func(q quirks) bool { return !q.noIndustry },
		`"averageScore":-1`:                            func(q quirks) bool { return q.sentinels },
		`"IsApplicable":"true"`:                        func(q quirks) bool { return q.extraFields },
		`"@odata.type":"#microsoft.graph.secureScore"`: func(q quirks) bool { return q.extraFields },
	}
	seen := map[string]int{}
	holes, orphans := 0, 0
	for _, ti := range e.Tenants() {
		_, def := e.lookup(ti.ID)
		q := def.model.q
		tok := token(t, e, ti.ID)
		body := get(t, e, tok, "/v1.0/security/secureScores").Body
		for m, want := range markers {
			if got := bytes.Contains(body, []byte(m)); got != want(q) {
				t.Errorf("tenant %s (%+v): %s present %v, want %v", ti.ID, q, m, got, want(q))
			} else if got {
				seen[m]++
			}
		}
		scores, profiles := e.Expected(ti.ID)
		if len(scores) < 90 {
			holes++
			if !q.holes {
				t.Errorf("tenant %s has a hole without the quirk", ti.ID)
			}
		}
		names := map[string]bool{}
		for _, p := range profiles {
			names[p.ID] = true
		}
		for _, cs := range scores[len(scores)-1].Controls {
			if !names[cs.Name] {
				orphans++
			}
		}
	}
	for m := range markers {
		if seen[m] == 0 {
			t.Errorf("no tenant shows %s", m)
		}
	}
	if holes == 0 || orphans == 0 {
		t.Errorf("want some tenants with a missing day (%d) and some scores without profile (%d)", holes, orphans)
	}
}
