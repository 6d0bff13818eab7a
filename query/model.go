package query

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Model is the fleet model: a Source over the store that keeps what the
// fleet views read across every tenant (the tenants and their latest
// snapshots, the overview's days, the latest controls, the profile
// summaries, the live exceptions) and the views built from them (the
// overview, the action ranking, the fleet trend), built once per version
// of the store and shared by the pages, the API and the metrics. One
// tenant's history (Scores, Profiles, Collections) is read from the store
// by index, as before.
//
// Every read first asks the store for its Version (one primary-key read):
// when it moved since the model was built, by a write of this process or
// of another sharing the database, the model is built again before the
// answer, so no answer holds figures from before a write. The parts are
// built on first use, each once (single-flight): readers of a part that is
// being built wait for that build instead of starting their own, and the
// parts the previous version had in use are built again behind the first
// reader, so that those after it find them ready. A client's restricted
// view (Restrict over the model) filters the model's parts: it sees only
// its tenants. The model's Daily keeps what the fleet views read of a
// snapshot (tenant, day, points, user counts), not Microsoft's averages:
// one tenant's days with their averages are read from the store
// (TenantScores, TenantDetailView).
//
// One exception, while a collection run is in progress: a run moves the
// version with every tenant it starts and finishes, and building the
// model again for each would keep readers waiting on rebuilds all run
// long. When the model's snapshot showed a collection running and the
// version moved by the collection log alone (no exception, tenants sync or
// write through the model since), readers are answered from that snapshot
// while one rebuild runs behind them, which replaces it when done; the
// next one starts ModelOptions.Spacing after it ended. That staleness is
// bounded: once a reader has found the snapshot behind the store for
// ModelOptions.MaxLag, readers wait for a current one, as without a run.
// Writes through the model, exceptions and tenants syncs are never
// answered from before them; nor is a collection outside a run (a
// snapshot that showed none running).
type Model struct {
	Source // the store: per-tenant reads and writes pass through
	ver    fleetscore.Versioned
	local  atomic.Int64 // writes through the model itself
	cur    atomic.Pointer[snapshot]
	mu     sync.Mutex // serialises installing a snapshot
	opt    ModelOptions

	behind  atomic.Pointer[chan struct{}] // the rebuild behind the readers, closed when it ends; nil: none
	lastEnd atomic.Int64                  // when the last rebuild behind ended, Unix nanoseconds of opt.Now
	// releasing: a release of the builds' memory is due (releaseSoon).
	releasing atomic.Bool
	hooks     modelHooks
}

// ModelOptions space the model's rebuilds while a collection run is in
// progress (see Model).
type ModelOptions struct {
	Now     func() time.Time // the clock; nil: time.Now
	Spacing time.Duration    // the least time between two rebuilds behind the readers; 0: DefaultSpacing
	MaxLag  time.Duration    // how long a reader may find the snapshot behind the store; 0: DefaultMaxLag
}

// The default spacing of rebuilds during a run and the bound of the
// staleness it brings.
const (
	DefaultSpacing = 10 * time.Second
	DefaultMaxLag  = time.Minute
)

// modelHooks are what tests watch: a rebuild behind the readers started,
// and ended (installed or dropped).
type modelHooks struct {
	started func()
	ended   func(installed bool)
}

// modelMaxParts bounds how many parts one version keeps: reads with
// arguments from requests (filters, ranges) beyond it are built for the
// request and not kept.
const modelMaxParts = 256

// modelMaxDailyDays is the longest range of days the model keeps; longer
// ranges of Daily are read from the store.
const modelMaxDailyDays = 120

// NewModel returns the fleet model over src when src says its version
// (fleetscore.Versioned); otherwise src itself, read directly.
func NewModel(src Source) Source {
	return NewModelWith(src, ModelOptions{})
}

