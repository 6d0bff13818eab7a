package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/postgres"
	"github.com/fleetscore/fleetscore/postgres/pgtest"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/server"
	"github.com/fleetscore/fleetscore/storetest"
)

// TestTwoServersOnePostgres: two servers, each with its own fleet model,
// share one PostgreSQL database; what is written through one's store (a
// tenants sync, a collection) shows in the other's next answer, never the
// figures from before it.
func TestTwoServersOnePostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	open := func() (*postgres.Store, http.Handler) {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		s, err := server.New(server.Options{Source: st, Version: "test", Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return st, s.Handler()
	}
	a, _ := open()
	_, hb := open()
	if err := storetest.Fill(ctx, a, 2, 40, now, nil); err != nil {
		t.Fatal(err)
	}
	tenants := func() []query.Tenant {
		t.Helper()
		req := httptest.NewRequest("GET", "/api/v1/tenants", nil)
		req.Host = "localhost"
		rec := httptest.NewRecorder()
		hb.ServeHTTP(rec, req)
		var out []query.Tenant
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			t.Fatalf("GET /api/v1/tenants: %d %s", rec.Code, rec.Body)
		}
		return out
	}
	if got := tenants(); len(got) != 2 {
		t.Fatalf("%d tenants; want 2", len(got))
	}

	t0 := storetest.FillTenant(0)
	t0.Name = "Renamed Ltd"
	if err := a.SyncTenants(ctx, []fleetscore.Tenant{t0, storetest.FillTenant(1)}); err != nil {
		t.Fatal(err)
	}
	if got := tenants(); got[0].Name != "Renamed Ltd" && got[1].Name != "Renamed Ltd" {
		t.Errorf("after the other's sync: %s, %s; want Renamed Ltd among them", got[0].Name, got[1].Name)
	}

	id, err := a.StartCollection(ctx, fleetscore.Collection{TenantID: t0.ID, StartedAt: now, Status: fleetscore.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	day := storetest.History(t0.ID, fleetscore.DayOf(now).AddDays(-39), 40, 250, 1)[39]
	day.CurrentScore = day.MaxScore / 4
	if err := a.SaveBatch(ctx, fleetscore.Batch{Tenant: t0, Scores: []fleetscore.Score{day}}); err != nil {
		t.Fatal(err)
	}
	if err := a.FinishCollection(ctx, fleetscore.Collection{ID: id, TenantID: t0.ID, StartedAt: now, FinishedAt: now.Add(time.Second), Status: fleetscore.StatusOK, Days: 1}); err != nil {
		t.Fatal(err)
	}
	for _, r := range tenants() {
		if r.TenantID == t0.ID && (r.Percent == nil || *r.Percent != 25 || r.LastCollection == nil) {
			t.Errorf("after the other's collection: %+v; want 25 %% and its collection", r)
		}
	}
}
