package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/sqlite"
	"github.com/fleetscore/fleetscore/storetest"
)

// counting is a store that counts its fleet-wide Tenants reads.
type counting struct {
	*sqlite.Store
	tenants int
}

func (c *counting) Tenants(ctx context.Context) ([]fleetscore.TenantStatus, error) {
	c.tenants++
	return c.Store.Tenants(ctx)
}

// views is everything the pages and API show of the fleet, as JSON.
func views(t *testing.T, src query.Source, now time.Time) string {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	var err error
	add := func(name string, v any, e error) {
		if e != nil && err == nil {
			err = e
		}
		out[name] = v
	}
	ts, e := query.TenantsAsOf(ctx, src, now)
	add("tenants", ts, e)
	o, e := query.TenantOverview(ctx, src, now)
	if e == nil {
		add("trend", o.Trend, nil)
		add("counts", []any{o.Scored, o.Stale, o.Meeting, o.AveragePercent, o.Tenants}, nil)
		var spark [][]string
		for _, r := range o.Rows {
			var s []string
			for _, p := range r.Spark {
				s = append(s, fmtFloat(p))
			}
			spark = append(spark, s)
		}
		add("spark", spark, nil)
	}
	add("overview", nil, e)
	as, e := query.Actions(ctx, src, query.ActionFilter{})
	add("actions", as, e)
	ap, e := query.ActionsPage(ctx, src, query.ActionFilter{Category: fleetscore.CategoryIdentity})
	add("actions-page", ap, e)
	fl, e := query.Fleet(ctx, src, fleetscore.Day{}, fleetscore.Day{})
	add("fleet", fl, e)
	today := fleetscore.DayOf(now)
	fl, e = query.Fleet(ctx, src, today.AddDays(-30), today)
	add("fleet-30", fl, e)
	rep, e := query.FleetChanges(ctx, src, 7, now)
	add("changes", rep, e)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fmtFloat(f float64) string { b, _ := json.Marshal(map[bool]float64{true: f}); return string(b) }

// TestModelAnswersAsTheStore: every fleet view over the model equals the
// same view read from the store, on first and on later reads; and a read
// without a write in between does not go to the store again.
func TestModelAnswersAsTheStore(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 5})
	now := time.Now()
	want := views(t, f.Store, now)
	c := &counting{Store: f.Store}
	m := query.NewModel(c)
	if _, ok := m.(*query.Model); !ok {
		t.Fatalf("NewModel of a versioned store is %T", m)
	}
	for i := range 3 {
		if got := views(t, m, now); got != want {
			t.Fatalf("read %d over the model differs from the store:\n%s\nwant\n%s", i, got, want)
		}
	}
	if c.tenants != 1 {
		t.Errorf("the store's Tenants was read %d times over three rounds of views; want once", c.tenants)
	}
}

// TestModelSeesEveryWrite: a tenants sync, an exception and a collection,
// each written to the store behind the model's back, show in the model's
// next answer.
func TestModelSeesEveryWrite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seesEveryWrite(t, st, query.NewModel(st))
}

