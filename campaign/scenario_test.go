package campaign_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/fleettest"
)

// TestCampaignScenario is issue 15's acceptance: a campaign for one
// control over 6 emulated tenants (open at each on day 1: no points, 1 at
// the fourth), collected each day through the real
// collector and store. The emulator implements the control at 2 tenants
// on day 2 and 1 on day 3, and one of those 2 regresses on day 4; on day 3
// a fourth tenant gains some points (in progress) and a fifth gets an
// exception (excepted). Statuses, since, done/total, points gained and
// the burndown are asserted each day.
func TestCampaignScenario(t *testing.T) {
	ctx := context.Background()
	day1 := fleetscore.MustDay("2026-03-01")
	day := func(n int) fleetscore.Day { return day1.AddDays(n - 1) }
	now := day1.Time().Add(15 * time.Hour)
	clock := func() time.Time { return now }
	var (
		ids          []string
		control      string
		maxOf, start map[string]float64
	)
	f := fleettest.New(t, fleettest.Options{Tenants: 6, Days: 10, Now: clock, Script: func(e *emulator.Emulator) {
		for _, ti := range e.Tenants()[:6] {
			ids = append(ids, ti.ID)
			e.SetScript(ti.ID, emulator.Script{Base: day1})
		}
		control, maxOf = fleettest.ScoredEverywhere(t, e, ids, 2)
		// The campaign starts on day 1 with the control at no points
		// anywhere, except 1 point at the fourth tenant.
		start = map[string]float64{}
		for i, id := range ids {
			start[id] = map[bool]float64{true: 1}[i == 3]
		}
		full := func(i, from int) emulator.ScriptPoints {
			return emulator.ScriptPoints{Control: control, From: day(from), Points: maxOf[ids[i]]}
		}
		from1 := func(i int) emulator.ScriptPoints {
			return emulator.ScriptPoints{Control: control, From: day(1), Points: start[ids[i]]}
		}
		script := map[int][]emulator.ScriptPoints{
			0: {full(0, 2), {Control: control, From: day(4), Points: start[ids[0]]}},           // done on day 2, regressed on day 4
			1: {full(1, 2)},                                                                    // done on day 2
			2: {full(2, 3)},                                                                    // done on day 3
			3: {{Control: control, From: day(3), Points: (start[ids[3]] + maxOf[ids[3]]) / 2}}, // some points on day 3
		}
		for i, id := range ids {
			e.SetScript(id, emulator.Script{Base: day1, Points: append([]emulator.ScriptPoints{from1(i)}, script[i]...)})
		}
	}})
	svc := &campaign.Service{Store: f.Store, Now: clock}
	c, err := svc.Create(ctx, "ana", campaign.Request{Control: control, Owner: "SOC", Due: day(3)})
	if err != nil {
		t.Fatal(err)
	}
	// The default tenants: every tenant where the control is open; the
	// failing tenant has no data and is not in it.
	if got := memberIDs(c.Tenants); !slices.Equal(sorted(got), sorted(ids)) {
		t.Fatalf("default tenants %v, want the 6 where %s is open: %v", got, control, ids)
	}
	index := map[string]int{}
	for i, id := range ids {
		index[id] = i
	}

	type want struct {
		status []string // by tenant index
		since  []int    // the day number
		done   int
		open   []int // the burndown, from day 1
		gained float64
		over   bool
	}
	const o, ip, dn, ex, rg = campaign.StatusOpen, campaign.StatusInProgress, campaign.StatusDone, campaign.StatusExcepted, campaign.StatusRegressed
	gain := func(i int) float64 { return maxOf[ids[i]] - start[ids[i]] }
	half := (maxOf[ids[3]] - start[ids[3]]) / 2
	days := []want{
		{[]string{o, o, o, o, o, o}, []int{1, 1, 1, 1, 1, 1}, 0, []int{6}, 0, false},
		{[]string{dn, dn, o, o, o, o}, []int{2, 2, 1, 1, 1, 1}, 2, []int{6, 4}, gain(0) + gain(1), false},
		{[]string{dn, dn, dn, ip, o, ex}, []int{2, 2, 3, 3, 1, 3}, 4, []int{6, 4, 2}, gain(0) + gain(1) + gain(2) + half, false},
		{[]string{rg, dn, dn, ip, o, ex}, []int{4, 2, 3, 3, 1, 3}, 3, []int{6, 4, 2, 3}, gain(1) + gain(2) + half, true},
	}
	for n, w := range days {
		d := n + 1
		if d > 1 {
			now = day(d).Time().Add(15 * time.Hour)
			if sum := f.Collector.Run(ctx, f.Jobs); sum.OK != 6 {
				t.Fatalf("day %d: %d tenants collected, want 6", d, sum.OK)
			}
		}
		if d == 3 {
			// An exception applied at the sixth tenant today (kept locally).
			if _, err := f.Store.PutException(ctx, exceptions.Exception{TenantID: ids[5], Control: control, State: fleetscore.StateThirdParty,
				Reason: "covered by another tool", ReviewBy: day(300), CreatedBy: "ana", CreatedAt: now, UpdatedAt: now,
				Status: exceptions.StatusLocal}); err != nil {
				t.Fatal(err)
			}
		}
		p, err := svc.Progress(ctx, c.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Members {
			i := index[m.TenantID]
			if m.Status != w.status[i] || m.Since != day(w.since[i]) {
				t.Errorf("day %d, tenant %d: %s since %s, want %s since %s", d, i, m.Status, m.Since, w.status[i], day(w.since[i]))
			}
		}
		var open []int
		for i, b := range p.Burndown {
			if b.Day != day(i+1) {
				t.Errorf("day %d: burndown day %d is %s", d, i, b.Day)
			}
			open = append(open, b.Open)
		}
		if p.Done != w.done || p.Total != 6 || !slices.Equal(open, w.open) || math.Abs(p.PointsGained-w.gained) > 1e-6 || p.Overdue != w.over {
			t.Errorf("day %d: %d/%d done, burndown %v, %.2f points gained, overdue %v; want %d/6, %v, %.2f, %v",
				d, p.Done, p.Total, open, p.PointsGained, p.Overdue, w.done, w.open, w.gained, w.over)
		}
	}
	if t.Failed() {
		t.Logf("control %s, max %v, start %v", control, fmt.Sprint(maxOf), fmt.Sprint(start))
	}
}

func memberIDs(ms []campaign.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.TenantID)
	}
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
