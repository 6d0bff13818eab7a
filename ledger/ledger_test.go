package ledger_test

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/ledger"
	"github.com/fleetscore/fleetscore/storetest"
)

var (
	dayP = fleetscore.MustDay("2025-11-26")
	dayD = fleetscore.MustDay("2025-11-27")
)

func score(day fleetscore.Day, current, max float64, controls ...fleetscore.ControlScore) fleetscore.Score {
	return fleetscore.Score{TenantID: "t", Day: day, CurrentScore: current, MaxScore: max, Controls: controls}
}

func cs(name string, points float64) fleetscore.ControlScore {
	return fleetscore.ControlScore{Name: name, Category: fleetscore.CategoryIdentity, Score: points}
}

func at(day fleetscore.Day, hour, minute int) time.Time {
	return day.Time().Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

// items renders items compactly for comparison: kind control points max [from>to by comment].
func items(its []ledger.Item) []string {
	var out []string
	for _, it := range its {
		s := it.Kind + " " + it.Control + " " + fmtf(it.PointsChange) + " " + fmtf(it.MaxChange)
		if it.Kind == ledger.KindState {
			s += " " + it.StateFrom + ">" + it.StateTo + " " + it.By + " " + it.Comment
		}
		out = append(out, s)
	}
	return out
}

func fmtf(f float64) string {
	b, _ := json.Marshal(math.Round(f*1e6) / 1e6)
	return string(b)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Every kind in one day, sorted by |points_change| then control.
func TestBetweenKinds(t *testing.T) {
	profiles := []fleetscore.ControlProfile{
		{ID: "A", Title: "Require MFA for admins", MaxScore: 10},
		{ID: "B", Title: "Block legacy auth", MaxScore: 8},
		{ID: "C", Title: "Old control", MaxScore: 2},
		{ID: "D", Title: "Third-party AV", MaxScore: 5, StateUpdates: []fleetscore.ControlStateUpdate{
			{State: fleetscore.StateDefault, UpdatedBy: "x", UpdatedAt: at(dayP.AddDays(-20), 9, 0)},
			{State: fleetscore.StateThirdParty, UpdatedBy: "ann@contoso.com", Comment: "Covered by CrowdStrike", UpdatedAt: at(dayD, 23, 59)},
		}},
		{ID: "E", Title: "Enable Copilot access reviews", MaxScore: 8},
	}
	p := score(dayP, 11, 20, cs("A", 5), cs("B", 3), cs("C", 2), cs("D", 1))
	d := score(dayD, 7, 26, cs("A", 2), cs("B", 4), cs("D", 1), cs("E", 0))
	got := ledger.Tenant([]fleetscore.Score{p, d}, profiles)
	if len(got) != 1 {
		t.Fatalf("%d changes, want 1", len(got))
	}
	c := got[0]
	want := []string{
		"regression A -3 0",
		"retired C -2 -2",
		"progress B 1 0",
		"state D 0 0 Default>ThirdParty ann@contoso.com Covered by CrowdStrike",
		"added E 0 8",
	}
	if g := items(c.Items); !slices.Equal(g, want) {
		t.Errorf("items:\n got %q\nwant %q", g, want)
	}
	if c.Day != dayD || c.PreviousDay != dayP {
		t.Errorf("days %s, %s", c.Day, c.PreviousDay)
	}
	if c.Items[0].Title != "Require MFA for admins" || c.Items[0].Category != fleetscore.CategoryIdentity {
		t.Errorf("first item %+v: want the profile's title and the control's category", c.Items[0])
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"percent", c.Percent, 7.0 / 26 * 100},
		{"percent_change", c.PercentChange, (7.0/26 - 11.0/20) * 100},
		{"percent_change_from_points", c.PercentChangeFromPoints, -4.0 / 26 * 100},
		{"percent_change_from_max", c.PercentChangeFromMax, 11 * (1.0/26 - 1.0/20) * 100},
		{"current_change", c.CurrentChange, -4},
		{"max_change", c.MaxChange, 6},
	}
	for _, ch := range checks {
		if !near(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if !near(c.PercentChangeFromPoints+c.PercentChangeFromMax, c.PercentChange) {
		t.Errorf("parts %v + %v != %v", c.PercentChangeFromPoints, c.PercentChangeFromMax, c.PercentChange)
	}
}

// Where the snapshot's currentScore moved by more than its controls did,
// the residual is an item, never hidden; within Tolerance it is none.
func TestUnexplainedResidual(t *testing.T) {
	p := score(dayP, 10, 20, cs("A", 5), cs("B", 5))
	d := score(dayD, 12.5, 20, cs("A", 7), cs("B", 5))
	c := ledger.Tenant([]fleetscore.Score{p, d}, nil)[0]
	if g, w := items(c.Items), []string{"progress A 2 0", "unexplained  0.5 0"}; !slices.Equal(g, w) {
		t.Errorf("items %q, want %q", g, w)
	}
	sum := 0.0
	for _, it := range c.Items {
		sum += it.PointsChange
	}
	if !near(sum, c.CurrentChange) {
		t.Errorf("items sum to %v, current_change %v", sum, c.CurrentChange)
	}

	// Float noise is no change: neither a control nor a residual.
	d = score(dayD, 10+1e-12, 20, cs("A", 5+1e-12), cs("B", 5))
	if c := ledger.Tenant([]fleetscore.Score{p, d}, nil)[0]; len(c.Items) != 0 {
		t.Errorf("noise made items %q", items(c.Items))
	}
}

// States: the state in effect on a day is the latest update on or before its
// end (UTC); a zero UpdatedAt never makes an item; a missing day attributes
// the update to the next stored day; a change undone within the gap is none.
func TestStateItems(t *testing.T) {
	d0, d1, d3, d4 := dayP, dayP.AddDays(1), dayP.AddDays(3), dayP.AddDays(4)
	days := []fleetscore.Score{
		score(d0, 5, 10, cs("X", 5)),
		score(d1, 5, 10, cs("X", 5)),
		// d2 is missing
		score(d3, 5, 10, cs("X", 5)),
		score(d4, 5, 10, cs("X", 5)),
	}
	profiles := []fleetscore.ControlProfile{
		{ID: "X", Title: "X", MaxScore: 10, StateUpdates: []fleetscore.ControlStateUpdate{
			{State: fleetscore.StateIgnored, UpdatedBy: "undated"},                                           // zero: in effect throughout
			{State: fleetscore.StateThirdParty, UpdatedBy: "bob", Comment: "on d1", UpdatedAt: at(d1, 0, 0)}, // day 1's first instant
			{State: fleetscore.StateReviewed, UpdatedBy: "eve", Comment: "in the gap", UpdatedAt: at(d1.AddDays(1), 12, 0)},
		}},
		{ID: "Y", Title: "Y", MaxScore: 3, StateUpdates: []fleetscore.ControlStateUpdate{
			{State: fleetscore.StateThirdParty, UpdatedBy: "undated only"},
		}},
	}
	got := ledger.Tenant(days, profiles)
	if len(got) != 3 {
		t.Fatalf("%d changes, want 3", len(got))
	}
	want := map[fleetscore.Day][]string{
		d4: nil,
		d3: {"state X 0 0 ThirdParty>Reviewed eve in the gap"},
		d1: {"state X 0 0 Ignored>ThirdParty bob on d1"},
	}
	for _, c := range got {
		if g := items(c.Items); !slices.Equal(g, want[c.Day]) {
			t.Errorf("%s: items %q, want %q", c.Day, g, want[c.Day])
		}
	}
	if got[0].Day != d4 || got[1].PreviousDay != d1 {
		t.Errorf("order: %s first, %s before %s; want newest first and the nearest earlier day", got[0].Day, got[1].PreviousDay, got[1].Day)
	}

	// Changed and changed back between two stored days: no item.
	profiles[0].StateUpdates = append(profiles[0].StateUpdates,
		fleetscore.ControlStateUpdate{State: fleetscore.StateThirdParty, UpdatedBy: "eve", UpdatedAt: at(d1.AddDays(1), 13, 0)})
	if c := ledger.Tenant(days, profiles)[1]; len(c.Items) != 0 {
		t.Errorf("a state changed back made %q", items(c.Items))
	}

	// A state change together with points: one state item carrying them.
	days[3].Controls[0].Score, days[3].CurrentScore = 8, 8
	profiles[0].StateUpdates = append(profiles[0].StateUpdates,
		fleetscore.ControlStateUpdate{State: fleetscore.StateDefault, UpdatedBy: "eve", UpdatedAt: at(d4, 8, 0)})
	if g, w := items(ledger.Tenant(days, profiles)[0].Items), []string{"state X 3 0 ThirdParty>Default eve "}; !slices.Equal(g, w) {
		t.Errorf("state with points: %q, want %q", g, w)
	}
}

// Over a generated year the items sum to current_change and the two parts to
// percent_change, every day.
func TestSums(t *testing.T) {
	days := storetest.History("t", dayP, 365, 250, 7)
	// The generator's totals add up; knock one day out of line.
	days[100].CurrentScore += 0.37
	got := ledger.Tenant(days, nil)
	if len(got) != 364 {
		t.Fatalf("%d changes, want 364", len(got))
	}
	unexplained, changed := 0, 0
	for _, c := range got {
		sum := 0.0
		for _, it := range c.Items {
			sum += it.PointsChange
			if it.Kind == ledger.KindUnexplained {
				unexplained++
			}
		}
		if len(c.Items) > 0 {
			changed++
		}
		if math.Abs(sum-c.CurrentChange) > 1e-9 {
			t.Errorf("%s: items sum to %v, current_change %v", c.Day, sum, c.CurrentChange)
		}
		if math.Abs(c.PercentChangeFromPoints+c.PercentChangeFromMax-c.PercentChange) > 1e-9 {
			t.Errorf("%s: parts %v + %v, percent_change %v", c.Day, c.PercentChangeFromPoints, c.PercentChangeFromMax, c.PercentChange)
		}
		if !slices.IsSortedFunc(c.Items, func(a, b ledger.Item) int {
			if d := math.Abs(b.PointsChange) - math.Abs(a.PointsChange); d != 0 {
				return int(math.Copysign(1, d))
			}
			return strings.Compare(a.Control, b.Control)
		}) {
			t.Errorf("%s: items not sorted: %q", c.Day, items(c.Items))
		}
	}
	// Day 100 and day 101 are out of line by 0.37 each way.
	if unexplained != 2 {
		t.Errorf("%d unexplained items, want 2", unexplained)
	}
	if changed < 300 {
		t.Errorf("only %d days with items: the generator changes controls daily", changed)
	}
}

// A control's effect on the percent: when it is the day's only item, its
// effect is the whole percent_change.
func TestEffect(t *testing.T) {
	profiles := []fleetscore.ControlProfile{{ID: "N", Title: "New", MaxScore: 8}, {ID: "A", MaxScore: 10}}
	// Added with 2 of 8 points.
	p := score(dayP, 30, 60, cs("A", 30))
	d := score(dayD, 32, 68, cs("A", 30), cs("N", 2))
	c := ledger.Tenant([]fleetscore.Score{p, d}, profiles)[0]
	if len(c.Items) != 1 || c.Items[0].Kind != ledger.KindAdded {
		t.Fatalf("items %q", items(c.Items))
	}
	if e := c.Effect(c.Items[0]); !near(e, c.PercentChange) {
		t.Errorf("effect of the only item %v, percent_change %v", e, c.PercentChange)
	}
	// Retired.
	c = ledger.Tenant([]fleetscore.Score{d, p}, profiles)[0]
	if e := c.Effect(c.Items[0]); c.Items[0].Kind != ledger.KindRetired || !near(e, c.PercentChange) {
		t.Errorf("retired: %q effect %v, percent_change %v", items(c.Items), e, c.PercentChange)
	}
	// A regression: points over the new maximum.
	d = score(dayD, 25, 60, cs("A", 25))
	c = ledger.Tenant([]fleetscore.Score{p, d}, profiles)[0]
	if e := c.Effect(c.Items[0]); !near(e, -5.0/60*100) || !near(e, c.PercentChange) {
		t.Errorf("regression effect %v, want %v", e, -5.0/60*100)
	}
}

func TestJSON(t *testing.T) {
	p := score(dayP, 5, 10, cs("A", 5))
	d := score(dayD, 4, 10, cs("A", 4))
	c := ledger.Tenant([]fleetscore.Score{p, d}, nil)[0]
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := []string{"current_change", "day", "items", "max_change", "percent", "percent_change", "percent_change_from_max",
		"percent_change_from_points", "previous_day"}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, keys) {
		t.Errorf("members %q, want %q", got, keys)
	}
	if m["day"] != "2025-11-27" || m["previous_day"] != "2025-11-26" {
		t.Errorf("days %v %v", m["day"], m["previous_day"])
	}
	item := m["items"].([]any)[0].(map[string]any)
	var ik []string
	for k := range item {
		ik = append(ik, k)
	}
	slices.Sort(ik)
	if w := []string{"by", "category", "comment", "control", "kind", "max_change", "points_change", "state_from", "state_to", "title"}; !slices.Equal(ik, w) {
		t.Errorf("item members %q, want %q", ik, w)
	}
	var back ledger.Change
	if err := json.Unmarshal(b, &back); err != nil || back.Day != c.Day || back.PreviousDay != c.PreviousDay || len(back.Items) != 1 {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	// No change: items is [], not null.
	b, _ = json.Marshal(ledger.Tenant([]fleetscore.Score{p, p}, nil)[0])
	if !strings.Contains(string(b), `"items":[]`) {
		t.Errorf("%s: want items []", b)
	}
	if got := ledger.Tenant([]fleetscore.Score{p}, nil); got == nil || len(got) != 0 {
		t.Errorf("one day: %v, want an empty list", got)
	}
}
