package query

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Model is the fleet model: a Source over the store that keeps what the
// fleet views read across every tenant (the tenants and their latest
// snapshots, the overview's days, the latest controls, the profile
// summaries, the live exceptions, the change ledger's recent days) and the
// views built from them (the overview, the action ranking, the fleet
// trend), built once per version of the store and shared by the pages,
// the API and the metrics. One tenant's history (Scores, Profiles,
// Collections) is read from the store by index, as before.
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
// its tenants.
type Model struct {
	Source // the store: per-tenant reads and writes pass through
	ver    fleetscore.Versioned
	local  atomic.Int64 // writes through the model itself
	cur    atomic.Pointer[snapshot]
	mu     sync.Mutex // serialises installing a snapshot
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
	if m, ok := src.(*Model); ok {
		return m
	}
	v, ok := src.(fleetscore.Versioned)
	if !ok {
		return src
	}
	return &Model{Source: src, ver: v}
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

// snapshot returns the model of the store's current version.
func (m *Model) snapshot(ctx context.Context) (*snapshot, error) {
	sv, err := m.ver.Version(ctx)
	if err != nil {
		return nil, err
	}
	v := modelVersion{store: sv, local: m.local.Load()}
	if cur := m.cur.Load(); cur != nil && cur.v == v {
		return cur, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.cur.Load()
	if old != nil && old.v == v {
		return old, nil
	}
	s := &snapshot{v: v, parts: map[string]*part{}}
	m.cur.Store(s)
	if old != nil {
		// Build again behind this reader what the last version had in use.
		old.mu.Lock()
		warm := make(map[string]*part, len(old.parts))
		for k, p := range old.parts {
			warm[k] = &part{build: p.build}
		}
		old.mu.Unlock()
		s.mu.Lock()
		for k, p := range warm {
			s.parts[k] = p
		}
		s.mu.Unlock()
		go m.warm(context.WithoutCancel(ctx), s, warm)
	}
	return s, nil
}

// warm builds parts of s in the background, one at a time, unless s is no
// longer current.
func (m *Model) warm(ctx context.Context, s *snapshot, parts map[string]*part) {
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
		if m.cur.Load() != s {
			return
		}
		_, _ = parts[k].get(ctx, view{m, s}) // a failure is the next reader's to see
	}
}

func (p *part) get(ctx context.Context, src Source) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return p.val, nil
	}
	v, err := p.build(ctx, src)
	if err != nil {
		return nil, err // not kept: the next reader tries again
	}
	p.val, p.done = v, true
	return v, nil
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
	x, err := p.get(ctx, v)
	if err != nil {
		return zero, err
	}
	return x.(T), nil
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
		return store(src).Tenants(ctx)
	})
}

func (v view) Daily(ctx context.Context, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	if from.IsZero() || (!to.IsZero() && to.Sub(from) > modelMaxDailyDays) || (to.IsZero() && v.s.newestDay(ctx, v).Sub(from) > modelMaxDailyDays) {
		return v.Model.Source.Daily(ctx, from, to)
	}
	return memoIn(ctx, v, fmt.Sprintf(".daily/%s/%s", from, to), func(ctx context.Context, src Source) ([]fleetscore.Score, error) {
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
}

// compactDaily is what the model keeps of Daily: the fleet views read a
// day's tenant, day and points only, so each snapshot keeps those (and the
// user counts) in one shared array, with the tenant's ID shared with the
// model's tenants, and without Microsoft's averages (a map each; one
// tenant's days with their averages are read from the store).
func compactDaily(all []fleetscore.Score, ts []fleetscore.TenantStatus) []fleetscore.Score {
	ids := make(map[string]string, len(ts))
	for _, t := range ts {
		ids[t.ID] = t.ID
	}
	out := make([]fleetscore.Score, len(all))
	for i, s := range all {
		id, ok := ids[s.TenantID]
		if !ok {
			id = s.TenantID
			ids[id] = id
		}
		out[i] = fleetscore.Score{TenantID: id, Day: s.Day, CurrentScore: s.CurrentScore, MaxScore: s.MaxScore,
			ActiveUserCount: s.ActiveUserCount, LicensedUserCount: s.LicensedUserCount}
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

func (v view) LatestControls(ctx context.Context) (map[string][]fleetscore.ControlScore, error) {
	return memoIn(ctx, v, ".latest-controls", func(ctx context.Context, src Source) (map[string][]fleetscore.ControlScore, error) {
		return store(src).LatestControls(ctx)
	})
}

func (v view) ProfileSummaries(ctx context.Context) (map[string][]fleetscore.ControlProfile, error) {
	return memoIn(ctx, v, ".profile-summaries", func(ctx context.Context, src Source) (map[string][]fleetscore.ControlProfile, error) {
		return store(src).ProfileSummaries(ctx)
	})
}

func (v view) RecentScores(ctx context.Context, n int) (map[string][]fleetscore.Score, error) {
	return memoIn(ctx, v, fmt.Sprintf(".recent-scores/%d", n), func(ctx context.Context, src Source) (map[string][]fleetscore.Score, error) {
		return store(src).RecentScores(ctx, n)
	})
}

type recentChanges struct {
	scores   map[string][]fleetscore.Score
	profiles map[string][]fleetscore.ControlProfile
}

func (v view) RecentChanges(ctx context.Context, n int) (map[string][]fleetscore.Score, map[string][]fleetscore.ControlProfile, error) {
	rc, err := memoIn(ctx, v, fmt.Sprintf(".recent-changes/%d", n), func(ctx context.Context, src Source) (recentChanges, error) {
		s, p, err := store(src).RecentChanges(ctx, n)
		return recentChanges{s, p}, err
	})
	return rc.scores, rc.profiles, err
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
