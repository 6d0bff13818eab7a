package relational

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// importChunk is how many rows of an import go out together.
const importChunk = 10000

// ReferencedFirst orders tables so that each comes after the tables it
// refers to (refers: table -> the tables its foreign keys name), and
// otherwise by name: an order that copies them without breaking a foreign
// key. A cycle's tables come last, by name.
func ReferencedFirst(names []string, refers map[string][]string) []string {
	var out []string
	placed := map[string]bool{}
	for len(out) < len(names) {
		progress := false
		for _, t := range names {
			if placed[t] {
				continue
			}
			ready := true
			for _, r := range refers[t] {
				if r != t && !placed[r] && slices.Contains(names, r) {
					ready = false
				}
			}
			if ready {
				out = append(out, t)
				placed[t] = true
				progress = true
				break // the first ready one by name, then look again from the start
			}
		}
		if !progress { // a cycle: the rest by name
			for _, t := range names {
				if !placed[t] {
					out = append(out, t)
					placed[t] = true
				}
			}
		}
	}
	return out
}

// Tables lists the tables of the history, each after those it refers to
// (then by name): an order that copies them without breaking a foreign key,
// the one `fleetscore migrate` uses. schema_migrations and store_version are
// not history: every database has its own.
func (s *Store) Tables(ctx context.Context) ([]string, error) {
	names, err := all(ctx, s.reader(), scanOne[string], s.d.tables)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	keys, err := all(ctx, s.reader(), func(r *sql.Rows) ([2]string, error) {
		var k [2]string
		return k, r.Scan(&k[0], &k[1])
	}, s.d.foreignKeys)
	if err != nil {
		return nil, fmt.Errorf("list tables: foreign keys: %w", err)
	}
	refers := map[string][]string{}
	for _, k := range keys {
		refers[k[0]] = append(refers[k[0]], k[1])
	}
	return ReferencedFirst(names, refers), nil
}

// Column is a table's column: its name and its type as the database names it.
type Column struct{ Name, Type string }

func columnNames(cols []Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}

func (s *Store) columns(ctx context.Context, table string) ([]Column, error) {
	cols, err := all(ctx, s.reader(), func(r *sql.Rows) (Column, error) {
		var c Column
		return c, r.Scan(&c.Name, &c.Type)
	}, s.d.columns, table)
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
	return columnNames(cols), err
}

// ScanTable calls fn with every row of a table, in no particular order, the
// named columns only. A value is nil, an int64, a float64 or a string, the
// same in every dialect: integers of every size are int64s, booleans are 0
// or 1. fn must not keep row.
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
	rows, err := s.reader().query(ctx, `SELECT `+quoteAll(columns)+` FROM `+quote(table))
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
			case bool:
				row[i] = flag(v)
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
// them); PostgreSQL takes them by COPY. With replace, every table of the
// history is emptied first; without, rows already there stay (and a row
// with the same key is an error). Keys made by the database then continue
// after the largest key copied. On any error nothing is written.
func (s *Store) Import(ctx context.Context, tables []string, replace bool, read func(table string, columns []string, emit func(row []any) error) error) error {
	names, err := s.Tables(ctx)
	if err != nil {
		return err
	}
	// Read before the transaction: in memory, it holds the only connection.
	columns := make(map[string][]Column, len(tables))
	for _, t := range tables {
		if columns[t], err = s.columns(ctx, t); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	err = s.write(ctx, func(t *tx) error {
		if replace {
			if err := s.d.empty(ctx, t, names); err != nil {
				return err
			}
		}
		for _, table := range tables {
			cols := columns[table]
			err := s.d.importRows(ctx, t, table, cols, func(emit func([]any) error) error {
				return read(table, columnNames(cols), func(row []any) error {
					if len(row) != len(cols) {
						return fmt.Errorf("a row of %d values for %d columns", len(row), len(cols))
					}
					return emit(row)
				})
			})
			if err != nil {
				return fmt.Errorf("import table %s: %w", table, err)
			}
		}
		return s.d.after(ctx, s, t, tables, columns)
	})
	if err != nil {
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
