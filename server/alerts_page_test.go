package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/server"
)

// book is the alerts page over the alert state, as cmd/fleetscore wires it.
type book struct{ s alert.StateStore }

func (b book) Alerts(ctx context.Context, limit int) ([]server.AlertEntry, error) {
	all, err := b.s.Alerts(ctx, limit)
	var out []server.AlertEntry
	for _, a := range all {
		e := server.AlertEntry{ID: a.ID, Rule: a.Rule, TenantID: a.Tenant, Tenant: a.TenantName, Title: a.Title,
			Summary: a.Summary, Reason: a.Reason, Since: a.OpenedAt, Resolved: a.ResolvedAt}
		if a.Ack != nil {
			e.AckBy, e.AckNote, e.AckAt = a.Ack.By, a.Ack.Note, a.Ack.At
		}
		out = append(out, e)
	}
	return out, err
}

func (b book) Acknowledge(ctx context.Context, id int64, by, note string) error {
	return b.s.Acknowledge(ctx, id, alert.Ack{By: by, Note: note, At: time.Now()})
}

// TestAlertsPageAcknowledges: an analyst signs in, opens /alerts from the
// overview's alert badge, sees the open alert with its tenant, rule and
// reason, acknowledges it with a note (through the form and its CSRF
// token); the page then shows it acknowledged with the note, and the
// alert is quiet: its message still queued (the channel was down) is
// dropped, so the next evaluation sends nothing.
func TestAlertsPageAcknowledges(t *testing.T) {
	ctx := context.Background()
	f := fleettest.New(t, fleettest.Options{Tenants: 2})
	const password = "a long analyst password"
	if err := f.Store.PutUser(ctx, auth.User{Name: "ana", Role: auth.RoleAnalyst, PasswordHash: auth.HashPassword(password)}); err != nil {
		t.Fatal(err)
	}
	// Every tenant below a 100% target fires; the channel is down.
	rx := alerttest.NewReceiver(t)
	rx.Down()
	eng := &alert.Engine{Store: f.Store, Source: f.Store, Channels: []alert.Channel{alert.NewSlack("soc", rx.URL, &http.Client{Timeout: 5 * time.Second})},
		Rules:   []alert.Rule{{Name: "below-target", When: alert.BelowTarget, Channels: []string{"soc"}}},
		Tenants: []string{f.Jobs[0].Tenant.ID}, Retry: alert.Retry{Attempts: 1},
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	if err := f.Store.SyncTenants(ctx, withTarget(f, 100)); err != nil {
		t.Fatal(err)
	}
	rep, err := eng.Evaluate(ctx)
	if err != nil || len(rep.Fired) != 1 || rep.Pending != 1 {
		t.Fatalf("evaluate: %v, fired %d, pending %d; want one alert, its message queued", err, len(rep.Fired), rep.Pending)
	}
	fired := rep.Fired[0]

	open := func(ctx context.Context) (map[string][]server.OpenAlert, error) {
		os, err := alert.OpenByTenant(ctx, f.Store)
		out := map[string][]server.OpenAlert{}
		for id, list := range os {
			for _, a := range list {
				out[id] = append(out[id], server.OpenAlert{Rule: a.Rule, Title: a.Title, Summary: a.Summary, Since: a.OpenedAt})
			}
		}
		return out, err
	}
	s, err := server.New(server.Options{Source: f.Store, Auth: &auth.Service{Store: f.Store}, Version: "test",
		OpenAlerts: open, Alerts: book{f.Store}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	bctx := newBrowser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#signin-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), "ana"), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS(".alert-badge"))); err != nil {
		t.Fatalf("sign in and open the overview: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(".alert-badge")), chromedp.WaitVisible(chromedp.CSS(".ack-form"))); err != nil {
		t.Fatalf("follow the alert badge to the alerts page: %v", err)
	}
	loc, _ := chromedp.Run(bctx, chromedp.Location())
	if !strings.Contains(loc, "/alerts?tenant="+fired.TenantID) {
		t.Errorf("the badge led to %s, want /alerts?tenant=%s", loc, fired.TenantID)
	}
	row, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(".alert-row")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fired.Tenant, "below-target", fired.Summary} {
		if !strings.Contains(row, want) {
			t.Errorf("the alert's row %q does not show %q", row, want)
		}
	}
	const note = "Working on it with the client: ticket 4711"
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS(".ack-form input[name=note]"), note),
		chromedp.Click(chromedp.CSS(".ack-form button")), chromedp.WaitVisible(chromedp.CSS(".ack-note"))); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	got, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(".alert-row")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "acknowledged") || !strings.Contains(got, "by ana") || !strings.Contains(got, note) {
		t.Errorf("after acknowledging, the row says %q; want acknowledged by ana with the note", got)
	}

	// Stored, and quiet: still open, the queued message dropped.
	all, err := f.Store.OpenAlerts(ctx)
	if err != nil || len(all) != 1 || all[0].Ack == nil || all[0].Ack.Note != note || all[0].Ack.By != "ana" {
		t.Fatalf("open alerts after acknowledging: %v %+v", err, all)
	}
	rx.Up()
	rep, err = eng.Evaluate(ctx)
	if err != nil || len(rep.Fired)+len(rep.Resolved)+rep.Delivered+rep.Pending != 0 || len(rx.Delivered()) != 0 {
		t.Errorf("the next evaluation after the acknowledgement: %v, %+v, %d delivered; want nothing sent", err, rep, len(rx.Delivered()))
	}
}

// withTarget is the fleet's tenants with every target at target.
func withTarget(f *fleettest.Fleet, target float64) []fleetscore.Tenant {
	var out []fleetscore.Tenant
	for _, j := range f.Jobs {
		t := j.Tenant
		t.TargetPercent = target
		out = append(out, t)
	}
	return out
}
