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
// The reads below write CROSS JOIN, which fixes SQLite's join order (for
// PostgreSQL it is a plain join): the window's few rows drive the lookups,
// else SQLite scans every tenant's every control and probes the window.
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
			CROSS JOIN controls c
			CROSS JOIN tenant_controls tc
			WHERE c.id = r.control AND tc.tenant = r.tenant AND tc.control = r.control
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

// RecentProfiles returns, by tenant ID, the current profiles of the
// controls that can make an item of the change ledger in each tenant's last
// n stored days (RecentScores): those with a change after the first of the
// days, and those with a state update dated on or after it. Each has its ID,
// Title, Category, MaxScore and every state update, in the order first seen
// (as Profiles has them); nothing else. A tenant with none is absent. It
// reads the window's controls only, never every profile of the fleet.
func (s *Store) RecentProfiles(ctx context.Context, n int) (map[string][]fleetscore.ControlProfile, error) {
	if n < 1 {
		return nil, fmt.Errorf("recent profiles: %d days; ask for 1 or more", n)
	}
	type row struct {
		tenant string
		p      fleetscore.ControlProfile
		at     sql.NullInt64
		u      [4]sql.NullString // state, assigned_to, comment, updated_by
	}
	list, err := all(ctx, s.reader(), func(r *sql.Rows) (row, error) {
		var w row
		err := r.Scan(&w.tenant, &w.p.ID, &w.p.Title, &w.p.Category, &w.p.MaxScore, &w.at, &w.u[0], &w.u[1], &w.u[2], &w.u[3])
		return w, err
	}, recentCut+`,
		touched AS MATERIALIZED (
		    SELECT cc.tenant, cc.control
		    FROM cut
		    CROSS JOIN control_changes cc
		    WHERE cc.tenant = cut.tenant AND cc.day > cut.day
		    UNION
		    SELECT st.tenant, st.control
		    FROM cut
		    CROSS JOIN control_states st
		    WHERE st.tenant = cut.tenant AND st.updated_at >= cut.day * 86400000000000
		)
		SELECT t.guid, c.name, p.title, p.category, p.max_score,
		       st.updated_at, st.state, st.assigned_to, st.comment, st.updated_by
		FROM touched k
		CROSS JOIN profiles p
		CROSS JOIN tenants t
		CROSS JOIN controls c
		LEFT JOIN control_states st ON st.tenant = k.tenant AND st.control = k.control
		WHERE p.tenant = k.tenant AND p.control = k.control AND t.id = k.tenant AND c.id = k.control AND NOT p.removed
		ORDER BY t.guid, c.name, st.id`, n-1)
	if err != nil {
		return nil, fmt.Errorf("recent profiles: %w", err)
	}
	out := map[string][]fleetscore.ControlProfile{}
	for _, w := range list {
		ps := out[w.tenant]
		if len(ps) == 0 || ps[len(ps)-1].ID != w.p.ID {
			ps = append(ps, w.p)
		}
		if w.u[0].Valid {
			u := fleetscore.ControlStateUpdate{State: w.u[0].String, AssignedTo: w.u[1].String, Comment: w.u[2].String, UpdatedBy: w.u[3].String}
			if w.at.Valid && w.at.Int64 != 0 {
				u.UpdatedAt = time.Unix(0, w.at.Int64).UTC()
			}
			last := &ps[len(ps)-1]
			last.StateUpdates = append(last.StateUpdates, u)
		}
		out[w.tenant] = ps
	}
	return out, nil
}
