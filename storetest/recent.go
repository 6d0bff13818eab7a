package storetest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

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

	// RecentChanges: of tenant B, with 2 days its window starts on its
	// last day but one; the profiles of a control that changes after it, of one
	// with a state update dated in it, and not of one dated before it nor
	// of one that does not change.
	// A 4th day for B where one control gains a point.
	bDays := hb.between(fleetscore.Day{}, fleetscore.Day{})
	next := bDays[len(bDays)-1]
	next.Day = next.Day.AddDays(1)
	next.Controls = slices.Clone(next.Controls)
	changing, steady := next.Controls[0].Name, next.Controls[1].Name
	next.Controls[0].Score++
	next.CurrentScore++
	save(t, s, fleetscore.Batch{Tenant: tenantB, Scores: []fleetscore.Score{next}})
	bDays = append(bDays, next)
	inWindow := next.Day.Time().Add(3 * time.Hour)
	bps := []fleetscore.ControlProfile{
		{ID: changing, Title: "Changing", Category: fleetscore.CategoryData, MaxScore: 7,
			StateUpdates: []fleetscore.ControlStateUpdate{{State: fleetscore.StateDefault, UpdatedAt: bDays[0].Day.Time()}}},
		{ID: "zz_marked", Title: "Marked third party", Category: fleetscore.CategoryApps, MaxScore: 4,
			StateUpdates: []fleetscore.ControlStateUpdate{
				{State: fleetscore.StateDefault, UpdatedAt: bDays[0].Day.Time()},
				{State: fleetscore.StateThirdParty, Comment: "Mimecast", UpdatedBy: "bob@client.example", UpdatedAt: inWindow},
			}},
		{ID: "zz_old", Title: "Marked long ago", MaxScore: 3,
			StateUpdates: []fleetscore.ControlStateUpdate{{State: fleetscore.StateIgnored, UpdatedAt: bDays[0].Day.Time()}}},
	}
	bps = append(bps, fleetscore.ControlProfile{ID: steady, Title: "Steady", MaxScore: 2})
	save(t, s, fleetscore.Batch{Tenant: tenantB, Profiles: bps})
	rs, rp, err := f.RecentChanges(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range rp[tenantB.ID] {
		ids = append(ids, p.ID)
		switch p.ID {
		case changing:
			if p.Title != "Changing" || p.MaxScore != 7 || p.Category != fleetscore.CategoryData || len(p.StateUpdates) != 1 {
				t.Errorf("RecentChanges profile: %+v", p)
			}
		case "zz_marked":
			if len(p.StateUpdates) != 2 || p.StateUpdates[1].State != fleetscore.StateThirdParty || p.StateUpdates[1].Comment != "Mimecast" ||
				p.StateUpdates[1].UpdatedBy != "bob@client.example" || !p.StateUpdates[1].UpdatedAt.Equal(inWindow) {
				t.Errorf("RecentChanges profile: %+v; want both updates, the second Mimecast's", p)
			}
		}
	}
	if want := slices.Sorted(slices.Values([]string{changing, "zz_marked"})); !slices.Equal(ids, want) {
		t.Errorf("RecentChanges(2) profiles of %s = %v, want %v", tenantB.ID, ids, want)
	}
	if _, ok := rp[tenantC.ID]; ok {
		t.Errorf("RecentChanges has profiles of tenant %s, never collected", tenantC.ID)
	}
	if _, _, err := f.RecentChanges(ctx, 0); err == nil {
		t.Error("RecentChanges(0): no error")
	}
	// Its scores are RecentScores'.
	if want, err := f.RecentScores(ctx, 2); err != nil || len(want[tenantB.ID]) != len(rs[tenantB.ID]) || len(want) != len(rs) {
		t.Errorf("RecentChanges(2) scores: %d tenants, B %d days; RecentScores(2): %d, %d (%v)", len(rs), len(rs[tenantB.ID]), len(want), len(want[tenantB.ID]), err)
	} else {
		for i := range want[tenantB.ID] {
			if d := diffScore(want[tenantB.ID][i], rs[tenantB.ID][i], fleetscore.Day{}); len(d) > 0 {
				t.Errorf("RecentChanges(2)[B][%d]: %s", i, strings.Join(d, "; "))
			}
		}
	}
}
