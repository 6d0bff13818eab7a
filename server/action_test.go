package server

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/sqlite"
)

// actionFleet is a store with one action, X ("Block legacy
// authentication"), at tenants shaped for its gains: every tenant has a
// maximum of 100 points and a target of 75 %.
type actionFleet struct {
	st    *sqlite.Store
	ids   map[string]string // by name
	today fleetscore.Day
}

const (
	fleetControl = "BlockLegacyAuthentication"
	oddControl   = "mdo_odd/id ?#"
	hostileFix   = `<p onclick="steal()">Create a <b>Conditional Access</b> policy.</p><script>alert(1)</script>` +
		`<a href="javascript:alert(2)">run</a><a href="https://learn.microsoft.com/entra/">docs</a><img src=x onerror=alert(3)>`
)

// newActionFleet: name -> current score, and X's score there; ignored
// marks X Ignored; a negative X score leaves X out of the tenant.
func newActionFleet(t *testing.T) *actionFleet {
	t.Helper()
	ctx := context.Background()
	st := openSQLite(t)
	f := &actionFleet{st: st, ids: map[string]string{}, today: fleetscore.MustDay("2026-12-07")}
	rows := []struct {
		name           string
		current, x     float64
		ignored, noOdd bool
	}{
		{name: "Alpha", current: 74, x: 0},     // 1 below target; gains 5 > 1: lifted
		{name: "Bravo", current: 70, x: 2},     // 5 below; gains 3: not lifted
		{name: "Charlie", current: 74, x: 4.5}, // 1 below; gains 0.5 < 1: not lifted
		{name: "Delta", current: 80, x: 0},     // meets already
		{name: "Echo", current: 70, x: 5},      // X done
		{name: "Foxtrot", current: 70, x: 0, ignored: true},
		{name: "Golf", current: 60, x: -1, noOdd: true}, // no X at all
	}
	var ts []fleetscore.Tenant
	for i, r := range rows {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1)
		f.ids[r.name] = id
		ts = append(ts, fleetscore.Tenant{ID: id, Name: r.name + " Ltd", TargetPercent: 75})
	}
	if err := st.SyncTenants(ctx, ts); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		score := fleetscore.Score{TenantID: ts[i].ID, Day: f.today, CurrentScore: r.current, MaxScore: 100}
		profiles := []fleetscore.ControlProfile{{ID: "Other", Title: "Everything else", Category: "Apps", MaxScore: 90}}
		rest := r.current
		if r.x >= 0 {
			p := fleetscore.ControlProfile{ID: fleetControl, Title: "Block legacy authentication", Category: "Identity", MaxScore: 5,
				Tier: "Core", UserImpact: "Moderate", ImplementationCost: "Low", ActionURL: "https://security.microsoft.com/securescore?viewid=actions&tid=wrong",
				Remediation: hostileFix}
			if r.ignored {
				p.StateUpdates = []fleetscore.ControlStateUpdate{{State: fleetscore.StateIgnored, UpdatedBy: "ann"}}
			}
			profiles = append(profiles, p)
			score.Controls = append(score.Controls, fleetscore.ControlScore{Name: fleetControl, Category: "Identity", Score: r.x})
			rest -= r.x
		}
		if !r.noOdd {
			profiles = append(profiles, fleetscore.ControlProfile{ID: oddControl, Title: "An odd ID", Category: "Data", MaxScore: 5,
				ActionURL: "https://purview.microsoft.com/x"})
			score.Controls = append(score.Controls, fleetscore.ControlScore{Name: oddControl, Category: "Data", Score: 0})
		}
		score.Controls = append(score.Controls, fleetscore.ControlScore{Name: "Other", Category: "Apps", Score: rest})
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: ts[i], Scores: []fleetscore.Score{score}, Profiles: profiles}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *actionFleet) serve(t *testing.T, o Options) *apiFixture {
	t.Helper()
	o.Source = f.st
	now := f.today.Time().Add(10 * time.Hour)
	o.Now = func() time.Time { return now }
	return serveAPI(t, o)
}

