package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
)

// campaignFixture is the auth fixture served with campaigns, and a
// control open at tenants a and b.
type campaignFixture struct {
	*exceptionFixture
	control string
	open    []string // the tenants where it is open
}

func newCampaignFixture(t *testing.T) *campaignFixture {
	t.Helper()
	x := newAuthFixture(t)
	svc := &campaign.Service{Store: x.f.Store}
	s, err := New(Options{Source: x.f.Store, Runner: idleRunner{}, Auth: x.svc, Logger: newTestLogger(x.logs), Campaigns: svc})
	if err != nil {
		t.Fatal(err)
	}
	x.s = s
	x.srv = httptest.NewServer(s.Handler())
	t.Cleanup(x.srv.Close)
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	c := &campaignFixture{exceptionFixture: &exceptionFixture{authFixture: x, api: &apiFixture{srv: x.srv, s: s, doc: doc}}}
	c.control = openAtBoth(t, x.f.Store, x.a, x.b)
	c.open, _, err = svc.OpenTenants(context.Background(), c.control)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openAtBoth is a control below full points on the latest day of both
// tenants.
func openAtBoth(t *testing.T, store interface {
	Profiles(context.Context, string) ([]fleetscore.ControlProfile, error)
	Scores(context.Context, string, fleetscore.Day, fleetscore.Day) ([]fleetscore.Score, error)
}, a, b string) string {
	t.Helper()
	open := func(id string) map[string]bool {
		ps, err := store.Profiles(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		max := map[string]float64{}
		for _, p := range ps {
			if !p.Deprecated {
				max[p.ID] = p.MaxScore
			}
		}
		ss, err := store.Scores(context.Background(), id, fleetscore.Day{}, fleetscore.Day{})
		if err != nil || len(ss) == 0 {
			t.Fatalf("scores of %s: %v", id, err)
		}
		out := map[string]bool{}
		for _, c := range ss[len(ss)-1].Controls {
			if m, ok := max[c.Name]; ok && c.Score < m-0.01 {
				out[c.Name] = true
			}
		}
		return out
	}
	oa, ob := open(a), open(b)
	var both []string
	for c := range oa {
		if ob[c] {
			both = append(both, c)
		}
	}
	if len(both) == 0 {
		t.Fatal("no control is open at both tenants")
	}
	slices.Sort(both)
	return both[0]
}

func (c *campaignFixture) create(t *testing.T, role string, body map[string]any) (*http.Response, map[string]any, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, out := c.send(t, http.MethodPost, "/api/v1/campaigns", role, string(b))
	var v map[string]any
	_ = json.Unmarshal(out, &v)
	return resp, v, string(out)
}

func tenantsOf(v map[string]any) []string {
	var out []string
	ts, _ := v["tenants"].([]any)
	for _, t := range ts {
		out = append(out, t.(map[string]any)["tenant_id"].(string))
	}
	return out
}

// TestAPICampaignsRoles: an analyst starts campaigns (201, with the
// tenants named or, by default, those where the control is open); a
// client cannot (403), sees only the campaigns touching its tenant, with
// only its tenant in them, and another client's campaign is a 404. The
// start is audited; the CSV has a row per tenant.
func TestAPICampaignsRoles(t *testing.T) {
	c := newCampaignFixture(t)
	due := fleetscore.DayOf(time.Now()).AddDays(30).String()
	resp, ab, body := c.create(t, "analyst", map[string]any{"control": c.control, "tenants": []string{c.a, strings.ToUpper(c.b)}, "owner": "SOC", "due": due})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("analyst: %d %s", resp.StatusCode, body)
	}
	if got := tenantsOf(ab); !slices.Equal(got, []string{c.a, c.b}) || ab["total"] != 2.0 || ab["control"] != c.control ||
		ab["owner"] != "SOC" || ab["due"] != due || ab["id"] == nil {
		t.Errorf("created: %s", body)
	}
	for _, ts := range ab["tenants"].([]any) {
		if st := ts.(map[string]any)["status"]; st != campaign.StatusOpen {
			t.Errorf("a tenant where the control is open starts %v, want open: %s", st, body)
		}
	}
	resp, onlyB, body := c.create(t, "admin", map[string]any{"control": c.control, "tenants": []string{c.b}, "owner": "SOC", "due": due})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("admin: %d %s", resp.StatusCode, body)
	}
	resp, def, _ := c.create(t, "analyst", map[string]any{"control": c.control, "owner": "SOC", "due": due})
	if resp.StatusCode != http.StatusCreated || !slices.Equal(tenantsOf(def), c.open) || !slices.Contains(c.open, c.a) {
		t.Errorf("default tenants: %d %v, want where open %v", resp.StatusCode, tenantsOf(def), c.open)
	}
	if resp, _, body := c.create(t, "client", map[string]any{"control": c.control, "tenants": []string{c.a}, "owner": "me", "due": due}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a client started a campaign: %d %s", resp.StatusCode, body)
	}

	// The client's list: the campaigns touching its tenant, only its tenant.
	_, out := c.send(t, http.MethodGet, "/api/v1/campaigns", "client", "")
	var list []map[string]any
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if len(list) != 2 {
		t.Errorf("the client sees %d campaigns, want 2 (not the one of tenant b only): %s", len(list), out)
	}
	for _, p := range list {
		if got := tenantsOf(p); !slices.Equal(got, []string{c.a}) || p["total"] != 1.0 {
			t.Errorf("the client sees tenants %v (total %v), want only %s", got, p["total"], c.a)
		}
	}
	_, out = c.send(t, http.MethodGet, "/api/v1/campaigns", "analyst", "")
	if err := json.Unmarshal(out, &list); err != nil || len(list) != 3 {
		t.Errorf("the analyst sees %d campaigns, want 3", len(list))
	}
	id := func(v map[string]any) string { return fmt.Sprint(int64(v["id"].(float64))) }
	if resp, body := c.send(t, http.MethodGet, "/api/v1/campaigns/"+id(onlyB), "client", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the client opens another client's campaign: %d %s", resp.StatusCode, body)
	}
	resp, out = c.send(t, http.MethodGet, "/api/v1/campaigns/"+id(ab), "client", "")
	var one map[string]any
	_ = json.Unmarshal(out, &one)
	if resp.StatusCode != 200 || !slices.Equal(tenantsOf(one), []string{c.a}) {
		t.Errorf("the client's view of the shared campaign: %d %s", resp.StatusCode, out)
	}
	if resp, body := c.send(t, http.MethodGet, "/api/v1/campaigns/999999", "admin", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown campaign: %d %s", resp.StatusCode, body)
	}

	// CSV: one row per tenant.
	_, csvText := c.do(t, "GET", "/api/v1/campaigns/"+id(ab)+"?format=csv", "analyst")
	rows, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][2] != "tenant_id" || rows[1][2] != c.a || rows[2][2] != c.b || rows[1][4] != "open" {
		t.Errorf("CSV: %v %q", err, csvText)
	}
	_, csvText = c.do(t, "GET", "/api/v1/campaigns/"+id(ab)+"?format=csv", "client")
	if strings.Contains(csvText, c.b) {
		t.Errorf("the client's CSV names tenant b:\n%s", csvText)
	}

	_, audit := c.do(t, "GET", "/api/v1/audit?format=csv", "admin")
	if !strings.Contains(audit, "campaign.create") || !strings.Contains(audit, "campaign "+id(ab)+": "+c.control+" at 2 tenants") {
		t.Errorf("the start is not audited:\n%s", audit)
	}
}