// NewModelWith is NewModel with options (zero fields take the defaults).
func NewModelWith(src Source, o ModelOptions) Source {
	if m, ok := src.(*Model); ok {
		return m
	}
	v, ok := src.(fleetscore.Versioned)
	if !ok {
		return src
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Spacing <= 0 {
		o.Spacing = DefaultSpacing
	}
	if o.MaxLag <= 0 {
		o.MaxLag = DefaultMaxLag
	}
	return &Model{Source: src, ver: v, opt: o}
}

type modelVersion struct {
	store fleetscore.Version
	local int64
}

// snapshot is the model of one version of the store.
type snapshot struct {
	v     modelVersion
	mu    sync.Mutex
	parts map[string]*part
	// running: its tenants showed a collection running (a run was in
	// progress when it was read).
	running atomic.Bool
	// behindSince is when a reader first found the store past it, Unix
	// nanoseconds of the model's clock; 0 until then.
	behindSince atomic.Int64
}

// part is one read or view of a snapshot, built once.
type part struct {
	mu    sync.Mutex
	done  bool
	val   any
	build func(ctx context.Context, src Source) (any, error)
}

// view is a snapshot as a Source: the fleet reads from its parts, the
// rest from the store.
type view struct {
	*Model
	s *snapshot
}

// snapshot returns the model of the store's current version, or during a
// run the one before it (see Model).
func (m *Model) snapshot(ctx context.Context) (*snapshot, error) {
	for {
		sv, err := m.ver.Version(ctx)
		if err != nil {
			return nil, err
		}
		v := modelVersion{store: sv, local: m.local.Load()}
		cur := m.cur.Load()
		if cur != nil && cur.v == v {
			return cur, nil
		}
		if cur != nil && m.lags(cur, v) {
			m.rebuildBehind(ctx, cur, v)
			return cur, nil
		}
		// At most one rebuild at a time: a reader that may no longer lag
		// waits for the one behind it, then looks again.
		if done := m.behind.Load(); done != nil {
			select {
			case <-*done:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return m.install(ctx, v), nil
	}
}

// install makes the snapshot of v current and builds again behind the
// reader the parts the last one had in use.
func (m *Model) install(ctx context.Context, v modelVersion) *snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.cur.Load()
	if old != nil && old.v == v {
		return old
	}
	s, warm := next(old, v)
	m.cur.Store(s)
	if len(warm) > 0 {
		go m.warm(context.WithoutCancel(ctx), s, warm, func() bool { return m.cur.Load() == s })
	}
	return s
}

// next is a snapshot of v holding, to build, the parts old had in use.
func next(old *snapshot, v modelVersion) (*snapshot, map[string]*part) {
	s := &snapshot{v: v, parts: map[string]*part{}}
	if old == nil {
		return s, nil
	}
	old.mu.Lock()
	warm := make(map[string]*part, len(old.parts))
	for k, p := range old.parts {
		warm[k] = &part{build: p.build}
	}
	old.mu.Unlock()
	for k, p := range warm {
		s.parts[k] = p
	}
	return s, warm
}

// lags reports whether readers may still be answered from cur at v: cur
// showed a run in progress, the store moved by the collection log alone,
// and no reader has found cur behind for MaxLag yet.
func (m *Model) lags(cur *snapshot, v modelVersion) bool {
	if !cur.running.Load() || v.local != cur.v.local || v.store.Changes != cur.v.store.Changes || v.store.Collections < cur.v.store.Collections {
		return false
	}
	now := m.opt.Now().UnixNano()
	cur.behindSince.CompareAndSwap(0, now)
	return time.Duration(now-cur.behindSince.Load()) < m.opt.MaxLag
}

// rebuildBehind starts building the model of v behind the readers, who
// are answered from cur meanwhile, unless a rebuild runs already or the
// last ended less than Spacing ago. The new snapshot replaces cur when
// built, unless another was installed meanwhile.
func (m *Model) rebuildBehind(ctx context.Context, cur *snapshot, v modelVersion) {
	if last := m.lastEnd.Load(); last != 0 && time.Duration(m.opt.Now().UnixNano()-last) < m.opt.Spacing {
		return
	}
	done := make(chan struct{})
	if !m.behind.CompareAndSwap(nil, &done) {
		return
	}
	if m.hooks.started != nil {
		m.hooks.started()
	}
	s, parts := next(cur, v)
	go func() {
		installed := false
		defer func() {
			m.lastEnd.Store(m.opt.Now().UnixNano())
			m.behind.Store(nil)
			close(done)
			if m.hooks.ended != nil {
				m.hooks.ended(installed)
			}
		}()
		m.warm(context.WithoutCancel(ctx), s, parts, func() bool { return m.cur.Load() == cur })
		m.mu.Lock()
		if m.cur.Load() == cur {
			m.cur.Store(s)
			installed = true
		}
		m.mu.Unlock()
	}()
}

// warm builds parts of s in the background, one at a time, while keep
// says so.
func (m *Model) warm(ctx context.Context, s *snapshot, parts map[string]*part, keep func() bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// The raw reads first: the views are built from them.
	keys := make([]string, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := a[0] == '.', b[0] == '.'; ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return 0
	})
	for _, k := range keys {
		if !keep() {
			return
		}
		_, _ = parts[k].get(ctx, view{m, s}) // a failure is the next reader's to see
	}
	m.releaseSoon()
}

func (p *part) get(ctx context.Context, src Source) (any, error) {
	v, _, err := p.getBuilt(ctx, src)
	return v, err
}

// getBuilt is get, and whether this call built the part.
func (p *part) getBuilt(ctx context.Context, src Source) (any, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return p.val, false, nil
	}
	v, err := p.build(ctx, src)
	if err != nil {
		return nil, false, err // not kept: the next reader tries again
	}
	p.val, p.done = v, true
	return v, true, nil
}