// seesEveryWrite writes to w and reads through m (a model over w's
// database, maybe in another process).
func seesEveryWrite(t *testing.T, w query.Source, m query.Source) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	if err := storetest.Fill(ctx, w, 3, 40, now, nil); err != nil {
		t.Fatal(err)
	}
	first, err := query.TenantsAsOf(ctx, m, now)
	if err != nil || len(first) != 3 {
		t.Fatalf("tenants %v, %v", first, err)
	}

	// Tenants sync: a new name.
	t0 := storetest.FillTenant(0)
	t0.Name = "Renamed Ltd"
	if err := w.SyncTenants(ctx, []fleetscore.Tenant{t0, storetest.FillTenant(1), storetest.FillTenant(2)}); err != nil {
		t.Fatal(err)
	}
	ts, err := query.TenantsAsOf(ctx, m, now)
	if err != nil || ts[0].Name != "Renamed Ltd" && ts[1].Name != "Renamed Ltd" && ts[2].Name != "Renamed Ltd" {
		t.Fatalf("after the sync: %+v, %v", ts, err)
	}

	// An exception on an open action.
	before, err := query.Actions(ctx, m, query.ActionFilter{})
	if err != nil || len(before) == 0 || before[0].OpenTenants == 0 {
		t.Fatalf("actions %v, %v", before, err)
	}
	top := before[0]
	book, ok := w.(exceptions.Store)
	if !ok {
		t.Fatalf("%T keeps no exceptions", w)
	}
	if _, err := book.PutException(ctx, exceptions.Exception{TenantID: top.Tenants[0], Control: top.Control, State: fleetscore.StateThirdParty,
		Reason: "covered by the MSSP's EDR", ReviewBy: fleetscore.DayOf(now).AddDays(90), CreatedBy: "test", CreatedAt: now,
		Status: exceptions.StatusLocal, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	after, err := query.Actions(ctx, m, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range after {
		if a.Control == top.Control && (a.ExceptedTenants != top.ExceptedTenants+1 || a.OpenTenants != top.OpenTenants-1) {
			t.Errorf("after the exception: %s open %d, excepted %d; want %d and %d", a.Control, a.OpenTenants, a.ExceptedTenants, top.OpenTenants-1, top.ExceptedTenants+1)
		}
	}

	// A collection of a new day with another score.
	id, err := w.StartCollection(ctx, fleetscore.Collection{TenantID: t0.ID, StartedAt: now, Status: fleetscore.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	day := storetest.History(t0.ID, fleetscore.DayOf(now).AddDays(-39), 41, 250, 1)[40]
	day.CurrentScore = day.MaxScore / 2
	if err := w.SaveBatch(ctx, fleetscore.Batch{Tenant: t0, Scores: []fleetscore.Score{day}}); err != nil {
		t.Fatal(err)
	}
	if err := w.FinishCollection(ctx, fleetscore.Collection{ID: id, TenantID: t0.ID, StartedAt: now, FinishedAt: now.Add(time.Second), Status: fleetscore.StatusOK, Days: 1}); err != nil {
		t.Fatal(err)
	}
	ts, err = query.TenantsAsOf(ctx, m, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range ts {
		if r.TenantID == t0.ID {
			found = true
			if r.AsOf == nil || *r.AsOf != day.Day.String() || r.Percent == nil || *r.Percent != 50 || r.LastCollection == nil {
				t.Errorf("after the collection: %+v; want %s at 50 %% with its collection", r, day.Day)
			}
		}
	}
	if !found {
		t.Error("the collected tenant is gone")
	}
}

// TestModelRestricted: a client's view of the model holds its tenants
// only, and reading it leaves the fleet's model whole.
func TestModelRestricted(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 4})
	ctx := context.Background()
	now := time.Now()
	m := query.NewModel(f.Store)
	all, err := query.TenantsAsOf(ctx, m, now)
	if err != nil {
		t.Fatal(err)
	}
	mine, other := f.Jobs[0].Tenant.ID, f.Jobs[1].Tenant.ID
	r := query.Restrict(m, []string{mine})
	if want, got := views(t, query.Restrict(f.Store, []string{mine}), now), views(t, r, now); got != want {
		t.Fatalf("the restricted model differs from the restricted store:\n%s\nwant\n%s", got, want)
	}
	ts, err := query.TenantsAsOf(ctx, r, now)
	if err != nil || len(ts) != 1 || ts[0].TenantID != mine {
		t.Fatalf("restricted tenants: %+v, %v", ts, err)
	}
	as, err := query.Actions(ctx, r, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		for _, id := range a.Tenants {
			if id != mine {
				t.Errorf("action %s lists %s", a.Control, id)
			}
		}
	}
	if _, err := r.Scores(ctx, other, fleetscore.Day{}, fleetscore.Day{}); !errors.Is(err, fleetscore.ErrNotFound) {
		t.Errorf("another tenant's scores: %v; want not found", err)
	}
	again, err := query.TenantsAsOf(ctx, m, now)
	if err != nil || len(again) != len(all) {
		t.Errorf("the fleet's model after the client's reads: %d tenants, %v; want %d", len(again), err, len(all))
	}
	lc, err := m.LatestControls(ctx)
	if err != nil || len(lc) < len(f.Jobs)-1 {
		t.Errorf("the fleet's latest controls after the client's reads: %d tenants, %v", len(lc), err)
	}
}
