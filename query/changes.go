package query

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/ledger"
)

// MaxChangeDays bounds FleetChanges' window.
const MaxChangeDays = 90

// TenantChanges is GET /api/v1/tenants/{id}/changes: the change ledger
// (ledger.Tenant) of the tenant's stored days from..to inclusive, newest
// first. The first stored day of the range is compared with the nearest
// stored day before it, however far back; a range with no stored day gives
// an empty list. An unknown tenant is an error wrapping
// fleetscore.ErrNotFound.
func TenantChanges(ctx context.Context, src Source, tenantID string, from, to fleetscore.Day) ([]ledger.Change, error) {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return nil, fmt.Errorf("changes of %s: the range %s..%s is not from a day to a later one", tenantID, from, to)
	}
	// A week before from nearly always holds the previous stored day: one read.
	days, err := src.Scores(ctx, tenantID, from.AddDays(-7), to)
	if err != nil {
		return nil, err
	}
	first := 0
	for first < len(days) && days[first].Day.Before(from) {
		first++
	}
	if first == len(days) {
		return []ledger.Change{}, nil
	}
	if first > 0 {
		days = days[first-1:]
	} else {
		// No stored day in that week: the nearest before it, if any. Only
		// a tenant that Graph skipped for over a week pays this read.
		before, err := src.Scores(ctx, tenantID, fleetscore.Day{}, from.AddDays(-8))
		if err != nil {
			return nil, err
		}
		if n := len(before); n > 0 {
			days = append([]fleetscore.Score{before[n-1]}, days...)
		}
	}
	profiles, err := src.Profiles(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return ledger.Tenant(days, profiles), nil
}

// FleetChanges is GET /api/v1/changes: every scored tenant's changes of the
// days stored in the last `days` days up to now's day (each compared with
// its nearest earlier stored day, which may be older), summed, with the
// tenant's top items, and the fleet events (ledger.Fleet). The fleet, for
// the events' fleet average, is every tenant with a stored day. It reads
// each tenant's last days+1 stored days only (RecentScores), never its
// whole history.
func FleetChanges(ctx context.Context, src Source, days int, now time.Time) (ledger.Report, error) {
	if days < 1 || days > MaxChangeDays {
		return ledger.Report{}, fmt.Errorf("fleet changes: %d days is not between 1 and %d", days, MaxChangeDays)
	}
	statuses, err := src.Tenants(ctx)
	if err != nil {
		return ledger.Report{}, err
	}
	// The window's days and, of its controls only, titles, maxima and states.
	recent, profiles, err := src.RecentChanges(ctx, days+1)
	if err != nil {
		return ledger.Report{}, err
	}
	first := fleetscore.DayOf(now).AddDays(-days + 1)
	var ls []ledger.Ledger
	for _, st := range statuses {
		scores, ok := recent[st.ID]
		if !ok {
			continue // never scored: not in the fleet
		}
		changes := ledger.Tenant(scores, profiles[st.ID])
		n := 0
		for n < len(changes) && !changes[n].Day.Before(first) {
			n++
		}
		ls = append(ls, ledger.Ledger{TenantID: st.ID, Name: st.Name, Changes: changes[:n]})
	}
	return ledger.Fleet(ls), nil
}
