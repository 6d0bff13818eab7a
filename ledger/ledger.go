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
	ix := newIndex(profiles)
	out := make([]Change, 0, len(scores)-1)
	prev := sortedControls(scores[len(scores)-1].Controls)
	for i := len(scores) - 1; i > 0; i-- {
		cur := prev
		prev = sortedControls(scores[i-1].Controls)
		out = append(out, between(scores[i-1], scores[i], prev, cur, ix))
	}
	return out
}

// Between is the change from p to d (p the earlier day), with profiles by
// control ID (nil: no titles, maxima or states).
func Between(p, d fleetscore.Score, profiles map[string]*fleetscore.ControlProfile) Change {
	var ix index
	for _, pr := range profiles {
		ix.add(pr)
	}
	return between(p, d, sortedControls(p.Controls), sortedControls(d.Controls), ix)
}

// index is a tenant's profiles by ID, and those whose state can change
// between two days: the ones with an update to a state other than Default
// (with none, the state is Default on every day).
type index struct {
	byID       map[string]*fleetscore.ControlProfile
	stateful   []*fleetscore.ControlProfile
	changeable map[string]bool // the IDs of stateful
}

func newIndex(profiles []fleetscore.ControlProfile) index {
	ix := index{byID: make(map[string]*fleetscore.ControlProfile, len(profiles))}
	for i := range profiles {
		ix.add(&profiles[i])
	}
	return ix
}

func (ix *index) add(pr *fleetscore.ControlProfile) {
	if ix.byID == nil {
		ix.byID = map[string]*fleetscore.ControlProfile{}
	}
	ix.byID[pr.ID] = pr
	for _, u := range pr.StateUpdates {
		if u.State != "" && u.State != fleetscore.StateDefault {
			if ix.changeable == nil {
				ix.changeable = map[string]bool{}
			}
			ix.stateful = append(ix.stateful, pr)
			ix.changeable[pr.ID] = true
			return
		}
	}
}

// sortedControls is cs sorted by name: cs itself when it already is (the
// stores return them so), else a sorted copy.
func sortedControls(cs []fleetscore.ControlScore) []fleetscore.ControlScore {
	byName := func(a, b fleetscore.ControlScore) int { return cmp.Compare(a.Name, b.Name) }
	if slices.IsSortedFunc(cs, byName) {
		return cs
	}
	cs = slices.Clone(cs)
	slices.SortFunc(cs, byName)
	return cs
}

// find is the control named n in cs (sorted by name).
func find(cs []fleetscore.ControlScore, n string) (fleetscore.ControlScore, bool) {
	i, ok := slices.BinarySearchFunc(cs, n, func(c fleetscore.ControlScore, n string) int { return cmp.Compare(c.Name, n) })
	if !ok {
		return fleetscore.ControlScore{}, false
	}
	return cs[i], true
}

// between is Between with the two days' controls sorted by name: one merge
// of the two lists, no map per day.
func between(p, d fleetscore.Score, before, after []fleetscore.ControlScore, ix index) Change {
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
	endP, endD := endOf(p.Day), endOf(d.Day)

	var sum float64
	add := func(n string, b, a fleetscore.ControlScore, wasScored, isScored bool) {
		it := Item{Control: n, Title: n, Category: cmp.Or(a.Category, b.Category), PointsChange: a.Score - b.Score}
		pr := ix.byID[n]
		if pr != nil {
			it.Title = cmp.Or(pr.Title, n)
			it.Category = cmp.Or(it.Category, pr.Category)
		}
		stateChanged := false
		var from, to fleetscore.ControlStateUpdate
		if pr != nil && ix.changeable[n] {
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
			return
		}
		sum += it.PointsChange
		ch.Items = append(ch.Items, it)
	}
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		switch {
		case j == len(after) || (i < len(before) && before[i].Name < after[j].Name):
			add(before[i].Name, before[i], fleetscore.ControlScore{}, true, false)
			i++
		case i == len(before) || after[j].Name < before[i].Name:
			add(after[j].Name, fleetscore.ControlScore{}, after[j], false, true)
			j++
		default:
			if before[i].Score != after[j].Score || (len(ix.changeable) > 0 && ix.changeable[after[j].Name]) {
				add(after[j].Name, before[i], after[j], true, true)
			}
			i++
			j++
		}
	}
	// Controls whose state may have changed though they are scored on
	// neither day.
	for _, pr := range ix.stateful {
		if _, inB := find(before, pr.ID); inB {
			continue
		}
		if _, inA := find(after, pr.ID); inA {
			continue
		}
		add(pr.ID, fleetscore.ControlScore{}, fleetscore.ControlScore{}, false, false)
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
