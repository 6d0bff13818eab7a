package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/sqlite"
	"github.com/fleetscore/fleetscore/storetest"
)

// sizedFleet stores tenants × controls through the store: one day of
// storetest's generated scores per tenant, with a profile per control
// titled and described like Microsoft's.
func sizedFleet(t *testing.T, tenants, controls int, day fleetscore.Day) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st := openSQLite(t)
	var ts []fleetscore.Tenant
	for i := range tenants {
		ts = append(ts, fleetscore.Tenant{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1),
			Name: fmt.Sprintf("Client %03d Holdings Limited", i), TargetPercent: []float64{60, 70, 75}[i%3]})
	}
	if err := st.SyncTenants(ctx, ts); err != nil {
		t.Fatal(err)
	}
	impacts := []string{"Low", "Moderate", "High"}
	for i, tn := range ts {
		scores := storetest.History(tn.ID, day, 1, controls, uint64(i+1))
		var profiles []fleetscore.ControlProfile
		for j, c := range scores[0].Controls {
			profiles = append(profiles, fleetscore.ControlProfile{ID: c.Name, Category: c.Category, MaxScore: 10, Rank: j + 1,
				Title: fmt.Sprintf("Ensure that the %s protection of every mailbox and account is turned on (%d)", c.Name, j),
				Tier:  "Core", UserImpact: impacts[j%3], ImplementationCost: impacts[(j/3)%3], ActionType: "Config",
				ActionURL: "https://security.microsoft.com/securescore?viewid=actions", Service: "EXO",
				Remediation: "<p>Go to the portal and turn it on.</p>"})
		}
		// The generator's maxima are 1 to 10; the profiles say 10.
		for j := range scores[0].Controls {
			scores[0].Controls[j].Score = min(scores[0].Controls[j].Score, 10)
		}
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: tn, Scores: scores, Profiles: profiles}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestActionsPageSize200x400: the first view of the actions page, at 200
// tenants and 400 actions, with the exception form on, is under 200 KB of
// HTML; it shows 50 actions and links to the next page, which keeps the
// sort.
func TestActionsPageSize200x400(t *testing.T) {
	day := fleetscore.MustDay("2026-12-07")
	st := sizedFleet(t, 200, 400, day)
	now := day.Time().Add(9 * time.Hour)
	s, err := New(Options{Source: st, Now: func() time.Time { return now }, Exceptions: &exceptions.Service{Store: st}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = "127.0.0.1" // the local admin's page, as the machine's own browser asks
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		return rec.Body.String()
	}
	page := get("/actions")
	const limit = 200 * 1000
	t.Logf("GET /actions at 200 tenants x 400 actions: %d bytes", len(page))
	if len(page) >= limit {
		t.Errorf("the actions page is %d bytes; want under %d", len(page), limit)
	}
	rows := regexp.MustCompile(`<tr data-control="`).FindAllStringIndex(page, -1)
	if len(rows) != actionsPageSize {
		t.Errorf("%d action rows; want %d", len(rows), actionsPageSize)
	}
	if !strings.Contains(page, `id="set-exceptions"`) {
		t.Error("the exception form is missing: the page is measured without it")
	}
	if !strings.Contains(page, `href="/actions?page=2"`) {
		t.Error("no link to the second page")
	}
	// An action ticked from elsewhere (?control=, the tenant page's link)
	// opens its own page; on another page it rides along hidden.
	third := get("/actions?page=3")
	m := regexp.MustCompile(`<tr data-control="([^"]+)"`).FindStringSubmatch(third)
	if m == nil {
		t.Fatal("no third page")
	}
	if p := get("/actions?control=" + m[1]); !strings.Contains(p, `value="`+m[1]+`" form="set-exceptions" checked`) || !strings.Contains(p, "page 3 of") {
		t.Errorf("?control=%s does not open page 3 with it ticked", m[1])
	}
	if p := get("/actions?page=1&control=" + m[1]); !strings.Contains(p, `<input type="hidden" name="control" value="`+m[1]+`">`) {
		t.Errorf("page 1 does not carry the ticked %s of page 3", m[1])
	}
	sorted := get("/actions?sort=gain&category=Identity")
	if !strings.Contains(sorted, `href="/actions?category=Identity&amp;page=2&amp;sort=gain"`) {
		t.Error("the next page's link drops the sort or the filter")
	}
	if !strings.Contains(sorted, `<input type="hidden" name="sort" value="gain">`) {
		t.Error("the filter form drops the sort")
	}
}
