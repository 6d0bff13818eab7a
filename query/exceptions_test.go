package query_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
)

// TestActionsCountExceptedApart: a live exception takes its tenant out of
// an action's open count (neither open nor done); a failed, refused or
// expired one, or one that sets Default, does not.
func TestActionsCountExceptedApart(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 4})
	ctx := context.Background()
	before, err := query.Actions(ctx, f.Store, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var top query.Action
	for _, a := range before {
		if a.OpenTenants >= 3 {
			top = a
			break
		}
	}
	if top.Control == "" {
		t.Fatal("no action open at 3 tenants")
	}
	at := time.Now().UTC()
	put := func(tenant, state, status string) {
		t.Helper()
		if _, err := f.Store.PutException(ctx, exceptions.Exception{TenantID: tenant, Control: top.Control, State: state, Reason: "r",
			ReviewBy: fleetscore.DayOf(at).AddDays(30), CreatedBy: "t", CreatedAt: at, Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	excepted, inEffect, failed := top.Tenants[0], top.Tenants[1], top.Tenants[2]
	put(excepted, fleetscore.StateThirdParty, exceptions.StatusLocal)
	put(inEffect, fleetscore.StateIgnored, exceptions.StatusInEffect)
	put(failed, fleetscore.StateThirdParty, exceptions.StatusFailed)
	if len(top.Tenants) > 3 {
		put(top.Tenants[3], fleetscore.StateDefault, exceptions.StatusWritten)
	}
	after, err := query.Actions(ctx, f.Store, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(after, func(a query.Action) bool { return a.Control == top.Control })
	got := after[i]
	if got.ExceptedTenants != 2 || got.OpenTenants != top.OpenTenants-2 || got.IgnoredTenants != top.IgnoredTenants ||
		got.ThirdPartyTenants != top.ThirdPartyTenants {
		t.Errorf("after excepting 2 of %d: open %d, excepted %d, ignored %d, third party %d", top.OpenTenants, got.OpenTenants,
			got.ExceptedTenants, got.IgnoredTenants, got.ThirdPartyTenants)
	}
	if slices.Contains(got.Tenants, excepted) || slices.Contains(got.Tenants, inEffect) || !slices.Contains(got.Tenants, failed) {
		t.Errorf("open tenants %v: want %s and %s out, %s in", got.Tenants, excepted, inEffect, failed)
	}
	if got.PointsAvailable >= top.PointsAvailable {
		t.Errorf("points available %v, was %v: the excepted tenants' points still count", got.PointsAvailable, top.PointsAvailable)
	}
	// A client's restricted view counts only its own tenant's exception.
	r, err := query.Actions(ctx, query.Restrict(f.Store, []string{excepted}), query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	i = slices.IndexFunc(r, func(a query.Action) bool { return a.Control == top.Control })
	if i < 0 || r[i].ExceptedTenants != 1 || r[i].OpenTenants != 0 {
		t.Errorf("restricted to %s: %+v", excepted, r)
	}
	// The page's split agrees: counted among the open while open elsewhere.
	v, err := query.ActionsPage(ctx, f.Store, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	j := slices.IndexFunc(v.Open, func(a query.Action) bool { return a.Control == top.Control })
	if j < 0 || v.Open[j].ExceptedTenants != 2 {
		t.Errorf("actions page: %+v", v.Open)
	}
}