// TestActionAPIAndPage: GET /api/v1/actions/{control} gives every tenant
// where the control is scored, gain = max − score where open, and
// lifts_over_target for the tenant it lifts and not for the one 1 point
// short whose gain is smaller; the action page's table shows the same
// numbers (parsed from its HTML); CSV carries the JSON's values.
func TestActionAPIAndPage(t *testing.T) {
	f := newActionFleet(t)
	a := f.serve(t, Options{})
	var d struct {
		Control     string  `json:"control"`
		Title       string  `json:"title"`
		Category    string  `json:"category"`
		MaxScore    float64 `json:"max_score"`
		OpenTenants int     `json:"open_tenants"`
		Tenants     []struct {
			TenantID        string  `json:"tenant_id"`
			Name            string  `json:"name"`
			State           string  `json:"state"`
			Score           float64 `json:"score"`
			MaxScore        float64 `json:"max_score"`
			Open            bool    `json:"open"`
			GainPoints      float64 `json:"gain_points"`
			GainPercent     float64 `json:"gain_percent"`
			LiftsOverTarget bool    `json:"lifts_over_target"`
			PortalURL       string  `json:"portal_url"`
		} `json:"tenants"`
	}
	a.getJSON(t, "/api/v1/actions/"+fleetControl, &d)
	if d.Control != fleetControl || d.Title != "Block legacy authentication" || d.Category != "Identity" || d.MaxScore != 5 {
		t.Errorf("action %+v", d)
	}
	// Alpha, Bravo, Charlie and Delta are open; Echo is done, Foxtrot
	// ignored, Golf has no such control.
	if d.OpenTenants != 4 || len(d.Tenants) != 6 {
		t.Fatalf("open at %d of %d tenants; want 4 of 6", d.OpenTenants, len(d.Tenants))
	}
	lifts := map[string]bool{}
	for _, x := range d.Tenants {
		want := x.MaxScore - x.Score
		if !x.Open {
			want = 0
		}
		if math.Abs(x.GainPoints-want) > 1e-9 {
			t.Errorf("%s: gain_points %v; want max %v − score %v", x.Name, x.GainPoints, x.MaxScore, x.Score)
		}
		if math.Abs(x.GainPercent-want) > 1e-9 { // every tenant's maxScore is 100
			t.Errorf("%s: gain_percent %v; want %v", x.Name, x.GainPercent, want)
		}
		if x.TenantID == f.ids["Golf"] {
			t.Error("Golf has no such control, yet is listed")
		}
		u, err := url.Parse(x.PortalURL)
		if err != nil || u.Host != "security.microsoft.com" || u.Query().Get("tid") != x.TenantID {
			t.Errorf("%s: portal_url %q does not open the tenant's own portal", x.Name, x.PortalURL)
		}
		lifts[x.Name] = x.LiftsOverTarget
	}
	if !lifts["Alpha Ltd"] {
		t.Error("Alpha, 1 point below target, gains 5: lifts_over_target must be true")
	}
	if lifts["Charlie Ltd"] {
		t.Error("Charlie, 1 point below target, gains 0.5: lifts_over_target must be false")
	}
	if lifts["Bravo Ltd"] || lifts["Delta Ltd"] || lifts["Echo Ltd"] || lifts["Foxtrot Ltd"] {
		t.Errorf("lifted: %v; only Alpha", lifts)
	}
	if d.Tenants[0].Name != "Alpha Ltd" || d.Tenants[len(d.Tenants)-1].Open {
		t.Errorf("tenants not open first, most to gain first: %+v", d.Tenants)
	}

	// CSV: one row per tenant, the JSON's values.
	var list []map[string]any
	var raw map[string]any
	a.getJSON(t, "/api/v1/actions/"+fleetControl, &raw)
	for _, x := range raw["tenants"].([]any) {
		m := x.(map[string]any)
		m["control"], m["title"], m["category"] = raw["control"], raw["title"], raw["category"]
		list = append(list, m)
	}
	compareCSV(t, "action", a.getCSV(t, "/api/v1/actions/"+fleetControl), list, nil)

	// The ranking counts the same: open_tenants and lifted_tenants.
	var ranked []map[string]any
	a.getJSON(t, "/api/v1/actions", &ranked)
	for _, r := range ranked {
		if r["control"] == fleetControl && (r["open_tenants"] != float64(4) || r["lifted_tenants"] != float64(1)) {
			t.Errorf("/api/v1/actions: %v; want open at 4, lifting 1", r)
		}
	}

	// The page: the same numbers in its table.
	resp, body := a.get(t, "/actions/"+fleetControl)
	if resp.StatusCode != 200 {
		t.Fatalf("action page: %d", resp.StatusCode)
	}
	rows := actionPageRows(t, string(body))
	if len(rows) != len(d.Tenants) {
		t.Fatalf("the page lists %d tenants, the API %d", len(rows), len(d.Tenants))
	}
	for i, x := range d.Tenants {
		r := rows[i]
		if r["tenant"] != x.TenantID || r["lifts"] != strconv.FormatBool(x.LiftsOverTarget) {
			t.Errorf("page row %d: %v; API %s lifts %v", i, r, x.TenantID, x.LiftsOverTarget)
		}
		if g, _ := strconv.ParseFloat(r["gain-points"], 64); g != x.GainPoints {
			t.Errorf("page row %d (%s): gain %s; API %v", i, x.Name, r["gain-points"], x.GainPoints)
		}
		if g, _ := strconv.ParseFloat(r["gain-percent"], 64); g != x.GainPercent {
			t.Errorf("page row %d (%s): gain %s %%; API %v", i, x.Name, r["gain-percent"], x.GainPercent)
		}
		if r["portal"] != x.PortalURL || r["history"] != "/tenants/"+x.TenantID+"?control="+fleetControl+"#changes" {
			t.Errorf("page row %d (%s): portal %q history %q", i, x.Name, r["portal"], r["history"])
		}
	}
	page := string(body)
	if !strings.Contains(page, `id="action-lifted">1 tenant<`) || !strings.Contains(page, `<strong id="action-open">4</strong>`) {
		t.Error("the page's headline does not say open at 4, lifting 1")
	}
	// The remediation text: Graph's formatting kept, its scripts not.
	if !strings.Contains(page, "<b>Conditional Access</b>") || !strings.Contains(page, `href="https://learn.microsoft.com/entra/"`) {
		t.Error("the remediation text lost its formatting or its link")
	}
	for _, bad := range []string{"<script>alert(1)", "onclick", "javascript:", "onerror", "<img"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page carries %q from Graph's remediation text", bad)
		}
	}
	// In open mode the local admin may start a campaign.
	if !strings.Contains(page, `href="/campaigns/new?control=`+fleetControl+`"`) {
		t.Error("no Start campaign link for the admin")
	}
}

