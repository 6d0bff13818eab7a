package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/server"
	"github.com/fleetscore/fleetscore/sqlite"
	"github.com/fleetscore/fleetscore/storetest"
)

// benchFleet is a server over a SQLite store of 1,000 tenants: the file
// FLEETSCORE_BENCH_SQLITE names (e.g. one `fleetscore bench --serve`
// filled with 1,000 x 1,095 days, reused between runs), or else a new one
// of 1,000 tenants x 100 days, filled through the store.
func benchFleet(b *testing.B) (http.Handler, []fleetscore.TenantStatus) {
	b.Helper()
	ctx := context.Background()
	path := os.Getenv("FLEETSCORE_BENCH_SQLITE")
	now := time.Now()
	fill := path == ""
	if fill {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	st, err := sqlite.Open(ctx, "sqlite:"+path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if fill {
		if err := storetest.Fill(ctx, st, 1000, 100, now, nil); err != nil {
			b.Fatal(err)
		}
	}
	ts, err := st.Tenants(ctx)
	if err != nil || len(ts) == 0 {
		b.Fatalf("%d tenants, %v", len(ts), err)
	}
	for _, t := range ts {
		if t.Latest != nil && t.Latest.Day.After(fleetscore.DayOf(now)) {
			now = t.Latest.Day.Time()
		}
	}
	s, err := server.New(server.Options{Source: st, Version: "bench", DataNow: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	return s.Handler(), ts
}

func benchGet(b *testing.B, h http.Handler, path string) {
	b.Helper()
	get := func() {
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "localhost"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("GET %s: %d", path, rec.Code)
		}
	}
	get() // builds the fleet model
	b.ResetTimer()
	for b.Loop() {
		get()
	}
}

// BenchmarkTenantsAPI: GET /api/v1/tenants at 1,000 tenants over the
// fleet model (goal < 20 ms p50).
func BenchmarkTenantsAPI(b *testing.B) {
	h, _ := benchFleet(b)
	benchGet(b, h, "/api/v1/tenants")
}

// BenchmarkOverviewModel: the overview page at 1,000 tenants over the
// fleet model (goal < 20 ms p50).
func BenchmarkOverviewModel(b *testing.B) {
	h, _ := benchFleet(b)
	benchGet(b, h, "/")
}

// BenchmarkMetricsModel: /metrics at 1,000 tenants (goal < 20 ms p50).
func BenchmarkMetricsModel(b *testing.B) {
	h, _ := benchFleet(b)
	benchGet(b, h, "/metrics")
}

// BenchmarkActionsAPI: GET /api/v1/actions at 1,000 tenants (goal < 100 ms p99).
func BenchmarkActionsAPI(b *testing.B) {
	h, _ := benchFleet(b)
	benchGet(b, h, "/api/v1/actions")
}

// BenchmarkTenantPage: one tenant's page, read by index (goal < 100 ms p99).
func BenchmarkTenantPage(b *testing.B) {
	h, ts := benchFleet(b)
	benchGet(b, h, "/tenants/"+ts[len(ts)/2].ID)
}

// BenchmarkTenantPages: every view another tenant's page (none kept by the
// pages' cache yet: what `bench --serve` loads), read by index (goal < 100
// ms p99, 200 views/s on 2 cores: ~5 ms CPU a view).
func BenchmarkTenantPages(b *testing.B) {
	h, ts := benchFleet(b)
	benchEach(b, h, func(i int) string { return "/tenants/" + ts[i%len(ts)].ID })
}

// BenchmarkTenantRoutes: each per-tenant route, every request another
// tenant (what `bench --serve` loads), gzipped.
func BenchmarkTenantRoutes(b *testing.B) {
	h, ts := benchFleet(b)
	for _, route := range []string{"/tenants/%s/report", "/api/v1/tenants/%s", "/api/v1/tenants/%s/scores",
		"/api/v1/tenants/%s/controls", "/api/v1/tenants/%s/changes"} {
		b.Run(strings.TrimPrefix(strings.ReplaceAll(route, "/%s", ""), "/"), func(b *testing.B) {
			benchEach(b, h, func(i int) string { return fmt.Sprintf(route, ts[i%len(ts)].ID) })
		})
	}
}

// benchEach views path(1), path(2), ... one a loop, gzipped, after
// path(0) has built the fleet model.
func benchEach(b *testing.B, h http.Handler, path func(i int) string) {
	get := func(i int) {
		req := httptest.NewRequest("GET", path(i), nil)
		req.Host = "localhost"
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("GET %s: %d", path(i), rec.Code)
		}
	}
	get(0) // builds the fleet model
	b.ResetTimer()
	i := 1
	for b.Loop() {
		get(i)
		i++
	}
}

// BenchmarkActionPages: every view another action's page (1,000 tenant
// rows each), the actions taken from the first tenant's controls.
func BenchmarkActionPages(b *testing.B) {
	h, ts := benchFleet(b)
	req := httptest.NewRequest("GET", "/api/v1/tenants/"+ts[0].ID+"/controls", nil)
	req.Host = "localhost"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var controls []struct {
		Control string `json:"control"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &controls); err != nil || len(controls) == 0 {
		b.Fatalf("controls: %d, %v", len(controls), err)
	}
	benchEach(b, h, func(i int) string { return "/actions/" + url.PathEscape(controls[i%len(controls)].Control) })
}

var _ query.Source = (*sqlite.Store)(nil)