func memoIn[T any](ctx context.Context, v view, key string, build func(ctx context.Context, src Source) (T, error)) (T, error) {
	var zero T
	v.s.mu.Lock()
	p := v.s.parts[key]
	if p == nil {
		if len(v.s.parts) >= modelMaxParts {
			v.s.mu.Unlock()
			return build(ctx, v)
		}
		p = &part{build: func(ctx context.Context, src Source) (any, error) { return build(ctx, src) }}
		v.s.parts[key] = p
	}
	v.s.mu.Unlock()
	x, built, err := p.getBuilt(ctx, v)
	if err != nil {
		return zero, err
	}
	if built && key[0] == '.' {
		// The read's garbage (the store's answer, several times the
		// compact part kept) is collected before the next raw read adds
		// its own: the build's peak is then the model and one answer,
		// not the model and every answer (at 1,000 tenants x 1,095 days
		// the warm-up's peak RSS was the server's highest).
		runtime.GC()
		v.Model.releaseSoon()
	}
	return x.(T), nil
}

// releaseDelay is how long after the last raw read of the fleet was
// built the model hands the memory its build used back to the OS.
const releaseDelay = time.Second

// releaseSoon returns the garbage of the fleet's raw reads to the OS
// (debug.FreeOSMemory) once they stop: reading every tenant's latest
// controls and profiles takes two or three times the heap
// the model keeps (at 1,000 tenants x 1,095 days, 150 MB for 60), and
// the Go runtime would otherwise keep that resident for minutes. Once
// per version of the store, after its reads: one forced GC, about 50 ms.
func (m *Model) releaseSoon() {
	if !m.releasing.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(releaseDelay, func() {
		m.releasing.Store(false)
		debug.FreeOSMemory()
	})
}

// modelOf returns the model's current view when src is a model.
func modelOf(ctx context.Context, src Source) (view, bool, error) {
	switch m := src.(type) {
	case *Model:
		s, err := m.snapshot(ctx)
		return view{m, s}, err == nil, err
	case view:
		return m, true, nil
	}
	return view{}, false, nil
}

// viewMemo is memoIn when src is a model (or one of its views); otherwise
// build(src) each time.
func viewMemo[T any](ctx context.Context, src Source, key string, build func(ctx context.Context, src Source) (T, error)) (T, error) {
	v, ok, err := modelOf(ctx, src)
	if err != nil {
		var zero T
		return zero, err
	}
	if !ok {
		return build(ctx, src)
	}
	return memoIn(ctx, v, key, build)
}

// Raw reads: the keys start with "." (warm builds them first). A part's
// build reads the store through the model it is given, never through the
// snapshot it was first made for: warm hands the builds of one version's
// parts to the next, which must not keep the older version alive.

func (v view) Tenants(ctx context.Context) ([]fleetscore.TenantStatus, error) {
	ts, err := sharedTenants(ctx, v)
	// A copy: callers may sort or filter it.
	return slices.Clone(ts), err
}

// store is the model's store under src, a view of the model.
func store(src Source) Source { return src.(view).Model.Source }

// sharedTenants is src.Tenants, the model's own slice (not a copy) when src
// is a view of the model: the caller may not change it.
func sharedTenants(ctx context.Context, src Source) ([]fleetscore.TenantStatus, error) {
	v, ok := src.(view)
	if !ok {
		return src.Tenants(ctx)
	}
	return memoIn(ctx, v, ".tenants", func(ctx context.Context, src Source) ([]fleetscore.TenantStatus, error) {
		ts, err := store(src).Tenants(ctx)
		running := false
		for _, t := range ts {
			running = running || t.LastCollection != nil && t.LastCollection.Status == fleetscore.StatusRunning
		}
		src.(view).s.running.Store(running)
		return ts, err
	})
}