// actionPageRows reads the action page's tenant table.
func actionPageRows(t *testing.T, page string) []map[string]string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, k string) string {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val
			}
		}
		return ""
	}
	var rows []map[string]string
	var walk func(n *html.Node, row map[string]string)
	walk = func(n *html.Node, row map[string]string) {
		if n.Type == html.ElementNode {
			cls := attr(n, "class")
			switch {
			case n.Data == "tr" && attr(n, "data-tenant") != "":
				row = map[string]string{"tenant": attr(n, "data-tenant")}
				rows = append(rows, row)
			case row == nil:
			case strings.Contains(cls, "t-gain-points"):
				row["gain-points"] = attr(n, "data-value")
			case strings.Contains(cls, "t-gain-percent"):
				row["gain-percent"] = attr(n, "data-value")
			case strings.Contains(cls, "t-lifts"):
				row["lifts"] = attr(n, "data-lifts")
			case strings.Contains(cls, "t-portal"):
				row["portal"] = attr(n, "href")
			case strings.Contains(cls, "t-history"):
				row["history"] = attr(n, "href")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, row)
		}
	}
	walk(doc, nil)
	return rows
}

// TestActionNotFoundAndClients: an unknown control is a 404 page and a
// 404 answer; a client token sees its own tenant's row only, and a control
// only at other tenants is a 404 for it; an odd control ID round-trips
// through its escaped URL; a client is offered no campaign.
func TestActionNotFoundAndClients(t *testing.T) {
	f := newActionFleet(t)
	svc := &auth.Service{Store: f.st}
	a := f.serve(t, Options{Auth: svc})
	ctx := context.Background()
	token := func(role auth.Role, tenants ...string) string {
		tok, _, err := svc.CreateToken(ctx, role, tenants, time.Hour, "test")
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	admin, alpha, golf := token(auth.RoleAdmin), token(auth.RoleClient, f.ids["Alpha"]), token(auth.RoleClient, f.ids["Golf"])

	for _, tc := range []struct {
		who, path string
		status    int
	}{
		{admin, "/api/v1/actions/NoSuchControl", 404},
		{admin, "/actions/NoSuchControl", 404},
		{golf, "/api/v1/actions/" + fleetControl, 404}, // only at other tenants
		{golf, "/actions/" + fleetControl, 404},
		{alpha, "/api/v1/actions/" + fleetControl, 200},
		{admin, "/api/v1/actions/" + fleetControl + "?tenant=x", 400},
		{admin, "/api/v1/actions/" + strings.Repeat("x", 300), 400},
	} {
		resp, body := a.get(t, tc.path, "Authorization", tc.who)
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d; want %d", tc.path, resp.StatusCode, tc.status)
		}
		if tc.status == 404 && strings.Contains(string(body), "Golf") {
			t.Errorf("GET %s: the 404 names another tenant", tc.path)
		}
	}
	_, body := a.get(t, "/api/v1/actions/"+fleetControl, "Authorization", alpha)
	if !strings.Contains(string(body), f.ids["Alpha"]) || strings.Contains(string(body), f.ids["Bravo"]) || !strings.Contains(string(body), `"open_tenants": 1`) {
		t.Errorf("a client's view of the action shows other tenants: %s", body)
	}
	_, page := a.get(t, "/actions/"+fleetControl, "Authorization", alpha)
	if strings.Contains(string(page), "Bravo") || strings.Contains(string(page), "/campaigns/new") {
		t.Error("a client's action page shows another tenant or offers a campaign")
	}

	// The odd ID: linked escaped from the actions page, served back whole.
	_, list := a.get(t, "/actions", "Authorization", admin)
	esc := "/actions/" + url.PathEscape(oddControl)
	if !strings.Contains(string(list), `href="`+html.EscapeString(esc)+`"`) {
		t.Errorf("the actions page has no link %s", esc)
	}
	resp, body := a.get(t, esc, "Authorization", admin)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "An odd ID") {
		t.Errorf("GET %s: %d", esc, resp.StatusCode)
	}
	// (Not through a.get: the OpenAPI validator's router matches the
	// unescaped path, in which the ID's slash splits the segment.)
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/api/v1/actions/"+url.PathEscape(oddControl), nil)
	req.Header.Set("Authorization", admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"control": "mdo_odd/id ?#"`) {
		t.Errorf("GET /api/v1/actions/%s: %d %s", url.PathEscape(oddControl), resp.StatusCode, body)
	}
}

// TestTenantPageGapToTarget: a tenant 5 points short of its target, with
// open actions worth 3, 3 and 6 points, is shown the single 6-point
// action on its page.
func TestTenantPageGapToTarget(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	day := fleetscore.MustDay("2026-12-07")
	tn := fleetscore.Tenant{ID: "0000000a-0000-4000-8000-00000000000a", Name: "Short Ltd", TargetPercent: 75}
	if err := st.SyncTenants(ctx, []fleetscore.Tenant{tn}); err != nil {
		t.Fatal(err)
	}
	score := fleetscore.Score{TenantID: tn.ID, Day: day, CurrentScore: 70, MaxScore: 100, Controls: []fleetscore.ControlScore{
		{Name: "ThreeA", Category: "Identity", Score: 0}, {Name: "ThreeB", Category: "Identity", Score: 0},
		{Name: "Six", Category: "Data", Score: 0}, {Name: "Rest", Category: "Apps", Score: 70}}}
	profiles := []fleetscore.ControlProfile{
		{ID: "ThreeA", Title: "A three-point action", MaxScore: 3, UserImpact: "Low", ImplementationCost: "Low"},
		{ID: "ThreeB", Title: "B three-point action", MaxScore: 3, UserImpact: "Low", ImplementationCost: "Low"},
		{ID: "Six", Title: "The six-point action", MaxScore: 6, UserImpact: "High", ImplementationCost: "High"},
		{ID: "Rest", Title: "Everything else", MaxScore: 88},
	}
	if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: tn, Scores: []fleetscore.Score{score}, Profiles: profiles}); err != nil {
		t.Fatal(err)
	}
	now := day.Time().Add(time.Hour)
	a := serveAPI(t, Options{Source: st, Now: func() time.Time { return now }})
	_, body := a.get(t, "/tenants/"+tn.ID)
	page := string(body)
	if !strings.Contains(page, `<strong>5 points</strong> to reach the target of 75%`) {
		t.Error("the tenant page does not say it needs 5 points")
	}
	list := regexp.MustCompile(`(?s)<ol class="gap-actions" id="gap-actions">(.*?)</ol>`).FindStringSubmatch(page)
	if list == nil {
		t.Fatal("the tenant page has no gap-to-target list")
	}
	if got := regexp.MustCompile(`data-control="([^"]+)"`).FindAllStringSubmatch(list[1], -1); len(got) != 1 || got[0][1] != "Six" {
		t.Errorf("gap actions %v; want the single 6-point action", got)
	}
}

