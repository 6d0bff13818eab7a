// Package postgres is the shared store of fleetscore: a fleetscore.Store in a
// PostgreSQL database (github.com/jackc/pgx/v5), for an MSSP that runs several
// fleetscore instances against one server (a managed Azure Database for
// PostgreSQL, say) so that none is a single point of failure.
//
// It keeps the history exactly as the SQLite store does (same tables, same
// columns, same change encoding; see package sqlite), so that the two pass
// the same conformance suite and `fleetscore migrate` copies one into the
// other row for row. What differs is what a server shared by several
// processes needs:
//
//   - migrations (migrations/*.sql, embedded) run in one transaction under a
//     transaction-level advisory lock, so instances starting at the same
//     moment apply them once;
//   - a batch locks its tenant's row first, so two saves of one tenant follow
//     each other instead of interleaving; new control names are added in name
//     order, so two batches adding the same names cannot deadlock;
//   - reads of several queries run in one REPEATABLE READ transaction: one
//     snapshot;
//   - Claim and Done hand each tenant's day to one collector, with leases
//     timed by the database's clock, not the instances' (see claims.go);
//   - writes of many rows go out as one pipelined batch, not a round trip each.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetscore/fleetscore"
)

// Store is a fleetscore.Store in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	name string // host/database, for messages; never the password
}

var _ fleetscore.Store = (*Store)(nil)

// Open connects to the database named by dsn (postgres://user:password@host:
// port/database?sslmode=..., or any form pgx accepts, pool_max_conns
// included) and brings its schema up to date. The database must exist; its
// tables are created in the connection's schema (search_path).
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message can quote the DSN, password included.
		return nil, errors.New("the PostgreSQL connection string is not valid: write postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// The collector runs `concurrency` tenants at once, each with a
		// lease to renew, next to the readers.
		cfg.MaxConns = int32(max(10, 2*runtime.NumCPU()))
	}
	s := &Store{name: cfg.ConnConfig.Host + "/" + cfg.ConnConfig.Database}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", s.name, err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open database %s: %w", s.name, err)
	}
	if err := migrate(ctx, s.pool); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("database %s: %w", s.name, err)
	}
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers: what a load balancer's
// readiness check asks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database %s: %w", s.name, err)
	}
	return nil
}

// Size is the bytes the tables of the store's schema take, indexes and TOAST
// included; not the database's own catalog, which an empty database already
// has.
func (s *Store) Size() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int64
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c
		WHERE c.relkind = 'r'
		  AND c.relnamespace = current_schema()::regnamespace`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("size of database %s: %w", s.name, err)
	}
	return n, nil
}

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// commitTimeout bounds a commit, which runs even when the caller's context
// is cancelled.
const commitTimeout = 30 * time.Second

// write runs fn in a read-write transaction and commits it. The commit is
// not cancelled with ctx: once sent, a COMMIT whose answer is not read
// leaves the caller unsure whether it happened. A ctx cancelled before the
// commit rolls everything back.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer rollback(ctx, tx)
	if err := fn(tx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return tx.Commit(cctx)
}

// read runs fn in a read-only REPEATABLE READ transaction: every query of fn
// sees the same snapshot.
func (s *Store) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer rollback(ctx, tx)
	return fn(tx)
}

// rollback ends tx if it is still open; after a commit it does nothing.
func rollback(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = tx.Rollback(rctx)
}
