package ledger

import (
	"cmp"
	"math"
	"slices"
)

// TopItems is how many items Fleet keeps per tenant.
const TopItems = 5

// Ledger is one tenant's changes over a window, as Tenant returns them
// (newest first): the input of Fleet.
type Ledger struct {
	TenantID string
	Name     string
	Changes  []Change
}

// Report is the fleet over a window: GET /api/v1/changes.
type Report struct {
	Tenants []Total `json:"tenants"` // biggest fall first, then by tenant ID
	Events  []Event `json:"events"`  // biggest |percent_change| first
}

// Total is one tenant over the window: the sums of its days' changes and its
// biggest items. With no change in the window every figure is 0 and From,
// To are "".
type Total struct {
	TenantID                string    `json:"tenant_id"`
	Name                    string    `json:"name"`
	From                    string    `json:"from"` // the previous day of the window's oldest change
	To                      string    `json:"to"`   // the window's newest day
	Percent                 float64   `json:"percent"`
	PercentChange           float64   `json:"percent_change"`
	PercentChangeFromPoints float64   `json:"percent_change_from_points"`
	PercentChangeFromMax    float64   `json:"percent_change_from_max"`
	CurrentChange           float64   `json:"current_change"`
	MaxChange               float64   `json:"max_change"`
	Items                   []TopItem `json:"items"` // at most TopItems
}

// TopItem is an item of a window with its day and its effect on the
// tenant's percent (Change.Effect), in percentage points.
type TopItem struct {
	Day string `json:"day"`
	Item
	PercentEffect float64 `json:"percent_effect"`
}

// Event is one control added (or retired) at two tenants or more on one
// day. PercentChange is the fleet-average effect: the sum over those tenants
// of the item's Change.Effect, divided by the number of tenants in the
// fleet (every Ledger given to Fleet).
type Event struct {
	Kind          string   `json:"kind"` // KindAdded or KindRetired
	Control       string   `json:"control"`
	Title         string   `json:"title"`
	Day           string   `json:"day"`
	Tenants       int      `json:"tenants"`    // how many tenants
	TenantIDs     []string `json:"tenant_ids"` // which, sorted
	PercentChange float64  `json:"percent_change"`
}

// Fleet sums each tenant's changes over the window and finds the fleet
// events. The tenants' totals add up their days' figures (percent_change of
// consecutive days telescopes to the move from the window's first previous
// day to its last day); a tenant's items are its window's items with the
// largest |effect|, at most TopItems, ties broken by newer day, then control.
func Fleet(tenants []Ledger) Report {
	r := Report{Tenants: make([]Total, 0, len(tenants)), Events: []Event{}}
	type key struct{ kind, control, day string }
	events := map[key]*Event{}
	for _, l := range tenants {
		t := Total{TenantID: l.TenantID, Name: l.Name, Items: []TopItem{}}
		var all []TopItem
		for i, c := range l.Changes {
			if i == 0 {
				t.To, t.Percent = c.Day.String(), c.Percent
			}
			t.From = c.PreviousDay.String()
			t.PercentChange += c.PercentChange
			t.PercentChangeFromPoints += c.PercentChangeFromPoints
			t.PercentChangeFromMax += c.PercentChangeFromMax
			t.CurrentChange += c.CurrentChange
			t.MaxChange += c.MaxChange
			for _, it := range c.Items {
				ti := TopItem{Day: c.Day.String(), Item: it, PercentEffect: c.Effect(it)}
				all = append(all, ti)
				if it.Kind != KindAdded && it.Kind != KindRetired {
					continue
				}
				k := key{it.Kind, it.Control, ti.Day}
				e := events[k]
				if e == nil {
					e = &Event{Kind: it.Kind, Control: it.Control, Title: it.Title, Day: ti.Day}
					events[k] = e
				}
				e.Tenants++
				e.TenantIDs = append(e.TenantIDs, l.TenantID)
				e.PercentChange += ti.PercentEffect
			}
		}
		slices.SortStableFunc(all, func(a, b TopItem) int {
			return cmp.Or(cmp.Compare(math.Abs(b.PercentEffect), math.Abs(a.PercentEffect)),
				cmp.Compare(b.Day, a.Day), cmp.Compare(a.Control, b.Control))
		})
		t.Items = append(t.Items, all[:min(len(all), TopItems)]...)
		r.Tenants = append(r.Tenants, t)
	}
	slices.SortStableFunc(r.Tenants, func(a, b Total) int {
		return cmp.Or(cmp.Compare(a.PercentChange, b.PercentChange), cmp.Compare(a.TenantID, b.TenantID))
	})
	for _, e := range events {
		if e.Tenants < 2 {
			continue
		}
		slices.Sort(e.TenantIDs)
		e.PercentChange /= float64(len(tenants))
		r.Events = append(r.Events, *e)
	}
	slices.SortFunc(r.Events, func(a, b Event) int {
		return cmp.Or(cmp.Compare(math.Abs(b.PercentChange), math.Abs(a.PercentChange)),
			cmp.Compare(b.Day, a.Day), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Control, b.Control))
	})
	return r
}
