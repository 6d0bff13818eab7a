// Package collect runs one collection over every client tenant: it reads each
// tenant's new Secure Score days and its control profiles from Graph, and
// writes them to the store in one transaction per tenant. Tenants run
// concurrently up to a bound; one tenant's failure is recorded with advice
// and never stops the others.
//
// Several instances sharing one database share the collection through a
// Claimer: each tenant's day goes to the instance that claims it, under a
// lease the instance renews while it works and that expires if it dies, so
// that another instance takes the tenant over.
package collect

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/internal/redact"
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

// Claimer hands each tenant's collection of a day to exactly one instance.
// The stores implement it (sqlite.Store, postgres.Store).
type Claimer interface {
	// Claim gives owner the tenant's day for ttl and reports whether it did:
	// yes when the day is free, already owner's (the lease is renewed), or
	// its previous owner's lease expired or was released; no when another
	// owner holds a live lease or the day is done.
	Claim(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ttl time.Duration) (bool, error)
	// Done ends owner's claim: the day is done when ok, released for anyone
	// to take at once otherwise. It fails when owner no longer holds it.
	Done(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ok bool) error
	// Pending lists which of the tenants' claims of day are not done: held
	// by an owner at work, expired (the owner died), or released (it failed,
	// or was stopped).
	Pending(ctx context.Context, day fleetscore.Day, tenantIDs []string) ([]string, error)
}

// DefaultLeaseTTL is how long a claim lasts unless renewed: how long the
// tenants of an instance that died wait before another takes them over.
const DefaultLeaseTTL = time.Minute

// errLeaseLost is the cause of a tenant's collection stopped because its
// claim expired and another instance took the tenant over.
var errLeaseLost = errors.New("another instance took the tenant over: this instance's claim of it expired")

// Job is one tenant to collect.
type Job struct {
	Tenant     fleetscore.Tenant
	Target     graph.Target
	ConsentURL string // the admin-consent link shown when consent is missing
}

// Collector collects tenants into a store.
type Collector struct {
	Store fleetscore.Store
	Graph Reader
	// Concurrency is how many tenants read Graph at once (as many more
	// may be writing what they read to the store); default 8.
	Concurrency int
	Timeout     time.Duration // each tenant's deadline; default 5 min
	Logger      *slog.Logger
	Now         func() time.Time
	// Progress, when set, is called as each tenant finishes.
	Progress func(Result)

	// Claims, when set, shares the collection with the other instances
	// using the same claims (the same database): a tenant is collected by
	// the instance that claims its day (the UTC day of Now when the run
	// starts), and skipped by the others. A tenant's day is then collected
	// once: a later run the same day, by any instance, skips it (a failed
	// tenant is tried again). Nil: this instance collects every tenant at
	// every run, as a single collector does.
	Claims Claimer
	// Owner names this instance in its claims; default: the host name, the
	// process ID and a random suffix.
	Owner string
	// LeaseTTL is how long a claim lasts without renewal; it is renewed
	// every third of it while the tenant runs. Default DefaultLeaseTTL.
	LeaseTTL time.Duration

	// Archive, when set, receives each saved day's raw snapshot. A failure
	// is reported in Result.ArchiveErr and, when the store keeps an
	// ArchiveBacklog, retried at the next run; it never fails the tenant.
	Archive Archive
	// Scrub removes the configured secrets from every error the collector
	// records, logs or returns; nil removes nothing.
	Scrub *redact.Scrubber
	// Observer, when set, hears of each tenant collection this collector
	// ran, as it is logged (serve's metrics count them).
	Observer Observer
}

// Observer hears of each tenant collection a Collector ran: its status as
// the collection log records it (fleetscore.StatusOK or StatusError) and
// how long it took by the Collector's clock. A tenant claimed by another
// instance, or not started, is no collection of this one.
type Observer interface {
	Collected(status string, took time.Duration)
}

