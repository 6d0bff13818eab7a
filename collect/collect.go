// Package collect runs one collection over every client tenant: it reads each
// tenant's new Secure Score days and its control profiles from Graph, and
// writes them to the store in one transaction per tenant. Tenants run
// concurrently up to a bound; one tenant's failure is recorded with advice
// and never stops the others.
package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/graph"
)

// HistoryDays is how much history Graph keeps: a tenant seen for the first
// time, or not collected for longer than this, is backfilled in full.
const HistoryDays = 90

// Reader is what a collection needs from Graph.
type Reader interface {
	SecureScores(ctx context.Context, t graph.Target, top int) ([]fleetscore.Score, error)
	ControlProfiles(ctx context.Context, t graph.Target) ([]fleetscore.ControlProfile, error)
}

var _ Reader = (*graph.Client)(nil)

// Job is one tenant to collect.
type Job struct {
	Tenant     fleetscore.Tenant
	Target     graph.Target
	ConsentURL string // the admin-consent link shown when consent is missing
}

// Collector collects tenants into a store.
type Collector struct {
	Store       fleetscore.Store
	Graph       Reader
	Concurrency int           // tenants at once; default 8
	Timeout     time.Duration // each tenant's deadline; default 5 min
	Logger      *slog.Logger
	Now         func() time.Time
	// Progress, when set, is called as each tenant finishes.
	Progress func(Result)
}

// Result is the outcome of one tenant's collection.
type Result struct {
	Tenant     fleetscore.Tenant
	Collection fleetscore.Collection
	Err        error // nil when the tenant was collected
}

// Summary is the outcome of a whole run.
type Summary struct {
	Results  []Result // in the order of the jobs
	OK       int
	Failed   int
	Skipped  int // not started because the run was cancelled
	Days     int
	Duration time.Duration
}

// Err is nil when every tenant was collected, and otherwise says how many
// were not.
func (s Summary) Err() error {
	if s.Failed == 0 && s.Skipped == 0 {
		return nil
	}
	if s.Skipped > 0 {
		return fmt.Errorf("%d of %d tenants failed and %d were not started", s.Failed, len(s.Results), s.Skipped)
	}
	return fmt.Errorf("%d of %d tenants failed", s.Failed, len(s.Results))
}

// Run collects every job and returns when all have finished (or, when ctx
// is cancelled, when the running ones have stopped).
func (c *Collector) Run(ctx context.Context, jobs []Job) Summary {
	start := c.now()
	conc := c.Concurrency
	if conc <= 0 {
		conc = 8
	}
	sum := Summary{Results: make([]Result, len(jobs))}
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for i, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			sum.Results[i] = Result{Tenant: j.Tenant, Err: fmt.Errorf("not started: %w", ctx.Err())}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := c.one(ctx, j)
			sum.Results[i] = r
			if c.Progress != nil {
				c.Progress(r)
			}
		}()
	}
	wg.Wait()
	for _, r := range sum.Results {
		switch {
		case r.Collection.ID == 0 && r.Err != nil:
			sum.Skipped++
		case r.Err != nil:
			sum.Failed++
		default:
			sum.OK++
			sum.Days += r.Collection.Days
		}
	}
	sum.Duration = c.now().Sub(start)
	return sum
}

