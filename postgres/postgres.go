// Package postgres is the shared store of fleetscore: a fleetscore.Store in a
// PostgreSQL database (pgx's database/sql driver), for an MSSP that runs
// several fleetscore instances against one server (a managed Azure Database
// for PostgreSQL, say) so that none is a single point of failure.
//
// The store is package relational's, with its PostgreSQL dialect: the same
// tables, columns, encoding and queries as the SQLite store, so that the two
// pass the same conformance suite and `fleetscore migrate` copies one into
// the other row for row. What a server shared by several processes needs is
// in that dialect:
//
//   - migrations run in one transaction under an advisory lock, so instances
//     starting at the same moment apply them once;
//   - a batch locks its tenant's row first, so two saves of one tenant follow
//     each other instead of interleaving; new control names are added in name
//     order, so two batches adding the same names cannot deadlock;
//   - reads of several queries run in one REPEATABLE READ transaction: one
//     snapshot;
//   - Claim and Done hand each tenant's day to one collector, with leases
//     timed by the database's clock, not the instances';
//   - writes of many rows go out as one pipelined pgx batch, and `migrate`
//     imports by COPY, both through the connection's pgx.Conn.
//
// This package owns the connection: the DSN, the pool and the size.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/internal/relational"
)

// Store is a fleetscore.Store in a PostgreSQL database.
type Store struct{ *relational.Store }

var _ fleetscore.Store = (*Store)(nil)

// Option changes how the store is opened.
type Option = relational.Option

// WithClock times claims' leases by now instead of the store's own clock:
// what tests use to make a lease expire without waiting for it.
func WithClock(now func() time.Time) Option { return relational.WithClock(now) }

// Open connects to the database named by dsn (postgres://user:password@host:
// port/database?sslmode=..., or any form pgx accepts, pool_max_conns
// included) and brings its schema up to date. The database must exist; its
// tables are created in the connection's schema (search_path).
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	// pgxpool's parser takes the pool's settings out of the DSN, which
	// pgx's own would send to the server as parameters.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message can quote the DSN, password included.
		return nil, errors.New("the PostgreSQL connection string is not valid: write postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require")
	}
	conns := int(cfg.MaxConns)
	if !strings.Contains(dsn, "pool_max_conns") {
		// The collector runs `concurrency` tenants at once, each with a
		// lease to renew, next to the readers.
		conns = max(10, 2*runtime.NumCPU())
	}
	name := cfg.ConnConfig.Host + "/" + cfg.ConnConfig.Database
	db := stdlib.OpenDB(*cfg.ConnConfig)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", name, err)
	}
	s, err := relational.New(ctx, relational.Postgres, db, db, name, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{s}, nil
}

// Size is the bytes the tables of the store's schema take, indexes and TOAST
// included; not the database's own catalog, which an empty database already
// has.
func (s *Store) Size() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int64
	err := s.DB().QueryRowContext(ctx, `
		SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c
		WHERE c.relkind = 'r'
		  AND c.relnamespace = current_schema()::regnamespace`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("size of database %s: %w", s.Name(), err)
	}
	return n, nil
}
