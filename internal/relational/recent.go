package relational

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/fleetscore/fleetscore"
)

// recentCut is every tenant's n-th newest stored day (the first of its last
// n), or its first day when it has fewer (NULL when it has none): an index
// seek or two per tenant.
// MATERIALIZED (SQLite and PostgreSQL both take it) computes the cut once
// per tenant; the joins below then seek each tenant's rows from its cut on.
const recentCut = `
	WITH cut AS MATERIALIZED (
	    SELECT t.id AS tenant, t.guid AS guid,
	           coalesce((SELECT day FROM scores
	                     WHERE tenant = t.id
	                     ORDER BY day DESC
	                     LIMIT 1 OFFSET ?),
	                    (SELECT min(day) FROM scores WHERE tenant = t.id)) AS day
	    FROM tenants t
	)`

// RecentScores returns, by tenant ID, each tenant's last n stored days,
// oldest first (fewer when it has fewer; tenants without any are absent).
// Their Controls hold only the controls whose score differs between some two
// of the days, each day's sorted by name: a control the same on all of them
// is left out of all of them, so every difference between two of the days is
// there, and nothing else. That is what the change ledger needs, read
// without replaying every tenant's every control: the days, then the
// changes after each tenant's first day (control_changes_by_day) and, for
// the controls they touch, their score on that first day.
func (s *Store) RecentScores(ctx context.Context, n int) (map[string][]fleetscore.Score, error) {
	if n < 1 {
		return nil, fmt.Errorf("recent scores: %d days; ask for 1 or more", n)
	}
	out := make(map[string][]fleetscore.Score)
	err := s.read(ctx, func(q q) error {
		type row struct {
			key  int64
			guid string
			s    scoreRow
		}
		rows, err := all(ctx, q, func(r *sql.Rows) (row, error) {
			var w row
			return w, r.Scan(append([]any{&w.key, &w.guid}, w.s.dest()...)...)
		}, recentCut+`
			SELECT cut.tenant, cut.guid, `+scoreColumns("s")+`
			FROM cut
			CROSS JOIN scores s
			WHERE s.tenant = cut.tenant AND s.day >= cut.day
			ORDER BY cut.tenant, s.day`, n-1)
		if err != nil {
			return fmt.Errorf("days: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		byKey := map[int64][]fleetscore.Score{}
		guid := map[int64]string{}
		for _, w := range rows {
			byKey[w.key] = append(byKey[w.key], w.s.score(w.guid))
			guid[w.key] = w.guid
		}

		// The changes after each tenant's cut, and the score at the cut of
		// each control they touch (NULL: absent), given the cut's day.
		type change struct {
			tenant int64
			Change
			name, category string
		}
		changes, err := all(ctx, q, func(r *sql.Rows) (change, error) {
			var (
				c     change
				score sql.NullFloat64
			)
			err := r.Scan(&c.tenant, &c.Control, &c.Day, &score, &c.name, &c.category)
			c.Score, c.Valid = score.Float64, score.Valid
			return c, err
		}, recentCut+`,
			win AS (
			    SELECT cc.tenant, cc.control, cc.day, cc.score
			    FROM cut
			    CROSS JOIN control_changes cc
			    WHERE cc.tenant = cut.tenant AND cc.day > cut.day
			),
			touched AS (
			    SELECT DISTINCT tenant, control FROM win
			),
			rows AS (
			    SELECT tenant, control, day, score FROM win
			    UNION ALL
			    SELECT k.tenant, k.control, cut.day,
			           (SELECT b.score FROM control_changes b
			            WHERE b.tenant = k.tenant AND b.control = k.control AND b.day <= cut.day
			            ORDER BY b.day DESC
			            LIMIT 1)
			    FROM touched k
			    JOIN cut ON cut.tenant = k.tenant
			)
			SELECT r.tenant, r.control, r.day, r.score, c.name, tc.category
			FROM rows r
			JOIN controls c ON c.id = r.control
			JOIN tenant_controls tc ON tc.tenant = r.tenant AND tc.control = r.control
			ORDER BY r.tenant, r.day, r.control`, n-1)
		if err != nil {
			return fmt.Errorf("control changes: %w", err)
		}
		for i := 0; i < len(changes); {
			j := i
			for j < len(changes) && changes[j].tenant == changes[i].tenant {
				j++
			}
			tenant := changes[i].tenant
			var (
				cs       []Change
				controls []Control
				seen     = map[int64]bool{}
			)
			for _, c := range changes[i:j] {
				cs = append(cs, c.Change)
				if !seen[c.Control] {
					seen[c.Control] = true
					controls = append(controls, Control{ID: c.Control, Name: c.name, Category: c.category})
				}
			}
			slices.SortFunc(controls, func(a, b Control) int { return cmp.Compare(a.Name, b.Name) })
			if days := byKey[tenant]; len(days) > 0 {
				Replay(days, State{}, cs, controls)
			}
			i = j
		}
		for k, days := range byKey {
			for d := range days {
				if days[d].Controls == nil {
					days[d].Controls = []fleetscore.ControlScore{}
				}
			}
			out[guid[k]] = days
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recent scores: %w", err)
	}
	return out, nil
}

// StateUpdates returns, by tenant ID and control ID, the state updates of
// every tenant's current control profiles: every distinct one ever seen, in
// the order first seen (Graph's: oldest first), as Profiles has them.
func (s *Store) StateUpdates(ctx context.Context) (map[string]map[string][]fleetscore.ControlStateUpdate, error) {
	type row struct {
		tenant, control string
		u               fleetscore.ControlStateUpdate
	}
	list, err := all(ctx, s.reader(), func(r *sql.Rows) (row, error) {
		var (
			w  row
			at int64
		)
		err := r.Scan(&w.tenant, &w.control, &at, &w.u.State, &w.u.AssignedTo, &w.u.Comment, &w.u.UpdatedBy)
		if at != 0 {
			w.u.UpdatedAt = time.Unix(0, at).UTC()
		}
		return w, err
	}, `
		SELECT t.guid, c.name, st.updated_at, st.state, st.assigned_to, st.comment, st.updated_by
		FROM control_states st
		JOIN profiles p ON p.tenant = st.tenant AND p.control = st.control
		JOIN tenants t ON t.id = st.tenant
		JOIN controls c ON c.id = st.control
		WHERE NOT p.removed
		ORDER BY st.id`)
	if err != nil {
		return nil, fmt.Errorf("state updates: %w", err)
	}
	out := map[string]map[string][]fleetscore.ControlStateUpdate{}
	for _, w := range list {
		m := out[w.tenant]
		if m == nil {
			m = map[string][]fleetscore.ControlStateUpdate{}
			out[w.tenant] = m
		}
		m[w.control] = append(m[w.control], w.u)
	}
	return out, nil
}
