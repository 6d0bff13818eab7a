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
)

// carryFleet is four tenants' snapshots over the ten days to today, with
// the gaps the fleet trend has to bridge.
type carryFleet struct {
	store   *sqlite.Store
	now     time.Time
	today   fleetscore.Day
	tenants []fleetscore.Tenant              // in name order, the order the store lists them
	raw     map[string]map[string][2]float64 // tenant -> day -> current, max
}

// newCarryFleet stores, for today = 3 Dec 2025 (d):
//
//	Alpha   every day d-9..d
//	Bravo   every day d-9..d but d-4 (one day missed in the middle)
//	Charlie d-9..d-5, then nothing (stopped 5 days before today: stale)
//	Delta   d-6..d (nothing before its first snapshot)
func newCarryFleet(t *testing.T) *carryFleet {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "carry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2025, 12, 3, 15, 4, 5, 0, time.UTC)
	f := &carryFleet{store: st, now: now, today: fleetscore.DayOf(now), raw: map[string]map[string][2]float64{}}
	type plan struct {
		name      string
		target    float64
		first     int // days before today
		last      int
		skip      int // a day before today without a snapshot; -1 none
		cur, step float64
		max       float64
	}
	plans := []plan{
		{"Alpha Ltd", 70, 9, 0, -1, 60, 2, 90},
		{"Bravo Ltd", 55, 9, 0, 4, 40, 1, 80},
		{"Charlie Ltd", 90, 9, 5, -1, 70, 1, 85},
		{"Delta Ltd", 60, 6, 0, -1, 30, 3, 60},
	}
	for i, p := range plans {
		f.tenants = append(f.tenants, fleetscore.Tenant{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1), Name: p.name, TargetPercent: p.target})
	}
	if err := st.SyncTenants(ctx, f.tenants); err != nil {
		t.Fatal(err)
	}
	for i, p := range plans {
		tn := f.tenants[i]
		f.raw[tn.ID] = map[string][2]float64{}
		var scores []fleetscore.Score
		for back := p.first; back >= p.last; back-- {
			if back == p.skip {
				continue
			}
			day := f.today.AddDays(-back)
			cur := p.cur + p.step*float64(p.first-back)
			scores = append(scores, fleetscore.Score{TenantID: tn.ID, Day: day, CurrentScore: cur, MaxScore: p.max})
			f.raw[tn.ID][day.String()] = [2]float64{cur, p.max}
		}
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: tn, Scores: scores}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// expect is the fleet on day, computed here from the raw scores: each
// tenant at its snapshot of that day or the nearest one up to 3 days
// earlier, summed in name order.
func (f *carryFleet) expect(day fleetscore.Day) (tenants, meeting int, average float64) {
	sum := 0.0
	for _, tn := range f.tenants {
		for back := 0; back <= 3; back++ {
			v, ok := f.raw[tn.ID][day.AddDays(-back).String()]
			if !ok {
				continue
			}
			p := v[0] / v[1] * 100
			sum += p
			tenants++
			if p >= tn.TargetPercent {
				meeting++
			}
			break
		}
	}
	if tenants > 0 {
		average = sum / float64(tenants)
	}
	return tenants, meeting, average
}