func (c *Collector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Collector) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// one collects one tenant and records the outcome in the collection log.
func (c *Collector) one(ctx context.Context, j Job) Result {
	log := c.logger().With("tenant", j.Tenant.Name, "tenant_id", j.Tenant.ID)
	col := fleetscore.Collection{TenantID: j.Tenant.ID, StartedAt: c.now().UTC(), Status: fleetscore.StatusRunning}
	id, err := c.Store.StartCollection(ctx, col)
	if err != nil {
		log.Error("collection log", "err", err)
		return Result{Tenant: j.Tenant, Err: fmt.Errorf("start collection of %s: %w", j.Tenant.Name, err)}
	}
	col.ID = id

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	var requests atomic.Int64
	tctx = graph.WithRequestCounter(tctx, &requests)
	days, profiles, err := c.fetchAndSave(tctx, j)
	cancel()

	col.FinishedAt = c.now().UTC()
	col.Requests = int(requests.Load())
	col.Days, col.Controls = days, profiles
	col.Status = fleetscore.StatusOK
	if err != nil {
		col.Status = fleetscore.StatusError
		col.Error, col.Advice = Explain(err, j.ConsentURL)
		log.Warn("tenant failed", "err", col.Error, "advice", col.Advice)
	} else {
		log.Info("tenant collected", "days", days, "controls", profiles, "requests", col.Requests, "took", col.Duration().Round(time.Millisecond))
	}
	// The outcome is recorded even when the run was cancelled; if even this
	// fails, the next run marks the collection interrupted.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer fcancel()
	if ferr := c.Store.FinishCollection(fctx, col); ferr != nil {
		log.Error("collection log", "err", ferr)
		if err == nil {
			err = ferr
		}
	}
	return Result{Tenant: j.Tenant, Collection: col, Err: err}
}

// fetchAndSave reads what is new for the tenant and writes it in one batch.
func (c *Collector) fetchAndSave(ctx context.Context, j Job) (days, profiles int, err error) {
	latest, have, err := c.Store.LatestDay(ctx, j.Tenant.ID)
	if err != nil {
		return 0, 0, fmt.Errorf("read latest day: %w", err)
	}
	top := 0 // everything Graph keeps
	if have {
		// The latest stored day is fetched again: its snapshot may have been
		// updated since. One more day covers a clock that differs from Graph's.
		gap := fleetscore.DayOf(c.now()).Sub(latest) + 2
		if gap < HistoryDays {
			top = max(gap, 2)
		}
	}

	var (
		scores []fleetscore.Score
		profs  []fleetscore.ControlProfile
		perr   error
		wg     sync.WaitGroup
	)
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		profs, perr = c.Graph.ControlProfiles(pctx, j.Target)
	}()
	scores, err = c.Graph.SecureScores(ctx, j.Target, top)
	if err != nil {
		pcancel() // the tenant failed: no need to finish the profiles
	}
	wg.Wait()
	if err == nil {
		err = perr
	}
	if err != nil {
		return 0, 0, err
	}
	if have {
		// Days older than the latest stored one are history we already
		// keep; Graph's copy of them cannot improve ours.
		kept := scores[:0]
		for _, s := range scores {
			if !s.Day.Before(latest) {
				kept = append(kept, s)
			}
		}
		scores = kept
	}
	for i := range scores {
		scores[i].TenantID = j.Tenant.ID
	}
	if err := c.Store.SaveBatch(ctx, fleetscore.Batch{Tenant: j.Tenant, Scores: scores, Profiles: profs}); err != nil {
		if ctx.Err() != nil {
			return 0, 0, &graph.Error{Kind: graph.KindTimeout, Tenant: j.Tenant.ID, Msg: "the tenant's collection was stopped before its data was saved; nothing of it was written", Err: err}
		}
		return 0, 0, fmt.Errorf("save: %w", err)
	}
	return len(scores), len(profs), nil
}

// Explain turns a collection error into a one-line message and advice for
// people, with the admin-consent link where consent is the fix.
func Explain(err error, consentURL string) (msg, advice string) {
	if ge, ok := graph.AsError(err); ok {
		msg, advice = ge.Error(), ge.Advice
		if (ge.Kind == graph.KindNotConsented || ge.Kind == graph.KindNoPermission) && consentURL != "" {
			advice += ": " + consentURL
		}
		return msg, advice
	}
	if errors.Is(err, context.Canceled) {
		return "the collection was cancelled", "run collect again; it carries on where it stopped"
	}
	return err.Error(), ""
}

// SortResults orders results failed first, then by tenant name: the order a
// person reads a summary in.
func SortResults(rs []Result) {
	sort.SliceStable(rs, func(i, k int) bool {
		if (rs[i].Err != nil) != (rs[k].Err != nil) {
			return rs[i].Err != nil
		}
		return rs[i].Tenant.Name < rs[k].Tenant.Name
	})
}
