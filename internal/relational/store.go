package relational

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/auth"
)

// Store is a fleetscore.Store over database/sql, the same for every
// dialect: package sqlite and package postgres open the database and give it
// their Dialect, which holds everything the two disagree on.
type Store struct {
	w, r  *sql.DB // the writer and the readers; one pool for PostgreSQL
	d     *Dialect
	name  string           // the database, for messages; never a password
	now   func() time.Time // the clock of claims; nil: the dialect's (the database's for PostgreSQL)
	bound sync.Map         // query -> the query in the dialect's placeholders
	// The statements kept prepared on w and on r (the same cache when r is
	// w); nil unless the dialect keepsStatements.
	ws, rs *stmtCache
	// contents are the profile texts lean reads found (TenantProfiles).
	contents contentCache
}

var (
	_ fleetscore.Store       = (*Store)(nil)
	_ fleetscore.FleetReader = (*Store)(nil)
	_ alert.StateStore       = (*Store)(nil)
	_ auth.Store             = (*Store)(nil)
)

// Option changes how a Store is opened.
type Option func(*Store)

// WithClock times claims' leases by now instead of the dialect's clock (the
// Go clock for SQLite, the database's for PostgreSQL): what tests use to
// make a lease expire without waiting for it.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New makes a Store of the databases w (writes) and r (reads; may be w),
// bringing the schema up to date with the dialect's migrations. name names
// the database in messages. On error the caller still owns w and r.
func New(ctx context.Context, d *Dialect, w, r *sql.DB, name string, opts ...Option) (*Store, error) {
	s := &Store{w: w, r: r, d: d, name: name}
	for _, o := range opts {
		o(s)
	}
	if d.keepsStatements {
		s.ws, s.rs = &stmtCache{db: w}, &stmtCache{db: r}
		if r == w {
			s.rs = s.ws
		}
	}
	if err := s.migrate(ctx); err != nil {
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	err := s.ws.close()
	if s.rs != s.ws {
		err = errors.Join(err, s.rs.close())
	}
	if s.r != s.w {
		err = s.r.Close()
	}
	return errors.Join(err, s.w.Close())
}

// Ping reports whether the database answers: what a load balancer's
// readiness check asks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("database %s: %w", s.name, err)
	}
	return nil
}

// Name is the database as messages name it.
func (s *Store) Name() string { return s.name }

// DB is the writer's pool, for what a dialect package adds (its Size).
func (s *Store) DB() *sql.DB { return s.w }

// bind rewrites a query written with ? and ?N placeholders into the
// dialect's; SQLite takes them as they are.
func (s *Store) bind(query string) string {
	if !s.d.dollars {
		return query
	}
	if q, ok := s.bound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		if j > i+1 {
			b.WriteString("$" + query[i+1:j])
		} else {
			n++
			b.WriteString("$" + strconv.Itoa(n))
		}
		i = j - 1
	}
	s.bound.Store(query, b.String())
	return b.String()
}

// conn is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q runs queries written with ? placeholders on a pool or a transaction.
type q struct {
	c conn
	s *Store
	// keep, for a transaction (c a *sql.Tx) of a dialect that
	// keepsStatements, is the cache of its pool's statements.
	keep *stmtCache
}

func (q q) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.c.ExecContext(ctx, q.s.bind(query), args...)
}

func (q q) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.c.QueryContext(ctx, q.s.bind(query), args...)
}

func (q q) row(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.c.QueryRowContext(ctx, q.s.bind(query), args...)
}

// stmt is the kept statement of query in q's transaction, or nil.
func (q q) stmt(ctx context.Context, query string) *sql.Stmt {
	if q.keep == nil {
		return nil
	}
	return q.keep.stmt(ctx, q.c.(*sql.Tx), query)
}

// changed is an exec that must touch a row: none is fleetscore.ErrNotFound.
func (q q) changed(ctx context.Context, query string, args ...any) error {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fleetscore.ErrNotFound
	}
	return nil
}

