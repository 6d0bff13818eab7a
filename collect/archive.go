package collect

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/graph"
)

// Archive keeps each day's raw Graph snapshot, as the old runbooks did
// (archive.Archiver, adapted by the command).
type Archive interface {
	Put(ctx context.Context, tenant fleetscore.Tenant, day fleetscore.Day, raw []byte) error
}

// ArchiveBacklog remembers the days whose snapshot could not be archived,
// so that the next run fetches them again and retries. Stores implement it.
type ArchiveBacklog interface {
	ArchivePending(ctx context.Context, tenantID string) ([]fleetscore.Day, error)
	// SetArchivePending records a day as pending with the reason, or as
	// archived when errText is "".
	SetArchivePending(ctx context.Context, tenantID string, day fleetscore.Day, errText string) error
}

// rawDays collects the raw snapshots of one tenant's fetch.
type rawDays struct {
	mu sync.Mutex
	m  map[fleetscore.Day][]byte
}

func (r *rawDays) add(day fleetscore.Day, raw []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[day] = raw
}

// archivePlan is what archiving adds to a tenant's collection: the days
// still pending from earlier runs, and the Graph window that covers them.
type archivePlan struct {
	pending []fleetscore.Day
	raw     *rawDays
}

// planArchive widens top so that pending days still in Graph's window are
// fetched again, and hooks the raw snapshots of the fetch.
func (c *Collector) planArchive(ctx context.Context, j Job, top int) (context.Context, int, *archivePlan, error) {
	if c.Archive == nil {
		return ctx, top, nil, nil
	}
	p := &archivePlan{raw: &rawDays{m: map[fleetscore.Day][]byte{}}}
	if b, ok := c.Store.(ArchiveBacklog); ok {
		pending, err := b.ArchivePending(ctx, j.Tenant.ID)
		if err != nil {
			return ctx, top, nil, err
		}
		p.pending = pending
		if len(pending) > 0 && top > 0 {
			need := fleetscore.DayOf(c.now()).Sub(pending[0]) + 2
			if need >= HistoryDays {
				top = 0
			} else {
				top = max(top, need)
			}
		}
	}
	return graph.WithRawScores(ctx, p.raw.add), top, p, nil
}

// archive puts every saved day and every pending day the fetch brought
// again; a failure is recorded for the next run and returned, but never
// undoes the database write.
func (c *Collector) archive(ctx context.Context, j Job, p *archivePlan, saved []fleetscore.Score) error {
	if p == nil {
		return nil
	}
	backlog, _ := c.Store.(ArchiveBacklog)
	days := make(map[fleetscore.Day]bool)
	for _, s := range saved {
		days[s.Day] = true
	}
	oldest := fleetscore.DayOf(c.now()).AddDays(-(HistoryDays - 1)) // the first day Graph still keeps
	var errs []error
	for _, d := range p.pending {
		if _, fetched := p.raw.m[d]; fetched {
			days[d] = true
			continue
		}
		if d.Before(oldest) && backlog != nil {
			// Graph no longer has it: nothing left to retry.
			_ = backlog.SetArchivePending(ctx, j.Tenant.ID, d, "")
			errs = append(errs, fmt.Errorf("%s left Graph's %d-day window before it could be archived", d, HistoryDays))
		}
	}
	for d := range days {
		raw, ok := p.raw.m[d]
		if !ok {
			continue
		}
		err := c.Archive.Put(ctx, j.Tenant, d, raw)
		if backlog != nil {
			text := ""
			if err != nil {
				text = err.Error()
			}
			if berr := backlog.SetArchivePending(context.WithoutCancel(ctx), j.Tenant.ID, d, text); berr != nil {
				errs = append(errs, berr)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("archive: %w (retried next run)", errors.Join(errs...))
	}
	return nil
}
