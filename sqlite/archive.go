package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetscore/fleetscore"
)

// ArchivePending returns the tenant's days whose raw snapshot is still to be
// archived, oldest first.
func (s *Store) ArchivePending(ctx context.Context, tenantID string) ([]fleetscore.Day, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT p.day
		FROM archive_pending p
		JOIN tenants t ON t.id = p.tenant
		WHERE t.guid = ?
		ORDER BY p.day`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("archive backlog of %s: %w", tenantID, err)
	}
	defer rows.Close()
	var out []fleetscore.Day
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("archive backlog of %s: %w", tenantID, err)
		}
		out = append(out, fleetscore.DayFromUnix(d))
	}
	return out, rows.Err()
}

// SetArchivePending records that a day's snapshot still has to be archived
// (errText says why), or, with errText "", that it has been.
func (s *Store) SetArchivePending(ctx context.Context, tenantID string, day fleetscore.Day, errText string) error {
	tenant, err := tenantKey(ctx, s.w, tenantID)
	if err != nil {
		if errors.Is(err, fleetscore.ErrNotFound) && errText == "" {
			return nil
		}
		return fmt.Errorf("archive backlog of %s: %w", tenantID, err)
	}
	if errText == "" {
		_, err = s.w.ExecContext(ctx, `DELETE FROM archive_pending WHERE tenant = ? AND day = ?`, tenant, day.Unix())
	} else {
		_, err = s.w.ExecContext(ctx, `
			INSERT INTO archive_pending (tenant, day, error) VALUES (?, ?, ?)
			ON CONFLICT (tenant, day) DO UPDATE SET error = excluded.error`, tenant, day.Unix(), errText)
	}
	if err != nil {
		return fmt.Errorf("archive backlog of %s: %w", tenantID, err)
	}
	return nil
}
