package relational

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// openSQLite is a Store of a new SQLite file, one pool for reads and
// writes (as in memory: the one whose statements are kept on the
// connection the transactions hold).
func openSQLite(t *testing.T) *Store {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "s.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	s, err := New(context.Background(), SQLite, db, db, "test")
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return s
}

// TestKeptStatements: a query read twice runs the second time from the
// statement kept after the first read, as many distinct queries as there
// are are answered right but only maxKept are kept, and after Close a
// read is an error (not a panic).
func TestKeptStatements(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	if s.rs != s.ws {
		t.Fatal("one pool, two statement caches")
	}
	base := int(s.rs.kept.Load()) // the migrations'
	for i := range maxKept + 20 {
		query := fmt.Sprintf(`SELECT %d + ?`, i)
		for range 2 {
			var got int
			err := s.read(ctx, func(q q) error { return q.row(ctx, query, 1).Scan(&got) })
			if err != nil || got != i+1 {
				t.Fatalf("%s: %d, %v; want %d", query, got, err, i+1)
			}
		}
		if _, kept := s.rs.stmts.Load(query); kept != (base+i < maxKept) {
			t.Fatalf("query %d of %d kept: %v", i, maxKept, kept)
		}
	}
	if n := s.rs.kept.Load(); n != maxKept {
		t.Errorf("%d statements kept, want %d", n, maxKept)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := s.read(ctx, func(q q) error { return q.row(ctx, `SELECT 0 + ?`, 1).Scan(&got) }); err == nil {
		t.Error("a read after Close: no error")
	}
}