// TestAPICampaignsValidation: bad input is a 400 naming the problem, and
// nothing is kept.
func TestAPICampaignsValidation(t *testing.T) {
	c := newCampaignFixture(t)
	due := fleetscore.DayOf(time.Now()).AddDays(30).String()
	for _, tc := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"unknown control", map[string]any{"control": "no_such_control", "owner": "o", "due": due}, `control "no_such_control" is not a control of any tenant`},
		{"no control", map[string]any{"owner": "o", "due": due}, "control is required"},
		{"bad date", map[string]any{"control": c.control, "owner": "o", "due": "31/12/2026"}, "due: \"31/12/2026\" is not a date in the form YYYY-MM-DD"},
		{"no date", map[string]any{"control": c.control, "owner": "o"}, "due is required"},
		{"past date", map[string]any{"control": c.control, "owner": "o", "due": "2020-01-01"}, "due 2020-01-01 is in the past"},
		{"unknown tenant", map[string]any{"control": c.control, "owner": "o", "due": due, "tenants": []string{"99999999-9999-4999-8999-999999999999"}}, "is not a configured tenant"},
		{"not a GUID", map[string]any{"control": c.control, "owner": "o", "due": due, "tenants": []string{"acme"}}, `tenant "acme" is not a GUID`},
		{"empty tenants", map[string]any{"control": c.control, "owner": "o", "due": due, "tenants": []string{}}, "tenants is empty"},
		{"no owner", map[string]any{"control": c.control, "due": due}, "owner is required"},
		{"long owner", map[string]any{"control": c.control, "owner": strings.Repeat("x", campaign.MaxOwner+1), "due": due}, "owner has 201 bytes; at most 200"},
		{"unknown field", map[string]any{"control": c.control, "owner": "o", "due": due, "state": "x"}, "unknown field"},
	} {
		resp, v, body := c.create(t, "analyst", tc.body)
		msg, _ := v["error"].(map[string]any)["message"].(string)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	// A campaign may name many tenants: 600 IDs (23 KB) are read and
	// checked, not refused as too large; a body past 64 KB is.
	many := []string{c.a}
	for i := range 600 {
		many = append(many, fmt.Sprintf("%08d-9999-4999-8999-999999999999", i))
	}
	resp, v, body := c.create(t, "analyst", map[string]any{"control": c.control, "owner": "o", "due": due, "tenants": many})
	if msg, _ := v["error"].(map[string]any)["message"].(string); resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg, `tenant "00000000-9999-4999-8999-999999999999" is not a configured tenant`) {
		t.Errorf("600 tenants: %d %s", resp.StatusCode, body)
	}
	resp, _, body = c.create(t, "analyst", map[string]any{"control": c.control, "owner": "o", "due": due, "tenants": slices.Repeat(many, 3)[:1800]})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "at most 64 KB") {
		t.Errorf("a 70 KB body: %d %s", resp.StatusCode, body)
	}
	if _, out := c.send(t, http.MethodGet, "/api/v1/campaigns", "admin", ""); strings.TrimSpace(string(out)) != "[]" {
		t.Errorf("after bad requests the campaigns are %s, want []", out)
	}
}

