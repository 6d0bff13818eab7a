package relational

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetscore/fleetscore"
)

// interrupted is the error of a collection found still running when the next
// one of the same tenant starts.
const interrupted = "interrupted (the process stopped before the collection finished)"

// StartCollection logs a collection of c.TenantID as running, from
// c.StartedAt, and returns its ID. A collection of the same tenant still
// running is one whose process never finished it (it was stopped or
// crashed): it is marked as failed. With several instances, a tenant's
// collections never overlap when the collectors claim tenants (collect.Claimer).
func (s *Store) StartCollection(ctx context.Context, c fleetscore.Collection) (int64, error) {
	var id int64
	err := s.write(ctx, func(t *tx) error {
		tenant, err := upsertTenant(ctx, t, fleetscore.Tenant{ID: c.TenantID}, false, false)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `
			UPDATE collections
			SET status = ?, error = ?
			WHERE tenant = ? AND status = ?`,
			fleetscore.StatusError, interrupted, tenant, fleetscore.StatusRunning)
		if err != nil {
			return fmt.Errorf("mark the unfinished one: %w", err)
		}
		return t.row(ctx, `
			INSERT INTO collections (tenant, started_at, status)
			VALUES (?, ?, ?)
			RETURNING id`, tenant, nanos(c.StartedAt), fleetscore.StatusRunning).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("start collection of %s: %w", c.TenantID, err)
	}
	return id, nil
}

// FinishCollection records the outcome of collection c.ID: its status
// (StatusOK or StatusError; when empty, error if c.Error is set, else ok),
// FinishedAt, Error, Advice and the counts.
func (s *Store) FinishCollection(ctx context.Context, c fleetscore.Collection) error {
	status := c.Status
	switch {
	case status == "" && c.Error != "":
		status = fleetscore.StatusError
	case status == "":
		status = fleetscore.StatusOK
	case status != fleetscore.StatusOK && status != fleetscore.StatusError:
		return fmt.Errorf("finish collection %d: status %q is not %q or %q",
			c.ID, status, fleetscore.StatusOK, fleetscore.StatusError)
	}
	err := s.writer().changed(ctx, `
		UPDATE collections
		SET finished_at = ?, status = ?, error = ?, advice = ?,
		    days = ?, controls = ?, requests = ?
		WHERE id = ?`,
		nanos(c.FinishedAt), status, c.Error, c.Advice,
		c.Days, c.Controls, c.Requests, c.ID)
	if err != nil {
		return fmt.Errorf("finish collection %d: %w", c.ID, err)
	}
	return nil
}

