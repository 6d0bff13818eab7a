package relational

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/fleetscore/fleetscore"
)

// TenantDaily returns the tenant's snapshots of days from..to inclusive (a
// zero day leaves that end open), oldest first, without control scores: Scores
// without the replay of the control changes, read through the (tenant, day)
// key. EnabledServices is filled on the newest stored day only, as Scores
// fills it. An unknown tenant is an error wrapping fleetscore.ErrNotFound.
func (s *Store) TenantDaily(ctx context.Context, tenantID string, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	var out []fleetscore.Score
	err := s.read(ctx, func(q q) error {
		var err error
		_, out, err = tenantDays(ctx, q, tenantID, from, to)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("daily scores of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// FirstDay is the oldest stored day of any tenant; ok is false when no
// tenant has one. It seeks each tenant's first day through the (tenant,
// day) key.
func (s *Store) FirstDay(ctx context.Context) (day fleetscore.Day, ok bool, err error) {
	var first sql.NullInt64
	err = s.reader().row(ctx, `
		SELECT MIN((SELECT s.day FROM scores s WHERE s.tenant = t.id ORDER BY s.day LIMIT 1))
		FROM tenants t`).Scan(&first)
	if err != nil {
		return fleetscore.Day{}, false, fmt.Errorf("first stored day: %w", err)
	}
	if !first.Valid {
		return fleetscore.Day{}, false, nil
	}
	return fleetscore.DayFromUnix(first.Int64), true, nil
}

// interner keeps one copy of each string it is given.
type interner map[string]string

func (in interner) s(v string) string {
	if x, ok := in[v]; ok {
		return x
	}
	in[v] = v
	return v
}

// byTenant groups rows ordered by tenant into one exactly sized array
// shared by the tenants' slices, keyed by one copy of each tenant's ID.
func byTenant[T any](list []keyedBy[T]) map[string][]T {
	vals := make([]T, len(list))
	out := make(map[string][]T)
	for i := 0; i < len(list); {
		j := i
		for j < len(list) && list[j].tenant == list[i].tenant {
			vals[j] = list[j].v
			j++
		}
		out[list[i].tenant] = vals[i:j:j]
		i = j
	}
	return out
}
