package server_test

import (
	"context"
	"encoding/csv"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/server"
)

// TestExceptionsFromTheActionsPage: an analyst signs in, ticks an action
// on the actions page, ticks 2 of the 3 tenants, chooses Third party,
// gives a reason and sets the exceptions. The register then shows the two
// rows and the summary; its CSV, fetched with the same session, parses
// and holds the two tenants' rows of the control; the tenant page badges
// the action.
func TestExceptionsFromTheActionsPage(t *testing.T) {
	ctx := context.Background()
	f := fleettest.New(t, fleettest.Options{Tenants: 3})
	const password = "a long analyst password"
	if err := f.Store.PutUser(ctx, auth.User{Name: "ana", Role: auth.RoleAnalyst, PasswordHash: auth.HashPassword(password)}); err != nil {
		t.Fatal(err)
	}
	a, b, c := f.Jobs[0].Tenant, f.Jobs[1].Tenant, f.Jobs[2].Tenant
	// An action open at both tenants, which Microsoft's API can write.
	actions, err := query.Actions(ctx, f.Store, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	control := ""
	for _, act := range actions {
		if slices.Contains(act.Tenants, a.ID) && slices.Contains(act.Tenants, b.ID) && !strings.HasPrefix(act.Control, "scid_") {
			control = act.Control
			break
		}
	}
	if control == "" {
		t.Fatal("no action is open at both tenants")
	}
	svc := &exceptions.Service{Store: f.Store} // no Writer: every exception is local
	s, err := server.New(server.Options{Source: f.Store, Auth: &auth.Service{Store: f.Store}, Version: "test", Exceptions: svc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	srv := hs.URL

	bctx := newBrowser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(srv+"/actions"), chromedp.WaitVisible(chromedp.CSS("#signin-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), "ana"), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#set-exceptions"))); err != nil {
		t.Fatalf("sign in and open the actions page: %v", err)
	}
	box := `#actions tr[data-control="` + control + `"] input[name=control]`
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(box)),
		chromedp.Click(chromedp.CSS(`#set-exceptions input[name=tenant][value="`+a.ID+`"]`)),
		chromedp.Click(chromedp.CSS(`#set-exceptions input[name=tenant][value="`+b.ID+`"]`)),
		chromedp.SetValue(chromedp.CSS("#exc-state"), "ThirdParty"),
		chromedp.SendKeys(chromedp.CSS("#exc-reason"), "covered by Mimecast"),
		chromedp.SendKeys(chromedp.CSS("#exc-owner"), "Sam"),
	); err != nil {
		t.Fatalf("fill in the form: %v", err)
	}
	if _, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS("#exc-apply"))); err != nil {
		t.Fatalf("set exceptions: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("#exc-flash"))); err != nil {
		t.Fatalf("after setting exceptions: no summary: %v", err)
	}
	if loc, _ := chromedp.Run(bctx, chromedp.Location()); !strings.HasPrefix(loc, srv+"/exceptions?") {
		t.Errorf("after setting exceptions the browser is at %s; want the register", loc)
	}
	flash, _ := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS("#exc-flash")))
	if !strings.Contains(flash, "2 exceptions: 0 written, 2 local, 0 failed, 0 refused") {
		t.Errorf("the summary says %q", flash)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#exceptions tr.exc-row")].map(r => r.dataset.tenant + " " + r.dataset.control + " " + r.dataset.status + " " + r.textContent.replace(/\s+/g, " "))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("the register shows %d rows; want 2: %q", len(rows), rows)
	}
	// In the order the form sent the tenants: by name.
	for i, tn := range []struct{ id, name string }{{a.ID, a.Name}, {b.ID, b.Name}} {
		r := rows[0]
		if !strings.HasPrefix(r, tn.id) {
			r = rows[1]
		}
		if !strings.HasPrefix(r, tn.id+" "+control+" local ") || !strings.Contains(r, tn.name) || !strings.Contains(r, "Third party") ||
			!strings.Contains(r, "covered by Mimecast") || !strings.Contains(r, "Sam") || !strings.Contains(r, "ana") {
			t.Errorf("row %d: %q; want %s, %s, Third party, local, the reason, owner and who", i, r, tn.name, control)
		}
	}
	body, _ := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS("#exceptions")))
	if strings.Contains(body, c.Name) {
		t.Errorf("the register shows the tenant not ticked, %s", c.Name)
	}

	// The CSV link, fetched with the browser's session.
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](
		`fetch(document.querySelector("#exc-csv").href).then(r => r.ok ? r.text() : Promise.reject(new Error("CSV: HTTP " + r.status)))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch the CSV: %v", err)
	}
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("the CSV: %v, %d records; want a header and 2 rows\n%s", err, len(recs), text)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var tenants []string
	for _, r := range recs[1:] {
		tenants = append(tenants, r[col["tenant_id"]])
		if r[col["control"]] != control || r[col["state"]] != "ThirdParty" || r[col["status"]] != "local" ||
			r[col["reason"]] != "covered by Mimecast" || r[col["created_by"]] != "ana" {
			t.Errorf("CSV row %v; want %s ThirdParty local by ana", r, control)
		}
	}
	slices.Sort(tenants)
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if !slices.Equal(tenants, want) {
		t.Errorf("the CSV's tenants: %v; want %v", tenants, want)
	}

	// The tenant page badges the action, linking to the register.
	if err := chromedp.Do(bctx, chromedp.Navigate(srv+"/tenants/"+a.ID), chromedp.WaitVisible(chromedp.CSS("#control-list"))); err != nil {
		t.Fatal(err)
	}
	href, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector(".exc-badge")?.getAttribute("href") ?? ""`))
	if err != nil || href != "/exceptions?control="+control+"&tenant="+a.ID {
		t.Errorf("the tenant page's exception badge links to %q (%v)", href, err)
	}
}
