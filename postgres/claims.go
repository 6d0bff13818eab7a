package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetscore/fleetscore"
)

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
// is locked while the condition is evaluated, so of several instances
// claiming the same day at once exactly one gets it. Leases are timed by the
// database's clock, which all instances share, so a skewed clock on one
// machine cannot make it steal a live lease.
func (s *Store) Claim(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ttl time.Duration) (bool, error) {
	if tenantID == "" || owner == "" || day.IsZero() {
		return false, errors.New("claim: a tenant, a day and an owner are needed")
	}
	// excluded.expires_at - ttl is the database's now.
	var got bool
	err := s.pool.QueryRow(ctx, `
		INSERT INTO claims AS c (tenant, day, owner, expires_at)
		VALUES ($1, $2, $3, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint * 1000 + $4)
		ON CONFLICT (tenant, day) DO UPDATE SET
		    owner      = excluded.owner,
		    expires_at = excluded.expires_at
		WHERE NOT c.done
		  AND (c.owner = excluded.owner OR c.expires_at <= excluded.expires_at - $4)
		RETURNING true`,
		tenantID, day.Unix(), owner, ttl.Nanoseconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE claims
			SET done = $1, expires_at = CASE WHEN $1 THEN expires_at ELSE 0 END
			WHERE tenant = $2 AND day = $3 AND owner = $4 AND NOT done`,
			ok, tenantID, day.Unix(), owner)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%s holds no claim of it: %w", owner, fleetscore.ErrNotFound)
		}
		_, err = tx.Exec(ctx, `
			DELETE FROM claims
			WHERE tenant = $1 AND day < $2`, tenantID, day.Unix()-claimsKeptDays)
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
	rows, err := s.pool.Query(ctx, `
		SELECT tenant
		FROM claims
		WHERE day = $1 AND tenant = ANY ($2) AND NOT done
		ORDER BY tenant`, day.Unix(), tenantIDs)
	if err != nil {
		return nil, fmt.Errorf("pending claims of %s: %w", day, err)
	}
	held, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pending claims of %s: %w", day, err)
	}
	return held, nil
}
