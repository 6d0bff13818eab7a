package query_test

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
)

// plainSource is a source with the Source methods only: no TenantProfiles,
// no TenantDaily, so the views read Profiles and Scores.
type plainSource struct{ query.Source }

// countingSource counts the profile reads that reach the store under it.
type countingSource struct {
	query.Source
	profiles, lean atomic.Int32
}

func (c *countingSource) Profiles(ctx context.Context, id string) ([]fleetscore.ControlProfile, error) {
	c.profiles.Add(1)
	return c.Source.Profiles(ctx, id)
}

func (c *countingSource) TenantProfiles(ctx context.Context, id string) ([]fleetscore.ControlProfile, error) {
	c.lean.Add(1)
	return c.Source.(query.TenantProfileReader).TenantProfiles(ctx, id)
}

// TestTenantViewsReadLeanProfiles: the tenant page's and report's view and
// the controls are the same over the store's lean reads (TenantProfiles,
// through the fleet model and a client's restricted view) as over
// Profiles and Scores alone, for ranges ending on the latest day, a little
// before it (read on to it) and long before it; and the lean read is the
// one they make.
func TestTenantViewsReadLeanProfiles(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 3, Days: 120})
	ctx := context.Background()
	ts, err := f.Store.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingSource{Source: f.Store}
	model := query.NewModel(f.Store)
	if _, ok := model.(query.TenantProfileReader); !ok {
		t.Fatalf("the fleet model %T has no TenantProfiles", model)
	}
	checked := 0
	for _, st := range ts {
		if st.Latest == nil {
			continue
		}
		checked++
		latest := st.Latest.Day
		restricted := query.Restrict(model, []string{st.ID})
		if _, ok := restricted.(query.TenantProfileReader); !ok {
			t.Fatalf("the restricted view %T has no TenantProfiles", restricted)
		}
		for _, r := range []struct {
			name     string
			from, to fleetscore.Day
		}{
			{"all", fleetscore.Day{}, fleetscore.Day{}},
			{"30 days", latest.AddDays(-29), fleetscore.Day{}},
			{"a month ending 10 days before", latest.AddDays(-40), latest.AddDays(-10)},
			{"a month ending 80 days before", latest.AddDays(-110), latest.AddDays(-80)},
			{"ending the day before", latest.AddDays(-20), latest.AddDays(-1)},
			{"ending on the latest day", latest.AddDays(-20), latest},
		} {
			want, err := query.TenantDetailView(ctx, plainSource{f.Store}, st.ID, r.from, r.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Controls) == 0 || len(want.Days) == 0 {
				t.Fatalf("%s, %s: %d controls, %d days: nothing to compare", st.ID, r.name, len(want.Controls), len(want.Days))
			}
			// Independently of TenantDetailView: its days are TenantScores'
			// of the range, its controls TenantControls' (the latest day's),
			// its changes within the range.
			days, err := query.TenantScores(ctx, plainSource{f.Store}, st.ID, r.from, r.to)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(want.Days, days) {
				t.Errorf("%s, %s: days %s..%s (%d), want those of TenantScores (%d)", st.ID, r.name, want.From, want.To, len(want.Days), len(days))
			}
			controls, err := query.TenantControls(ctx, plainSource{f.Store}, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range want.Controls {
				if i >= len(controls) || c.Control != controls[i] {
					t.Errorf("%s, %s: control %d is %+v, want TenantControls' %d", st.ID, r.name, i, c.Control, len(controls))
					break
				}
			}
			for _, ch := range want.Changes {
				if !r.to.IsZero() && ch.Day.After(r.to) {
					t.Errorf("%s, %s: a change on %s, after the range", st.ID, r.name, ch.Day)
				}
			}
			noNaN(want)
			for _, src := range []query.Source{counted, model, restricted} {
				got, err := query.TenantDetailView(ctx, src, st.ID, r.from, r.to)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(noNaN(got), want) {
					t.Errorf("%s, %s, over %T: the view differs from the one over Profiles and Scores", st.ID, r.name, src)
				}
			}
		}
		want, err := query.TenantControls(ctx, plainSource{f.Store}, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range []query.Source{counted, model, restricted} {
			got, err := query.TenantControls(ctx, src, st.ID)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: controls over %T differ from those over Profiles (%v)", st.ID, src, err)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no scored tenant")
	}
	if n := counted.profiles.Load(); n != 0 {
		t.Errorf("the tenant views read Profiles %d times; want TenantProfiles only", n)
	}
	if counted.lean.Load() == 0 {
		t.Error("the tenant views never read TenantProfiles")
	}
}
