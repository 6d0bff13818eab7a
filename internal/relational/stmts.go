package relational

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// maxKept bounds the statements a stmtCache keeps: the store's queries are
// its own constant texts (a few hundred at most); a query past the bound
// is still run, prepared for its transaction only.
const maxKept = 512

// stmtCache keeps the statements of one pool prepared once for the life of
// the Store, for a dialect whose driver would otherwise prepare each query
// again on every call (modernc's SQLite: ~4% of a tenant page's CPU; pgx
// keeps its own cache). A transaction uses a kept statement through
// Tx.StmtContext, which reuses the one already prepared on its connection
// (or prepares it there once). A query not kept yet runs as it is and is
// prepared on the pool after the transaction (keep), when the connection it
// held is free again: SQLite's writer pool, and the in-memory database's
// only pool, have just that one.
type stmtCache struct {
	db     *sql.DB
	stmts  sync.Map // query (as written, ? placeholders) -> *sql.Stmt prepared on db
	wanted sync.Map // query -> true: to prepare after the transaction
	kept   atomic.Int32
}

// stmt is the statement of query for tx when it is kept, else nil (and
// query is wanted).
func (c *stmtCache) stmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	if st, ok := c.stmts.Load(query); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt))
	}
	c.want(query)
	return nil
}

// want marks query to be kept after the transaction, within the bound.
func (c *stmtCache) want(query string) {
	if c.kept.Load() < maxKept {
		c.wanted.Store(query, true)
	}
}

// keep prepares on the pool the wanted queries not kept yet. A failure is
// no error: they are tried again after the next transaction.
func (c *stmtCache) keep(ctx context.Context, s *Store) {
	if c == nil {
		return
	}
	c.wanted.Range(func(query, _ any) bool {
		c.wanted.Delete(query)
		if _, ok := c.stmts.Load(query); ok || c.kept.Load() >= maxKept {
			return true
		}
		st, err := c.db.PrepareContext(ctx, s.bind(query.(string)))
		if err != nil {
			return false
		}
		if _, loaded := c.stmts.LoadOrStore(query, st); loaded {
			st.Close()
		} else {
			c.kept.Add(1)
		}
		return true
	})
}

// close closes the kept statements.
func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	var err error
	c.stmts.Range(func(query, st any) bool {
		c.stmts.Delete(query)
		err = errors.Join(err, st.(*sql.Stmt).Close())
		return true
	})
	return err
}
