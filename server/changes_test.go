package server

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/ledger"
	"github.com/fleetscore/fleetscore/query"
	"github.com/getkin/kin-openapi/openapi3"
)

// TestChangesOverTenEmulatedDays drives the emulator over 10 scripted days
// at three tenants: at the first, a control regresses on day 3, another
// progresses on day 4, Microsoft adds two controls at every tenant on day
// 5, a third control is set to ThirdParty (full points) on day 8, which is
// missing from the history; every day's items, kinds and numbers are
// checked, through query.TenantChanges and the API, and
// /api/v1/changes?days=7 shows each day-5 addition as one fleet event.
func TestChangesOverTenEmulatedDays(t *testing.T) {
	day1 := fleetscore.MustDay("2026-03-01")
	day := func(n int) fleetscore.Day { return day1.AddDays(n - 1) }
	now := day(10).Time().Add(15 * time.Hour)
	var (
		first          string
		reg, prog, tp  fleetscore.ControlProfile
		r0, p0, t0     float64
		domainOfFirst  string
		thirdPartyNote string
	)
	f := fleettest.New(t, fleettest.Options{Tenants: 3, Days: 10, Now: func() time.Time { return now },
		Script: func(e *emulator.Emulator) {
			added := []emulator.ScriptControl{
				{ID: "zScriptedCopilotReviews", Title: "Enable Copilot access reviews", Category: fleetscore.CategoryApps, MaxScore: 8, From: day(5)},
				{ID: "zScriptedLabels", Title: "Publish sensitivity labels", Category: fleetscore.CategoryData, MaxScore: 5, From: day(5), Points: 2},
			}
			for i, ti := range e.Tenants()[:3] {
				s := emulator.Script{Base: day1, Added: added}
				if i == 0 {
					first = ti.ID
					// Controls with a profile, no state update, and room to move.
					e.SetScript(ti.ID, emulator.Script{Base: day1})
					scores, profiles := e.Expected(ti.ID)
					pts := map[string]float64{}
					for _, c := range scores[0].Controls {
						pts[c.Name] = c.Score
					}
					var picked []fleetscore.ControlProfile
					for _, p := range profiles {
						v, ok := pts[p.ID]
						if !ok || p.Deprecated || len(p.StateUpdates) != 1 || p.StateUpdates[0].State != fleetscore.StateDefault || p.MaxScore < 2 {
							continue
						}
						switch {
						case reg.ID == "" && v > 0:
							reg, r0 = p, v
						case prog.ID == "" && v < p.MaxScore:
							prog, p0 = p, v
						case tp.ID == "" && v < p.MaxScore:
							tp, t0 = p, v
						default:
							continue
						}
						picked = append(picked, p)
					}
					if len(picked) != 3 {
						t.Fatalf("the emulated tenant has no three controls to script: %v", picked)
					}
					s.Holes = []fleetscore.Day{day(8)}
					s.Points = []emulator.ScriptPoints{{Control: reg.ID, From: day(3), Points: 0}, {Control: prog.ID, From: day(4), Points: prog.MaxScore}}
					s.States = []emulator.ScriptState{{Control: tp.ID, At: day(8).Time().Add(10 * time.Hour), State: fleetscore.StateThirdParty}}
				}
				e.SetScript(ti.ID, s)
			}
			_, profiles := e.Expected(first)
			for _, p := range profiles {
				if p.ID == tp.ID {
					last := p.StateUpdates[len(p.StateUpdates)-1]
					domainOfFirst, thirdPartyNote = last.UpdatedBy, last.Comment
				}
			}
		}})
	expected, _ := f.Emu.Expected(first)
	totals := map[fleetscore.Day]fleetscore.Score{}
	for _, s := range expected {
		totals[s.Day] = s
	}
	if len(expected) != 9 {
		t.Fatalf("the emulator served %d days, want 10 less the missing one", len(expected))
	}

	changes, err := query.TenantChanges(context.Background(), f.Store, first, day1, day(10))
	if err != nil {
		t.Fatal(err)
	}
	want := map[fleetscore.Day][]string{
		day(10): nil,
		day(9):  {fmt.Sprintf("state %s %v 0 Default>ThirdParty %s %s", tp.ID, round(tp.MaxScore-t0, 2), domainOfFirst, thirdPartyNote)},
		day(7):  nil,
		day(6):  nil,
		day(5):  {"added zScriptedLabels 2 5", "added zScriptedCopilotReviews 0 8"},
		day(4):  {fmt.Sprintf("progress %s %v 0", prog.ID, round(prog.MaxScore-p0, 2))},
		day(3):  {fmt.Sprintf("regression %s %v 0", reg.ID, round(-r0, 2))},
		day(2):  nil,
	}
	var days []fleetscore.Day
	for _, c := range changes {
		days = append(days, c.Day)
		var got []string
		sum := 0.0
		for _, it := range c.Items {
			s := fmt.Sprintf("%s %s %v %v", it.Kind, it.Control, round(it.PointsChange, 2), it.MaxChange)
			if it.Kind == ledger.KindState {
				s += fmt.Sprintf(" %s>%s %s %s", it.StateFrom, it.StateTo, it.By, it.Comment)
			}
			got = append(got, s)
			sum += it.PointsChange
		}
		if !slices.Equal(got, want[c.Day]) {
			t.Errorf("%s: items %q, want %q", c.Day, got, want[c.Day])
		}
		p, d := totals[c.PreviousDay], totals[c.Day]
		if math.Abs(sum-c.CurrentChange) > 1e-9 || math.Abs(c.CurrentChange-(d.CurrentScore-p.CurrentScore)) > 1e-9 ||
			math.Abs(c.MaxChange-(d.MaxScore-p.MaxScore)) > 1e-9 || math.Abs(c.PercentChange-(d.Percent()-p.Percent())) > 1e-9 ||
			math.Abs(c.PercentChangeFromPoints+c.PercentChangeFromMax-c.PercentChange) > 1e-9 {
			t.Errorf("%s: figures %+v do not match the emulator's %v/%v -> %v/%v or do not add up (items sum %v)", c.Day, c,
				p.CurrentScore, p.MaxScore, d.CurrentScore, d.MaxScore, sum)
		}
	}
	if wantDays := []fleetscore.Day{day(10), day(9), day(7), day(6), day(5), day(4), day(3), day(2)}; !slices.Equal(days, wantDays) {
		t.Errorf("days %v, want %v (newest first, day 8 missing)", days, wantDays)
	}
	if c := changes[1]; c.PreviousDay != day(7) {
		t.Errorf("day 9's previous day %s, want day 7 (day 8 is missing)", c.PreviousDay)
	}
	if c := changes[4]; !(c.PercentChangeFromMax < 0) || math.Abs(c.MaxChange-13) > 1e-9 {
		t.Errorf("day 5: max_change %v, from max %v; want 13 and a negative share", c.MaxChange, c.PercentChangeFromMax)
	}

	// The API answers the same, and the fleet shows each addition once.
	s, err := New(Options{Source: f.Store, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	a := &apiFixture{f: f, srv: srv, s: s, doc: doc}
	var api []map[string]any
	a.getJSON(t, "/api/v1/tenants/"+first+"/changes?from="+day1.String()+"&to="+day(10).String(), &api)
	if len(api) != len(changes) || api[4]["day"] != day(5).String() || len(api[4]["items"].([]any)) != 2 {
		t.Errorf("API changes: %d days, day 5 %v", len(api), api[min(4, len(api)-1)])
	}
	var def []map[string]any
	a.getJSON(t, "/api/v1/tenants/"+first+"/changes", &def) // the last 30 days
	if len(def) != len(changes) {
		t.Errorf("default range: %d changes, want %d", len(def), len(changes))
	}
	rows := a.getCSV(t, "/api/v1/tenants/"+first+"/changes?from="+day1.String())
	// One row per item, and one for each day without any.
	if len(rows) != 5+4 {
		t.Errorf("CSV: %d rows, want 9", len(rows))
	}
	for _, r := range rows {
		if r["day"] == day(3).String() && (r["kind"] != "regression" || r["control"] != reg.ID || r["points_change"] != num(round(-r0, 2))) {
			t.Errorf("CSV row of day 3: %v", r)
		}
	}

	var fleet struct {
		Tenants []ledger.Total `json:"tenants"`
		Events  []ledger.Event `json:"events"`
	}
	a.getJSON(t, "/api/v1/changes?days=7", &fleet)
	if len(fleet.Tenants) != 3 {
		t.Errorf("fleet: %d tenants, want the 3 scored", len(fleet.Tenants))
	}
	var evs []string
	for _, e := range fleet.Events {
		evs = append(evs, fmt.Sprintf("%s %s %s %d", e.Kind, e.Control, e.Day, e.Tenants))
		if !(e.PercentChange < 0) && e.Control == "zScriptedCopilotReviews" {
			t.Errorf("adding a control with 0 points raised the fleet: %+v", e)
		}
	}
	slices.Sort(evs)
	if w := []string{"added zScriptedCopilotReviews " + day(5).String() + " 3", "added zScriptedLabels " + day(5).String() + " 3"}; !slices.Equal(evs, w) {
		t.Errorf("fleet events %q, want %q", evs, w)
	}
	csvRows := a.getCSV(t, "/api/v1/changes?days=7")
	events := 0
	for _, r := range csvRows {
		if r["record"] == "event" {
			events++
			if len(strings.Fields(r["tenant_id"])) != 3 {
				t.Errorf("CSV event %v: want its 3 tenants", r)
			}
		}
	}
	if events != 2 {
		t.Errorf("CSV: %d event rows, want 2", events)
	}
	// A window of 2 days (days 9 and 10) holds no addition.
	a.getJSON(t, "/api/v1/changes?days=2", &fleet)
	if len(fleet.Events) != 0 {
		t.Errorf("days=2: events %+v", fleet.Events)
	}
	for _, bad := range []string{"?days=0", "?days=91", "?days=x", "?day=7"} {
		if resp, body := a.get(t, "/api/v1/changes"+bad); resp.StatusCode != 400 || !strings.Contains(string(body), "day") {
			t.Errorf("GET /api/v1/changes%s: %d %s; want 400", bad, resp.StatusCode, body)
		}
	}
	for _, bad := range []string{"?from=2026-13-01", "?from=2026-03-05&to=2026-03-01", "?to=yesterday"} {
		if resp, body := a.get(t, "/api/v1/tenants/"+first+"/changes"+bad); resp.StatusCode != 400 || !strings.Contains(string(body), "YYYY-MM-DD") && !strings.Contains(string(body), "after") {
			t.Errorf("GET changes%s: %d %s; want 400 naming the form", bad, resp.StatusCode, body)
		}
	}
	if resp, _ := a.get(t, "/api/v1/tenants/00000000-0000-4000-8000-000000000000/changes"); resp.StatusCode != 404 {
		t.Errorf("unknown tenant: %d, want 404", resp.StatusCode)
	}
}
