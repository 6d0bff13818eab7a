package storetest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore"
)

// varying keeps of days' controls those whose score differs between some
// two of the days (present on some and not others included).
func varying(days []fleetscore.Score) []fleetscore.Score {
	keep := map[string]bool{}
	for _, d := range days[1:] {
		a, b := scoresOf(days[0].Controls), scoresOf(d.Controls)
		for n, v := range a {
			if w, ok := b[n]; !ok || w != v {
				keep[n] = true
			}
		}
		for n := range b {
			if _, ok := a[n]; !ok {
				keep[n] = true
			}
		}
	}
	out := make([]fleetscore.Score, len(days))
	for i, d := range days {
		d.Controls = slices.DeleteFunc(slices.Clone(d.Controls), func(c fleetscore.ControlScore) bool { return !keep[c.Name] })
		if d.Controls == nil {
			d.Controls = []fleetscore.ControlScore{}
		}
		out[i] = d
	}
	return out
}

func scoresOf(cs []fleetscore.ControlScore) map[string]float64 {
	m := make(map[string]float64, len(cs))
	for _, c := range cs {
		m[c.Name] = c.Score
	}
	return m
}

func testRecentReads(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	f := fleet(t, s)
	ha, hb := history{}, history{}
	a := History(tenantA.ID, day0, 40, 120, 31)
	a = slices.Delete(a, 30, 32) // two days missing near the end
	// A control goes on day 33 and comes back on day 36; another is new on day 37.
	for i := range a {
		if day := a[i].Day.Sub(day0); day >= 33 && day < 36 {
			a[i].Controls = slices.Clone(a[i].Controls[1:])
		}
		if a[i].Day.Sub(day0) >= 37 {
			a[i].Controls = append(slices.Clone(a[i].Controls), fleetscore.ControlScore{Name: "zz_new", Category: fleetscore.CategoryApps, Score: 1})
		}
	}
	b := History(tenantB.ID, day0.AddDays(10), 3, 30, 32)
	ps := sampleProfiles()
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: shuffled(a, 3), Profiles: ps})
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: ps[1:]}) // the first is removed
	save(t, s, fleetscore.Batch{Tenant: tenantB, Scores: b})
	if err := s.SyncTenants(ctx, []fleetscore.Tenant{tenantC}); err != nil { // never collected
		t.Fatal(err)
	}
	ha.save(tenantA.ID, a)
	hb.save(tenantB.ID, b)

	for _, n := range []int{1, 2, 8, 60} {
		got, err := f.RecentScores(ctx, n)
		if err != nil {
			t.Fatalf("RecentScores(%d): %v", n, err)
		}
		if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, []string{tenantA.ID, tenantB.ID}) {
			t.Errorf("RecentScores(%d) has tenants %v, want %s and %s", n, ids, tenantA.ID, tenantB.ID)
		}
		for id, h := range map[string]history{tenantA.ID: ha, tenantB.ID: hb} {
			all := h.between(fleetscore.Day{}, fleetscore.Day{})
			want := varying(all[max(0, len(all)-n):])
			g := got[id]
			if len(g) != len(want) {
				t.Errorf("RecentScores(%d)[%s]: %d days, want %d", n, id, len(g), len(want))
				continue
			}
			for i := range want {
				w := want[i]
				w.EnabledServices, g[i].EnabledServices = nil, nil
				if d := diffScore(w, g[i], fleetscore.Day{}); len(d) > 0 {
					t.Errorf("RecentScores(%d)[%s][%d] (%s): %s", n, id, i, w.Day, strings.Join(d, "; "))
				}
			}
		}
	}
	// With 8 days, A's window holds the control that went and came back and
	// the new one, and only controls that change.
	got, _ := f.RecentScores(ctx, 8)
	names := map[string]bool{}
	for _, d := range got[tenantA.ID] {
		for _, c := range d.Controls {
			names[c.Name] = true
		}
	}
	if !names["zz_new"] || !names[a[0].Controls[0].Name] || len(names) >= 120 {
		t.Errorf("RecentScores(8) of %s has controls %v: want the returning and the new one, not all 120", tenantA.ID, slices.Sorted(maps.Keys(names)))
	}
	if _, err := f.RecentScores(ctx, 0); err == nil {
		t.Error("RecentScores(0): no error")
	}

	states, err := f.StateUpdates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]fleetscore.ControlStateUpdate{tenantA.ID: {}}
	for _, p := range ps[1:] { // not the removed profile's
		if len(p.StateUpdates) > 0 {
			want[tenantA.ID][p.ID] = p.StateUpdates
		}
	}
	if len(states) != 1 || len(states[tenantA.ID]) != len(want[tenantA.ID]) {
		t.Fatalf("StateUpdates: %v, want %v", states, want)
	}
	for id, us := range want[tenantA.ID] {
		g := states[tenantA.ID][id]
		if len(g) != len(us) {
			t.Errorf("StateUpdates[%s]: %v, want %v", id, g, us)
			continue
		}
		for i := range us {
			if g[i].State != us[i].State || g[i].Comment != us[i].Comment || g[i].UpdatedBy != us[i].UpdatedBy ||
				g[i].AssignedTo != us[i].AssignedTo || !g[i].UpdatedAt.Equal(us[i].UpdatedAt) {
				t.Errorf("StateUpdates[%s][%d] = %+v, want %+v", id, i, g[i], us[i])
			}
		}
	}
}
