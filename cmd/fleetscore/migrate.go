package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fleetscore/fleetscore"
)

// tableStore is a store that can be copied table by table: both stores are.
// The copy keeps every key, so the two databases end up row for row the same.
type tableStore interface {
	fleetscore.Store
	SchemaVersion(ctx context.Context) (int, error)
	Tables(ctx context.Context) ([]string, error)
	Columns(ctx context.Context, table string) ([]string, error)
	ScanTable(ctx context.Context, table string, columns []string, fn func(row []any) error) error
	Import(ctx context.Context, tables []string, replace bool, read func(table string, columns []string, emit func(row []any) error) error) error
}

func cmdMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "migrate", "--from DATABASE --to DATABASE [--force]")
	from := fs.String("from", "", "the database to copy: sqlite:PATH or postgres://...")
	to := fs.String("to", "", "the database to fill: postgres://... or sqlite:PATH; it must be empty unless --force")
	force := fs.Bool("force", false, "replace whatever the target database holds")
	if done, err := parse(fs, args); done {
		return err
	}
	if *from == "" || *to == "" {
		fs.Usage()
		return exitError{2}
	}
	if *from == *to {
		return errors.New("migrate: --from and --to name the same database")
	}
	src, err := openTableStore(ctx, *from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openTableStore(ctx, *to)
	if err != nil {
		return err
	}
	defer dst.Close()

	tables, skipped, err := copyPlan(ctx, src, dst)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if !*force {
		all, err := dst.Tables(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n, err := rowsIn(ctx, dst, all); err != nil {
			return fmt.Errorf("migrate: %w", err)
		} else if len(n) > 0 {
			return fmt.Errorf("migrate: %s is not empty (%s); pass --force to replace what it holds", redactDSN(*to), n)
		}
	}
	err = dst.Import(ctx, tables, *force, func(table string, columns []string, emit func(row []any) error) error {
		return src.ScanTable(ctx, table, columns, emit)
	})
	if err != nil {
		return fmt.Errorf("migrate: copy into %s: %w", redactDSN(*to), err)
	}

	// Verify: read both back and compare every table.
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(e.stdout, "copied %s to %s\n\n", redactDSN(*from), redactDSN(*to))
	fmt.Fprintln(tw, "TABLE\tSOURCE ROWS\tTARGET ROWS\tSOURCE CHECKSUM\tTARGET CHECKSUM\t\t")
	var bad []string
	total := 0
	for _, t := range tables {
		cols, err := dst.Columns(ctx, t)
		if err != nil {
			return fmt.Errorf("migrate: verify: %w", err)
		}
		a, err := tableSum(ctx, src, t, cols)
		if err != nil {
			return fmt.Errorf("migrate: verify: %w", err)
		}
		b, err := tableSum(ctx, dst, t, cols)
		if err != nil {
			return fmt.Errorf("migrate: verify: %w", err)
		}
		verdict := "ok"
		if a != b {
			verdict = "DIFFERENT"
			bad = append(bad, t)
		}
		total += a.rows
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t\n", t, a.rows, b.rows, a.short(), b.short(), verdict)
	}
	tw.Flush()
	if len(bad) > 0 {
		return fmt.Errorf("migrate: the copy differs from the source in %v: was fleetscore writing to %s during the copy? "+
			"stop it and run migrate again with --force", bad, redactDSN(*from))
	}
	if len(skipped) > 0 {
		fmt.Fprintf(e.stdout, "\nnot copied, being empty in the source and unknown to the target's schema: %s\n", strings.Join(skipped, ", "))
	}
	fmt.Fprintf(e.stdout, "\nverified: the %d tables hold the same %d rows in both databases (counts and SHA-256 checksums)\n", len(tables), total)
	return nil
}

func openTableStore(ctx context.Context, dsn string) (tableStore, error) {
	s, err := openStore(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	ts, ok := s.(tableStore)
	if !ok {
		s.Close()
		return nil, fmt.Errorf("migrate: database %s cannot be copied table by table", redactDSN(dsn))
	}
	return ts, nil
}

// copyPlan returns the tables to copy, in copy order: the source's tables,
// which the target must have with the same columns. A table the target lacks
// is skipped only when it is empty in the source (a store whose schema is
// ahead of the other's, with nothing in the new table yet); otherwise the
// copy would lose rows, and it is refused.
func copyPlan(ctx context.Context, src, dst tableStore) (plan, skipped []string, err error) {
	ts, err := src.Tables(ctx)
	if err != nil {
		return nil, nil, err
	}
	td, err := dst.Tables(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range ts {
		if slices.Contains(td, t) {
			continue
		}
		n, err := rowsIn(ctx, src, []string{t})
		if err != nil {
			return nil, nil, err
		}
		if len(n) > 0 {
			vs, _ := src.SchemaVersion(ctx)
			vd, _ := dst.SchemaVersion(ctx)
			return nil, nil, fmt.Errorf("the target has no table %s, which holds %d rows in the source "+
				"(schema version %d in the source, %d in the target): this fleetscore cannot copy it there", t, n[t], vs, vd)
		}
		skipped = append(skipped, t)
	}
	for _, t := range td { // the target's order: each table after those it refers to there
		if !slices.Contains(ts, t) {
			continue
		}
		cs, err := src.Columns(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		cd, err := dst.Columns(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		if !slices.Equal(slices.Sorted(slices.Values(cs)), slices.Sorted(slices.Values(cd))) {
			return nil, nil, fmt.Errorf("table %s has columns %v in the source and %v in the target", t, cs, cd)
		}
		plan = append(plan, t)
	}
	return plan, skipped, nil
}

// rowCounts counts rows by table; its String lists the non-empty tables.
type rowCounts map[string]int

func (c rowCounts) String() string {
	s := ""
	for _, t := range slices.Sorted(maps.Keys(c)) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s: %d rows", t, c[t])
	}
	return s
}

// rowsIn counts the rows of the non-empty tables.
func rowsIn(ctx context.Context, s tableStore, tables []string) (rowCounts, error) {
	n := rowCounts{}
	for _, t := range tables {
		cols, err := s.Columns(ctx, t)
		if err != nil {
			return nil, err
		}
		sum, err := tableSum(ctx, s, t, cols[:1])
		if err != nil {
			return nil, err
		}
		if sum.rows > 0 {
			n[t] = sum.rows
		}
	}
	return n, nil
}

// checksum is a table's row count and an order-independent digest of its
// rows: the sum, word by word, of each row's SHA-256. Two tables with the
// same rows, in any order, in SQLite or PostgreSQL, have the same checksum.
type checksum struct {
	rows int
	sum  [4]uint64
}

func (c *checksum) add(row []any) error {
	h := sha256.New()
	var buf []byte
	for _, v := range row {
		// Each value is typed and delimited, so that no two rows encode alike.
		switch v := v.(type) {
		case nil:
			buf = append(buf, 'N')
		case int64:
			buf = strconv.AppendInt(append(buf, 'I'), v, 10)
		case float64:
			if v == 0 {
				v = 0 // -0 too: SQLite keeps it as the integer 0
			}
			// Exact: the shortest form that reads back as the same float.
			buf = strconv.AppendFloat(append(buf, 'F'), v, 'g', -1, 64)
		case string:
			buf = strconv.AppendInt(append(buf, 'S'), int64(len(v)), 10)
			buf = append(append(buf, ':'), v...)
		default:
			return fmt.Errorf("checksum: a %T in a row", v)
		}
		buf = append(buf, 0)
	}
	h.Write(buf)
	d := h.Sum(nil)
	for i := range c.sum {
		c.sum[i] += binary.BigEndian.Uint64(d[8*i:])
	}
	c.rows++
	return nil
}

// short is the first 16 hex digits of the digest, for people.
func (c checksum) short() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], c.sum[0])
	return hex.EncodeToString(b[:])
}

func tableSum(ctx context.Context, s tableStore, table string, cols []string) (checksum, error) {
	var c checksum
	err := s.ScanTable(ctx, table, cols, c.add)
	return c, err
}