// Result is the outcome of one tenant's collection.
type Result struct {
	Tenant     fleetscore.Tenant
	Collection fleetscore.Collection
	Err        error // nil when the tenant was collected
	// ClaimedElsewhere is set when, with Claims, another instance holds the
	// tenant's day, or it is done already, or another took it over while
	// this one ran: this instance did not collect it, and that is no error.
	ClaimedElsewhere bool
	// ArchiveErr says which days could not be archived (the tenant was
	// still collected and saved).
	ArchiveErr error
	// Backfill is set when the run wrote the tenant's history in full: it
	// had no stored day before (its first collection), or none within
	// HistoryDays. The alerts take its days as a baseline, not as news.
	Backfill bool
}

// Summary is the outcome of a whole run.
type Summary struct {
	Results  []Result // in the order of the jobs
	OK       int
	Failed   int
	Skipped  int // not started because the run was cancelled
	Days     int
	Duration time.Duration

	// ClaimedElsewhere counts the tenants another instance collects or
	// collected today (only with Claims): neither collected nor failed here.
	ClaimedElsewhere int
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
// is cancelled, when the running ones have stopped). With Claims, it returns
// once every tenant's day is done by some instance or was tried by this
// one: the tenants of an instance that died are taken over when its leases
// expire, those of one that stopped or failed them at once.
func (c *Collector) Run(ctx context.Context, jobs []Job) Summary {
	start := c.now()
	day, owner := fleetscore.DayOf(start), c.Owner
	if owner == "" {
		owner = defaultOwner()
	}
	sum := Summary{Results: make([]Result, len(jobs))}
	all := make([]int, len(jobs))
	for i := range all {
		all[i] = i
	}
	c.pass(ctx, jobs, all, day, owner, sum.Results)
	if c.Claims != nil {
		c.takeOver(ctx, jobs, day, owner, sum.Results)
		// Reported now, once: a tenant claimed elsewhere may have been
		// taken over since.
		for _, r := range sum.Results {
			if r.ClaimedElsewhere && c.Progress != nil {
				c.Progress(r)
			}
		}
	}
	for _, r := range sum.Results {
		switch {
		case r.ClaimedElsewhere:
			sum.ClaimedElsewhere++
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

// pass collects the jobs of the given indexes, Concurrency reading Graph at
// a time (see stage), into results. Progress hears of each, except those
// claimed elsewhere, which Run reports at the end.
func (c *Collector) pass(ctx context.Context, jobs []Job, indexes []int, day fleetscore.Day, owner string, results []Result) {
	conc := c.Concurrency
	if conc <= 0 {
		conc = 8
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)   // tenants reading Graph
	saves := make(chan struct{}, conc) // tenants writing what they read
	for _, i := range indexes {
		j := jobs[i]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			results[i] = Result{Tenant: j.Tenant, Err: fmt.Errorf("not started: %w", ctx.Err())}
			continue
		}
		wg.Add(1)
		st := &stage{read: sem, save: saves}
		go func() {
			defer wg.Done()
			defer st.done()
			r := c.one(withStage(ctx, st), j, day, owner)
			results[i] = r
			if c.Progress != nil && !r.ClaimedElsewhere {
				c.Progress(r)
			}
		}()
	}
	wg.Wait()
}

// stage is where a tenant of a pass is: reading Graph, holding one of the
// Concurrency read slots, then writing what it read, holding a save slot
// instead. A tenant's writes to the store (and the archive) do not keep
// another tenant from reading Graph: with Graph's latency, most of a
// tenant's time is waiting for its answers, and the store's single writer
// would otherwise idle a read slot for every tenant queued at it. At most
// Concurrency tenants are at each stage, so a pass holds at most twice
// Concurrency tenants' data.
type stage struct {
	read, save chan struct{}
	mu         sync.Mutex
	at         int // reading, saving or finished
}

const (
	reading = iota
	saving
	finished
)

type stageKey struct{}

func withStage(ctx context.Context, st *stage) context.Context {
	return context.WithValue(ctx, stageKey{}, st)
}

// toSave moves the tenant of ctx from reading Graph to saving: it takes a
// save slot (waiting for one, unless ctx ends), then gives its read slot
// to the next tenant. It does nothing outside a pass, or past reading.
func toSave(ctx context.Context) {
	st, _ := ctx.Value(stageKey{}).(*stage)
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.at != reading {
		return
	}
	select {
	case st.save <- struct{}{}:
	case <-ctx.Done():
		return // it keeps its read slot until done
	}
	<-st.read
	st.at = saving
}

// done gives back the slot the tenant holds.
func (st *stage) done() {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch st.at {
	case reading:
		<-st.read
	case saving:
		<-st.save
	}
	st.at = finished
}

// takeOver waits for the tenants claimed elsewhere whose day is not done,
// trying to claim them again as it polls: a live instance finishes them, a
// dead one's leases expire, a released claim (its tenant failed, or its
// instance stopped) is free at once; a tenant this instance then collects
// or fails leaves the wait, so each instance tries a tenant at most once a
// run. It gives up when nothing has moved for longer than a tenant may take
// plus two leases, or when ctx ends.
func (c *Collector) takeOver(ctx context.Context, jobs []Job, day fleetscore.Day, owner string, results []Result) {
	ttl, timeout := c.LeaseTTL, c.Timeout
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	poll := min(ttl/4, time.Second)
	log := c.logger()
	lastPending, moved := -1, time.Now()
	for {
		var ids []string
		index := map[string]int{}
		for i, r := range results {
			if r.ClaimedElsewhere {
				ids = append(ids, jobs[i].Tenant.ID)
				index[jobs[i].Tenant.ID] = i
			}
		}
		if len(ids) == 0 {
			return
		}
		pending, err := c.Claims.Pending(ctx, day, ids)
		if err != nil {
			log.Error("claims pending at other instances", "err", err)
			return
		}
		if len(pending) == 0 {
			return
		}
		if len(pending) != lastPending {
			lastPending, moved = len(pending), time.Now()
		} else if time.Since(moved) > timeout+2*ttl {
			log.Warn("tenants still pending at other instances; left for the next run", "tenants", len(pending))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
		var again []int
		for _, id := range pending {
			if i, ok := index[id]; ok {
				again = append(again, i)
			}
		}
		c.pass(ctx, jobs, again, day, owner, results)
	}
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

// defaultOwner names this process in claims: unique among instances, and
// telling an operator which machine and process holds a tenant.
var defaultOwner = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
})

// one collects one tenant and records the outcome in the collection log.
// With Claims, it first claims the tenant's day (skipping the tenant when
// another instance has it), holds the claim while it works, and ends it
// after the outcome is logged: done when collected, released when not, so
// that another instance may try.
func (c *Collector) one(ctx context.Context, j Job, day fleetscore.Day, owner string) Result {
	log := c.logger().With("tenant", j.Tenant.Name, "tenant_id", j.Tenant.ID)
	if c.Claims == nil {
		return c.collect(ctx, j, nil, log)
	}
	l := &lease{claims: c.Claims, tenant: j.Tenant.ID, day: day, owner: owner, ttl: c.LeaseTTL, log: log}
	if l.ttl <= 0 {
		l.ttl = DefaultLeaseTTL
	}
	got, err := c.Claims.Claim(ctx, j.Tenant.ID, day, owner, l.ttl)
	if err != nil {
		log.Error("claim", "err", err)
		return Result{Tenant: j.Tenant, Err: fmt.Errorf("claim %s of %s: %w", day, j.Tenant.Name, err)}
	}
	if !got {
		log.Debug("claimed by another instance", "day", day)
		return Result{Tenant: j.Tenant, ClaimedElsewhere: true}
	}
	hctx, stop := l.hold(ctx)
	res := c.collect(hctx, j, l, log)
	lost := leaseLost(hctx, res.Err)
	stop()
	if lost {
		return Result{Tenant: j.Tenant, Collection: res.Collection, ClaimedElsewhere: true}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.Claims.Done(dctx, j.Tenant.ID, day, owner, res.Err == nil); err != nil {
		log.Error("end claim", "err", err)
		if res.Err == nil {
			res.Err = fmt.Errorf("end claim %s of %s: %w", day, j.Tenant.Name, err)
		}
	}
	return res
}

// leaseLost reports whether a tenant's work stopped because another
// instance took the tenant over.
func leaseLost(ctx context.Context, err error) bool {
	return context.Cause(ctx) == errLeaseLost || errors.Is(err, errLeaseLost)
}

// collect collects one tenant and records the outcome in the collection log.
func (c *Collector) collect(ctx context.Context, j Job, l *lease, log *slog.Logger) Result {
	col := fleetscore.Collection{TenantID: j.Tenant.ID, StartedAt: c.now().UTC(), Status: fleetscore.StatusRunning}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var requests atomic.Int64
	tctx = graph.WithRequestCounter(tctx, &requests)
	// The profiles do not depend on what the store holds: their pages
	// (the longer chain of requests) are read while the store is. The
	// collection log's start, a write queued at the store's one writer, is
	// made meanwhile too; nothing is saved before it is.
	profs := c.startProfiles(tctx, j)
	defer profs.stop()
	var id int64
	startErr := make(chan error, 1)
	go func(col fleetscore.Collection) {
		var err error
		id, err = c.Store.StartCollection(ctx, col)
		startErr <- err
	}(col)
	var startOnce sync.Once
	var serr error
	logged := func() error {
		startOnce.Do(func() { serr = <-startErr })
		return serr
	}

	days, profiles, backfill, archErr, err := c.fetchAndSave(tctx, j, l, profs, logged)
	cancel()
	if err := logged(); err != nil {
		log.Error("collection log", "err", err)
		return Result{Tenant: j.Tenant, Err: fmt.Errorf("start collection of %s: %w", j.Tenant.Name, err)}
	}
	col.ID = id
	toSave(ctx) // a failed tenant, too, writes its outcome out of Graph's way
	archErr = c.Scrub.Error(archErr)
	if archErr != nil {
		log.Warn("archive", "err", archErr)
	}

	col.FinishedAt = c.now().UTC()
	col.Requests = int(requests.Load())
	col.Days, col.Controls = days, profiles
	col.Status = fleetscore.StatusOK
	if err != nil {
		col.Status = fleetscore.StatusError
		col.Error, col.Advice = Explain(err, j.ConsentURL)
		if leaseLost(ctx, err) {
			col.Error, col.Advice = errLeaseLost.Error(), "nothing to do: the other instance collects it"
		}
		// An upstream may echo a secret (a token endpoint quoting the
		// client secret): none is stored, logged or passed on.
		col.Error, col.Advice = c.Scrub.String(col.Error), c.Scrub.String(col.Advice)
		err = c.Scrub.Error(err)
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
	if c.Observer != nil {
		status := col.Status
		if err != nil {
			status = fleetscore.StatusError // as the run's Summary counts it
		}
		c.Observer.Collected(status, col.Duration())
	}
	return Result{Tenant: j.Tenant, Collection: col, Err: err, ArchiveErr: archErr, Backfill: backfill && days > 0}
}

// fetchAndSave reads what is new for the tenant and writes it in one batch.
// With a lease, the claim is renewed just before the write: an instance
// whose claim was taken over does not write. The profiles are pf, read
// already; logged waits for the collection log's start, which must have
// been written before the batch is.
func (c *Collector) fetchAndSave(ctx context.Context, j Job, l *lease, pf *profileFetch, logged func() error) (days, profiles int, backfill bool, archErr, err error) {
	defer pf.stop() // when the tenant fails before it waits for them
	latest, have, err := c.Store.LatestDay(ctx, j.Tenant.ID)
	if err != nil {
		return 0, 0, false, nil, fmt.Errorf("read latest day: %w", err)
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

	backfill = top == 0
	ctx, top, plan, err := c.planArchive(ctx, j, top)
	if err != nil {
		return 0, 0, false, nil, fmt.Errorf("read the archive backlog: %w", err)
	}

	scores, err := c.Graph.SecureScores(ctx, j.Target, top)
	if err != nil {
		return 0, 0, false, nil, err // the deferred stop: no need to finish the profiles
	}
	profs, err := pf.wait()
	if err != nil {
		return 0, 0, false, nil, err
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
	// An impossible snapshot (500 of 100 points, negative, not a number)
	// is refused on its own: the tenant's good days are still written.
	scores, profs, refused := refuseImpossible(scores, profs)
	toSave(ctx)
	if err := logged(); err != nil {
		return 0, 0, false, nil, err // collect reports it
	}
	if l != nil {
		if err := l.renew(ctx); err != nil {
			return 0, 0, false, nil, fmt.Errorf("renew the claim before saving: %w", err)
		}
	}
	if err := c.Store.SaveBatch(ctx, fleetscore.Batch{Tenant: j.Tenant, Scores: scores, Profiles: profs}); err != nil {
		if ctx.Err() != nil {
			return 0, 0, false, nil, &graph.Error{Kind: graph.KindTimeout, Tenant: j.Tenant.ID, Msg: "the tenant's collection was stopped before its data was saved; nothing of it was written", Err: err}
		}
		return 0, 0, false, nil, fmt.Errorf("save: %w", err)
	}
	archErr = c.archive(ctx, j, plan, scores)
	if len(refused) > 0 {
		return len(scores), len(profs), backfill, archErr, refusedError(j.Tenant.ID, refused, len(scores))
	}
	return len(scores), len(profs), backfill, archErr, nil
}

// profileFetch is a tenant's control profiles being read.
type profileFetch struct {
	done   chan struct{}
	cancel context.CancelFunc
	profs  []fleetscore.ControlProfile
	err    error
}

func (c *Collector) startProfiles(ctx context.Context, j Job) *profileFetch {
	ctx, cancel := context.WithCancel(ctx)
	f := &profileFetch{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(f.done)
		f.profs, f.err = c.Graph.ControlProfiles(ctx, j.Target)
	}()
	return f
}

// wait returns the profiles once read.
func (f *profileFetch) wait() ([]fleetscore.ControlProfile, error) {
	<-f.done
	return f.profs, f.err
}

// stop cancels the reading, if it still runs, and waits for it to end.
func (f *profileFetch) stop() {
	f.cancel()
	<-f.done
}

// refuseImpossible drops the snapshots fleetscore.Score.Check refuses, and
// all the profiles when one of them is impossible (nil keeps the stored
// ones, so a bad list never replaces a good one).
func refuseImpossible(scores []fleetscore.Score, profs []fleetscore.ControlProfile) ([]fleetscore.Score, []fleetscore.ControlProfile, []error) {
	var refused []error
	kept := scores[:0]
	for _, s := range scores {
		if err := s.Check(); err != nil {
			refused = append(refused, err)
			continue
		}
		kept = append(kept, s)
	}
	for _, p := range profs {
		if err := p.Check(); err != nil {
			refused = append(refused, fmt.Errorf("%w: the tenant's recommended actions were left as they were", err))
			profs = nil
			break
		}
	}
	return kept, profs, refused
}

// refusedError is the collection's error when some of what Graph sent was
// refused: it names each refused day; the good ones were written.
func refusedError(tenant string, refused []error, kept int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Graph sent impossible values, refused and not stored: ")
	for i, err := range refused {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(refused)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	fmt.Fprintf(&b, "; the other %d days were written", kept)
	return &graph.Error{Kind: graph.KindMalformed, Tenant: tenant, Msg: b.String(),
		Advice: "Microsoft's data for those days is wrong; the next run asks for them again, and if it persists, open a case with Microsoft support"}
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
