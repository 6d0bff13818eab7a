package alert_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/fleettest"
)

// runOf is what `fleetscore collect` hands the engine after a run
// (cmd/fleetscore alertRun): the tenants it backfilled.
func runOf(sum collect.Summary) alert.Run {
	var run alert.Run
	for _, r := range sum.Results {
		if r.Backfill {
			run.Backfilled = append(run.Backfilled, r.Tenant.ID)
		}
	}
	return run
}

// metControls are a tenant's controls that are met (full points) on the
// script's base day, have a profile with no state update, and at least
// minMax points, best first.
func metControls(e *emulator.Emulator, tenant string, minMax float64) []fleetscore.ControlProfile {
	scores, profiles := e.Expected(tenant)
	pts := map[string]float64{}
	for _, c := range scores[0].Controls {
		pts[c.Name] = c.Score
	}
	var out []fleetscore.ControlProfile
	for _, p := range profiles {
		v, ok := pts[p.ID]
		if ok && !p.Deprecated && p.MaxScore >= minMax && v >= p.MaxScore &&
			len(p.StateUpdates) == 1 && p.StateUpdates[0].State == fleetscore.StateDefault {
			out = append(out, p)
		}
	}
	return out
}

// TestFirstCollectionSetsABaseline is issue 13's acceptance of alerts that
// explain, and no storm: the first collection of 25 emulated tenants, whose
// histories hold a 10-point regression at every tenant and a control
// Microsoft added at every tenant (enough, each, to fire score_drop,
// control_regressed and new_action), sends no change alert for those
// history days, and with the digest on (the default 5) at most one message
// per channel; the next day, one tenant's control regressing by 10 points
// sends one alert, whose text names the control.
func TestFirstCollectionSetsABaseline(t *testing.T) {
	ctx := context.Background()
	day1 := fleetscore.MustDay("2026-03-01")
	day := func(n int) fleetscore.Day { return day1.AddDays(n - 1) }
	var (
		mu    sync.Mutex
		today = day(20)
	)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return today.Time().Add(15 * time.Hour)
	}
	const tenants = 25
	var (
		victim  string
		later   fleetscore.ControlProfile
		history = map[string]string{} // tenant -> the control regressed in its history
	)
	f := fleettest.New(t, fleettest.Options{Tenants: tenants, Days: 20, Now: clock, Script: func(e *emulator.Emulator) {
		added := []emulator.ScriptControl{{ID: "zScriptedCopilotReviews", Title: "Enable Copilot access reviews",
			Category: fleetscore.CategoryApps, MaxScore: 60, From: day(17)}}
		for _, ti := range e.Tenants()[:tenants] {
			e.SetScript(ti.ID, emulator.Script{Base: day1})
			met := metControls(e, ti.ID, 2)
			if len(met) < 2 {
				t.Fatalf("tenant %s has %d met controls to script, want 2", ti.Name, len(met))
			}
			s := emulator.Script{Base: day1, Added: added,
				Points: []emulator.ScriptPoints{{Control: met[0].ID, From: day(16), Points: 0}}}
			history[ti.ID] = met[0].ID
			if victim == "" {
				for _, p := range met[1:] {
					if p.MaxScore >= 10 {
						victim, later = ti.ID, p
						s.Points = append(s.Points, emulator.ScriptPoints{Control: p.ID, From: day(21), Points: p.MaxScore - 10})
						break
					}
				}
			}
			e.SetScript(ti.ID, s)
		}
	}})
	if victim == "" {
		t.Fatal("no tenant has a met control of 10 points or more to regress")
	}

	rxs := map[string]*alerttest.Receiver{"soc-teams": alerttest.NewReceiver(t), "soc-slack": alerttest.NewReceiver(t), "siem": alerttest.NewReceiver(t)}
	rxs["soc-teams"].AnswerWith(http.StatusAccepted)
	client := &http.Client{Timeout: 10 * time.Second}
	channels := []alert.Channel{
		alert.NewTeams("soc-teams", rxs["soc-teams"].URL, client),
		alert.NewSlack("soc-slack", rxs["soc-slack"].URL, client),
		alert.NewWebhook("siem", rxs["siem"].URL, func() string { return hookSecret }, client, nil),
	}
	all := []string{"soc-teams", "soc-slack", "siem"}
	rules := []alert.Rule{
		{Name: "below-target", When: alert.BelowTarget, Channels: all},
		{Name: "drop-pct", When: alert.ScoreDrop, Percent: 5, Days: 7, Channels: all},
		{Name: "control-regressed", When: alert.ControlRegressed, Days: 7, Channels: all},
		{Name: "collection-failing", When: alert.CollectionFailing, Runs: 1, Channels: all},
		{Name: "new-action", When: alert.NewAction, Tenants: 5, Days: 7, Channels: all},
	}
	engine := func() *alert.Engine {
		return &alert.Engine{Store: f.Store, Source: f.Store, Rules: rules, Channels: channels, Now: clock,
			Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	}
	change := map[string]bool{alert.ScoreDrop: true, alert.ControlRegressed: true, alert.NewAction: true}

	run := runOf(f.Summary)
	if len(run.Backfilled) != tenants {
		t.Fatalf("the first collection backfilled %d tenants, want all %d", len(run.Backfilled), tenants)
	}
	rep, err := engine().EvaluateRun(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rep.Fired {
		if change[m.When] {
			t.Errorf("the first collection fired a change alert for history days: %s: %s", m.Title, m.Summary)
		}
	}
	if len(rep.Fired) <= alert.DefaultDigestOver {
		t.Fatalf("the first collection fired %d alerts (below_target, collection_failing); the test needs more than %d for a digest", len(rep.Fired), alert.DefaultDigestOver)
	}
	for name, rx := range rxs {
		if n := len(rx.Delivered()); n != 1 {
			t.Errorf("channel %s got %d messages at the first collection, want 1 digest", name, n)
		}
	}
	var dg alert.Message
	if err := json.Unmarshal(rxs["siem"].Delivered()[0].Body, &dg); err != nil {
		t.Fatal(err)
	}
	if dg.Event != alert.Digest || len(dg.Messages) != len(rep.Fired) || len(dg.Facts) != len(rep.Fired) {
		t.Errorf("the webhook's digest is %s with %d messages and %d lines, want a digest of the %d fired", dg.Event, len(dg.Messages), len(dg.Facts), len(rep.Fired))
	}
	if !strings.Contains(string(rxs["soc-teams"].Delivered()[0].Body), "DIGEST") {
		t.Errorf("the Teams card does not say DIGEST:\n%s", rxs["soc-teams"].Delivered()[0].Body)
	}

	// The next day: one tenant's control falls by 10 points.
	mu.Lock()
	today = day(21)
	mu.Unlock()
	sum := f.Collector.Run(ctx, f.Jobs)
	if got := runOf(sum); len(got.Backfilled) != 0 {
		t.Fatalf("the second collection backfilled %v, want none", got.Backfilled)
	}
	rep, err = engine().EvaluateRun(ctx, runOf(sum))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fired) != 1 {
		var titles []string
		for _, m := range rep.Fired {
			titles = append(titles, m.Title)
		}
		t.Fatalf("the 10-point regression fired %d alerts %q, want 1", len(rep.Fired), titles)
	}
	m := rep.Fired[0]
	if m.When != alert.ControlRegressed || m.TenantID != victim || m.Control != later.ID {
		t.Errorf("fired %s at %s (%s), want control_regressed at %s (%s)", m.When, m.TenantID, m.Control, victim, later.ID)
	}
	want := later.Title + " regressed −10 pts"
	if !strings.HasPrefix(m.Reason, want) || !strings.Contains(m.Title, later.Title) {
		t.Errorf("title %q, reason %q; want the control named, the reason starting %q", m.Title, m.Reason, want)
	}
	for name, rx := range rxs {
		got := rx.Delivered()
		if len(got) != 2 || !strings.Contains(string(got[1].Body), later.Title) || !strings.Contains(string(got[1].Body), "regressed −10 pts") {
			t.Errorf("channel %s: %d messages, want the digest and then one naming %q with its reason", name, len(got), later.Title)
		}
	}
	var hook alert.Message
	if err := json.Unmarshal(rxs["siem"].Delivered()[1].Body, &hook); err != nil {
		t.Fatal(err)
	}
	if hook.Reason != m.Reason {
		t.Errorf("the webhook's reason is %q, want %q", hook.Reason, m.Reason)
	}
}
