package releasetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/storetest"
)

// EachProfileSummaries checks, on an empty store s, that reading the
// profile summaries one tenant at a time gives every tenant once, in the
// order of their IDs, with what ProfileSummaries gives it (each slice
// copied as it comes: the store reuses it), and that an error from the
// callback stops the read and comes back.
func EachProfileSummaries(t *testing.T, s interface {
	Store
	EachProfileSummaries(ctx context.Context, fn func(tenantID string, ps []fleetscore.ControlProfile) error) error
}) {
	t.Helper()
	ctx := context.Background()
	first := fleetscore.MustDay("2026-03-01")
	ids := []string{"t-each-c", "t-each-a", "t-each-b"}
	saved := map[string][]string{} // each tenant's profile IDs, sorted
	for i, id := range ids {
		days := storetest.History(id, first, 3, 20+10*i, uint64(i+1))
		var ps []fleetscore.ControlProfile
		for k, c := range days[len(days)-1].Controls {
			p := fleetscore.ControlProfile{ID: c.Name, Title: "Title of " + c.Name, Category: c.Category, MaxScore: float64(5 + k%4),
				Rank: k + 1, Tier: "Core", UserImpact: "Low", ImplementationCost: "Low", ActionType: "Config", Service: "AzureAD"}
			if k%3 == 0 {
				p.StateUpdates = []fleetscore.ControlStateUpdate{{State: fleetscore.StateIgnored, UpdatedBy: fmt.Sprint("who", i)}}
			}
			ps = append(ps, p)
			saved[id] = append(saved[id], p.ID)
		}
		slices.Sort(saved[id])
		b := fleetscore.Batch{Tenant: fleetscore.Tenant{ID: id, Name: id, TargetPercent: 70}, Scores: days, Profiles: ps}
		if err := s.SaveBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	want, err := s.ProfileSummaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	got := map[string][]fleetscore.ControlProfile{}
	if err := s.EachProfileSummaries(ctx, func(id string, ps []fleetscore.ControlProfile) error {
		order = append(order, id)
		got[id] = append([]fleetscore.ControlProfile(nil), ps...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []string{"t-each-a", "t-each-b", "t-each-c"}) {
		t.Errorf("tenants in the order %v, want by ID, each once", order)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("one tenant at a time:\n%+v\nProfileSummaries:\n%+v", got, want)
	}
	// What each tenant was saved with, not only what ProfileSummaries
	// (built on the same read) says.
	for _, id := range ids {
		var have []string
		for _, p := range got[id] {
			have = append(have, p.ID)
		}
		if !slices.Equal(have, saved[id]) {
			t.Errorf("%s: profiles %v, saved with %v", id, have, saved[id])
		}
	}
	stop := errors.New("enough")
	calls := 0
	err = s.EachProfileSummaries(ctx, func(string, []fleetscore.ControlProfile) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("a callback's error: %v after %d calls, want it back after 1", err, calls)
	}
}
