package query_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
)

// TestRestrictShowsOnlyItsTenants reads every method and view through a
// source restricted to one tenant: nothing of the others comes out, and a
// read of another answers not found.
func TestRestrictShowsOnlyItsTenants(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 4})
	ctx := context.Background()
	mine, other := f.Jobs[0].Tenant.ID, f.Jobs[1].Tenant.ID
	src := query.Restrict(f.Store, []string{mine})

	ts, err := src.Tenants(ctx)
	if err != nil || len(ts) != 1 || ts[0].ID != mine {
		t.Fatalf("Tenants: %v %v", ts, err)
	}
	daily, err := src.Daily(ctx, fleetscore.Day{}, fleetscore.Day{})
	if err != nil || len(daily) == 0 {
		t.Fatalf("Daily: %d rows, %v", len(daily), err)
	}
	for _, s := range daily {
		if s.TenantID != mine {
			t.Errorf("Daily shows %s", s.TenantID)
		}
	}
	lc, _ := src.LatestControls(ctx)
	ps, _ := src.ProfileSummaries(ctx)
	for _, m := range []int{len(lc), len(ps)} {
		if m != 1 {
			t.Errorf("LatestControls/ProfileSummaries: %d tenants; want 1", m)
		}
	}
	if _, ok := lc[mine]; !ok {
		t.Error("LatestControls lacks the allowed tenant")
	}
	cs, err := src.Collections(ctx, "", 100)
	if err != nil || len(cs) == 0 {
		t.Fatalf("Collections: %v %v", cs, err)
	}
	for _, c := range cs {
		if c.TenantID != mine {
			t.Errorf("Collections shows %s", c.TenantID)
		}
	}
	if _, err := src.Scores(ctx, mine, fleetscore.Day{}, fleetscore.Day{}); err != nil {
		t.Errorf("Scores of the allowed tenant: %v", err)
	}
	for name, read := range map[string]func() error{
		"Scores":      func() error { _, err := src.Scores(ctx, other, fleetscore.Day{}, fleetscore.Day{}); return err },
		"Profiles":    func() error { _, err := src.Profiles(ctx, other); return err },
		"LatestDay":   func() error { _, _, err := src.LatestDay(ctx, other); return err },
		"Collections": func() error { _, err := src.Collections(ctx, other, 10); return err },
		"Detail": func() error {
			_, err := query.TenantDetailView(ctx, src, other, fleetscore.Day{}, fleetscore.Day{})
			return err
		},
	} {
		if err := read(); !errors.Is(err, fleetscore.ErrNotFound) {
			t.Errorf("%s of another tenant: %v; want not found", name, err)
		}
	}
	if err := src.SaveBatch(ctx, fleetscore.Batch{}); err == nil {
		t.Error("SaveBatch through a restricted source succeeded")
	}

	// The views built on it count only the allowed tenant.
	o, err := query.TenantOverview(ctx, src, time.Now())
	if err != nil || o.Tenants != 1 || len(o.Rows) != 1 {
		t.Errorf("overview: %+v %v", o, err)
	}
	acts, err := query.Actions(ctx, src, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		for _, at := range a.Tenants {
			if at != mine {
				t.Errorf("action %s lists tenant %s", a.Control, at)
			}
		}
	}
}