// TestFleetTrendCarriesSnapshotsForward: a tenant that misses a day counts
// at its previous snapshot, a tenant that stopped counts for 3 more days and
// is then stale, and the overview's cards count the same tenants as the
// trend's last day.
func TestFleetTrendCarriesSnapshotsForward(t *testing.T) {
	if query.CarryForwardDays != 3 {
		t.Fatalf("CarryForwardDays = %d; this test's fleet is drawn for 3", query.CarryForwardDays)
	}
	f := newCarryFleet(t)
	ctx := context.Background()
	o, err := query.TenantOverview(ctx, f.store, f.now)
	if err != nil {
		t.Fatal(err)
	}

	// One trend day per day with a tenant: d-9..d.
	if len(o.Trend) != 10 {
		t.Fatalf("trend has %d days, want 10: %+v", len(o.Trend), o.Trend)
	}
	wantTenants := []int{3, 3, 3, 4, 4, 4, 4, 4, 3, 3} // d-9..d: Delta from d-6, Charlie until d-2
	for i, got := range o.Trend {
		day := f.today.AddDays(-9 + i)
		n, meeting, avg := f.expect(day)
		if got.Date != day.String() || got.Tenants != n || got.TenantsMeetingTarget != meeting || got.AveragePercent != avg ||
			got.ShareMeetingTarget != float64(meeting)/float64(n)*100 {
			t.Errorf("trend %s = %+v; want %s: %d tenants, %d meeting, average %v", got.Date, got, day, n, meeting, avg)
		}
		if n != wantTenants[i] {
			t.Errorf("the test's own count on %s is %d, want %d", day, n, wantTenants[i])
		}
	}
	// Charlie (below its target) carried forward lowers the share on d-4..d-2.
	if d := o.Trend[5]; d.TenantsMeetingTarget != 3 || d.Tenants != 4 {
		t.Errorf("trend %s = %+v; want 3 of 4 tenants meeting (Charlie carried, below its target)", d.Date, d)
	}
	// The day Bravo missed counts it at the day before; Charlie's 3 days
	// after its last snapshot count it, the 4th does not.
	for _, c := range []struct {
		back    int
		tenants int
	}{{4, 4}, {2, 4}, {1, 3}} {
		day := f.today.AddDays(-c.back).String()
		for _, d := range o.Trend {
			if d.Date == day && d.Tenants != c.tenants {
				t.Errorf("%s counts %d tenants, want %d", day, d.Tenants, c.tenants)
			}
		}
	}

	// Charlie is stale; the rest are not.
	for _, r := range o.Rows {
		want := r.Name == "Charlie Ltd"
		if r.Stale != want {
			t.Errorf("%s: stale %v, want %v (as of %v)", r.Name, r.Stale, want, *r.AsOf)
		}
	}
	if o.Stale != 1 {
		t.Errorf("overview counts %d stale tenants, want 1", o.Stale)
	}

	// The cards and the trend's last day count the same tenants.
	last := o.Trend[len(o.Trend)-1]
	n, meeting, avg := f.expect(f.today)
	if o.Scored != n || o.Scored != last.Tenants || o.Meeting != meeting || o.Meeting != last.TenantsMeetingTarget ||
		o.AveragePercent != avg || o.AveragePercent != last.AveragePercent {
		t.Errorf("cards: %d scored, %d meeting, average %v; trend's last day %+v; want %d, %d, %v",
			o.Scored, o.Meeting, o.AveragePercent, last, n, meeting, avg)
	}
	tenants, err := query.TenantsAsOf(ctx, f.store, f.now)
	if err != nil {
		t.Fatal(err)
	}
	scored, meets, average := query.Summarize(tenants)
	if scored != o.Scored || meets != o.Meeting || average != o.AveragePercent {
		t.Errorf("Summarize(TenantsAsOf) = %d, %d, %v; overview %d, %d, %v", scored, meets, average, o.Scored, o.Meeting, o.AveragePercent)
	}

	// The API's fleet agrees with the trend, also for a range that starts
	// on a day carried from before it (Bravo's missed d-4 from d-5).
	for _, r := range []struct{ from, to fleetscore.Day }{
		{fleetscore.Day{}, fleetscore.Day{}},
		{f.today.AddDays(-4), f.today},
		{f.today.AddDays(-4), f.today.AddDays(-2)},
	} {
		days, err := query.Fleet(ctx, f.store, r.from, r.to)
		if err != nil {
			t.Fatal(err)
		}
		var want []query.FleetDay
		for _, d := range o.Trend {
			day, _ := fleetscore.ParseDay(d.Date)
			if (r.from.IsZero() || !day.Before(r.from)) && (r.to.IsZero() || !day.After(r.to)) {
				want = append(want, d)
			}
		}
		if fmt.Sprint(days) != fmt.Sprint(want) {
			t.Errorf("Fleet(%s, %s) = %+v\nwant %+v", r.from, r.to, days, want)
		}
	}
}

// TestFleetCarriesToTheEndOfItsRange: with to set, the last snapshots carry
// forward to it (up to 3 days); with to open, the fleet ends on its last
// snapshot.
func TestFleetCarriesToTheEndOfItsRange(t *testing.T) {
	f := newCarryFleet(t)
	ctx := context.Background()
	days, err := query.Fleet(ctx, f.store, f.today.AddDays(-1), f.today.AddDays(5))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range days {
		got = append(got, fmt.Sprintf("%s:%d", d.Date, d.Tenants))
	}
	want := []string{}
	for i := -1; i <= 3; i++ {
		want = append(want, fmt.Sprintf("%s:3", f.today.AddDays(i)))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Fleet(d-1, d+5) days %v, want %v", got, want)
	}
	// Only snapshots before the range: an empty list, not null.
	days, err = query.Fleet(ctx, f.store, f.today.AddDays(10), fleetscore.Day{})
	if err != nil || days == nil || len(days) != 0 {
		t.Errorf("Fleet after every snapshot = %#v, %v; want an empty list", days, err)
	}
}

func TestIsStale(t *testing.T) {
	today := fleetscore.DayOf(time.Date(2025, 12, 3, 0, 0, 0, 0, time.UTC))
	for back, want := range map[int]bool{0: false, 3: false, 4: true, 30: true, -1: false} {
		st := fleetscore.TenantStatus{Latest: &fleetscore.Score{Day: today.AddDays(-back)}}
		if got := query.IsStale(st, today); got != want {
			t.Errorf("latest %d days before today: stale %v, want %v", back, got, want)
		}
	}
	if query.IsStale(fleetscore.TenantStatus{}, today) {
		t.Error("a tenant never scored is stale")
	}
}