// TestCampaignPages: the list, the form and a campaign's page as each
// role sees them: a client sees its tenant only, no form and no note
// editing; an unknown campaign is a 404 page.
func TestCampaignPages(t *testing.T) {
	c := newCampaignFixture(t)
	due := fleetscore.DayOf(time.Now()).AddDays(30).String()
	resp, v, body := c.create(t, "analyst", map[string]any{"control": c.control, "tenants": []string{c.a, c.b}, "owner": "SOC", "due": due})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	id := fmt.Sprint(int64(v["id"].(float64)))
	resp, page := c.do(t, "GET", "/campaigns/"+id, "analyst")
	if resp.StatusCode != 200 || !strings.Contains(page, "0 of 2 done") || !strings.Contains(page, `id="burndown"`) ||
		!strings.Contains(page, `id="note-`+c.a+`"`) || !strings.Contains(page, `href="/api/v1/campaigns/`+id+`?format=csv"`) ||
		!strings.Contains(page, c.bName) {
		t.Errorf("the analyst's campaign page: %d\n%s\n%s", resp.StatusCode, page, c.logs)
	}
	resp, page = c.do(t, "GET", "/campaigns/"+id, "client")
	if resp.StatusCode != 200 || !strings.Contains(page, "0 of 1 done") || strings.Contains(page, c.b) || strings.Contains(page, c.bName) ||
		strings.Contains(page, `id="note-`) {
		t.Errorf("the client's campaign page: %d\n%s", resp.StatusCode, page)
	}
	resp, page = c.do(t, "GET", "/campaigns", "client")
	if resp.StatusCode != 200 || !strings.Contains(page, `id="campaign-`+id+`"`) || !strings.Contains(page, "0 of 1 done") ||
		!strings.Contains(page, `href="/campaigns"`) {
		t.Errorf("the client's list: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := c.do(t, "GET", "/campaigns/new?control="+c.control, "client"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a client opens the form: %d", resp.StatusCode)
	}
	resp, page = c.do(t, "GET", "/campaigns/new?control="+c.control, "analyst")
	if resp.StatusCode != 200 || !strings.Contains(page, `value="`+c.a+`" checked`) {
		t.Errorf("the form: %d\n%s", resp.StatusCode, page)
	}
	if resp, page := c.do(t, "GET", "/campaigns/new?control=no_such_control", "analyst"); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(page, "is not a control of any tenant") {
		t.Errorf("the form of an unknown control: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := c.do(t, "GET", "/campaigns/999999", "analyst"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown campaign's page: %d", resp.StatusCode)
	}
}