func (v view) Daily(ctx context.Context, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	if from.IsZero() || (!to.IsZero() && to.Sub(from) > modelMaxDailyDays) || (to.IsZero() && v.s.newestDay(ctx, v).Sub(from) > modelMaxDailyDays) {
		return v.Model.Source.Daily(ctx, from, to)
	}
	c, err := memoIn(ctx, v, fmt.Sprintf(".daily/%s/%s", from, to), func(ctx context.Context, src Source) (*compactDays, error) {
		all, err := store(src).Daily(ctx, from, to)
		if err != nil {
			return nil, err
		}
		ts, err := sharedTenants(ctx, src)
		if err != nil {
			return nil, err
		}
		return compactDaily(all, ts), nil
	})
	if err != nil {
		return nil, err
	}
	return c.scores(), nil
}

// compactDays is what the model keeps of Daily: the fleet views read a
// day's tenant, day and points only, so each snapshot keeps those and the
// user counts, 40 bytes a day where a fleetscore.Score takes 120, with the
// tenant's ID shared with the model's tenants, and without Microsoft's
// averages (a map each; one tenant's days with their averages are read
// from the store). Daily hands out the days as Scores, new each call.
type compactDays struct {
	ids  []string // the tenants' IDs, by dayPoint.tenant
	days []dayPoint
}

type dayPoint struct {
	tenant, day                        int32 // in ids; fleetscore.Day.Unix
	current, max                       float64
	activeUserCount, licensedUserCount int64
}

func compactDaily(all []fleetscore.Score, ts []fleetscore.TenantStatus) *compactDays {
	c := &compactDays{days: make([]dayPoint, len(all))}
	var ids positions[string]
	for _, t := range ts {
		ids.of(t.ID) // the model's tenants' IDs, shared
	}
	for i, s := range all {
		c.days[i] = dayPoint{tenant: ids.of(s.TenantID), day: int32(s.Day.Unix()), current: s.CurrentScore, max: s.MaxScore,
			activeUserCount: int64(s.ActiveUserCount), licensedUserCount: int64(s.LicensedUserCount)}
	}
	c.ids = ids.vals
	return c
}

// scores are the days as Scores (Daily's answer), in one new array.
func (c *compactDays) scores() []fleetscore.Score {
	out := make([]fleetscore.Score, len(c.days))
	for i, d := range c.days {
		out[i] = fleetscore.Score{TenantID: c.ids[d.tenant], Day: fleetscore.DayFromUnix(int64(d.day)), CurrentScore: d.current,
			MaxScore: d.max, ActiveUserCount: int(d.activeUserCount), LicensedUserCount: int(d.licensedUserCount)}
	}
	return out
}

// newestDay is the newest latest day of any tenant (zero without one).
func (s *snapshot) newestDay(ctx context.Context, v view) fleetscore.Day {
	ts, err := sharedTenants(ctx, v)
	if err != nil {
		return fleetscore.Day{}
	}
	return newestOf(ts)
}

// newestOf is the newest latest day of the tenants (zero without one).
func newestOf(ts []fleetscore.TenantStatus) fleetscore.Day {
	var d fleetscore.Day
	for _, t := range ts {
		if t.Latest != nil && t.Latest.Day.After(d) {
			d = t.Latest.Day
		}
	}
	return d
}

// LatestControls is the store's, from the model's compact form (see
// latest): new slices each call. The fleet views read the compact form.
func (v view) LatestControls(ctx context.Context) (map[string][]fleetscore.ControlScore, error) {
	l, err := v.latest(ctx)
	if err != nil {
		return nil, err
	}
	return l.expand(), nil
}

// latest is the model's latest controls in their compact form.
func (v view) latest(ctx context.Context) (*latest, error) {
	return memoIn(ctx, v, ".latest-controls", func(ctx context.Context, src Source) (*latest, error) {
		all, err := store(src).LatestControls(ctx)
		if err != nil {
			return nil, err
		}
		return compactLatest(all), nil
	})
}

// ProfileSummaries is the store's, from the model's compact form (see
// summary): new slices each call. The fleet views read the compact form.
func (v view) ProfileSummaries(ctx context.Context) (map[string][]fleetscore.ControlProfile, error) {
	c, err := v.summaries(ctx)
	if err != nil {
		return nil, err
	}
	return expandSummaries(c), nil
}

