package alert_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/fleettest"
)

// TestControlRegressedThreshold: a met control whose score falls by less
// than the rule's points (default 1) does not fire, one that falls by more
// does, and points: raises the bar.
func TestControlRegressedThreshold(t *testing.T) {
	day1 := fleetscore.MustDay("2026-03-01")
	now := day1.AddDays(9).Time().Add(15 * time.Hour)
	var tenant string
	var wobble, fall fleetscore.ControlProfile
	f := fleettest.New(t, fleettest.Options{Tenants: 2, Days: 10, Now: func() time.Time { return now }, Script: func(e *emulator.Emulator) {
		ti := e.Tenants()[0]
		tenant = ti.ID
		e.SetScript(ti.ID, emulator.Script{Base: day1})
		met := metControls(e, ti.ID, 2)
		if len(met) < 2 {
			t.Fatalf("%d met controls of 2 points or more, want 2", len(met))
		}
		wobble, fall = met[0], met[1]
		e.SetScript(ti.ID, emulator.Script{Base: day1, Points: []emulator.ScriptPoints{
			{Control: wobble.ID, From: day1.AddDays(8), Points: wobble.MaxScore - 0.45}, // 9 -> 8.55
			{Control: fall.ID, From: day1.AddDays(8), Points: fall.MaxScore - 1.5},
		}})
		e.SetScript(e.Tenants()[1].ID, emulator.Script{Base: day1})
	}})
	for _, tc := range []struct {
		points float64
		want   []string
	}{
		{0, []string{fall.ID}},              // default 1: the 1.5 fall fires, the 0.45 does not
		{0.4, []string{fall.ID, wobble.ID}}, // both
		{2, nil},                            // neither
	} {
		e := &alert.Engine{Store: alert.NewMemoryStore(), Source: f.Store, Now: func() time.Time { return now },
			Rules: []alert.Rule{{Name: "reg", When: alert.ControlRegressed, Points: tc.points, Channels: []string{"x"}}}}
		rep, err := e.Evaluate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range rep.Fired {
			if m.TenantID != tenant {
				t.Errorf("points %v: fired at another tenant: %s", tc.points, m.Title)
				continue
			}
			got = append(got, m.Control)
		}
		if strings.Join(sorted(got), ",") != strings.Join(sorted(tc.want), ",") {
			t.Errorf("points %v: fired for %v, want %v", tc.points, got, tc.want)
		}
		for _, m := range rep.Fired {
			if m.Control == fall.ID && !strings.HasPrefix(m.Reason, fall.Title+" regressed −1.5 pts") {
				t.Errorf("reason %q, want it to start with %q", m.Reason, fall.Title+" regressed −1.5 pts")
			}
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestFleetEventIsOneAlert: Microsoft adding one control at every tenant on
// one day lowers every tenant's percentage past the score_drop rule's; that
// is one alert naming the control and the tenants, not one per tenant. A
// tenant whose own fall is enough without the event keeps its own alert.
func TestFleetEventIsOneAlert(t *testing.T) {
	day1 := fleetscore.MustDay("2026-03-01")
	now := day1.AddDays(9).Time().Add(15 * time.Hour)
	const n = 4
	var own string
	f := fleettest.New(t, fleettest.Options{Tenants: n, Days: 10, Now: func() time.Time { return now }, Script: func(e *emulator.Emulator) {
		added := []emulator.ScriptControl{{ID: "zScriptedCopilotReviews", Title: "Enable Copilot access reviews",
			Category: fleetscore.CategoryApps, MaxScore: 400, From: day1.AddDays(8)}}
		for i, ti := range e.Tenants()[:n] {
			s := emulator.Script{Base: day1, Added: added}
			if i == 0 {
				// This tenant also loses every met control: its own fall.
				own = ti.ID
				e.SetScript(ti.ID, emulator.Script{Base: day1})
				for _, p := range metControls(e, ti.ID, 1) {
					s.Points = append(s.Points, emulator.ScriptPoints{Control: p.ID, From: day1.AddDays(8), Points: 0})
				}
			}
			e.SetScript(ti.ID, s)
		}
	}})
	e := &alert.Engine{Store: alert.NewMemoryStore(), Source: f.Store, Now: func() time.Time { return now },
		Rules: []alert.Rule{{Name: "drop", When: alert.ScoreDrop, Percent: 5, Channels: []string{"x"}}}}
	rep, err := e.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var fleet, mine []alert.Message
	for _, m := range rep.Fired {
		switch m.TenantID {
		case "":
			fleet = append(fleet, m)
		case own:
			mine = append(mine, m)
		default:
			t.Errorf("a tenant the event alone explains fired on its own: %s: %s", m.Title, m.Summary)
		}
	}
	if len(fleet) != 1 {
		t.Fatalf("%d fleet alerts, want 1: %+v", len(fleet), rep.Fired)
	}
	m := fleet[0]
	if m.Control != "zScriptedCopilotReviews" || !strings.Contains(m.Title, "Microsoft added Enable Copilot access reviews at 3 tenants") ||
		!strings.HasPrefix(m.Reason, "Microsoft added Enable Copilot access reviews (0 of 400) at 3 tenants") {
		t.Errorf("fleet alert %q (%s), reason %q", m.Title, m.Control, m.Reason)
	}
	if len(mine) != 1 || !strings.Contains(mine[0].Reason, "regressed") {
		t.Errorf("the tenant with its own fall: %+v, want its own alert with its regressions as the reason", mine)
	}

	// The next evaluation changes nothing: the fleet alert is open once.
	rep, err = e.Evaluate(context.Background())
	if err != nil || len(rep.Fired)+len(rep.Resolved) != 0 {
		t.Errorf("evaluating again: %v, fired %d, resolved %d; want nothing", err, len(rep.Fired), len(rep.Resolved))
	}
}
