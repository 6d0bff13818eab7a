// Package ledger explains why a tenant's Secure Score moved: for each stored
// day, the change from the nearest earlier stored day, split into the part
// that came from points (controls gaining or losing points) and the part that
// came from the maximum (Microsoft adding or retiring controls), with the
// controls behind it as items. Fleet aggregates tenants' ledgers over a
// window and finds fleet events: one control added or retired at several
// tenants on one day.
//
// It is pure computation over the domain types, with no I/O: package query
// reads the store and hands the days here, and the API, the pages and the
// alerts take their explanations from the same functions.
//
// # The rule
//
// For a tenant's stored day d with an earlier stored day p (the nearest one:
// days may be missing), with c0/m0 the currentScore/maxScore of p and c1/m1
// those of d:
//
//	percent_change             = (c1/m1 − c0/m0) × 100
//	percent_change_from_points = (c1 − c0) / m1 × 100
//	percent_change_from_max    = c0 × (1/m1 − 1/m0) × 100
//	current_change             = c1 − c0
//	max_change                 = m1 − m0
//
// The two parts sum to percent_change (exactly in real numbers; within
// float rounding, far below 1e-9, in float64). When either maximum is not
// positive the percent of that day is 0 (fleetscore.Percent) and the split is
// undefined: all of percent_change is then put in the points part and the
// maximum part is 0.
//
// Items come from the two days' control scores and the tenant's control
// profiles, one per control that changed:
//
//   - KindState when the control's state in effect (see below) differs
//     between p and d; the item also carries the control's points change;
//   - else KindAdded when the control is scored on d but not on p,
//     KindRetired for the reverse;
//   - else KindProgress or KindRegression when its score rose or fell.
//
// An item's points_change is the control's score on d minus its score on p
// (0 where absent); its max_change is the profile's maxScore for an added
// control, minus it for a retired one, and 0 otherwise (also 0 when the
// tenant's profiles lack the control). The items' points_change add up to
// current_change: where Microsoft's snapshot does not add up (its
// currentScore moved by more or less than its controls did), one item of
// KindUnexplained carries the residual. The items' max_change need not add up
// to max_change: Microsoft also changes existing controls' maxima.
//
// Items are sorted by |points_change|, largest first, then by control name.
//
// Float noise: a difference whose magnitude is below Tolerance (1e-9 points)
// is no change: a control whose score moved by less is not an item, and a
// residual smaller than that makes no unexplained item.
//
// # State at a day
//
// A profile's StateUpdates (Graph's controlStateUpdates, oldest first) are
// the history of its state. The state in effect on day X is that of the last
// update (in list order) whose UpdatedAt is on or before the end of X (UTC);
// an update with a zero UpdatedAt (Graph sent null) counts as in effect on
// every day, so it never makes a state item by itself; a control with no
// update in effect is fleetscore.StateDefault. A state item names the state
// at p (state_from), the state at d (state_to), and the UpdatedBy and Comment
// of the update in effect at d. A state changed and changed back between p
// and d makes no item.
//
// # Effect of an item on the tenant's percent
//
// Effect (used for fleet events and the ranking of a window's items) is what
// an item moved the tenant's percent by, in percentage points:
//
//	effect = points_change / m1 × 100  −  max_change × c0 / (m0 × m1) × 100
//
// The first term is the item's share of percent_change_from_points (the
// shares of all items add up to it). The second is its share of
// percent_change_from_max in proportion to its max_change: c0/(m0×m1)×100 is
// exactly percent_change_from_max / −max_change whenever max_change is not 0,
// so when the items' max_change add up to max_change the effects add up to
// percent_change. It is 0 when either maximum is not positive.
package ledger

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Tolerance is the smallest difference, in points, that counts as a change.
const Tolerance = 1e-9

// Item kinds.
const (
	KindState       = "state"       // the control's state changed (e.g. to ThirdParty)
	KindAdded       = "added"       // scored on the day, not on the previous one
	KindRetired     = "retired"     // scored on the previous day, not on the day
	KindProgress    = "progress"    // its score rose
	KindRegression  = "regression"  // its score fell
	KindUnexplained = "unexplained" // the part of current_change no control explains
)