// all scans every row of a query with scan.
func all[T any](ctx context.Context, q q, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanOne is the scan of a one-column row.
func scanOne[T any](rows *sql.Rows) (T, error) {
	var v T
	err := rows.Scan(&v)
	return v, err
}

// reader is the read pool.
func (s *Store) reader() q { return q{c: s.r, s: s} }

// writer is the writer outside a transaction.
func (s *Store) writer() q { return q{c: s.w, s: s} }

// tx is a write transaction and the connection it runs on, which the
// dialect's fast paths (pgx's batches and COPY) reach through conn.Raw.
type tx struct {
	q
	conn *sql.Conn
}

// commitTimeout bounds a commit, which runs even when the caller's context
// is cancelled.
const commitTimeout = 30 * time.Second

// write runs fn in a write transaction and commits it; on any error, a ctx
// cancelled before the commit included, nothing of it is kept. The commit
// is not cancelled with ctx: once sent, a COMMIT whose answer is not read
// leaves the caller unsure whether it happened. SQLite's writer begins
// IMMEDIATE transactions: the write lock is taken up front.
func (s *Store) write(ctx context.Context, fn func(t *tx) error) error {
	err := s.writeTx(ctx, fn)
	s.ws.keep(ctx, s)
	return err
}

func (s *Store) writeTx(ctx context.Context, fn func(t *tx) error) error {
	c, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	// The transaction's own context is not ctx: were it cancelled with ctx,
	// database/sql would roll back and close the connection from another
	// goroutine while fn may be inside conn.Raw (a nil-pointer panic in
	// database/sql, seen under load). The statements of fn run with ctx, so
	// a cancel still stops them; a ctx ended before the commit rolls back.
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	sqlTx, err := c.BeginTx(tctx, nil)
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	if err := fn(&tx{q: q{c: sqlTx, s: s, keep: s.ws}, conn: c}); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	timer := time.AfterFunc(commitTimeout, cancel)
	defer timer.Stop()
	return sqlTx.Commit()
}

// read runs fn in a read-only transaction: every query of fn sees the same
// snapshot.
func (s *Store) read(ctx context.Context, fn func(q q) error) error {
	err := s.readTx(ctx, fn)
	s.rs.keep(ctx, s)
	return err
}

func (s *Store) readTx(ctx context.Context, fn func(q q) error) error {
	sqlTx, err := s.r.BeginTx(ctx, &s.d.readTx)
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	return fn(q{c: sqlTx, s: s, keep: s.rs})
}

// batch is statements sent together: pipelined in one round trip by
// PostgreSQL, one prepared statement per query text by SQLite.
type batch struct{ items []queued }

type queued struct {
	query string
	args  []any
}

func (b *batch) queue(query string, args ...any) { b.items = append(b.items, queued{query, args}) }

// send runs the batch's statements in order.
func (t *tx) send(ctx context.Context, b *batch) error {
	if len(b.items) == 0 {
		return nil
	}
	return t.s.d.send(ctx, t, b)
}

// sendPrepared runs a batch one statement at a time, each through the
// writer's kept statements (stmtCache); a query not kept yet is prepared
// on the transaction once for the batch, and kept after it.
func sendPrepared(ctx context.Context, t *tx, b *batch) error {
	sqlTx := t.c.(*sql.Tx)
	local := map[string]*sql.Stmt{}
	defer func() {
		for _, st := range local {
			st.Close()
		}
	}()
	for _, it := range b.items {
		st := t.s.ws.stmt(ctx, sqlTx, it.query)
		if st == nil {
			if st = local[it.query]; st == nil {
				var err error
				if st, err = sqlTx.PrepareContext(ctx, t.s.bind(it.query)); err != nil {
					return err
				}
				local[it.query] = st
			}
		}
		if _, err := st.ExecContext(ctx, it.args...); err != nil {
			return err
		}
	}
	return nil
}

// nanos is the column value of a time: unix nanoseconds, NULL when zero.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// flag is the column value of a boolean kept as an integer (0 or 1).
func flag(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// noLimit is the LIMIT of "all rows".
const noLimit = int64(1) << 62

func limitOf(n int) int64 {
	if n <= 0 {
		return noLimit
	}
	return int64(n)
}
