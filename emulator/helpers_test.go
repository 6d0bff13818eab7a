package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

// clock is a test's data clock; tests move it by days.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(day string) *clock {
	return &clock{t: fleetscore.MustDay(day).Time().Add(10 * time.Hour)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) AddDays(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.AddDate(0, 0, n)
}

const (
	testApp    = "11111111-2222-3333-4444-555555555555"
	testSecret = "correct horse battery staple"
)

// startEmulator starts an emulator with opts and the test app registered
// and consented everywhere; it is closed when the test ends.
func startEmulator(tb testing.TB, opts Options) *Emulator {
	tb.Helper()
	e := New(opts)
	if err := e.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	e.AddApp(App{ClientID: testApp, Secrets: []string{testSecret}})
	e.ConsentAll(testApp)
	return e
}

// tokenResponse is the token endpoint's answer, success or error.
type tokenResponse struct {
	Status      int
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
	ErrorCodes  []int  `json:"error_codes"`
}

func postToken(tb testing.TB, e *Emulator, tenant string, form url.Values) tokenResponse {
	tb.Helper()
	resp, err := e.Client().PostForm(e.URL()+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		tb.Fatalf("token response: %v", err)
	}
	tr.Status = resp.StatusCode
	return tr
}

func secretForm(clientID, secret string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {secret},
		"scope":         {"https://graph.microsoft.com/.default openid offline_access profile"},
	}
}

// token gets a Graph token for the test app in a tenant.
func token(tb testing.TB, e *Emulator, tenant string) string {
	tb.Helper()
	tr := postToken(tb, e, tenant, secretForm(testApp, testSecret))
	if tr.Status != http.StatusOK {
		tb.Fatalf("token for %s: %d %s", tenant, tr.Status, tr.Description)
	}
	return tr.AccessToken
}

// response is one Graph answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func get(tb testing.TB, e *Emulator, tok, pathOrURL string) response {
	tb.Helper()
	u := pathOrURL
	if strings.HasPrefix(u, "/") {
		u = e.URL() + u
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := e.Client().Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: read body: %v", u, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// graphErr is Graph's error body.
type graphErr struct {
	Error struct {
		Code       string         `json:"code"`
		Message    string         `json:"message"`
		InnerError map[string]any `json:"innerError"`
	} `json:"error"`
}

func decodeGraphError(tb testing.TB, r response) graphErr {
	tb.Helper()
	var ge graphErr
	if err := json.Unmarshal(r.Body, &ge); err != nil {
		tb.Fatalf("error body %q: %v", r.Body, err)
	}
	return ge
}

// page is one decoded list page.
type page struct {
	Context  string            `json:"@odata.context"`
	NextLink string            `json:"@odata.nextLink"`
	Count    *int              `json:"@odata.count"`
	Value    []json.RawMessage `json:"value"`
}

func decodePage(tb testing.TB, r response) page {
	tb.Helper()
	if r.Status != http.StatusOK {
		tb.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var p page
	if err := json.Unmarshal(r.Body, &p); err != nil {
		tb.Fatalf("decode page: %v", err)
	}
	return p
}

// getAll follows @odata.nextLink and returns every item.
func getAll(tb testing.TB, e *Emulator, tok, path string) (items []json.RawMessage, pages int) {
	tb.Helper()
	next := path
	for next != "" {
		p := decodePage(tb, get(tb, e, tok, next))
		items = append(items, p.Value...)
		next = p.NextLink
		pages++
		if pages > 1000 {
			tb.Fatal("paging does not end")
		}
	}
	return items, pages
}

// A small lenient decoder, written for the tests from graph-api.md: numbers
// may come as strings, keys in either case, -1 means no data.

func lenientNumber(tb testing.TB, v any) float64 {
	tb.Helper()
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			tb.Fatalf("number %q: %v", x, err)
		}
		return f
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			tb.Fatalf("number-as-string %q: %v", x, err)
		}
		return f
	case nil:
		return 0
	}
	tb.Fatalf("not a number: %T %v", v, v)
	return 0
}