// TestActionPageShowsExceptions: a tenant whose action has an exception in
// the register is not open there (the API's open_tenants drops by one, its
// gain is 0) and the page shows the exception in its row.
func TestActionPageShowsExceptions(t *testing.T) {
	f := newActionFleet(t)
	now := f.today.Time().Add(10 * time.Hour)
	svc := &exceptions.Service{Store: f.st, Now: func() time.Time { return now }}
	if _, err := svc.Apply(context.Background(), localAdmin, exceptions.Request{Control: fleetControl, Tenants: []string{f.ids["Bravo"]},
		State: fleetscore.StateThirdParty, Reason: "covered by the mail gateway", Owner: "Sam"}); err != nil {
		t.Fatal(err)
	}
	a := f.serve(t, Options{Exceptions: svc})
	var d map[string]any
	a.getJSON(t, "/api/v1/actions/"+fleetControl, &d)
	if d["open_tenants"] != float64(3) {
		t.Errorf("open_tenants %v; want 3 with Bravo excepted", d["open_tenants"])
	}
	for _, x := range d["tenants"].([]any) {
		if m := x.(map[string]any); m["tenant_id"] == f.ids["Bravo"] && (m["open"] != false || m["gain_points"] != float64(0)) {
			t.Errorf("excepted Bravo: %v", m)
		}
	}
	_, body := a.get(t, "/actions/"+fleetControl)
	row := regexp.MustCompile(`(?s)<tr data-tenant="` + f.ids["Bravo"] + `".*?</tr>`).FindString(string(body))
	if !strings.Contains(row, "Excepted (Third party)") || !strings.Contains(row, `class="exc-badge`) {
		t.Errorf("Bravo's row does not show its exception:\n%s", row)
	}
}
