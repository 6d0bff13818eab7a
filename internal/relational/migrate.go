package relational

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles are the schema changes of each dialect,
// migrations/DIALECT/NNNN_what.sql, applied in order. The dialects' files
// are numbered together: version N of one is version N of the other, the
// same tables and columns in each one's DDL.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists a dialect's embedded migrations by version; versions
// must run 1, 2, 3... without gaps, so that a missing file is caught by the
// tests.
func migrations(dialect string) ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/"+dialect+"/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: the name must start with its version, as in 0001_init.sql", base)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// Versions is how many migrations the dialect has: the schema version of a
// database this fleetscore brought up to date.
func (d *Dialect) Versions() (int, error) {
	ms, err := migrations(d.name)
	return len(ms), err
}

// Migration returns the text of a dialect's migration file, for tests that
// compare the dialects.
func Migration(dialect, name string) ([]byte, error) {
	return migrationFiles.ReadFile("migrations/" + dialect + "/" + name)
}

// migrate applies the migrations the database has not had yet, all in one
// transaction with their schema_migrations rows, so a failed one leaves the
// database as it was. The transaction first takes the dialect's migration
// lock (SQLite's IMMEDIATE write lock, PostgreSQL's advisory lock), so that
// of several processes opening the database together one applies them and
// the others, once it commits, find nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations(s.d.name)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		if s.d.migrationLock != "" {
			if _, err := t.exec(ctx, s.d.migrationLock); err != nil {
				return fmt.Errorf("wait for the migration lock: %w", err)
			}
		}
		if _, err := t.exec(ctx, s.d.schemaMigrations); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var newest int
		if err := t.row(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if known := len(ms); newest > known {
			return fmt.Errorf("the database has schema version %d but this fleetscore only knows versions up to %d: "+
				"it was written by a newer fleetscore; run that version (or newer) instead", newest, known)
		}
		for _, m := range ms[newest:] {
			// Without arguments, several statements in one string run as one.
			if _, err := t.c.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := t.exec(ctx, s.d.recordMigration, m.version); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

// SchemaVersion is the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.reader().row(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version of %s: %w", s.name, err)
	}
	return v, nil
}
