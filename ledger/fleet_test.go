package ledger_test

import (
	"slices"
	"testing"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/ledger"
)

// A control added at two of three tenants on one day is one event whose
// percent_change is the sum of its effects over the fleet's size; added at
// one tenant only, it is none.
func TestFleet(t *testing.T) {
	newControl := []fleetscore.ControlProfile{{ID: "N", Title: "New control", MaxScore: 8}, {ID: "Solo", Title: "Solo", MaxScore: 4}}
	d2 := dayD.AddDays(1)
	a := ledger.Tenant([]fleetscore.Score{
		score(dayP, 30, 60, cs("A", 30)),
		score(dayD, 30, 68, cs("A", 30), cs("N", 0)),
		score(d2, 20, 68, cs("A", 20), cs("N", 0)),
	}, newControl)
	b := ledger.Tenant([]fleetscore.Score{
		score(dayP, 10, 40, cs("A", 10)),
		score(dayD, 12, 48, cs("A", 10), cs("N", 2)),
	}, newControl)
	c := ledger.Tenant([]fleetscore.Score{
		score(dayP, 10, 40, cs("A", 10)),
		score(dayD, 10, 44, cs("A", 10), cs("Solo", 0)),
	}, newControl)
	r := ledger.Fleet([]ledger.Ledger{{TenantID: "a", Name: "A", Changes: a}, {TenantID: "b", Changes: b}, {TenantID: "c", Changes: c}})

	if len(r.Events) != 1 {
		t.Fatalf("events %+v, want one", r.Events)
	}
	e := r.Events[0]
	effA := 30 * (1.0/68 - 1.0/60) * 100    // 0 points, 8 more max at a
	effB := 2.0/48*100 - 8*10.0/(40*48)*100 // 2 points, 8 more max at b
	if e.Kind != ledger.KindAdded || e.Control != "N" || e.Title != "New control" || e.Day != dayD.String() ||
		e.Tenants != 2 || !slices.Equal(e.TenantIDs, []string{"a", "b"}) || !near(e.PercentChange, (effA+effB)/3) {
		t.Errorf("event %+v, want N added at a and b on %s, %v pp", e, dayD, (effA+effB)/3)
	}
	// b's only item is the addition: its effect is b's whole move.
	if !near(effB, b[0].PercentChange) {
		t.Errorf("effect at b %v, b moved %v", effB, b[0].PercentChange)
	}

	// Tenants: biggest fall first; a's total over both days.
	var ids []string
	for _, tt := range r.Tenants {
		ids = append(ids, tt.TenantID)
	}
	if !slices.Equal(ids, []string{"a", "c", "b"}) {
		t.Errorf("tenants in order %q, want a (fell most), c, b", ids)
	}
	ta := r.Tenants[0]
	if !near(ta.PercentChange, (20.0/68-30.0/60)*100) || ta.From != dayP.String() || ta.To != d2.String() ||
		!near(ta.CurrentChange, -10) || !near(ta.MaxChange, 8) || !near(ta.Percent, 20.0/68*100) {
		t.Errorf("total of a %+v", ta)
	}
	if !near(ta.PercentChangeFromPoints+ta.PercentChangeFromMax, ta.PercentChange) {
		t.Errorf("a's parts do not sum: %+v", ta)
	}
	if len(ta.Items) != 2 || ta.Items[0].Control != "A" || ta.Items[0].Day != d2.String() ||
		!near(ta.Items[0].PercentEffect, -10.0/68*100) || ta.Items[1].Control != "N" || !near(ta.Items[1].PercentEffect, effA) {
		t.Errorf("a's top items %+v", ta.Items)
	}
	// No change at all: a total of zeros, items [].
	r = ledger.Fleet([]ledger.Ledger{{TenantID: "z"}})
	if len(r.Tenants) != 1 || r.Tenants[0].Items == nil || r.Tenants[0].From != "" || r.Events == nil {
		t.Errorf("empty fleet %+v", r)
	}
}
