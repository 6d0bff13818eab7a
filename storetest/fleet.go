package storetest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore"
)

// fleet is the store as a fleetscore.FleetReader; a store that is not one
// fails the test.
func fleet(t *testing.T, s fleetscore.Store) fleetscore.FleetReader {
	t.Helper()
	f, ok := s.(fleetscore.FleetReader)
	if !ok {
		t.Fatalf("%T is not a fleetscore.FleetReader: the dashboard cannot be served from it", s)
	}
	return f
}

func testFleetReads(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	f := fleet(t, s)
	// Tenant B sorts first by ID (the order of Daily), A by name.
	ha, hb := history{}, history{}
	a := History(tenantA.ID, day0, 12, 60, 21)
	b := History(tenantB.ID, day0.AddDays(5), 10, 40, 22)
	// A control of A goes away on its last day: not among its latest controls.
	a[11].Controls = slices.Clone(a[11].Controls[1:])
	ps := sampleProfiles()
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: a, Profiles: ps})
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: ps[1:]}) // the first is removed
	save(t, s, fleetscore.Batch{Tenant: tenantB, Scores: b})
	if err := s.SyncTenants(ctx, []fleetscore.Tenant{tenantC}); err != nil { // known, never collected
		t.Fatal(err)
	}
	ha.save(tenantA.ID, a)
	hb.save(tenantB.ID, b)

	for _, r := range []struct{ from, to fleetscore.Day }{
		{},
		{day0.AddDays(6), day0.AddDays(9)},
		{day0.AddDays(11), fleetscore.Day{}},
		{fleetscore.Day{}, day0.AddDays(2)},
	} {
		got, err := f.Daily(ctx, r.from, r.to)
		if err != nil {
			t.Fatalf("Daily(%s, %s): %v", r.from, r.to, err)
		}
		// Ordered by tenant ID, then day.
		want := slices.Concat(ha.between(r.from, r.to), hb.between(r.from, r.to))
		slices.SortStableFunc(want, func(x, y fleetscore.Score) int { return cmp.Compare(x.TenantID, y.TenantID) })
		what := fmt.Sprintf("Daily(%s, %s)", r.from, r.to)
		if len(got) != len(want) {
			t.Errorf("%s: %d snapshots, want %d", what, len(got), len(want))
			continue
		}
		for i := range want {
			w, g := want[i], got[i]
			w.Controls, w.EnabledServices = nil, nil
			if len(g.Controls) != 0 {
				t.Errorf("%s[%d]: %d controls; Daily loads none", what, i, len(g.Controls))
			}
			g.Controls, g.EnabledServices = nil, nil
			if d := diffScore(w, g, fleetscore.Day{}); len(d) > 0 {
				t.Errorf("%s[%d] (%s %s): %s", what, i, w.TenantID, w.Day, strings.Join(d, "; "))
			}
		}
	}

	latest, err := f.LatestControls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(latest)); !slices.Equal(got, []string{tenantA.ID, tenantB.ID}) {
		t.Errorf("LatestControls has tenants %v, want %s and %s", got, tenantA.ID, tenantB.ID)
	}
	for id, h := range map[string]history{tenantA.ID: ha, tenantB.ID: hb} {
		want := h[h.newest().Unix()].Controls // sorted by name
		if !slices.Equal(latest[id], want) {
			t.Errorf("LatestControls[%s]: %d controls, want the %d of %s: %s", id, len(latest[id]), len(want), h.newest(), diffControls(want, latest[id]))
		}
	}

	sums, err := f.ProfileSummaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 {
		t.Errorf("ProfileSummaries has %d tenants, want only %s", len(sums), tenantA.ID)
	}
	var want []fleetscore.ControlProfile
	for _, p := range ps[1:] {
		p.Remediation, p.Threats = "", nil
		if n := len(p.StateUpdates); n > 0 {
			p.StateUpdates = p.StateUpdates[n-1:]
		}
		want = append(want, p)
	}
	got := sums[tenantA.ID]
	if !slices.IsSortedFunc(got, func(x, y fleetscore.ControlProfile) int { return cmp.Compare(x.ID, y.ID) }) {
		t.Errorf("ProfileSummaries[%s] not sorted by ID: %v", tenantA.ID, profileIDs(got))
	}
	if len(got) != len(want) {
		t.Fatalf("ProfileSummaries[%s]: %v, want %v", tenantA.ID, profileIDs(got), profileIDs(want))
	}
	for i := range want {
		if d := diffProfile(want[i], got[i]); d != "" {
			t.Errorf("ProfileSummaries[%s]: %s: %s", tenantA.ID, want[i].ID, d)
		}
	}
}
