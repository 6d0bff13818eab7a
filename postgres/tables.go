package postgres

import (
	"context"
	"fmt"
	"github.com/fleetscore/fleetscore/internal/relational"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// importChunk is how many rows go into one COPY.
const importChunk = 10000

// Tables lists the tables of the history, each after those it refers to
// (then by name): an order that copies them without breaking a foreign key,
// the one `fleetscore migrate` uses. schema_migrations is not history: every
// database has its own.
func (s *Store) Tables(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT table_name
		FROM information_schema.tables
		WHERE table_schema = current_schema()
		  AND table_type = 'BASE TABLE'
		  AND table_name <> 'schema_migrations'
		ORDER BY table_name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	rows, err = s.pool.Query(ctx, `
		SELECT c.relname, r.relname
		FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid
		JOIN pg_class r ON r.oid = k.confrelid
		WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, fmt.Errorf("list tables: foreign keys: %w", err)
	}
	refers := map[string][]string{}
	var table, referenced string
	_, err = pgx.ForEachRow(rows, []any{&table, &referenced}, func() error {
		refers[table] = append(refers[table], referenced)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: foreign keys: %w", err)
	}
	return relational.ReferencedFirst(names, refers), nil
}

// column is a column's name and PostgreSQL type.
type column struct{ name, typ string }

func (s *Store) columns(ctx context.Context, table string) ([]column, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT column_name, data_type
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1
		ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		err := r.Scan(&c.name, &c.typ)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("columns of %q: no such table", table)
	}
	return cols, nil
}

// Columns lists a table's columns in their order.
func (s *Store) Columns(ctx context.Context, table string) ([]string, error) {
	cols, err := s.columns(ctx, table)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names, nil
}

// ScanTable calls fn with every row of a table, in no particular order, the
// named columns only. A value is nil, an int64, a float64 or a string, as
// the SQLite store gives them: integers of every size are int64s, booleans
// are 0 or 1. fn must not keep row.
func (s *Store) ScanTable(ctx context.Context, table string, columns []string, fn func(row []any) error) error {
	have, err := s.Columns(ctx, table)
	if err != nil {
		return err
	}
	for _, c := range columns {
		if !slices.Contains(have, c) {
			return fmt.Errorf("read table %s: it has no column %q", table, c)
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+quoteAll(columns)+` FROM `+quote(table))
	if err != nil {
		return fmt.Errorf("read table %s: %w", table, err)
	}
	defer rows.Close()
	row := make([]any, len(columns))
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return fmt.Errorf("read table %s: %w", table, err)
		}
		for i, v := range vals {
			switch v := v.(type) {
			case int16:
				row[i] = int64(v)
			case int32:
				row[i] = int64(v)
			case bool:
				row[i] = int64(0)
				if v {
					row[i] = int64(1)
				}
			case int64, float64, string, nil:
				row[i] = v
			default:
				return fmt.Errorf("read table %s: column %s holds a %T", table, columns[i], v)
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read table %s: %w", table, err)
	}
	return nil
}

// Import fills the given tables (in that order, which must put each after
// those it refers to) in one transaction: for each, read is called with the
// table's columns and calls emit with each row (values as ScanTable gives
// them), which go in by COPY. With replace, every table of the history is
// emptied first; without, rows already there stay (and a row with the same
// key is an error). The identity sequences then continue after the largest
// key copied. On any error nothing is written.
func (s *Store) Import(ctx context.Context, tables []string, replace bool, read func(table string, columns []string, emit func(row []any) error) error) error {
	names, err := s.Tables(ctx)
	if err != nil {
		return err
	}
	columns := make(map[string][]column, len(tables))
	for _, t := range tables {
		if columns[t], err = s.columns(ctx, t); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		if replace {
			if _, err := tx.Exec(ctx, `TRUNCATE `+quoteAll(names)+` RESTART IDENTITY`); err != nil {
				return fmt.Errorf("empty the tables: %w", err)
			}
		}
		for _, t := range tables {
			if err := importTable(ctx, tx, t, columns[t], read); err != nil {
				return fmt.Errorf("import table %s: %w", t, err)
			}
		}
		// Keys copied explicitly do not move the sequences that make new ones.
		for _, t := range tables {
			for _, c := range columns[t] {
				if c.name != "id" {
					continue
				}
				_, err := tx.Exec(ctx, `
					SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce(max(id), 0) + 1, false)
					FROM `+quote(t), t)
				if err != nil {
					return fmt.Errorf("continue the keys of %s: %w", t, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	// Statistics for the planner now, rather than when autovacuum gets to it.
	if _, err := s.pool.Exec(ctx, `ANALYZE `+quoteAll(tables)); err != nil {
		return fmt.Errorf("import: analyze the tables: %w", err)
	}
	return nil
}

func importTable(ctx context.Context, tx pgx.Tx, table string, cols []column, read func(string, []string, func([]any) error) error) error {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	var buf [][]any
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, names, pgx.CopyFromRows(buf))
		buf = buf[:0]
		return err
	}
	err := read(table, names, func(row []any) error {
		if len(row) != len(cols) {
			return fmt.Errorf("a row of %d values for %d columns", len(row), len(cols))
		}
		r := make([]any, len(row))
		for i, v := range row {
			r[i] = v
			if n, ok := v.(int64); ok && cols[i].typ == "boolean" {
				r[i] = n != 0
			}
		}
		buf = append(buf, r)
		if len(buf) >= importChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}