// Item is one control behind a day's change.
type Item struct {
	Kind         string  `json:"kind"`
	Control      string  `json:"control"` // controlName; "" for KindUnexplained
	Title        string  `json:"title"`   // the profile's title, else the control name
	Category     string  `json:"category"`
	PointsChange float64 `json:"points_change"`
	MaxChange    float64 `json:"max_change"`
	StateFrom    string  `json:"state_from"` // KindState only
	StateTo      string  `json:"state_to"`   // KindState only
	By           string  `json:"by"`         // KindState only: UpdatedBy
	Comment      string  `json:"comment"`    // KindState only
}

// Change is one stored day of a tenant against the nearest earlier stored
// day. Day and PreviousDay are written as YYYY-MM-DD.
type Change struct {
	Day                     fleetscore.Day
	PreviousDay             fleetscore.Day
	Percent                 float64 // the tenant's percent on Day
	PercentChange           float64
	PercentChangeFromPoints float64
	PercentChangeFromMax    float64
	CurrentChange           float64
	MaxChange               float64
	Items                   []Item

	// The totals of the two days, for Effect.
	c0, m0, c1, m1 float64
}

type changeJSON struct {
	Day                     string  `json:"day"`
	PreviousDay             string  `json:"previous_day"`
	Percent                 float64 `json:"percent"`
	PercentChange           float64 `json:"percent_change"`
	PercentChangeFromPoints float64 `json:"percent_change_from_points"`
	PercentChangeFromMax    float64 `json:"percent_change_from_max"`
	CurrentChange           float64 `json:"current_change"`
	MaxChange               float64 `json:"max_change"`
	Items                   []Item  `json:"items"`
}

// MarshalJSON writes the change with its days as YYYY-MM-DD and items as an
// array, never null.
func (c Change) MarshalJSON() ([]byte, error) {
	items := c.Items
	if items == nil {
		items = []Item{}
	}
	return json.Marshal(changeJSON{
		Day: c.Day.String(), PreviousDay: c.PreviousDay.String(), Percent: c.Percent,
		PercentChange: c.PercentChange, PercentChangeFromPoints: c.PercentChangeFromPoints,
		PercentChangeFromMax: c.PercentChangeFromMax, CurrentChange: c.CurrentChange,
		MaxChange: c.MaxChange, Items: items,
	})
}

// UnmarshalJSON reads what MarshalJSON writes (the totals Effect needs are
// not in it: Effect of a decoded change's items is 0 for their maximum part).
func (c *Change) UnmarshalJSON(b []byte) error {
	var j changeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	day, err := fleetscore.ParseDay(j.Day)
	if err != nil {
		return err
	}
	prev, err := fleetscore.ParseDay(j.PreviousDay)
	if err != nil {
		return err
	}
	*c = Change{Day: day, PreviousDay: prev, Percent: j.Percent, PercentChange: j.PercentChange,
		PercentChangeFromPoints: j.PercentChangeFromPoints, PercentChangeFromMax: j.PercentChangeFromMax,
		CurrentChange: j.CurrentChange, MaxChange: j.MaxChange, Items: j.Items}
	return nil
}

// Effect is what the item moved the tenant's percent by on c's day, in
// percentage points (see the package documentation).
func (c Change) Effect(it Item) float64 {
	if c.m0 <= 0 || c.m1 <= 0 {
		if c.m1 > 0 {
			return it.PointsChange / c.m1 * 100
		}
		return 0
	}
	return it.PointsChange/c.m1*100 - it.MaxChange*c.c0/(c.m0*c.m1)*100
}

// Tenant is the ledger of one tenant: one Change per stored day that has an
// earlier stored day, newest first. scores are the tenant's days, oldest
// first, with their Controls (a control unchanged across all the days may be
// left out of all of them: it makes no item either way); profiles are the
// tenant's current control profiles with their state updates.
func Tenant(scores []fleetscore.Score, profiles []fleetscore.ControlProfile) []Change {
	if len(scores) < 2 {
		return []Change{}
	}
	byID := make(map[string]*fleetscore.ControlProfile, len(profiles))
	for i := range profiles {
		byID[profiles[i].ID] = &profiles[i]
	}
	out := make([]Change, 0, len(scores)-1)
	for i := len(scores) - 1; i > 0; i-- {
		out = append(out, Between(scores[i-1], scores[i], byID))
	}
	return out
}

