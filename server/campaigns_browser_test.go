package server_test

import (
	"context"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/server"
)

// TestCampaignFromTheForm: an analyst opens /campaigns/new?control=X (the
// action page's "Start campaign"), finds the tenants where X is open
// ticked and the others not, gives an owner and starts the campaign; its
// page shows 0 of n done, the burndown and each tenant open; a note saved
// there stays; the campaign is listed on /campaigns (reached from the
// nav) and opens from there.
func TestCampaignFromTheForm(t *testing.T) {
	ctx := context.Background()
	f := fleettest.New(t, fleettest.Options{Tenants: 3})
	const password = "a long analyst password"
	if err := f.Store.PutUser(ctx, auth.User{Name: "ana", Role: auth.RoleAnalyst, PasswordHash: auth.HashPassword(password)}); err != nil {
		t.Fatal(err)
	}
	// An action open at some tenants, not all.
	actions, err := query.Actions(ctx, f.Store, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	control := ""
	for _, act := range actions {
		if n := len(act.Tenants); n >= 1 && n < 3 {
			control = act.Control
			break
		}
	}
	if control == "" {
		t.Fatal("no action is open at some tenants but not all")
	}
	svc := &campaign.Service{Store: f.Store}
	open, _, err := svc.OpenTenants(ctx, control)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Source: f.Store, Auth: &auth.Service{Store: f.Store}, Version: "test", Campaigns: svc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	srv := hs.URL

	bctx := newBrowser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(srv+"/campaigns/new?control="+control), chromedp.WaitVisible(chromedp.CSS("#signin-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), "ana"), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#new-campaign"))); err != nil {
		t.Fatalf("sign in and open the form: %v", err)
	}
	ticked, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#new-campaign input[name=tenant]:checked")].map(i => i.value)`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sortedCopy(ticked), sortedCopy(open)) {
		t.Fatalf("the form ticks %v; want the tenants where %s is open, %v", ticked, control, open)
	}
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS("#campaign-owner"), "SOC team")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS("#campaign-start"))); err != nil {
		t.Fatalf("start the campaign: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		t.Fatalf("after starting: no page: %v", err)
	}
	if text, _ := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS("main"))); !strings.Contains(text, "Progress") {
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		t.Fatalf("after starting, at %s: %s", loc, strings.Join(strings.Fields(text), " "))
	}
	loc, _ := chromedp.Run(bctx, chromedp.Location())
	m := regexp.MustCompile(`/campaigns/(\d+)$`).FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("after starting the browser is at %s; want /campaigns/{id}", loc)
	}
	page := srv + "/campaigns/" + m[1]
	done, _ := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS("#campaign-done")))
	if want := "0 of " + strconv.Itoa(len(open)) + " done"; done != want {
		t.Errorf("the campaign page says %q; want %q", done, want)
	}
	statuses, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#campaign-tenants tr.campaign-tenant")].map(r => r.dataset.tenant + " " + r.dataset.status)`))
	if err != nil || len(statuses) != len(open) {
		t.Fatalf("the campaign's tenants: %v %v; want %d", statuses, err, len(open))
	}
	for _, st := range statuses {
		id, status, _ := strings.Cut(st, " ")
		if !slices.Contains(open, id) || status != campaign.StatusOpen {
			t.Errorf("tenant row %q; want an open tenant of the campaign", st)
		}
	}
	bars, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#burndown rect.burn-bar")].map(r => r.dataset.open)`))
	if err != nil || len(bars) != 1 || bars[0] != strconv.Itoa(len(open)) {
		t.Errorf("the burndown's bars: %v %v; want one day with %d open", bars, err, len(open))
	}

	// A note, saved and shown again.
	note := `#note-` + open[0]
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS(note), "call Bob first")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`#t-`+open[0]+` button[type=submit]`))); err != nil {
		t.Fatalf("save the note: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("#campaign-done"))); err != nil {
		t.Fatal(err)
	}
	if v, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("`+note+`").value`)); v != "call Bob first" {
		t.Errorf("after saving, the note is %q", v)
	}

	// Listed on /campaigns, reached from the nav, and opens from there.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`nav a[href="/campaigns"]`)), chromedp.WaitVisible(chromedp.CSS("#campaigns"))); err != nil {
		t.Fatalf("the nav's Campaigns: %v", err)
	}
	row, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(`#campaign-`+m[1])))
	if err != nil || !strings.Contains(row, control) || !strings.Contains(row, "SOC team") || !strings.Contains(row, "0 of "+strconv.Itoa(len(open))+" done") {
		t.Errorf("the list's row: %q %v", row, err)
	}
	if _, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`#campaign-`+m[1]+` a`))); err != nil {
		t.Fatal(err)
	}
	if loc, _ := chromedp.Run(bctx, chromedp.Location()); loc != page {
		t.Errorf("the list's link goes to %s; want %s", loc, page)
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
