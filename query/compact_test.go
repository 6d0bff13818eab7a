package query

import (
	"reflect"
	"slices"
	"testing"

	"github.com/fleetscore/fleetscore"
)

// The model's compact latest controls give back exactly what they were
// made of (order, nil and empty lists, a name under two categories), and
// keep each (name, category) once.
func TestLatestRoundTrip(t *testing.T) {
	in := map[string][]fleetscore.ControlScore{
		"a":     {{Name: "MFA", Category: "Identity", Score: 9}, {Name: "DLP", Category: "Data", Score: 0.5}},
		"b":     {{Name: "DLP", Category: "Data", Score: 1}, {Name: "MFA", Category: "Identity", Score: 0}, {Name: "MFA", Category: "Apps", Score: 2}},
		"empty": {},
		"nil":   nil,
	}
	l := compactLatest(in)
	if got := l.expand(); !reflect.DeepEqual(got, in) {
		t.Fatalf("expand(compact(x)) = %+v\nwant %+v", got, in)
	}
	if len(l.pairs) != 3 {
		t.Errorf("%d pairs (%v), want 3", len(l.pairs), l.pairs)
	}
	if got := l.expand(); &got["a"][0] == &l.expand()["a"][0] {
		t.Error("expand hands out the same slices twice")
	}
}

// The model's compact days are Daily's days less what the fleet views do
// not read (controls, averages, services), tenant by tenant in the
// store's order, a tenant the model does not list included.
func TestCompactDaysAsTheStore(t *testing.T) {
	d := fleetscore.DayOf(fleetscore.DayFromUnix(20_000).Time())
	all := []fleetscore.Score{
		{TenantID: "b", Day: d, CurrentScore: 10.25, MaxScore: 20, ActiveUserCount: 7, LicensedUserCount: 1 << 40,
			Averages: map[string]float64{fleetscore.BasisAllTenants: 40}, Controls: []fleetscore.ControlScore{{Name: "x"}},
			EnabledServices: []string{"s"}},
		{TenantID: "b", Day: d.AddDays(1), CurrentScore: 11, MaxScore: 20},
		{TenantID: "a", Day: d.AddDays(-400), CurrentScore: 0, MaxScore: 0},
		{TenantID: "gone", Day: d, CurrentScore: 1, MaxScore: 2},
	}
	ts := []fleetscore.TenantStatus{{Tenant: fleetscore.Tenant{ID: "a"}}, {Tenant: fleetscore.Tenant{ID: "b"}}}
	got := compactDaily(all, ts).scores()
	want := make([]fleetscore.Score, len(all))
	for i, s := range all {
		want[i] = fleetscore.Score{TenantID: s.TenantID, Day: s.Day, CurrentScore: s.CurrentScore, MaxScore: s.MaxScore,
			ActiveUserCount: s.ActiveUserCount, LicensedUserCount: s.LicensedUserCount}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("scores() = %+v\nwant %+v", got, want)
	}
	for i := range got {
		if got[i].Day != want[i].Day {
			t.Errorf("day %d: %v != %v (==)", i, got[i].Day, want[i].Day)
		}
	}
}

// The kept ranking gives back the ranking it was made of, lists of open
// tenants included (empty ones as empty, not nil: the API writes []),
// and each call's lists are the caller's own.
func TestKeptActionsRoundTrip(t *testing.T) {
	in := []Action{
		{Control: "MFA", OpenTenants: 2, Tenants: []string{"b", "a"}, PointsAvailable: 3},
		{Control: "DLP", Tenants: []string{}},
		{Control: "Audit", OpenTenants: 3, Tenants: []string{"a", "c", "b"}},
	}
	want := make([]Action, len(in))
	for i, a := range in {
		want[i] = a
		want[i].Tenants = slices.Clone(a.Tenants)
	}
	k := keepActions(in)
	got := k.actions()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("actions() = %+v\nwant %+v", got, want)
	}
	if len(k.ids) != 3 {
		t.Errorf("ids %v, want each tenant once", k.ids)
	}
	got[0].Tenants[0] = "changed"
	if again := k.actions(); again[0].Tenants[0] != "b" {
		t.Error("a caller's change reached the kept ranking")
	}
}
