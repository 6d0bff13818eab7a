package relational

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"iter"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetscore/fleetscore"
)

// recentCut is, for the tenants of one part (their key modulo parts is
// part), every tenant's n-th newest stored day (the first of its last
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
	    WHERE t.id % ? = ?
	)`

// RecentScores returns, by tenant ID, each tenant's last n stored days,
// oldest first (fewer when it has fewer; tenants without any are absent).
// Their Controls hold only the controls whose score differs between some two
// of the days, each day's sorted by name: a control the same on all of them
// is left out of all of them, so every difference between two of the days is
// there, and nothing else. See RecentChanges.
func (s *Store) RecentScores(ctx context.Context, n int) (map[string][]fleetscore.Score, error) {
	scores, _, err := s.recent(ctx, n, false)
	return scores, err
}

// RecentChanges is what the change ledger of the fleet reads, in one pass:
// RecentScores, and by tenant ID the current profiles (ID, Title,
// Category, MaxScore and every state update, in the order first seen, as
// Profiles has them; nothing else) of the controls that can make an item in
// those days: the controls that change after the first of them, and those
// with a state update dated on or after it. A tenant with none has no
// profiles. It never reads a tenant's whole history, nor every profile of
// the fleet: the days, the change rows after each tenant's first day
// (control_changes_by_day, covering), and for each control they touch its
// score on that first day, its name, category and profile.
func (s *Store) RecentChanges(ctx context.Context, n int) (map[string][]fleetscore.Score, map[string][]fleetscore.ControlProfile, error) {
	return s.recent(ctx, n, true)
}

// recentParts is how many parts of the fleet recent reads side by side:
// the tenants are independent, and each part is a read transaction on a
// connection of its own, so a fleet of a thousand tenants is read on every
// core (each tenant's days, as SaveBatch writes them, are in one part).
func recentParts() int { return min(runtime.GOMAXPROCS(0), 4) }

func (s *Store) recent(ctx context.Context, n int, withProfiles bool) (map[string][]fleetscore.Score, map[string][]fleetscore.ControlProfile, error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("recent scores: %d days; ask for 1 or more", n)
	}
	parts := recentParts()
	type result struct {
		scores   map[string][]fleetscore.Score
		profiles map[string][]fleetscore.ControlProfile
		err      error
	}
	results := make([]result, parts)
	var wg sync.WaitGroup
	for part := range parts {
		wg.Go(func() {
			r := &results[part]
			r.scores, r.profiles, r.err = s.recentPart(ctx, n, withProfiles, parts, part)
		})
	}
	wg.Wait()
	out := make(map[string][]fleetscore.Score)
	profiles := make(map[string][]fleetscore.ControlProfile)
	for _, r := range results {
		if r.err != nil {
			return nil, nil, fmt.Errorf("recent scores: %w", r.err)
		}
		maps.Copy(out, r.scores)
		maps.Copy(profiles, r.profiles)
	}
	return out, profiles, nil
}

// recentPart is recent for the tenants of one part.
func (s *Store) recentPart(ctx context.Context, n int, withProfiles bool, parts, part int) (map[string][]fleetscore.Score, map[string][]fleetscore.ControlProfile, error) {
	out := make(map[string][]fleetscore.Score)
	profiles := make(map[string][]fleetscore.ControlProfile)
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
			ORDER BY cut.tenant, s.day`, n-1, parts, part)
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

		// The change rows after each tenant's cut (control_changes_by_day),
		// each with its control's score before it (prev; NULL: absent), which
		// for the control's first row after the cut is its score at the cut,
		// its category, and its profile (NULL: none): one pass over the
		// covering index, where a control that changes twice in the window
		// (rare) repeats what it has once.
		type change struct {
			tenant int64
			Change
			at             sql.NullFloat64
			name, category string
			content        sql.NullInt64
			title, pcat    sql.NullString
			max            sql.NullFloat64
			removed        sql.NullBool
		}
		profileCols := `NULL, NULL, NULL`
		profileJoin := ``
		if withProfiles {
			profileCols = `p.content, p.max_score, p.removed`
			profileJoin = `LEFT JOIN profiles p ON p.tenant = cc.tenant AND p.control = cc.control`
		}
		changes, err := all(ctx, q, func(r *sql.Rows) (change, error) {
			var (
				c     change
				score sql.NullFloat64
			)
			err := r.Scan(&c.tenant, &c.Control, &c.Day, &score, &c.at, &c.category, &c.content, &c.max, &c.removed)
			c.Score, c.Valid = score.Float64, score.Valid
			return c, err
		}, recentCut+`
			SELECT cc.tenant, cc.control, cc.day, cc.score, cc.prev,
			       tc.category, `+profileCols+`
			FROM cut
			CROSS JOIN control_changes cc
			CROSS JOIN tenant_controls tc
			`+profileJoin+`
			WHERE cc.tenant = cut.tenant AND cc.day > cut.day
			  AND tc.tenant = cc.tenant AND tc.control = cc.control`, n-1, parts, part)
		if err != nil {
			return fmt.Errorf("control changes: %w", err)
		}
		names, err := s.controlNames(ctx, q)
		if err != nil {
			return err
		}
		// The profiles' text: a few hundred contents that the fleet's
		// tenants share, read once each rather than joined to every row.
		texts, err := s.contentTitles(ctx, q, func(yield func(int64) bool) {
			for i := range changes {
				if changes[i].content.Valid && !yield(changes[i].content.Int64) {
					return
				}
			}
		})
		if err != nil {
			return err
		}
		for i := range changes {
			c := &changes[i]
			c.name = names[c.Control]
			if c.content.Valid {
				if t, ok := texts[c.content.Int64]; ok {
					c.title = sql.NullString{String: t[0], Valid: true}
					c.pcat = sql.NullString{String: t[1], Valid: true}
				}
			}
		}
		// By tenant, then control name, then day: cheaper here than
		// SQLite's temporary b-tree.
		slices.SortFunc(changes, func(a, b change) int {
			return cmp.Or(cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.name, b.name), cmp.Compare(a.Day, b.Day))
		})
		for i := 0; i < len(changes); {
			j := i
			for j < len(changes) && changes[j].tenant == changes[i].tenant {
				j++
			}
			tenant := changes[i].tenant
			days := byKey[tenant]
			if len(days) == 0 {
				i = j
				continue // saved between the two reads? the snapshot rules it out
			}
			cut := days[0].Day.Unix() // the tenant's first day of the n
			var (
				cs       = make([]Change, 0, 2*(j-i))
				controls []Control
			)
			for k := i; k < j; k++ {
				c := changes[k]
				if k == i || c.Control != changes[k-1].Control {
					// The control's first change in the window: its score
					// at the cut goes first, and it joins the controls.
					cs = append(cs, Change{Control: c.Control, Day: cut, Score: c.at.Float64, Valid: c.at.Valid})
					controls = append(controls, Control{ID: c.Control, Name: c.name, Category: c.category})
					if withProfiles && c.title.Valid && !c.removed.Bool {
						profiles[guid[tenant]] = append(profiles[guid[tenant]], fleetscore.ControlProfile{
							ID: c.name, Title: c.title.String, Category: c.pcat.String, MaxScore: c.max.Float64})
					}
				}
				cs = append(cs, c.Change)
			}
			slices.SortStableFunc(cs, func(a, b Change) int { return cmp.Compare(a.Day, b.Day) })
			Replay(days, State{}, cs, controls)
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
		if withProfiles {
			return s.recentStates(ctx, q, n, parts, part, profiles)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, profiles, nil
}

// recentStates adds to profiles the state updates of the controls that
// changed, and the profiles, with their state updates, of the controls with
// a state update dated on or after each tenant's cut (control_states_by_time).
func (s *Store) recentStates(ctx context.Context, q q, n, parts, part int, profiles map[string][]fleetscore.ControlProfile) error {
	type row struct {
		tenant string
		p      fleetscore.ControlProfile
		at     sql.NullInt64
		u      [4]sql.NullString // state, assigned_to, comment, updated_by
	}
	list, err := all(ctx, q, func(r *sql.Rows) (row, error) {
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
		),
		stateful AS MATERIALIZED (
		    SELECT DISTINCT st.tenant, st.control
		    FROM touched k
		    CROSS JOIN control_states st
		    WHERE st.tenant = k.tenant AND st.control = k.control
		)
		SELECT t.guid, c.name, pc.title, pc.category, p.max_score,
		       st.updated_at, st.state, st.assigned_to, st.comment, st.updated_by
		FROM stateful k
		CROSS JOIN profiles p
		CROSS JOIN profile_contents pc
		CROSS JOIN tenants t
		CROSS JOIN controls c
		CROSS JOIN control_states st
		WHERE p.tenant = k.tenant AND p.control = k.control AND pc.id = p.content
		  AND t.id = k.tenant AND c.id = k.control
		  AND st.tenant = k.tenant AND st.control = k.control AND NOT p.removed
		ORDER BY t.guid, c.name, st.id`, n-1, parts, part)
	if err != nil {
		return fmt.Errorf("state updates: %w", err)
	}
	for i := 0; i < len(list); {
		j := i
		for j < len(list) && list[j].tenant == list[i].tenant && list[j].p.ID == list[i].p.ID {
			j++
		}
		w := list[i]
		p := w.p
		for _, x := range list[i:j] {
			u := fleetscore.ControlStateUpdate{State: x.u[0].String, AssignedTo: x.u[1].String, Comment: x.u[2].String, UpdatedBy: x.u[3].String}
			if x.at.Valid && x.at.Int64 != 0 {
				u.UpdatedAt = time.Unix(0, x.at.Int64).UTC()
			}
			p.StateUpdates = append(p.StateUpdates, u)
		}
		ps := profiles[w.tenant]
		if k := slices.IndexFunc(ps, func(q fleetscore.ControlProfile) bool { return q.ID == p.ID }); k >= 0 {
			ps[k].StateUpdates = p.StateUpdates
		} else {
			profiles[w.tenant] = append(ps, p)
		}
		i = j
	}
	for id, ps := range profiles {
		slices.SortFunc(ps, func(a, b fleetscore.ControlProfile) int { return cmp.Compare(a.ID, b.ID) })
		profiles[id] = ps
	}
	return nil
}

// controlNames is the dictionary of control names by key: a few hundred
// rows, cheaper read whole than joined to every row that needs a name.
func (s *Store) controlNames(ctx context.Context, q q) (map[int64]string, error) {
	type row struct {
		id   int64
		name string
	}
	rows, err := all(ctx, q, func(r *sql.Rows) (row, error) {
		var w row
		return w, r.Scan(&w.id, &w.name)
	}, `SELECT id, name FROM controls`)
	if err != nil {
		return nil, fmt.Errorf("control names: %w", err)
	}
	names := make(map[int64]string, len(rows))
	for _, w := range rows {
		names[w.id] = w.name
	}
	return names, nil
}

// contentTitles returns the title and category of each distinct profile
// content of ids, by content key, read in chunks of keys.
func (s *Store) contentTitles(ctx context.Context, q q, ids iter.Seq[int64]) (map[int64][2]string, error) {
	seen := map[int64]bool{}
	var keys []int64
	for id := range ids {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, id)
		}
	}
	out := make(map[int64][2]string, len(keys))
	const chunk = 500
	for len(keys) > 0 {
		n := min(len(keys), chunk)
		args := make([]any, n)
		for i, k := range keys[:n] {
			args[i] = k
		}
		keys = keys[n:]
		type row struct {
			id              int64
			title, category string
		}
		rows, err := all(ctx, q, func(r *sql.Rows) (row, error) {
			var w row
			return w, r.Scan(&w.id, &w.title, &w.category)
		}, `SELECT id, title, category FROM profile_contents WHERE id IN (?`+strings.Repeat(", ?", n-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("profile contents: %w", err)
		}
		for _, w := range rows {
			out[w.id] = [2]string{w.title, w.category}
		}
	}
	return out, nil
}
