package query_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestViewsAgainstTheEmulator checks every view against figures computed
// here, independently, from what the emulator serves.
func TestViewsAgainstTheEmulator(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 8})
	ctx := context.Background()

	o, err := query.TenantOverview(ctx, f.Store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if o.Tenants != 9 || o.Scored != 8 {
		t.Fatalf("overview: %d tenants, %d scored; want 9 and 8", o.Tenants, o.Scored)
	}
	sum, meeting := 0.0, 0
	targets := map[string]float64{}
	for _, j := range f.Jobs {
		targets[j.Tenant.ID] = j.Tenant.TargetPercent
	}
	for _, row := range o.Rows {
		if row.TenantID == f.Failing.ID {
			if row.Percent != nil || row.LastCollection.Status != fleetscore.StatusError {
				t.Errorf("failing tenant row: %+v", row)
			}
			continue
		}
		scores, _ := f.Emu.Expected(row.TenantID)
		last := scores[len(scores)-1]
		pct := last.CurrentScore / last.MaxScore * 100
		if !near(*row.Percent, pct) || *row.AsOf != last.Day.String() {
			t.Errorf("%s: %v%% as of %s, emulator %v%% as of %s", row.Name, *row.Percent, *row.AsOf, pct, last.Day)
		}
		if row.MeetsTarget != (pct >= targets[row.TenantID]) {
			t.Errorf("%s: meets %v at %v%% against %v", row.Name, row.MeetsTarget, pct, targets[row.TenantID])
		}
		sum += pct
		if pct >= targets[row.TenantID] {
			meeting++
		}
		// change over 7 days against the emulator's day 7 days before
		for _, s := range scores {
			if s.Day == last.Day.AddDays(-7) {
				want := pct - s.CurrentScore/s.MaxScore*100
				if row.Change7d == nil || !near(*row.Change7d, want) {
					t.Errorf("%s: change_7d %v, want %v", row.Name, row.Change7d, want)
				}
			}
		}
		// the sparkline ends on the latest day's percent
		if last.Day == o.Today && !near(row.Spark[len(row.Spark)-1], pct) {
			t.Errorf("%s: sparkline ends at %v, want %v", row.Name, row.Spark[len(row.Spark)-1], pct)
		}
	}
	if !near(o.AveragePercent, sum/8) || o.Meeting != meeting {
		t.Errorf("fleet: average %v meeting %d, want %v and %d", o.AveragePercent, o.Meeting, sum/8, meeting)
	}

	// The fleet trend's last day is the mean of the tenants' percents that day.
	fleet, err := query.Fleet(ctx, f.Store, fleetscore.Day{}, fleetscore.Day{})
	if err != nil {
		t.Fatal(err)
	}
	lastDay := fleet[len(fleet)-1]
	daySum, dayN, dayMeet := 0.0, 0, 0
	for _, j := range f.Jobs {
		scores, _ := f.Emu.Expected(j.Tenant.ID)
		for _, s := range scores {
			if s.Day.String() == lastDay.Date && j.Tenant.ID != f.Failing.ID {
				p := s.CurrentScore / s.MaxScore * 100
				daySum += p
				dayN++
				if p >= j.Tenant.TargetPercent {
					dayMeet++
				}
			}
		}
	}
	if lastDay.Tenants != dayN || !near(lastDay.AveragePercent, daySum/float64(dayN)) || lastDay.TenantsMeetingTarget != dayMeet {
		t.Errorf("fleet %s = %+v; want %d tenants, average %v, %d meeting", lastDay.Date, lastDay, dayN, daySum/float64(dayN), dayMeet)
	}

	// Actions: open counts, points and gains computed here from the
	// emulator's latest day and profiles.
	type agg struct {
		open      int
		points    float64
		gain      float64
		ignored   int
		third     int
		deprecate int
	}
	want := map[string]*agg{}
	for _, j := range f.Jobs {
		if j.Tenant.ID == f.Failing.ID {
			continue
		}
		scores, profiles := f.Emu.Expected(j.Tenant.ID)
		last := scores[len(scores)-1]
		prof := map[string]fleetscore.ControlProfile{}
		for _, p := range profiles {
			prof[p.ID] = p
		}
		for _, c := range last.Controls {
			p, ok := prof[c.Name]
			if !ok {
				continue
			}
			a := want[p.ID]
			if a == nil {
				a = &agg{}
				want[p.ID] = a
			}
			state := p.State()
			switch {
			case p.Deprecated:
				a.deprecate++
			case state == "Ignored":
				a.ignored++
			case state == "ThirdParty":
				a.third++
			case c.Score < p.MaxScore:
				a.open++
				a.points += p.MaxScore - c.Score
				a.gain += (p.MaxScore - c.Score) / last.MaxScore * 100 / 8
			}
		}
	}
	actions, err := query.Actions(ctx, f.Store, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(actions) != len(want) {
		t.Errorf("%d actions, want %d", len(actions), len(want))
	}
	for i, a := range actions {
		w := want[a.Control]
		if w == nil {
			t.Errorf("unexpected action %s", a.Control)
			continue
		}
		if a.OpenTenants != w.open || len(a.Tenants) != w.open || math.Abs(a.PointsAvailable-w.points) > 1e-6 ||
			math.Abs(a.FleetPercentGain-w.gain) > 1e-9 || a.IgnoredTenants != w.ignored || a.ThirdPartyTenants != w.third || a.DeprecatedTenants != w.deprecate {
			t.Errorf("action %s = %+v, want %+v", a.Control, a, *w)
		}
		if i > 0 && (actions[i-1].OpenTenants < a.OpenTenants ||
			actions[i-1].OpenTenants == a.OpenTenants && actions[i-1].PointsAvailable < a.PointsAvailable) {
			t.Errorf("ranking: %s (%d, %v) after %s (%d, %v)", a.Control, a.OpenTenants, a.PointsAvailable,
				actions[i-1].Control, actions[i-1].OpenTenants, actions[i-1].PointsAvailable)
		}
	}
	if actions[0].OpenTenants < 2 {
		t.Errorf("the top action is open at %d tenants: the fleet has no shared action", actions[0].OpenTenants)
	}
	// A filter keeps only its category.
	ident, err := query.Actions(ctx, f.Store, query.ActionFilter{Category: "identity"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ident {
		if a.Category != "Identity" {
			t.Errorf("category filter let %s (%s) through", a.Control, a.Category)
		}
	}
	if len(ident) == 0 || len(ident) >= len(actions) {
		t.Errorf("identity filter kept %d of %d", len(ident), len(actions))
	}

	// A tenant's controls: sorted by points available, consistent with IsOpen.
	id := f.Jobs[0].Tenant.ID
	cs, err := query.TenantControls(ctx, f.Store, id)
	if err != nil {
		t.Fatal(err)
	}
	scores, _ := f.Emu.Expected(id)
	if len(cs) != len(scores[len(scores)-1].Controls) {
		t.Errorf("%d controls, the latest day has %d", len(cs), len(scores[len(scores)-1].Controls))
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].PointsAvailable > cs[i-1].PointsAvailable {
			t.Fatalf("controls not sorted by points available at %d", i)
		}
	}
	ds, err := query.TenantScores(ctx, f.Store, id, scores[0].Day, fleetscore.Day{})
	if err != nil || len(ds) != len(scores) {
		t.Fatalf("tenant scores: %d rows, %v; want %d", len(ds), err, len(scores))
	}
	if _, err := query.TenantScores(ctx, f.Store, "00000000-1111-2222-3333-444444444444", fleetscore.Day{}, fleetscore.Day{}); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("unknown tenant: %v, want ErrNotFound", err)
	}
}
