package alert_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/fleettest"
)

// TestExceptionReviewAndDrift: exception_review fires on the day the
// review date comes within its days, not the day before, and resolves when
// the date is moved on; exception_drift fires once while an exception has
// drifted and resolves when it matches again.
func TestExceptionReviewAndDrift(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 2})
	ctx := context.Background()
	tenant := f.Jobs[0].Tenant
	due := fleetscore.MustDay("2027-03-15")
	x, err := f.Store.PutException(ctx, exceptions.Exception{TenantID: tenant.ID, Control: "mdo_safelinksforemail", State: fleetscore.StateThirdParty,
		Reason: "covered by Mimecast", ReviewBy: due, CreatedBy: "ana", CreatedAt: time.Now(), Status: exceptions.StatusInEffect})
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	e := &alert.Engine{Store: alert.NewMemoryStore(), Source: f.Store, Now: func() time.Time { return now },
		Rules: []alert.Rule{
			{Name: "review", When: alert.ExceptionReview, Days: 14, Channels: []string{"x"}},
			{Name: "drift", When: alert.ExceptionDrift, Channels: []string{"x"}},
		}}
	eval := func(at fleetscore.Day) alert.Report {
		t.Helper()
		now = at.Time().Add(8 * time.Hour)
		rep, err := e.Evaluate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := eval(due.AddDays(-15)); len(rep.Fired) != 0 {
		t.Errorf("15 days before the review date: fired %v", titles(rep.Fired))
	}
	rep := eval(due.AddDays(-14))
	if len(rep.Fired) != 1 || rep.Fired[0].Rule != "review" || rep.Fired[0].TenantID != tenant.ID ||
		!strings.Contains(rep.Fired[0].Summary, "due for review on 2027-03-15, in 14 days") {
		t.Fatalf("14 days before: fired %v; want the review reminder", titles(rep.Fired))
	}
	if rep := eval(due.AddDays(-13)); len(rep.Fired)+len(rep.Resolved) != 0 {
		t.Errorf("the next day: %v %v; want nothing new", titles(rep.Fired), titles(rep.Resolved))
	}
	// Reviewed: a later date resolves it.
	x.ReviewBy = due.AddDays(365)
	if err := f.Store.UpdateException(ctx, x); err != nil {
		t.Fatal(err)
	}
	if rep := eval(due.AddDays(-12)); len(rep.Resolved) != 1 || rep.Resolved[0].Rule != "review" {
		t.Errorf("after the review: resolved %v; want the reminder resolved", titles(rep.Resolved))
	}

	// Drift fires once, and resolves when the state matches again.
	x.Status = exceptions.StatusDrifted
	f.Store.UpdateException(ctx, x)
	rep = eval(due.AddDays(-11))
	if len(rep.Fired) != 1 || rep.Fired[0].Rule != "drift" || !strings.Contains(rep.Fired[0].Summary, "someone changed it in the portal") {
		t.Fatalf("drifted: fired %v", titles(rep.Fired))
	}
	if rep := eval(due.AddDays(-10)); len(rep.Fired) != 0 {
		t.Errorf("still drifted the next day: fired again %v", titles(rep.Fired))
	}
	x.Status = exceptions.StatusInEffect
	f.Store.UpdateException(ctx, x)
	if rep := eval(due.AddDays(-9)); len(rep.Resolved) != 1 || rep.Resolved[0].Rule != "drift" {
		t.Errorf("in effect again: resolved %v", titles(rep.Resolved))
	}
}

func titles(ms []alert.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Title)
	}
	return out
}
