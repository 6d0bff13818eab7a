package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/server"
	"github.com/fleetscore/fleetscore/sqlite"
	"github.com/fleetscore/fleetscore/storetest"
)

// bigFleet is a SQLite store holding tenants × days of history with ten
// controls a day (and their profiles) and one collection per tenant.
func bigFleet(b *testing.B, tenants, days int) *sqlite.Store {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "big.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	first := fleetscore.DayOf(now).AddDays(-days + 1)
	var ts []fleetscore.Tenant
	for i := range tenants {
		ts = append(ts, fleetscore.Tenant{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), Name: fmt.Sprintf("Client %04d", i),
			TargetPercent: []float64{60, 70, 75}[i%3]})
	}
	if err := st.SyncTenants(ctx, ts); err != nil {
		b.Fatal(err)
	}
	for i, t := range ts {
		scores := storetest.History(t.ID, first, days, 10, uint64(i+1))
		var profiles []fleetscore.ControlProfile
		for _, c := range scores[len(scores)-1].Controls {
			profiles = append(profiles, fleetscore.ControlProfile{ID: c.Name, Title: "Ensure " + c.Name + " is on", Category: c.Category,
				MaxScore: 10, Tier: "Core", UserImpact: "Low", ImplementationCost: "Low", ActionType: "Config",
				ActionURL: "https://security.microsoft.com/securescore", Service: "EXO"})
		}
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: t, Scores: scores, Profiles: profiles}); err != nil {
			b.Fatal(err)
		}
		id, err := st.StartCollection(ctx, fleetscore.Collection{TenantID: t.ID, StartedAt: now, Status: fleetscore.StatusRunning})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.FinishCollection(ctx, fleetscore.Collection{ID: id, TenantID: t.ID, StartedAt: now,
			FinishedAt: now.Add(time.Second), Status: fleetscore.StatusOK, Days: days, Requests: 3}); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// BenchmarkOverview1000x365 measures GET / (the handler's server time, the
// page rendered whole) for 1,000 tenants with 365 days of history each.
// "cached" is every view between two collections (the page kept by the
// pages' cache, pagecache.go); "cold" the first view after one (the
// overview's model is rebuilt from the database, the page rendered).
func BenchmarkOverview1000x365(b *testing.B) {
	st := bigFleet(b, 1000, 365)
	get := func(b *testing.B, h http.Handler, header ...string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = "localhost" // open mode serves this machine only
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /: %d %s", rec.Code, rec.Body.String())
		}
		return rec.Body.Len()
	}
	b.Run("cached", func(b *testing.B) {
		s, err := server.New(server.Options{Source: st})
		if err != nil {
			b.Fatal(err)
		}
		get(b, s.Handler()) // fill the cache
		size := 0
		for b.Loop() {
			size = get(b, s.Handler())
		}
		b.ReportMetric(float64(size), "bytes/page")
	})
	// The page as browsers take it: its kept deflate pieces, spliced.
	b.Run("cached-gzip", func(b *testing.B) {
		s, err := server.New(server.Options{Source: st})
		if err != nil {
			b.Fatal(err)
		}
		get(b, s.Handler(), "Accept-Encoding", "gzip")
		size := 0
		for b.Loop() {
			size = get(b, s.Handler(), "Accept-Encoding", "gzip")
		}
		b.ReportMetric(float64(size), "bytes/page")
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s, err := server.New(server.Options{Source: st})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			get(b, s.Handler())
		}
	})
}
