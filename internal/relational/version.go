package relational

import (
	"context"
	"fmt"

	"github.com/fleetscore/fleetscore"
)

// Version is the store's version (migration 0012): it moves with every
// write the fleet views read, whoever made it, this process or another
// sharing the database. One primary-key read.
func (s *Store) Version(ctx context.Context) (fleetscore.Version, error) {
	var v fleetscore.Version
	err := s.reader().row(ctx, `SELECT collections, changes FROM store_version WHERE id = 1`).Scan(&v.Collections, &v.Changes)
	if err != nil {
		return v, fmt.Errorf("store version of %s: %w", s.name, err)
	}
	return v, nil
}

// bumpChanges moves the version's changes counter in t.
func bumpChanges(ctx context.Context, t *tx) error {
	if _, err := t.exec(ctx, `UPDATE store_version SET changes = changes + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("store version: %w", err)
	}
	return nil
}
