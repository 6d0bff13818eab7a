package campaign

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

var d0 = fleetscore.MustDay("2026-05-01")

// days makes a history of points, one per day from d0 on; a negative value
// is a day whose snapshot lacks the control.
func days(pts ...float64) []DayScore {
	out := make([]DayScore, len(pts))
	for i, p := range pts {
		out[i] = DayScore{Day: d0.AddDays(i), Score: max(p, 0), Has: p >= 0}
	}
	return out
}

func TestDerive(t *testing.T) {
	for _, tc := range []struct {
		name       string
		h          History
		today      int // days after d0
		status     string
		since      int
		openByDay  []int
		gained     float64
		startScore float64
	}{
		{"untouched is open", History{MaxScore: 9, Days: days(0, 0, 0)}, 2, StatusOpen, 0, []int{1, 1, 1}, 0, 0},
		{"full points is done", History{MaxScore: 9, Days: days(0, 9, 9)}, 2, StatusDone, 1, []int{1, 0, 0}, 9, 0},
		{"within rounding of max is done", History{MaxScore: 9, Days: days(0, 8.999)}, 1, StatusDone, 1, []int{1, 0}, 8.999, 0},
		{"some points is in progress", History{MaxScore: 9, Days: days(0, 3, 3)}, 2, StatusInProgress, 1, []int{1, 1, 1}, 3, 0},
		{"partial at start without gain is open", History{MaxScore: 9, Days: days(4, 4, 4)}, 2, StatusOpen, 0, []int{1, 1, 1}, 0, 4},
		{"partial at start gaining is in progress", History{MaxScore: 9, Days: days(4, 4, 6)}, 2, StatusInProgress, 2, []int{1, 1, 1}, 2, 4},
		{"done then lower is regressed", History{MaxScore: 9, Days: days(0, 9, 9, 2)}, 3, StatusRegressed, 3, []int{1, 0, 0, 1}, 2, 0},
		{"regressed stays regressed when partly back", History{MaxScore: 9, Days: days(0, 9, 2, 5)}, 3, StatusRegressed, 2, []int{1, 0, 1, 1}, 5, 0},
		{"regressed then full is done again", History{MaxScore: 9, Days: days(0, 9, 2, 9)}, 3, StatusDone, 3, []int{1, 0, 1, 0}, 9, 0},
		{"a missed day repeats the day before", History{MaxScore: 9, Days: []DayScore{{d0, 0, true}, {d0.AddDays(1), 9, true}}}, 3, StatusDone, 1, []int{1, 0, 0, 0}, 9, 0},
		{"no such control is not applicable", History{MaxScore: 9, Days: days(-1, -1)}, 1, StatusNotApplicable, 0, []int{0, 0}, 0, 0},
		{"no profile is not applicable", History{Days: days(0, 0)}, 1, StatusNotApplicable, 0, []int{0, 0}, 0, 0},
		{"nothing collected is open", History{MaxScore: 9}, 2, StatusOpen, 0, []int{1, 1, 1}, 0, 0},
		{"excepted from the day it was applied", History{MaxScore: 9, Days: days(0, 0, 0), ExceptedFrom: d0.AddDays(1)}, 2, StatusExcepted, 1, []int{1, 0, 0}, 0, 0},
		{"excepted wins over regressed", History{MaxScore: 9, Days: days(0, 9, 0), ExceptedFrom: d0.AddDays(2)}, 2, StatusExcepted, 2, []int{1, 0, 0}, 0, 0},
		{"days before the start give the start's points", History{MaxScore: 9, Days: []DayScore{{d0.AddDays(-3), 5, true}, {d0.AddDays(1), 5, true}}}, 1, StatusOpen, 0, []int{1, 1}, 0, 5},
		{"a tenant collected only after the start starts at its first day", History{MaxScore: 9, Days: []DayScore{{d0.AddDays(1), 5, true}, {d0.AddDays(2), 6, true}}}, 2, StatusInProgress, 2, []int{1, 1, 1}, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Campaign{ID: 1, Control: "x", Tenants: []Member{{TenantID: "a", Note: "call Bob"}}, Due: d0.AddDays(30),
				CreatedAt: d0.Time().Add(10 * time.Hour)}
			p := Derive(c, map[string]History{"a": tc.h}, map[string]string{"a": "Alpha"}, d0.AddDays(tc.today))
			m := p.Members[0]
			if m.Status != tc.status || m.Since != d0.AddDays(tc.since) {
				t.Errorf("status %s since %s, want %s since %s", m.Status, m.Since, tc.status, d0.AddDays(tc.since))
			}
			var open []int
			for i, b := range p.Burndown {
				if b.Day != d0.AddDays(i) {
					t.Errorf("burndown day %d is %s", i, b.Day)
				}
				open = append(open, b.Open)
			}
			if !reflect.DeepEqual(open, tc.openByDay) {
				t.Errorf("burndown %v, want %v", open, tc.openByDay)
			}
			if d := p.PointsGained - tc.gained; d > 1e-9 || d < -1e-9 {
				t.Errorf("points gained %v, want %v", p.PointsGained, tc.gained)
			}
			if m.StartScore != tc.startScore {
				t.Errorf("start score %v, want %v", m.StartScore, tc.startScore)
			}
			wantDone := 0
			if Settled(tc.status) {
				wantDone = 1
			}
			if p.Done != wantDone || p.Total != 1 || m.Name != "Alpha" || m.Note != "call Bob" {
				t.Errorf("done %d/%d name %q note %q", p.Done, p.Total, m.Name, m.Note)
			}
		})
	}
}

