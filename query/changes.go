package query

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
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
	days, err = withPrevious(ctx, src, tenantID, days, from)
	if err != nil || len(days) == 0 {
		return []ledger.Change{}, err
	}
	profiles, err := src.Profiles(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return ledger.Tenant(days, profiles), nil
}

// withPrevious is days (oldest first, read from a week or more before from)
// from the first stored day on or after from, led by the nearest stored day
// before it, so that the first day of the range has its change too; nil
// when no stored day is on or after from. A zero from keeps every day. When
// days hold no day before from, the nearest one is read: only a tenant
// Graph skipped for over a week (or the range's start before its first
// day) pays that read.
func withPrevious(ctx context.Context, src Source, tenantID string, days []fleetscore.Score, from fleetscore.Day) ([]fleetscore.Score, error) {
	if from.IsZero() {
		return days, nil
	}
	first, _ := slices.BinarySearchFunc(days, from, func(s fleetscore.Score, d fleetscore.Day) int {
		return cmp.Compare(s.Day.Unix(), d.Unix())
	})
	switch {
	case first == len(days):
		return nil, nil
	case first > 0:
		return days[first-1:], nil
	}
	before, err := src.Scores(ctx, tenantID, fleetscore.Day{}, days[0].Day.AddDays(-1))
	if err != nil {
		return nil, err
	}
	if n := len(before); n > 0 {
		return append([]fleetscore.Score{before[n-1]}, days...), nil
	}
	return days, nil
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
	var scored []fleetscore.TenantStatus
	for _, st := range statuses {
		if _, ok := recent[st.ID]; ok {
			scored = append(scored, st) // never scored: not in the fleet
		}
	}
	// Each tenant's ledger is its own: they are built on every core.
	ls := make([]ledger.Ledger, len(scored))
	parts := min(runtime.GOMAXPROCS(0), len(scored))
	var wg sync.WaitGroup
	for part := range parts {
		wg.Go(func() {
			for i := part; i < len(scored); i += parts {
				st := scored[i]
				changes := ledger.Tenant(recent[st.ID], profiles[st.ID])
				n := 0
				for n < len(changes) && !changes[n].Day.Before(first) {
					n++
				}
				ls[i] = ledger.Ledger{TenantID: st.ID, Name: st.Name, Changes: changes[:n]}
			}
		})
	}
	wg.Wait()
	return ledger.Fleet(ls), nil
}
