package alert_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/fleettest"
)

// TestCampaignOverdueAndRegressed: with an injected clock, over daily
// collections of two tenants in a campaign due on day 2: nothing fires
// while the campaign runs; on day 3 the tenant done on day 2 is open
// again (campaign_regressed, for that tenant) and the due date has passed
// with both open (campaign_overdue, once for the campaign); neither fires
// again the next day; both resolve on day 5, when both tenants are done.
func TestCampaignOverdueAndRegressed(t *testing.T) {
	ctx := context.Background()
	day1 := fleetscore.MustDay("2026-03-01")
	day := func(n int) fleetscore.Day { return day1.AddDays(n - 1) }
	now := day1.Time().Add(15 * time.Hour)
	var (
		ids     []string
		control string
	)
	f := fleettest.New(t, fleettest.Options{Tenants: 2, Days: 10, Now: func() time.Time { return now }, Script: func(e *emulator.Emulator) {
		for _, ti := range e.Tenants()[:2] {
			ids = append(ids, ti.ID)
			e.SetScript(ti.ID, emulator.Script{Base: day1})
		}
		var maxOf map[string]float64
		control, maxOf = fleettest.ScoredEverywhere(t, e, ids, 2)
		e.SetScript(ids[0], emulator.Script{Base: day1, Points: []emulator.ScriptPoints{
			{Control: control, From: day(1), Points: 0}, {Control: control, From: day(2), Points: maxOf[ids[0]]},
			{Control: control, From: day(3), Points: 0}, {Control: control, From: day(5), Points: maxOf[ids[0]]}}})
		e.SetScript(ids[1], emulator.Script{Base: day1, Points: []emulator.ScriptPoints{
			{Control: control, From: day(1), Points: 0}, {Control: control, From: day(5), Points: maxOf[ids[1]]}}})
	}})
	svc := &campaign.Service{Store: f.Store, Now: func() time.Time { return now }}
	c, err := svc.Create(ctx, "ana", campaign.Request{Control: control, Tenants: ids, Owner: "SOC", Due: day(2)})
	if err != nil {
		t.Fatal(err)
	}
	e := &alert.Engine{Store: alert.NewMemoryStore(), Source: f.Store, Now: func() time.Time { return now },
		Rules: []alert.Rule{
			{Name: "overdue", When: alert.CampaignOverdue, Channels: []string{"x"}},
			{Name: "regressed", When: alert.CampaignRegressed, Channels: []string{"x"}},
		}}
	eval := func(d int) alert.Report {
		t.Helper()
		if d > 1 {
			now = day(d).Time().Add(15 * time.Hour)
			if sum := f.Collector.Run(ctx, f.Jobs); sum.OK != 2 {
				t.Fatalf("day %d: %d collected", d, sum.OK)
			}
		}
		rep, err := e.Evaluate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	for d := 1; d <= 2; d++ {
		if rep := eval(d); len(rep.Fired) != 0 {
			t.Errorf("day %d: fired %v", d, titles(rep.Fired))
		}
	}
	rep := eval(3)
	byRule := map[string]alert.Message{}
	for _, m := range rep.Fired {
		byRule[m.Rule] = m
	}
	if len(rep.Fired) != 2 {
		t.Fatalf("day 3: fired %v; want overdue and regressed", titles(rep.Fired))
	}
	if m := byRule["regressed"]; m.TenantID != ids[0] || !strings.Contains(m.Summary, control+" regressed on "+day(3).String()) {
		t.Errorf("regressed: tenant %s, %q", m.TenantID, m.Summary)
	}
	if m := byRule["overdue"]; m.TenantID != "" || !strings.Contains(m.Summary, "was due on "+day(2).String()+"; 2 of 2 tenants are still open") ||
		!strings.Contains(m.Title, "campaign "+itoa(c.ID)) {
		t.Errorf("overdue: tenant %q, %q %q", m.TenantID, m.Title, m.Summary)
	}
	if rep := eval(4); len(rep.Fired)+len(rep.Resolved) != 0 {
		t.Errorf("day 4: fired %v, resolved %v; want nothing new", titles(rep.Fired), titles(rep.Resolved))
	}
	rep = eval(5)
	if len(rep.Fired) != 0 || len(rep.Resolved) != 2 {
		t.Errorf("day 5, both done: fired %v, resolved %v; want both resolved", titles(rep.Fired), titles(rep.Resolved))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