// TestDeriveFleet: done/total, points gained summed over tenants (a
// tenant that lost points counts 0, not less), overdue once the due date
// passed with tenants open, and not when every tenant is settled.
func TestDeriveFleet(t *testing.T) {
	c := Campaign{Control: "x", Tenants: []Member{{TenantID: "a"}, {TenantID: "b"}, {TenantID: "c"}}, Due: d0.AddDays(1), CreatedAt: d0.Time()}
	hist := map[string]History{
		"a": {MaxScore: 10, Days: days(0, 10, 10)},
		"b": {MaxScore: 10, Days: days(6, 4, 4)}, // lost 2: counts 0
		"c": {MaxScore: 10, Days: days(2, 5, 7)},
	}
	p := Derive(c, hist, nil, d0.AddDays(1))
	if p.Done != 1 || p.Total != 3 || p.Overdue || p.PointsGained != 13 {
		t.Errorf("on the due day: done %d/%d overdue %v gained %v; want 1/3, not overdue, 13", p.Done, p.Total, p.Overdue, p.PointsGained)
	}
	p = Derive(c, hist, nil, d0.AddDays(2))
	if !p.Overdue || p.PointsGained != 15 {
		t.Errorf("after the due day: overdue %v gained %v; want overdue, 15", p.Overdue, p.PointsGained)
	}
	hist["b"] = History{MaxScore: 10, Days: days(6, 4, -1)}
	hist["c"] = History{MaxScore: 10, Days: days(2, 5, 7), ExceptedFrom: d0.AddDays(2)}
	if p := Derive(c, hist, nil, d0.AddDays(2)); p.Overdue || p.Done != 3 {
		t.Errorf("all settled: overdue %v done %d, want not overdue, 3", p.Overdue, p.Done)
	}
	// Today before the start (a clock behind) shows the start day alone.
	if p := Derive(c, hist, nil, d0.AddDays(-5)); len(p.Burndown) != 1 || p.Burndown[0].Day != d0 {
		t.Errorf("today before the start: burndown %v", p.Burndown)
	}
}

func TestProgressJSON(t *testing.T) {
	c := Campaign{ID: 7, Control: "x", Owner: "soc", Tenants: []Member{{TenantID: "a", Note: "n"}}, Due: d0.AddDays(3), CreatedAt: d0.Time()}
	p := Derive(c, map[string]History{"a": {MaxScore: 9, Days: days(0, 9)}}, nil, d0.AddDays(1))
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":7`, `"control":"x"`, `"owner":"soc"`, `"due":"2026-05-04"`, `"done":1`, `"total":1`,
		`"tenants":[{"tenant_id":"a"`, `"status":"done"`, `"since":"2026-05-02"`, `"note":"n"`, `"burndown":[{"day":"2026-05-01","open":1},{"day":"2026-05-02","open":0}]`,
		`"points_gained":9`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
}