// Between is the change from p to d (p the earlier day), with profiles by
// control ID (nil: no titles, maxima or states).
func Between(p, d fleetscore.Score, profiles map[string]*fleetscore.ControlProfile) Change {
	c0, m0, c1, m1 := p.CurrentScore, p.MaxScore, d.CurrentScore, d.MaxScore
	ch := Change{
		Day: d.Day, PreviousDay: p.Day, Percent: d.Percent(),
		PercentChange: d.Percent() - p.Percent(),
		CurrentChange: c1 - c0, MaxChange: m1 - m0,
		c0: c0, m0: m0, c1: c1, m1: m1,
	}
	if m0 > 0 && m1 > 0 {
		ch.PercentChangeFromPoints = (c1 - c0) / m1 * 100
		ch.PercentChangeFromMax = c0 * (1/m1 - 1/m0) * 100
	} else {
		ch.PercentChangeFromPoints = ch.PercentChange
	}

	before := scoresByName(p.Controls)
	after := scoresByName(d.Controls)
	names := make([]string, 0, len(after))
	for n := range after {
		names = append(names, n)
	}
	for n := range before {
		if _, ok := after[n]; !ok {
			names = append(names, n)
		}
	}
	// Controls whose state may have changed though their score did not.
	endP, endD := endOf(p.Day), endOf(d.Day)
	for id, pr := range profiles {
		_, inA := after[id]
		_, inB := before[id]
		if !inA && !inB && len(pr.StateUpdates) > 0 {
			names = append(names, id)
		}
	}
	slices.Sort(names)

	var sum float64
	for _, n := range names {
		b, wasScored := before[n]
		a, isScored := after[n]
		it := Item{Control: n, Title: n, Category: cmp.Or(a.Category, b.Category), PointsChange: a.Score - b.Score}
		pr := profiles[n]
		if pr != nil {
			it.Title = cmp.Or(pr.Title, n)
			it.Category = cmp.Or(it.Category, pr.Category)
		}
		var from, to fleetscore.ControlStateUpdate
		stateChanged := false
		if pr != nil {
			from, to = stateAt(pr.StateUpdates, endP), stateAt(pr.StateUpdates, endD)
			stateChanged = from.State != to.State
		}
		switch {
		case stateChanged:
			it.Kind, it.StateFrom, it.StateTo, it.By, it.Comment = KindState, from.State, to.State, to.UpdatedBy, to.Comment
		case isScored && !wasScored:
			it.Kind = KindAdded
			if pr != nil {
				it.MaxChange = pr.MaxScore
			}
		case wasScored && !isScored:
			it.Kind = KindRetired
			if pr != nil {
				it.MaxChange = -pr.MaxScore
			}
		case it.PointsChange >= Tolerance:
			it.Kind = KindProgress
		case it.PointsChange <= -Tolerance:
			it.Kind = KindRegression
		default:
			continue
		}
		sum += it.PointsChange
		ch.Items = append(ch.Items, it)
	}
	if r := ch.CurrentChange - sum; math.Abs(r) >= Tolerance {
		ch.Items = append(ch.Items, Item{Kind: KindUnexplained, Title: "Not explained by Microsoft's control scores", PointsChange: r})
	}
	SortItems(ch.Items)
	return ch
}

// SortItems sorts items by |points_change|, largest first, then by control.
func SortItems(items []Item) {
	slices.SortStableFunc(items, func(a, b Item) int {
		return cmp.Or(cmp.Compare(math.Abs(b.PointsChange), math.Abs(a.PointsChange)), cmp.Compare(a.Control, b.Control))
	})
}

func scoresByName(cs []fleetscore.ControlScore) map[string]fleetscore.ControlScore {
	m := make(map[string]fleetscore.ControlScore, len(cs))
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

// endOf is the first instant after day d (UTC).
func endOf(d fleetscore.Day) time.Time { return d.AddDays(1).Time() }

// stateAt is the update in effect before end: the last one in list order
// whose UpdatedAt is zero (unknown: always in effect) or before end; a
// Default update when there is none.
func stateAt(updates []fleetscore.ControlStateUpdate, end time.Time) fleetscore.ControlStateUpdate {
	for i := len(updates) - 1; i >= 0; i-- {
		u := updates[i]
		if u.UpdatedAt.IsZero() || u.UpdatedAt.Before(end) {
			if u.State == "" {
				u.State = fleetscore.StateDefault
			}
			return u
		}
	}
	return fleetscore.ControlStateUpdate{State: fleetscore.StateDefault}
}