// Collections returns the newest collections first, of one tenant or of all
// when tenantID is "", at most limit of them (all when limit <= 0). An unknown
// tenant is an error wrapping fleetscore.ErrNotFound.
func (s *Store) Collections(ctx context.Context, tenantID string, limit int) ([]fleetscore.Collection, error) {
	query, args := `
		SELECT t.guid, c.id, c.started_at, c.finished_at, c.status, c.error, c.advice,
		       c.days, c.controls, c.requests
		FROM collections c
		JOIN tenants t ON t.id = c.tenant
		ORDER BY c.id DESC
		LIMIT ?`, []any{limitOf(limit)}
	if tenantID != "" {
		tenant, err := tenantKey(ctx, s.reader(), tenantID)
		if err != nil {
			return nil, fmt.Errorf("collections: %w", err)
		}
		query, args = `
			SELECT CAST(? AS text), c.id, c.started_at, c.finished_at, c.status, c.error, c.advice,
			       c.days, c.controls, c.requests
			FROM collections c
			WHERE c.tenant = ?
			ORDER BY c.id DESC
			LIMIT ?`, []any{tenantID, tenant, limitOf(limit)}
	}
	out, err := all(ctx, s.reader(), func(r *sql.Rows) (fleetscore.Collection, error) {
		var k keyedBy[collectionRow]
		err := r.Scan(append([]any{&k.tenant}, k.v.dest()...)...)
		return k.v.collection(k.tenant), err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("collections: %w", err)
	}
	return out, nil
}

// keyedBy is a row with its tenant's ID.
type keyedBy[T any] struct {
	tenant string
	v      T
}

// collectionRow is a row of the collections table with its nullable times.
type collectionRow struct {
	c                 fleetscore.Collection
	started, finished sql.NullInt64
}

func (r *collectionRow) dest() []any {
	return []any{&r.c.ID, &r.started, &r.finished, &r.c.Status, &r.c.Error, &r.c.Advice,
		&r.c.Days, &r.c.Controls, &r.c.Requests}
}

func (r collectionRow) collection(tenantID string) fleetscore.Collection {
	c := r.c
	c.TenantID = tenantID
	c.StartedAt = fromNanos(r.started)
	c.FinishedAt = fromNanos(r.finished)
	return c
}

// Daily returns every tenant's snapshots from..to without controls, ordered
// by tenant ID, then day.
func (s *Store) Daily(ctx context.Context, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	lo, hi := dayBounds(from, to)
	ids := interner{} // a tenant's rows share one ID string
	out, err := all(ctx, s.reader(), func(r *sql.Rows) (fleetscore.Score, error) {
		var k keyedBy[scoreRow]
		err := r.Scan(append([]any{&k.tenant}, k.v.dest()...)...)
		return k.v.score(ids.s(k.tenant)), err
	}, `
		SELECT t.guid, `+scoreColumns("s")+`
		`+s.d.daily+` s.day BETWEEN ? AND ?
		ORDER BY t.guid, s.day`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("daily scores: %w", err)
	}
	return out, nil
}

// LatestControls returns each tenant's control scores on its latest day, by
// name. Changes are recorded only on stored days, so a control's newest
// change is its state on the tenant's latest day.
func (s *Store) LatestControls(ctx context.Context) (map[string][]fleetscore.ControlScore, error) {
	list, err := all(ctx, s.reader(), func(r *sql.Rows) (keyedBy[fleetscore.ControlScore], error) {
		var k keyedBy[fleetscore.ControlScore]
		return k, r.Scan(&k.tenant, &k.v.Name, &k.v.Category, &k.v.Score)
	}, `
		SELECT t.guid, c.name, tc.category, cc.score
		`+s.d.latestControls+`
		JOIN tenants t ON t.id = cc.tenant
		JOIN controls c ON c.id = cc.control
		JOIN tenant_controls tc ON tc.tenant = cc.tenant AND tc.control = cc.control
		WHERE cc.score IS NOT NULL
		ORDER BY t.guid, c.name`)
	if err != nil {
		return nil, fmt.Errorf("latest controls: %w", err)
	}
	in := interner{}
	for i := range list {
		c := &list[i].v
		c.Name, c.Category = in.s(c.Name), in.s(c.Category)
	}
	return byTenant(list), nil
}

// ProfileSummaries returns every tenant's current profiles by name, without
// the remediation text and threats, each with its latest state update only.
// Every tenant has the same few hundred controls, most with the same
// content: the texts are kept once, not once per tenant. The rows are read
// into the array the tenants' slices share, not into a list of rows copied
// into it (the fleet model reads 200,000 profiles at 1,000 tenants).
func (s *Store) ProfileSummaries(ctx context.Context) (map[string][]fleetscore.ControlProfile, error) {
	// The array is sized once: the count is a hint (a write in between
	// only makes append grow it), 0 when it fails.
	var size int
	if err := s.reader().row(ctx, `SELECT COUNT(*) FROM profiles WHERE NOT removed`).Scan(&size); err != nil {
		size = 0
	}
	flat := make([]fleetscore.ControlProfile, 0, size)
	var (
		tenants []string // the tenant of each run
		starts  []int    // where each run starts in flat
	)
	err := s.EachProfileSummaries(ctx, func(tenant string, ps []fleetscore.ControlProfile) error {
		tenants = append(tenants, tenant)
		starts = append(starts, len(flat))
		flat = append(flat, ps...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]fleetscore.ControlProfile, len(tenants))
	for i, t := range tenants {
		end := len(flat)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		out[t] = flat[starts[i]:end:end]
	}
	return out, nil
}

// EachProfileSummaries is ProfileSummaries one tenant at a time, in the
// order of the tenants' IDs: fn gets each tenant's profiles (one call a
// tenant) in a slice it may not keep, reused for the next tenant. The
// fleet model compacts them as they come, so that the whole fleet's
// profiles (232 bytes each: 47 MB at 1,000 tenants, 470 at 10,000) are
// never in memory at once. An error from fn stops the read and is
// returned.
func (s *Store) EachProfileSummaries(ctx context.Context, fn func(tenantID string, ps []fleetscore.ControlProfile) error) error {
	rows, err := s.reader().query(ctx, `
		SELECT t.guid, c.name, pc.title, pc.category, p.max_score, p.rank, p.tier, pc.user_impact,
		       pc.implementation_cost, pc.action_type, pc.action_url, pc.service, p.deprecated,
		       st.state, st.updated_at, st.assigned_to, st.comment, st.updated_by
		FROM profiles p
		JOIN tenants t ON t.id = p.tenant
		JOIN controls c ON c.id = p.control
		JOIN profile_contents pc ON pc.id = p.content
		`+s.d.latestState+`
		WHERE NOT p.removed
		ORDER BY t.guid, c.name`)
	if err != nil {
		return fmt.Errorf("profile summaries: %w", err)
	}
	defer rows.Close()
	var (
		in    = interner{}
		run   []fleetscore.ControlProfile // the current tenant's
		runOf string
		inRun bool
		// One row's destinations, for every row: nothing escapes per row.
		p                               fleetscore.ControlProfile
		tenant                          string
		state, assigned, comment, byWho sql.NullString
		at                              sql.NullInt64
		dest                            = []any{&tenant, &p.ID, &p.Title, &p.Category, &p.MaxScore, &p.Rank, &p.Tier, &p.UserImpact,
			&p.ImplementationCost, &p.ActionType, &p.ActionURL, &p.Service, &p.Deprecated,
			&state, &at, &assigned, &comment, &byWho}
	)
	for rows.Next() {
		p = fleetscore.ControlProfile{}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("profile summaries: %w", err)
		}
		p.ID, p.Title, p.Category, p.Tier = in.s(p.ID), in.s(p.Title), in.s(p.Category), in.s(p.Tier)
		p.UserImpact, p.ImplementationCost, p.ActionType = in.s(p.UserImpact), in.s(p.ImplementationCost), in.s(p.ActionType)
		p.ActionURL, p.Service = in.s(p.ActionURL), in.s(p.Service)
		if state.Valid {
			u := fleetscore.ControlStateUpdate{State: in.s(state.String), AssignedTo: in.s(assigned.String),
				Comment: in.s(comment.String), UpdatedBy: in.s(byWho.String)}
			if at.Valid && at.Int64 != 0 {
				u.UpdatedAt = time.Unix(0, at.Int64).UTC()
			}
			p.StateUpdates = []fleetscore.ControlStateUpdate{u}
		}
		if inRun && runOf != tenant {
			if err := fn(runOf, run); err != nil {
				return err
			}
			run = run[:0]
		}
		if !inRun || runOf != tenant {
			runOf, inRun = in.s(tenant), true
		}
		run = append(run, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("profile summaries: %w", err)
	}
	if inRun {
		return fn(runOf, run)
	}
	return nil
}

// ArchivePending returns the tenant's days whose raw snapshot is still to be
// archived, oldest first.
func (s *Store) ArchivePending(ctx context.Context, tenantID string) ([]fleetscore.Day, error) {
	days, err := all(ctx, s.reader(), scanOne[int64], `
		SELECT p.day
		FROM archive_pending p
		JOIN tenants t ON t.id = p.tenant
		WHERE t.guid = ?
		ORDER BY p.day`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("archive backlog of %s: %w", tenantID, err)
	}
	var out []fleetscore.Day
	for _, d := range days {
		out = append(out, fleetscore.DayFromUnix(d))
	}
	return out, nil
}

// SetArchivePending records that a day's snapshot still has to be archived
// (errText says why), or, with errText "", that it has been.
func (s *Store) SetArchivePending(ctx context.Context, tenantID string, day fleetscore.Day, errText string) error {
	tenant, err := tenantKey(ctx, s.writer(), tenantID)
	if err != nil {
		if errors.Is(err, fleetscore.ErrNotFound) && errText == "" {
			return nil
		}
		return fmt.Errorf("archive backlog of %s: %w", tenantID, err)
	}
	if errText == "" {
		_, err = s.writer().exec(ctx, `DELETE FROM archive_pending WHERE tenant = ? AND day = ?`, tenant, day.Unix())
	} else {
		_, err = s.writer().exec(ctx, `
			INSERT INTO archive_pending (tenant, day, error) VALUES (?, ?, ?)
			ON CONFLICT (tenant, day) DO UPDATE SET error = excluded.error`, tenant, day.Unix(), errText)
	}
	if err != nil {
		return fmt.Errorf("archive backlog of %s: %w", tenantID, err)
	}
	return nil
}

// claimsKeptDays is how long a tenant's claims are kept: long enough to see
// who collected what lately, short enough that the table stays small.
const claimsKeptDays = 31

// Claim gives owner the collection of the tenant's day for ttl, and reports
// whether it did: yes when nobody claimed the day yet, when owner already
// holds it (the lease is then renewed) or when the previous owner's lease
// expired or was released; no when another owner holds a live lease or the
// day is done.
//
// It is one INSERT ... ON CONFLICT DO UPDATE ... WHERE: the conflicting row
// is locked (PostgreSQL) or the writer is single (SQLite) while the condition
// is evaluated, so of several instances claiming the same day at once
// exactly one gets it. Leases are timed by the store's clock (WithClock),
// else the dialect's.
func (s *Store) Claim(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ttl time.Duration) (bool, error) {
	if tenantID == "" || owner == "" || day.IsZero() {
		return false, errors.New("claim: a tenant, a day and an owner are needed")
	}
	now, args := s.claimNow()
	// excluded.expires_at - ttl is the clock's now.
	var got bool
	err := s.writer().row(ctx, `
		INSERT INTO claims AS c (tenant, day, owner, expires_at, done)
		VALUES (?1, ?2, ?3, `+now+` + ?4, false)
		ON CONFLICT (tenant, day) DO UPDATE SET
		    owner      = excluded.owner,
		    expires_at = excluded.expires_at
		WHERE NOT c.done
		  AND (c.owner = excluded.owner OR c.expires_at <= excluded.expires_at - ?4)
		RETURNING true`,
		append([]any{tenantID, day.Unix(), owner, ttl.Nanoseconds()}, args...)...).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s of tenant %s: %w", day, tenantID, err)
	}
	return got, nil
}

// Done ends owner's claim of the tenant's day: when ok, the day is done and
// no one claims it again; otherwise the claim is released so that another
// owner may take it at once. A claim owner no longer holds (it expired and
// was taken, or is done) is an error wrapping fleetscore.ErrNotFound.
func (s *Store) Done(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ok bool) error {
	err := s.write(ctx, func(t *tx) error {
		err := t.changed(ctx, `
			UPDATE claims
			SET done = ?1, expires_at = CASE WHEN ?1 THEN expires_at ELSE 0 END
			WHERE tenant = ?2 AND day = ?3 AND owner = ?4 AND NOT done`,
			ok, tenantID, day.Unix(), owner)
		if errors.Is(err, fleetscore.ErrNotFound) {
			return fmt.Errorf("%s holds no claim of it: %w", owner, err)
		}
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `
			DELETE FROM claims
			WHERE tenant = ? AND day < ?`, tenantID, day.Unix()-claimsKeptDays)
		return err
	})
	if err != nil {
		return fmt.Errorf("end claim %s of tenant %s: %w", day, tenantID, err)
	}
	return nil
}

// Pending lists which of the tenants' claims of day are not done: held,
// expired or released. A tenant never claimed is not pending.
func (s *Store) Pending(ctx context.Context, day fleetscore.Day, tenantIDs []string) ([]string, error) {
	ids, err := json.Marshal(append([]string{}, tenantIDs...)) // [], not null
	if err == nil {
		var held []string
		held, err = all(ctx, s.reader(), scanOne[string], `
			SELECT tenant
			FROM claims
			WHERE day = ? AND NOT done
			  AND tenant IN (SELECT value FROM `+s.d.jsonList+`)
			ORDER BY tenant`, day.Unix(), string(ids))
		if err == nil {
			return held, nil
		}
	}
	return nil, fmt.Errorf("pending claims of %s: %w", day, err)
}
