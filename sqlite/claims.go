package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetscore/fleetscore"
)

// claimsKeptDays is how long a tenant's claims are kept: long enough to see
// who collected what lately, short enough that the table stays small.
const claimsKeptDays = 31

// Claim gives owner the collection of the tenant's day for ttl, and reports
// whether it did: yes when nobody claimed the day yet, when owner already
// holds it (the lease is then renewed) or when the previous owner's lease
// expired or was released; no when another owner holds a live lease or the
// day is done. The single writer connection serialises claims, so two
// collectors sharing the file never both get one.
func (s *Store) Claim(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ttl time.Duration) (bool, error) {
	if tenantID == "" || owner == "" || day.IsZero() {
		return false, errors.New("claim: a tenant, a day and an owner are needed")
	}
	now := time.Now().UnixNano()
	rows, err := s.w.QueryContext(ctx, `
		INSERT INTO claims (tenant, day, owner, expires_at, done)
		VALUES (?1, ?2, ?3, ?4, 0)
		ON CONFLICT (tenant, day) DO UPDATE SET
		    owner      = excluded.owner,
		    expires_at = excluded.expires_at
		WHERE NOT claims.done
		  AND (claims.owner = excluded.owner OR claims.expires_at <= ?5)
		RETURNING 1`,
		tenantID, day.Unix(), owner, now+ttl.Nanoseconds(), now)
	if err != nil {
		return false, fmt.Errorf("claim %s of tenant %s: %w", day, tenantID, err)
	}
	defer rows.Close()
	got := rows.Next()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("claim %s of tenant %s: %w", day, tenantID, err)
	}
	return got, nil
}

// Done ends owner's claim of the tenant's day: when ok, the day is done and
// no one claims it again; otherwise the claim is released so that another
// owner may take it at once. A claim owner no longer holds (it expired and
// was taken, or is done) is an error wrapping fleetscore.ErrNotFound.
func (s *Store) Done(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ok bool) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("end claim %s of tenant %s: %w", day, tenantID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `
		UPDATE claims
		SET done = ?1, expires_at = CASE WHEN ?1 THEN expires_at ELSE 0 END
		WHERE tenant = ?2 AND day = ?3 AND owner = ?4 AND NOT done`,
		ok, tenantID, day.Unix(), owner)
	if err != nil {
		return fmt.Errorf("end claim %s of tenant %s: %w", day, tenantID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("end claim %s of tenant %s: %w", day, tenantID, err)
	} else if n == 0 {
		return fmt.Errorf("end claim %s of tenant %s: %s holds no claim of it: %w", day, tenantID, owner, fleetscore.ErrNotFound)
	}
	_, err = tx.ExecContext(ctx, `
		DELETE FROM claims
		WHERE tenant = ? AND day < ?`, tenantID, day.Unix()-claimsKeptDays)
	if err != nil {
		return fmt.Errorf("prune claims of tenant %s: %w", tenantID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("end claim %s of tenant %s: %w", day, tenantID, err)
	}
	return nil
}

// Pending lists which of the tenants' claims of day are not done: held,
// expired or released. A tenant never claimed is not pending.
func (s *Store) Pending(ctx context.Context, day fleetscore.Day, tenantIDs []string) ([]string, error) {
	ids, err := json.Marshal(tenantIDs)
	if err != nil {
		return nil, fmt.Errorf("pending claims of %s: %w", day, err)
	}
	held, err := stringsOf(ctx, s.r, `
		SELECT tenant
		FROM claims
		WHERE day = ? AND NOT done
		  AND tenant IN (SELECT value FROM json_each(?))
		ORDER BY tenant`, day.Unix(), string(ids))
	if err != nil {
		return nil, fmt.Errorf("pending claims of %s: %w", day, err)
	}
	return held, nil
}
