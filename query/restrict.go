package query

import (
	"context"
	"errors"
	"fmt"

	"sort"
	"strings"

	"github.com/fleetscore/fleetscore"
)

// Restrict returns a read-only Source that shows only the given tenants:
// lists leave the others out and reads of another tenant answer
// fleetscore.ErrNotFound, exactly as for a tenant that does not exist. A
// client's pages, API answers and CSV files are all built from such a
// source, so none of them can show another client's data.
func Restrict(src Source, tenantIDs []string) Source {
	allowed := make(map[string]bool, len(tenantIDs))
	for _, id := range tenantIDs {
		allowed[strings.ToLower(id)] = true
	}
	return &restricted{src: src, allowed: allowed}
}

type restricted struct {
	src     Source
	allowed map[string]bool
}

// errReadOnly answers a write through a restricted source.
var errReadOnly = errors.New("a restricted view of the store is read-only")

func (r *restricted) sees(id string) bool { return r.allowed[strings.ToLower(id)] }

func (r *restricted) check(id string) error {
	if !r.sees(id) {
		return fmt.Errorf("tenant %q: %w", id, fleetscore.ErrNotFound)
	}
	return nil
}

func (r *restricted) SyncTenants(context.Context, []fleetscore.Tenant) error { return errReadOnly }
func (r *restricted) SaveBatch(context.Context, fleetscore.Batch) error      { return errReadOnly }
func (r *restricted) StartCollection(context.Context, fleetscore.Collection) (int64, error) {
	return 0, errReadOnly
}
func (r *restricted) FinishCollection(context.Context, fleetscore.Collection) error {
	return errReadOnly
}

// Close does nothing: the restricted view does not own the store.
func (r *restricted) Close() error { return nil }

func (r *restricted) LatestDay(ctx context.Context, tenantID string) (fleetscore.Day, bool, error) {
	if err := r.check(tenantID); err != nil {
		return fleetscore.Day{}, false, err
	}
	return r.src.LatestDay(ctx, tenantID)
}

func (r *restricted) Scores(ctx context.Context, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	if err := r.check(tenantID); err != nil {
		return nil, err
	}
	return r.src.Scores(ctx, tenantID, from, to)
}

func (r *restricted) TenantDaily(ctx context.Context, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	if err := r.check(tenantID); err != nil {
		return nil, err
	}
	return tenantDaily(ctx, r.src, tenantID, from, to)
}

func (r *restricted) Profiles(ctx context.Context, tenantID string) ([]fleetscore.ControlProfile, error) {
	if err := r.check(tenantID); err != nil {
		return nil, err
	}
	return r.src.Profiles(ctx, tenantID)
}

func (r *restricted) Tenants(ctx context.Context) ([]fleetscore.TenantStatus, error) {
	ts, err := r.src.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	// A new slice: the source's may be shared (the fleet model's is).
	out := make([]fleetscore.TenantStatus, 0, len(r.allowed))
	for _, t := range ts {
		if r.sees(t.ID) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Collections of one tenant pass through; across tenants ("") each allowed
// tenant's newest are read and merged, so that others' collections neither
// show nor crowd the allowed ones out of the limit.
func (r *restricted) Collections(ctx context.Context, tenantID string, limit int) ([]fleetscore.Collection, error) {
	if tenantID != "" {
		if err := r.check(tenantID); err != nil {
			return nil, err
		}
		return r.src.Collections(ctx, tenantID, limit)
	}
	var all []fleetscore.Collection
	for id := range r.allowed {
		cs, err := r.src.Collections(ctx, id, limit)
		if err != nil && !errors.Is(err, fleetscore.ErrNotFound) {
			return nil, err
		}
		all = append(all, cs...)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].StartedAt.Equal(all[j].StartedAt) {
			return all[i].StartedAt.After(all[j].StartedAt)
		}
		return all[i].ID > all[j].ID
	})
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

func (r *restricted) Daily(ctx context.Context, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	ss, err := r.src.Daily(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := []fleetscore.Score{}
	for _, s := range ss {
		if r.sees(s.TenantID) {
			out = append(out, s)
		}
	}
	return out, nil
}

// seen is of m, keyed by tenant ID, the tenants r sees: a new map, as the
// source's may be shared (the fleet model's is).
func seen[V any](r *restricted, m map[string]V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, min(len(m), len(r.allowed)))
	for id, v := range m {
		if r.sees(id) {
			out[id] = v
		}
	}
	return out
}

func (r *restricted) LatestControls(ctx context.Context) (map[string][]fleetscore.ControlScore, error) {
	l, err := latestOf(ctx, r)
	if err != nil {
		return nil, err
	}
	return l.expand(), nil
}

func (r *restricted) ProfileSummaries(ctx context.Context) (map[string][]fleetscore.ControlProfile, error) {
	m, err := summariesOf(ctx, r.src)
	if err != nil {
		return nil, err
	}
	return expandSummaries(seen(r, m)), nil
}

func (r *restricted) RecentScores(ctx context.Context, n int) (map[string][]fleetscore.Score, error) {
	m, err := r.src.RecentScores(ctx, n)
	return seen(r, m), err
}

func (r *restricted) RecentChanges(ctx context.Context, n int) (map[string][]fleetscore.Score, map[string][]fleetscore.ControlProfile, error) {
	scores, profiles, err := r.src.RecentChanges(ctx, n)
	return seen(r, scores), seen(r, profiles), err
}

// ExceptedControls passes the source's live exceptions through, of the
// allowed tenants only.
func (r *restricted) ExceptedControls(ctx context.Context) (map[string]map[string]string, error) {
	m, err := excepted(ctx, r.src)
	if err != nil {
		return nil, err
	}
	return seen(r, m), nil
}
