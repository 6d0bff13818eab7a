package query_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
)

// oneOf is everything one tenant's and one control's routes show, read
// from src, as JSON.
func oneOf(t *testing.T, src query.Source, now time.Time, tenantID, control string) string {
	t.Helper()
	ctx := context.Background()
	today := fleetscore.DayOf(now)
	out := map[string]any{}
	add := func(name string, v any, err error) {
		if err != nil {
			v = "error: " + err.Error()
		}
		out[name] = v
	}
	row, ok, err := query.TenantAsOf(ctx, src, now, tenantID)
	add("row", []any{row, ok}, err)
	d, err := query.TenantDetailView(ctx, src, tenantID, today.AddDays(-29), fleetscore.Day{})
	add("detail", noNaN(d), err)
	all, err := query.TenantDetailView(ctx, src, strings.ToUpper(tenantID), fleetscore.Day{}, fleetscore.Day{})
	add("detail-all", noNaN(all), err)
	s, err := query.TenantScores(ctx, src, tenantID, fleetscore.Day{}, fleetscore.Day{})
	add("scores", s, err)
	s, err = query.TenantScores(ctx, src, tenantID, today.AddDays(-10), today.AddDays(-3))
	add("scores-range", s, err)
	c, err := query.TenantChanges(ctx, src, tenantID, today.AddDays(-13), today)
	add("changes", c, err)
	if control == "" {
		return marshal(t, out)
	}
	return marshal(t, map[string]any{"tenant": out, "action": actionOf(t, src, control)})
}

// actionOf is what one control's routes show, read from src, as JSON.
func actionOf(t *testing.T, src query.Source, control string) string {
	t.Helper()
	out := map[string]any{}
	add := func(name string, v any, err error) {
		if err != nil {
			v = "error: " + err.Error()
		}
		out[name] = v
	}
	a, err := query.ActionDetailView(context.Background(), src, control)
	if a != nil {
		add("action", []any{a, a.Tier, a.UserImpact, a.ImplementationCost, a.Remediation, a.Tenants}, err)
	} else {
		add("action", nil, err)
	}
	return marshal(t, out)
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noNaN replaces the NaN of a tenant page's daily series (no value that
// day) by -1, which JSON can hold.
func noNaN(d *query.TenantDetail) *query.TenantDetail {
	if d == nil {
		return nil
	}
	fix := func(fs []float64) {
		for i, f := range fs {
			if math.IsNaN(f) {
				fs[i] = -1
			}
		}
	}
	for i := range d.Controls {
		fix(d.Controls[i].Daily)
	}
	for i := range d.Categories {
		fix(d.Categories[i].Daily)
	}
	return d
}

// TestModelLookupsAnswerAsTheStore: one tenant's and one control's views
// over the model (found by its per-version index) equal those read from
// the store, for every tenant and control, an unknown tenant and control
// too; and a write (an exception, a tenants sync) is seen in the next
// answer.
func TestModelLookupsAnswerAsTheStore(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 4})
	ctx := context.Background()
	now := time.Now()
	m := query.NewModel(f.Store)
	lc, err := f.Store.LatestControls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var controls []string
	seen := map[string]bool{}
	for _, cs := range lc {
		for _, c := range cs {
			if !seen[c.Name] {
				seen[c.Name] = true
				controls = append(controls, c.Name)
			}
		}
	}
	if len(controls) == 0 {
		t.Fatal("no controls")
	}
	ts, err := f.Store.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"00000000-0000-0000-0000-000000000000"}
	for _, st := range ts {
		ids = append(ids, st.ID)
	}
	check := func(what string) {
		t.Helper()
		for _, id := range ids {
			if got, want := oneOf(t, m, now, id, ""), oneOf(t, f.Store, now, id, ""); got != want {
				t.Fatalf("%s: tenant %s over the model differs from the store:\n%s\nwant\n%s", what, id, got, want)
			}
		}
		for _, c := range append([]string{"noSuchControl"}, controls...) {
			if got, want := actionOf(t, m, c), actionOf(t, f.Store, c); got != want {
				t.Fatalf("%s: control %s over the model differs from the store:\n%s\nwant\n%s", what, c, got, want)
			}
		}
	}
	check("first")

	// An exception on an open action: the action's index sees it.
	var (
		before  *query.ActionDetail
		control string
		at      string
	)
	for _, c := range controls {
		d, err := query.ActionDetailView(ctx, m, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range d.Tenants {
			if x.Open && at == "" {
				before, control, at = d, c, x.TenantID
			}
		}
	}
	if at == "" {
		t.Fatal("no action is open anywhere")
	}
	var book exceptions.Store = f.Store
	if _, err := book.PutException(ctx, exceptions.Exception{TenantID: at, Control: control, State: fleetscore.StateThirdParty,
		Reason: "covered elsewhere", ReviewBy: fleetscore.DayOf(now).AddDays(90), CreatedBy: "test", CreatedAt: now,
		Status: exceptions.StatusLocal, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	after, err := query.ActionDetailView(ctx, m, control)
	if err != nil {
		t.Fatal(err)
	}
	if after.OpenTenants != before.OpenTenants-1 {
		t.Errorf("after the exception: %d open; want %d", after.OpenTenants, before.OpenTenants-1)
	}
	check("after an exception")

	// A tenants sync renames one: its row and page show the new name.
	var tenants []fleetscore.Tenant
	for _, st := range ts {
		tenants = append(tenants, st.Tenant)
	}
	tenants[0].Name = "Renamed Ltd"
	if err := f.Store.SyncTenants(ctx, tenants); err != nil {
		t.Fatal(err)
	}
	row, ok, err := query.TenantAsOf(ctx, m, now, tenants[0].ID)
	if err != nil || !ok || row.Name != "Renamed Ltd" {
		t.Errorf("after the sync: %+v, %v, %v", row, ok, err)
	}
	d, err := query.TenantDetailView(ctx, m, tenants[0].ID, fleetscore.Day{}, fleetscore.Day{})
	if err != nil || d.Name != "Renamed Ltd" {
		t.Errorf("the page after the sync: %v", err)
	}
	check("after a sync")
}
