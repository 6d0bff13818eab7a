package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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
	err := s.write(ctx, func(tx pgx.Tx) error {
		tenant, err := upsertTenant(ctx, tx, fleetscore.Tenant{ID: c.TenantID}, false, false)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE collections
			SET status = $1, error = $2
			WHERE tenant = $3 AND status = $4`,
			fleetscore.StatusError, interrupted, tenant, fleetscore.StatusRunning)
		if err != nil {
			return fmt.Errorf("mark the unfinished one: %w", err)
		}
		return tx.QueryRow(ctx, `
			INSERT INTO collections (tenant, started_at, status)
			VALUES ($1, $2, $3)
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
	tag, err := s.pool.Exec(ctx, `
		UPDATE collections
		SET finished_at = $1, status = $2, error = $3, advice = $4,
		    days = $5, controls = $6, requests = $7
		WHERE id = $8`,
		nanos(c.FinishedAt), status, c.Error, c.Advice,
		c.Days, c.Controls, c.Requests, c.ID)
	if err != nil {
		return fmt.Errorf("finish collection %d: %w", c.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish collection %d: %w", c.ID, fleetscore.ErrNotFound)
	}
	return nil
}

// Collections returns the newest collections first, of one tenant or of all
// when tenantID is "", at most limit of them (all when limit <= 0). An unknown
// tenant is an error wrapping fleetscore.ErrNotFound.
func (s *Store) Collections(ctx context.Context, tenantID string, limit int) ([]fleetscore.Collection, error) {
	lim := pgtype.Int8{Int64: int64(limit), Valid: limit > 0} // LIMIT NULL: no limit
	var (
		rows pgx.Rows
		err  error
	)
	if tenantID == "" {
		rows, err = s.pool.Query(ctx, `
			SELECT t.guid, c.id, c.started_at, c.finished_at, c.status, c.error, c.advice,
			       c.days, c.controls, c.requests
			FROM collections c
			JOIN tenants t ON t.id = c.tenant
			ORDER BY c.id DESC
			LIMIT $1`, lim)
	} else {
		var tenant int64
		if tenant, err = tenantKey(ctx, s.pool, tenantID); err != nil {
			return nil, fmt.Errorf("collections: %w", err)
		}
		rows, err = s.pool.Query(ctx, `
			SELECT $1::text, c.id, c.started_at, c.finished_at, c.status, c.error, c.advice,
			       c.days, c.controls, c.requests
			FROM collections c
			WHERE c.tenant = $2
			ORDER BY c.id DESC
			LIMIT $3`, tenantID, tenant, lim)
	}
	if err != nil {
		return nil, fmt.Errorf("collections: %w", err)
	}
	defer rows.Close()
	var out []fleetscore.Collection
	for rows.Next() {
		var (
			r      collectionRow
			tenant string
		)
		err := rows.Scan(&tenant, &r.c.ID, &r.started, &r.finished, &r.c.Status, &r.c.Error, &r.c.Advice,
			&r.c.Days, &r.c.Controls, &r.c.Requests)
		if err != nil {
			return nil, fmt.Errorf("collections: %w", err)
		}
		out = append(out, r.collection(tenant))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("collections: %w", err)
	}
	return out, nil
}

// collectionRow is a row of the collections table with its nullable times.
type collectionRow struct {
	c                 fleetscore.Collection
	started, finished pgtype.Int8
}

func (r collectionRow) collection(tenantID string) fleetscore.Collection {
	c := r.c
	c.TenantID = tenantID
	c.StartedAt = fromNanos(r.started)
	c.FinishedAt = fromNanos(r.finished)
	return c
}
