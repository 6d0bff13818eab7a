package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/server"
	"github.com/fleetscore/fleetscore/sqlite"
)

// TestActionsSortAndOpenInBrowser: on the actions page, a click on the
// "Fleet gain" heading orders the actions by fleet gain; a click on an
// action's title opens its page, /actions/{control}, with its tenants.
//
// Three tenants of 100 points: Everywhere is open at all three for 1
// point each (fleet gain 1 pp), Pair at two for 3 (2 pp), Single at one
// for 9 (3 pp). The ranking by open tenants is Everywhere, Pair, Single;
// by fleet gain it is the reverse.
func TestActionsSortAndOpenInBrowser(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "fleetscore.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	day := fleetscore.MustDay("2026-12-07")
	open := map[string][]float64{ // control -> its score at each tenant (max 1, 3, 9)
		"Everywhere": {0, 0, 0}, "Pair": {0, 0, 3}, "Single": {0, 9, 9},
	}
	maxOf := map[string]float64{"Everywhere": 1, "Pair": 3, "Single": 9}
	var ts []fleetscore.Tenant
	for i := range 3 {
		ts = append(ts, fleetscore.Tenant{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1), Name: fmt.Sprintf("Tenant %c", 'A'+i), TargetPercent: 90})
	}
	if err := st.SyncTenants(ctx, ts); err != nil {
		t.Fatal(err)
	}
	for i, tn := range ts {
		s := fleetscore.Score{TenantID: tn.ID, Day: day, MaxScore: 100}
		var profiles []fleetscore.ControlProfile
		rest := 100.0
		for _, c := range []string{"Everywhere", "Pair", "Single"} {
			s.Controls = append(s.Controls, fleetscore.ControlScore{Name: c, Category: "Identity", Score: open[c][i]})
			s.CurrentScore += open[c][i]
			rest -= maxOf[c]
			profiles = append(profiles, fleetscore.ControlProfile{ID: c, Title: c + " action", Category: "Identity", MaxScore: maxOf[c],
				UserImpact: "Low", ImplementationCost: "Low", Remediation: "<p>Turn it on.</p>"})
		}
		s.Controls = append(s.Controls, fleetscore.ControlScore{Name: "Rest", Category: "Apps", Score: rest}) // done everywhere
		s.CurrentScore += rest
		profiles = append(profiles, fleetscore.ControlProfile{ID: "Rest", Title: "Everything else", Category: "Apps", MaxScore: rest})
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: tn, Scores: []fleetscore.Score{s}, Profiles: profiles}); err != nil {
			t.Fatal(err)
		}
	}
	now := day.Time().Add(8 * time.Hour)
	s, err := server.New(server.Options{Source: st, Now: func() time.Time { return now }, Version: "test",
		Campaigns: &campaign.Service{Store: st, Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()

	bctx := newBrowser(t)
	evaluate := func(js string) []string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	order := func() []string {
		t.Helper()
		return evaluate(`Array.from(document.querySelectorAll('#actions tbody tr[data-control]')).map(r => r.dataset.control)`)
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(bctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(hs.URL+"/actions"), chromedp.WaitVisible(chromedp.CSS(`#actions`))); err != nil {
		t.Fatalf("open the actions page: %v", err)
	}
	if got := order(); !slices.Equal(got, []string{"Everywhere", "Pair", "Single"}) {
		t.Fatalf("ranked %v; want by open tenants", got)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#actions thead a[data-sort="gain"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#actions th[aria-sort] a[data-sort="gain"]`))); err != nil {
		t.Fatalf("sort by fleet gain: %v", err)
	}
	if loc := location(); !strings.HasSuffix(loc, "/actions?sort=gain") {
		t.Errorf("after the click the browser is at %s", loc)
	}
	if got := order(); !slices.Equal(got, []string{"Single", "Pair", "Everywhere"}) {
		t.Errorf("sorted by fleet gain: %v; want Single, Pair, Everywhere", got)
	}

	// Open Pair from its title.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#actions tr[data-control="Pair"] a.a-name`)),
		chromedp.WaitVisible(chromedp.CSS(`#action-tenants`))); err != nil {
		t.Fatalf("open the action: %v", err)
	}
	if loc := location(); !strings.HasSuffix(loc, "/actions/Pair") {
		t.Errorf("the title led to %s; want /actions/Pair", loc)
	}
	title := evaluate(`[document.getElementById('action-title').textContent.trim()]`)
	rows := evaluate(`Array.from(document.querySelectorAll('#action-tenants tbody tr')).map(r => r.querySelector('th').textContent.trim() + ':' + r.querySelector('.badge').textContent.trim())`)
	if title[0] != "Pair action" || !slices.Equal(rows, []string{"Tenant A:Open", "Tenant B:Open", "Tenant C:Done"}) {
		t.Errorf("action page %q with tenants %v", title, rows)
	}

	// Start a campaign from the action page: the form has the tenants
	// where Pair is open ticked; give an owner and a due date, start it,
	// and find it on the campaigns list.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#start-campaign`)), chromedp.WaitVisible(chromedp.CSS(`#new-campaign`))); err != nil {
		t.Fatalf("start a campaign from the action page: %v", err)
	}
	if loc := location(); !strings.HasSuffix(loc, "/campaigns/new?control=Pair") {
		t.Errorf("Start campaign led to %s", loc)
	}
	ticked := evaluate(`Array.from(document.querySelectorAll('#new-campaign input[name=tenant]:checked')).map(i => i.value)`)
	if !slices.Equal(ticked, []string{ts[0].ID, ts[1].ID}) {
		t.Errorf("ticked %v; want the tenants where Pair is open (%s, %s)", ticked, ts[0].ID, ts[1].ID)
	}
	due := day.AddDays(14).String()
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS(`#campaign-owner`), "SOC team"),
		chromedp.SetValue(chromedp.CSS(`#campaign-due`), due)); err != nil {
		t.Fatalf("fill in the campaign: %v", err)
	}
	if _, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`#campaign-start`))); err != nil {
		t.Fatalf("start the campaign: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(`#campaign-done`))); err != nil {
		t.Fatalf("the campaign's page: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`nav a[href="/campaigns"]`)), chromedp.WaitVisible(chromedp.CSS(`#campaigns`))); err != nil {
		t.Fatalf("open the campaigns list: %v", err)
	}
	listed := evaluate(`Array.from(document.querySelectorAll('#campaigns tbody tr')).map(r => r.textContent.replace(/\s+/g, ' ').trim())`)
	if len(listed) != 1 || !strings.Contains(listed[0], "Pair action") || !strings.Contains(listed[0], "SOC team") || !strings.Contains(listed[0], "0 of 2") {
		t.Errorf("campaigns listed: %q; want one, of Pair action, by SOC team, 0 of 2 done", listed)
	}
}