// summaries is the model's profile summaries in their compact form.
func (v view) summaries(ctx context.Context) (map[string][]summary, error) {
	return memoIn(ctx, v, ".profile-summaries", func(ctx context.Context, src Source) (map[string][]summary, error) {
		return readSummaries(ctx, store(src))
	})
}

// RecentScores and RecentChanges are read from the store, not kept: the
// views built from them (the overview's "moved" list, GET /api/v1/changes)
// are kept instead, and the days with every control they hold were the
// model's largest part (19 MB at 1,000 tenants) for one or two builds a
// version.
func (v view) RecentScores(ctx context.Context, n int) (map[string][]fleetscore.Score, error) {
	return v.Model.Source.RecentScores(ctx, n)
}

func (v view) RecentChanges(ctx context.Context, n int) (map[string][]fleetscore.Score, map[string][]fleetscore.ControlProfile, error) {
	return v.Model.Source.RecentChanges(ctx, n)
}

func (v view) ExceptedControls(ctx context.Context) (map[string]map[string]string, error) {
	return memoIn(ctx, v, ".excepted", func(ctx context.Context, src Source) (map[string]map[string]string, error) {
		return excepted(ctx, store(src))
	})
}

// The model's own reads are those of its current snapshot.

func (m *Model) view(ctx context.Context) (view, error) {
	s, err := m.snapshot(ctx)
	return view{m, s}, err
}

func (m *Model) Tenants(ctx context.Context) ([]fleetscore.TenantStatus, error) {
	v, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	return v.Tenants(ctx)
}

func (m *Model) Daily(ctx context.Context, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	v, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	return v.Daily(ctx, from, to)
}

func (m *Model) LatestControls(ctx context.Context) (map[string][]fleetscore.ControlScore, error) {
	v, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	return v.LatestControls(ctx)
}

func (m *Model) ProfileSummaries(ctx context.Context) (map[string][]fleetscore.ControlProfile, error) {
	v, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	return v.ProfileSummaries(ctx)
}

func (m *Model) RecentScores(ctx context.Context, n int) (map[string][]fleetscore.Score, error) {
	v, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	return v.RecentScores(ctx, n)
}

func (m *Model) RecentChanges(ctx context.Context, n int) (map[string][]fleetscore.Score, map[string][]fleetscore.ControlProfile, error) {
	v, err := m.view(ctx)
	if err != nil {
		return nil, nil, err
	}
	return v.RecentChanges(ctx, n)
}

// ExceptedControls are the store's live exceptions (none when the store
// keeps none).
func (m *Model) ExceptedControls(ctx context.Context) (map[string]map[string]string, error) {
	v, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	return v.ExceptedControls(ctx)
}

// TenantDaily is the store's, or its Scores when it has none.
func (m *Model) TenantDaily(ctx context.Context, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	return tenantDaily(ctx, m.Source, tenantID, from, to)
}

// Writes through the model pass to the store and move the model's own
// version: the next read builds the model again.

func (m *Model) SyncTenants(ctx context.Context, ts []fleetscore.Tenant) error {
	defer m.local.Add(1)
	return m.Source.SyncTenants(ctx, ts)
}

func (m *Model) SaveBatch(ctx context.Context, b fleetscore.Batch) error {
	defer m.local.Add(1)
	return m.Source.SaveBatch(ctx, b)
}

func (m *Model) StartCollection(ctx context.Context, c fleetscore.Collection) (int64, error) {
	defer m.local.Add(1)
	return m.Source.StartCollection(ctx, c)
}

func (m *Model) FinishCollection(ctx context.Context, c fleetscore.Collection) error {
	defer m.local.Add(1)
	return m.Source.FinishCollection(ctx, c)
}

// Invalidate drops the model: the next read builds it again. Writes the
// store's Version sees need no call; this is for those it does not.
func (m *Model) Invalidate() { m.local.Add(1) }

// Version is the store's version.
func (m *Model) Version(ctx context.Context) (fleetscore.Version, error) { return m.ver.Version(ctx) }

// Memo is build's result kept in the fleet model under key while the
// store's version stands, when src is the model; otherwise build(src).
// For what is built from the model's views only (the server keeps its
// encoded fleet-wide answers so), and never for a restricted source's: a
// key names one answer for everyone who reads it. A build that fails is
// not kept.
func Memo[T any](ctx context.Context, src Source, key string, build func(ctx context.Context, src Source) (T, error)) (T, error) {
	return viewMemo(ctx, src, "memo/"+key, build)
}
