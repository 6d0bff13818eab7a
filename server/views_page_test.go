package server_test

// Tests of the views the pages add to package query (query/pages.go),
// against figures computed here from what the emulator serves.

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
)

func TestPageViewsAgainstTheEmulator(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 4})
	ctx := context.Background()
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

	for _, j := range f.Jobs {
		id := j.Tenant.ID
		d, err := query.TenantDetailView(ctx, f.Store, id, fleetscore.Day{}, fleetscore.Day{})
		if err != nil {
			t.Fatal(err)
		}
		scores, profiles := f.Emu.Expected(id)
		if id == f.Failing.ID {
			if len(d.Days) != 0 || d.Percent != nil || d.LastCollection == nil || d.LastCollection.Status != fleetscore.StatusError {
				t.Errorf("failing tenant: %+v", d)
			}
			continue
		}
		if len(d.Days) != len(scores) {
			t.Fatalf("%s: %d days, emulator %d", j.Tenant.Name, len(d.Days), len(scores))
		}
		last := scores[len(scores)-1]
		// Category points on the latest day add up to the day's score, and
		// each is the sum of that category's controls.
		maxOf := map[string]float64{}
		for _, p := range profiles {
			maxOf[p.ID] = p.MaxScore
		}
		want := map[string]float64{}
		wantMax := map[string]float64{}
		for _, c := range last.Controls {
			want[c.Category] += c.Score
			wantMax[c.Category] += maxOf[c.Name]
		}
		sum := 0.0
		for _, c := range d.Categories {
			sum += c.Points
			if !near(c.Points, want[c.Category]) || !near(c.MaxScore, wantMax[c.Category]) {
				t.Errorf("%s %s: %v / %v, want %v / %v", j.Tenant.Name, c.Category, c.Points, c.MaxScore, want[c.Category], wantMax[c.Category])
			}
			if n := len(c.Daily); n != len(d.Days) || !near(c.Daily[n-1], c.Points) {
				t.Errorf("%s %s: daily series of %d ending %v", j.Tenant.Name, c.Category, n, c.Daily[n-1])
			}
		}
		if !near(sum, last.CurrentScore) {
			t.Errorf("%s: categories add up to %v, the score is %v", j.Tenant.Name, sum, last.CurrentScore)
		}
		// Each control's daily history is the emulator's, day by day.
		byDay := map[string]map[string]float64{}
		for _, s := range scores {
			m := map[string]float64{}
			for _, c := range s.Controls {
				m[c.Name] = c.Score
			}
			byDay[s.Day.String()] = m
		}
		for _, c := range d.Controls {
			changes := 0
			for i, day := range d.Days {
				v, ok := byDay[day.Date][c.Control.Control]
				got := c.Daily[i]
				if ok != !math.IsNaN(got) || ok && !near(v, got) {
					t.Fatalf("%s %s on %s: %v, emulator %v (%v)", j.Tenant.Name, c.Control.Control, day.Date, got, v, ok)
				}
				if i > 0 && (got != c.Daily[i-1]) && !(math.IsNaN(got) && math.IsNaN(c.Daily[i-1])) {
					changes++
				}
			}
			if changes != len(c.Changes) {
				t.Errorf("%s %s: %d changes listed, %d in the series", j.Tenant.Name, c.Control.Control, len(c.Changes), changes)
			}
		}
		// A range keeps the days from its first, and the changes over 7 and
		// 30 days do not depend on it.
		from := last.Day.AddDays(-9)
		short, err := query.TenantDetailView(ctx, f.Store, id, from, fleetscore.Day{})
		if err != nil {
			t.Fatal(err)
		}
		if short.From.Before(from) || len(short.Days) > 10 || *short.Change30d != *d.Change30d {
			t.Errorf("%s: a 10-day range gave %d days from %s, change_30d %v (all: %v)", j.Tenant.Name, len(short.Days), short.From, *short.Change30d, *d.Change30d)
		}
	}
	if _, err := query.TenantDetailView(ctx, f.Store, "00000000-0000-0000-0000-000000000000", fleetscore.Day{}, fleetscore.Day{}); err == nil {
		t.Error("an unknown tenant has a page")
	}

	// The actions page: open, set aside and done add up to the ranking.
	all, err := query.Actions(ctx, f.Store, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := query.ActionsPage(ctx, f.Store, query.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Scored != 4 || len(v.Open)+len(v.SetAside)+v.Done != len(all) || len(v.Open) == 0 {
		t.Errorf("actions page: %d scored, %d open + %d set aside + %d done, of %d", v.Scored, len(v.Open), len(v.SetAside), v.Done, len(all))
	}
	for _, a := range v.SetAside {
		if a.OpenTenants != 0 || a.IgnoredTenants+a.ThirdPartyTenants+a.DeprecatedTenants == 0 {
			t.Errorf("set aside: %+v", a)
		}
	}
	if len(v.Categories) == 0 || len(v.Tiers) == 0 {
		t.Errorf("no filter choices: %+v", v)
	}
	cat := v.Open[0].Category
	fv, err := query.ActionsPage(ctx, f.Store, query.ActionFilter{Category: cat})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range fv.Open {
		if a.Category != cat {
			t.Errorf("filtered on %s, got a %s action", cat, a.Category)
		}
	}
	if len(fv.Categories) != len(v.Categories) {
		t.Error("a filter narrowed its own choices")
	}

	// The collection log: one run with every tenant.
	runs, err := query.CollectionRuns(ctx, f.Store, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Tenants != 5 || runs[0].OK != 4 || runs[0].Failed != 1 || runs[0].Rows[0].Status != fleetscore.StatusError {
		t.Errorf("runs: %+v", runs)
	}
	time.Sleep(1100 * time.Millisecond) // runs are told apart by a pause
	f.Collector.Run(ctx, f.Jobs)
	runs, err = query.CollectionRuns(ctx, f.Store, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Tenants != 5 || !runs[0].Started.After(runs[1].Started) {
		t.Errorf("after a second run: %d runs", len(runs))
	}
}

func TestSortOverview(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	rows := []query.OverviewRow{
		{Tenant: query.Tenant{TenantID: "a", Name: "Bravo", Percent: p(70)}},
		{Tenant: query.Tenant{TenantID: "b", Name: "alpha", Percent: nil}},
		{Tenant: query.Tenant{TenantID: "c", Name: "Charlie", Percent: p(50)}},
		{Tenant: query.Tenant{TenantID: "d", Name: "Delta", Percent: p(70)}},
	}
	order := func() string {
		s := ""
		for _, r := range rows {
			s += r.TenantID
		}
		return s
	}
	for _, c := range []struct {
		sort query.OverviewSort
		want string
	}{
		{query.OverviewSort{Key: "percent"}, "cadb"},
		{query.OverviewSort{Key: "percent", Desc: true}, "adcb"}, // no value last either way
		{query.OverviewSort{Key: "name"}, "bacd"},
		{query.OverviewSort{Key: "name", Desc: true}, "dcab"},
		{query.OverviewSort{Key: "bogus"}, "bacd"},
	} {
		query.SortOverview(rows, c.sort)
		if got := order(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.sort, got, c.want)
		}
	}
}
