package sqlite

import (
	"context"
	"fmt"
	"github.com/fleetscore/fleetscore/internal/relational"
	"slices"
	"strings"
)

// Tables lists the tables of the history, each after those it refers to
// (then by name): an order that copies them without breaking a foreign key,
// the one `fleetscore migrate` uses. schema_migrations is not history: every
// database has its own.
func (s *Store) Tables(ctx context.Context) ([]string, error) {
	names, err := stringsOf(ctx, s.r, `
		SELECT name
		FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'
		ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	refers := map[string][]string{}
	for _, t := range names {
		if refers[t], err = stringsOf(ctx, s.r, `SELECT "table" FROM pragma_foreign_key_list(?)`, t); err != nil {
			return nil, fmt.Errorf("list tables: foreign keys of %s: %w", t, err)
		}
	}
	return relational.ReferencedFirst(names, refers), nil
}

func stringsOf(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Columns lists a table's columns in their order.
func (s *Store) Columns(ctx context.Context, table string) ([]string, error) {
	cols, err := stringsOf(ctx, s.r, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("columns of %q: no such table", table)
	}
	return cols, nil
}

// ScanTable calls fn with every row of a table, in no particular order, the
// named columns only. A value is nil, an int64, a float64 or a string;
// fn must not keep row.
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+quoteAll(columns)+` FROM `+quote(table))
	if err != nil {
		return fmt.Errorf("read table %s: %w", table, err)
	}
	defer rows.Close()
	row := make([]any, len(columns))
	ptrs := make([]any, len(columns))
	for i := range row {
		ptrs[i] = &row[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read table %s: %w", table, err)
		}
		for i, v := range row {
			switch v := v.(type) {
			case []byte:
				row[i] = string(v)
			case int64, float64, string, nil:
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
// them). With replace, every table of the history is emptied first; without,
// rows already there stay (and a row with the same key is an error). On any
// error nothing is written.
func (s *Store) Import(ctx context.Context, tables []string, replace bool, read func(table string, columns []string, emit func(row []any) error) error) error {
	names, err := s.Tables(ctx)
	if err != nil {
		return err
	}
	// Read before the transaction: in memory, it holds the only connection.
	columns := make(map[string][]string, len(tables))
	for _, t := range tables {
		if columns[t], err = s.Columns(ctx, t); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer tx.Rollback()
	if replace {
		for _, t := range slices.Backward(names) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+quote(t)); err != nil {
				return fmt.Errorf("import: empty table %s: %w", t, err)
			}
		}
	}
	for _, t := range tables {
		cols := columns[t]
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+quote(t)+` (`+quoteAll(cols)+`) VALUES (?`+strings.Repeat(", ?", len(cols)-1)+`)`)
		if err != nil {
			return fmt.Errorf("import table %s: %w", t, err)
		}
		err = read(t, cols, func(row []any) error {
			_, err := stmt.ExecContext(ctx, row...)
			return err
		})
		stmt.Close()
		if err != nil {
			return fmt.Errorf("import table %s: %w", t, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}

// SchemaVersion is the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version of %s: %w", s.name(), err)
	}
	return v, nil
}