func decodeObject(tb testing.TB, raw []byte) map[string]any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("decode %.200s: %v", raw, err)
	}
	return m
}

func decodeScore(tb testing.TB, raw []byte) fleetscore.Score {
	tb.Helper()
	m := decodeObject(tb, raw)
	created, err := time.Parse(time.RFC3339, m["createdDateTime"].(string))
	if err != nil {
		tb.Fatal(err)
	}
	s := fleetscore.Score{
		TenantID:          m["azureTenantId"].(string),
		Day:               fleetscore.DayOf(created),
		CurrentScore:      lenientNumber(tb, m["currentScore"]),
		MaxScore:          lenientNumber(tb, m["maxScore"]),
		ActiveUserCount:   int(lenientNumber(tb, m["activeUserCount"])),
		LicensedUserCount: int(lenientNumber(tb, m["licensedUserCount"])),
		Averages:          map[string]float64{},
	}
	if want := s.TenantID + "_" + s.Day.String(); m["id"] != want {
		tb.Errorf("id %v, want %s", m["id"], want)
	}
	for _, sv := range m["enabledServices"].([]any) {
		s.EnabledServices = append(s.EnabledServices, sv.(string))
	}
	for _, a := range m["averageComparativeScores"].([]any) {
		am := a.(map[string]any)
		if v := lenientNumber(tb, am["averageScore"]); v != -1 {
			s.Averages[am["basis"].(string)] = v
		}
	}
	for _, c := range m["controlScores"].([]any) {
		cm := c.(map[string]any)
		s.Controls = append(s.Controls, fleetscore.ControlScore{
			Name:     cm["controlName"].(string),
			Category: cm["controlCategory"].(string),
			Score:    lenientNumber(tb, cm["score"]),
		})
	}
	return s
}

func decodeProfile(tb testing.TB, raw []byte) fleetscore.ControlProfile {
	tb.Helper()
	m := decodeObject(tb, raw)
	str := func(k string) string {
		s, _ := m[k].(string)
		return s
	}
	p := fleetscore.ControlProfile{
		ID: str("id"), Title: str("title"), Category: str("controlCategory"), MaxScore: lenientNumber(tb, m["maxScore"]),
		Rank: int(lenientNumber(tb, m["rank"])), Tier: str("tier"), UserImpact: str("userImpact"),
		ImplementationCost: str("implementationCost"), ActionType: str("actionType"), ActionURL: str("actionUrl"),
		Service: str("service"), Deprecated: m["deprecated"] == true, Remediation: str("remediation"),
	}
	p.Threats = []string{}
	for _, t := range m["threats"].([]any) {
		p.Threats = append(p.Threats, t.(string))
	}
	for _, u := range m["controlStateUpdates"].([]any) {
		um := u.(map[string]any)
		s := func(k string) string {
			v, _ := um[k].(string)
			return v
		}
		up := fleetscore.ControlStateUpdate{State: s("state"), AssignedTo: s("assignedTo"), Comment: s("comment"), UpdatedBy: s("updatedBy")}
		if v := s("updatedDateTime"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				tb.Fatal(err)
			}
			up.UpdatedAt = t
		}
		p.StateUpdates = append(p.StateUpdates, up)
	}
	return p
}

// served fetches everything Graph serves for a tenant, decoded.
func served(tb testing.TB, e *Emulator, tenant string) ([]fleetscore.Score, []fleetscore.ControlProfile) {
	tb.Helper()
	tok := token(tb, e, tenant)
	items, _ := getAll(tb, e, tok, "/v1.0/security/secureScores")
	scores := make([]fleetscore.Score, len(items))
	for i, raw := range items {
		scores[len(items)-1-i] = decodeScore(tb, raw) // served newest first
	}
	items, _ = getAll(tb, e, tok, "/v1.0/security/secureScoreControlProfiles")
	var profiles []fleetscore.ControlProfile
	for _, raw := range items {
		profiles = append(profiles, decodeProfile(tb, raw))
	}
	return scores, profiles
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return fmt.Sprintf("%.2000s", b)
}
