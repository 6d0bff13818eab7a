package query_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/sqlite"
	"github.com/fleetscore/fleetscore/storetest"
)

// storeOf is a SQLite store holding tenants × days of history of 250
// controls each (storetest's generator: a few change a day), with profiles.
func storeOf(b *testing.B, tenants, days int, now time.Time) *sqlite.Store {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	first := fleetscore.DayOf(now).AddDays(-days + 1)
	for i := range tenants {
		t := fleetscore.Tenant{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), Name: fmt.Sprintf("Client %04d", i)}
		scores := storetest.History(t.ID, first, days, 250, uint64(i+1))
		var profiles []fleetscore.ControlProfile
		for _, c := range scores[len(scores)-1].Controls {
			profiles = append(profiles, fleetscore.ControlProfile{ID: c.Name, Title: "Ensure " + c.Name + " is on", Category: c.Category, MaxScore: 10})
		}
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: t, Scores: scores, Profiles: profiles}); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// BenchmarkTenantChanges365: one tenant's changes over a year (goal < 20 ms).
func BenchmarkTenantChanges365(b *testing.B) {
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	st := storeOf(b, 1, 400, now)
	id := "00000000-0000-4000-8000-000000000000"
	to := fleetscore.DayOf(now)
	b.ResetTimer()
	for b.Loop() {
		cs, err := query.TenantChanges(context.Background(), st, id, to.AddDays(-364), to)
		if err != nil || len(cs) != 365 {
			b.Fatalf("%d changes, %v", len(cs), err)
		}
	}
}

// BenchmarkFleetChanges7x1000: the fleet's last 7 days at 1,000 tenants with
// 90 days of history each (goal < 200 ms).
func BenchmarkFleetChanges7x1000(b *testing.B) {
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	st := storeOf(b, 1000, 90, now)
	b.ResetTimer()
	for b.Loop() {
		r, err := query.FleetChanges(context.Background(), st, 7, now)
		if err != nil || len(r.Tenants) != 1000 {
			b.Fatalf("%d tenants, %v", len(r.Tenants), err)
		}
	}
}
