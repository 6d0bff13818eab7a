package query_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/sqlite"
)

// BenchmarkModelHeap builds the fleet model (every fleet view the pages,
// the API and the metrics read, and one action's index) and reports the
// heap it keeps: model-bytes. FLEETSCORE_BENCH_DB names a filled SQLite
// file to read (e.g. a copy of `fleetscore bench --serve`'s 1,000 tenants
// x 1,095 days); without it, 200 tenants x 120 days are filled first.
func BenchmarkModelHeap(b *testing.B) {
	ctx := context.Background()
	var src query.Source
	if path := os.Getenv("FLEETSCORE_BENCH_DB"); path != "" {
		st, err := sqlite.Open(ctx, "sqlite:"+path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		src = st
	} else {
		src = storeOf(b, 200, 120, time.Now())
	}
	ts, err := src.Tenants(ctx)
	if err != nil || len(ts) == 0 {
		b.Fatalf("tenants: %d, %v", len(ts), err)
	}
	var newest fleetscore.Day
	for _, t := range ts {
		if t.Latest != nil && t.Latest.Day.After(newest) {
			newest = t.Latest.Day
		}
	}
	now := newest.Time().Add(12 * time.Hour)
	lc, err := src.LatestControls(ctx)
	if err != nil {
		b.Fatal(err)
	}
	control := lc[ts[0].ID][0].Name
	var kept int64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := query.NewModel(src)
		if _, err := query.TenantOverview(ctx, m, now); err != nil {
			b.Fatal(err)
		}
		if _, err := query.ActionsPage(ctx, m, query.ActionFilter{}); err != nil {
			b.Fatal(err)
		}
		if _, err := query.ActionDetailView(ctx, m, control); err != nil {
			b.Fatal(err)
		}
		if _, err := query.TenantScores(ctx, m, ts[0].ID, fleetscore.Day{}, fleetscore.Day{}); err != nil {
			b.Fatal(err)
		}
		if _, err := query.Fleet(ctx, m, fleetscore.Day{}, fleetscore.Day{}); err != nil {
			b.Fatal(err)
		}
		if _, err := query.FleetChanges(ctx, m, 7, now); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		kept = int64(after.HeapAlloc) - int64(before.HeapAlloc)
		runtime.KeepAlive(m)
	}
	b.ReportMetric(float64(kept), "model-bytes")
	b.ReportMetric(float64(kept)/float64(len(ts)), "model-bytes/tenant")
}
