// Package sqlite is the embedded store of fleetscore: a fleetscore.Store kept
// in one SQLite file (modernc.org/sqlite, pure Go), the default for a single
// collector. The store itself, its schema and its queries are package
// relational's, with its SQLite dialect; this package owns the file: the
// DSN, the connection pragmas, the pools and the size on disk.
//
// Writes go through one connection (SQLite has one writer anyway; BEGIN
// IMMEDIATE makes a transaction take the write lock up front instead of failing
// half-way); reads use a separate pool and, in WAL mode, never wait for a write.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/internal/relational"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// busyTimeoutMillis is how long a connection waits for another one's lock
// (another process on the same file, or a checkpoint) before giving up.
const busyTimeoutMillis = 10000

// Store is a fleetscore.Store in a SQLite database: the relational store
// with the SQLite dialect, and the size of its file.
type Store struct {
	*relational.Store
	w, r *sql.DB // the single writer connection and the read pool (w in memory)
	path string  // the database file; "" in memory
}

var _ fleetscore.Store = (*Store)(nil)

// Option changes how the store is opened.
type Option = relational.Option

// WithClock times claims' leases by now instead of the store's own clock:
// what tests use to make a lease expire without waiting for it.
func WithClock(now func() time.Time) Option { return relational.WithClock(now) }

// Open opens (creating it and its folder if needed) the database named by dsn
// and brings its schema up to date. dsn is "sqlite:PATH", a bare PATH, or
// "sqlite::memory:" for a private in-memory database (tests only: it lives as
// long as the Store and has a single connection, so reads wait for writes).
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	path, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	name := path
	var w, r *sql.DB
	if path == "" {
		name = ":memory:"
		w, err = sql.Open("sqlite", ":memory:?"+params(false, true))
		if err != nil {
			return nil, fmt.Errorf("open in-memory database: %w", err)
		}
		// Every connection to ":memory:" is a new empty database: keep exactly one, forever.
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		r = w
	} else {
		if err := createPrivate(path); err != nil {
			return nil, err
		}
		if w, err = sql.Open("sqlite", fileURI(path)+"?"+params(false, false)); err != nil {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
		if r, err = sql.Open("sqlite", fileURI(path)+"?"+params(true, false)); err != nil {
			w.Close()
			return nil, fmt.Errorf("open database %s for reading: %w", path, err)
		}
		n := max(4, runtime.NumCPU())
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
	}
	// SQLite has one writer anyway: one connection, whose BEGIN IMMEDIATE
	// takes the write lock up front instead of failing half-way.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	closeAll := func() {
		if r != w {
			r.Close()
		}
		w.Close()
	}
	if err := w.PingContext(ctx); err != nil {
		closeAll()
		return nil, fmt.Errorf("open database %s: %w", name, err)
	}
	rs, err := relational.New(ctx, relational.SQLite, w, r, name, opts...)
	if err != nil {
		closeAll()
		return nil, err
	}
	return &Store{Store: rs, w: w, r: r, path: path}, nil
}

// createPrivate creates the database's folder (0700) and an empty database
// file (0600) when they do not exist yet: SQLite gives the -wal and -shm
// files the database file's mode, so no file of it is readable by others.
// Existing folders and files keep their modes.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create the folder of database %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", path, err)
	}
	return f.Close()
}

// parseDSN returns the file path of dsn, or "" for an in-memory database.
func parseDSN(dsn string) (string, error) {
	p := strings.TrimSpace(dsn)
	if rest, ok := strings.CutPrefix(p, "sqlite:"); ok {
		p = rest
		if rest, ok := strings.CutPrefix(p, "//"); ok { // sqlite:///var/lib/x.db
			p = rest
		}
	} else if i := strings.Index(p, "://"); i > 0 {
		return "", fmt.Errorf("database %q is not a SQLite database: write sqlite:PATH", dsn)
	}
	switch {
	case p == "":
		return "", errors.New("no database path: write sqlite:PATH, for example sqlite:/var/lib/fleetscore/fleetscore.db")
	case p == ":memory:":
		return "", nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("database path %q: %w", p, err)
	}
	return abs, nil
}

// fileURI turns a path into a SQLite URI, escaping what URIs give a meaning to.
func fileURI(path string) string {
	return "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath()
}

// mmapBytes is how much of the database file readers map: none. Each
// reader connection maps the file on its own, and the kernel counts a
// page in the process's RSS once per mapping that touched it: four readers
// mapping a 260 MB file showed 680 MB of file-backed RSS under the read
// load of 1,000 tenants x 1,095 days, for no more speed than reading pages
// through the OS page cache (pread) into each connection's own cache
// (bench: the same CPU per request within a few percent).
const mmapBytes = 0

// readerCacheKiB is each reader connection's page cache: SQLite's
// default, 2 MiB. The fleet reads run once per version of the store (the
// fleet model keeps them), one tenant's reads touch that tenant's pages
// only, and the rest come from the OS page cache, which is not the
// process's memory; 8 MiB each cost 40 MB of the server's RSS at 1,000
// tenants x 1,095 days (four readers and their fleet reads side by side)
// and SQLite's allocator keeps what it took.
const readerCacheKiB = 2 << 10

// params are the driver's DSN parameters. _pragma values run on every new
// connection of the pool, which a PRAGMA executed once after Open would not.
func params(readOnly, memory bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
		// In WAL mode NORMAL only risks the last transactions on power loss,
		// never corruption, and spares an fsync per commit.
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		// Readers do not map the file (mmapBytes) and keep readerCacheKiB
		// of pages each.
		q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapBytes))
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", readerCacheKiB))
	} else {
		q.Set("_txlock", "immediate")
	}
	return q.Encode()
}

// Size is the bytes the database takes on disk (the file and its WAL) after a
// checkpoint; for an in-memory database, its pages.
func (s *Store) Size() (int64, error) {
	ctx := context.Background()
	if s.path == "" {
		var n int64
		err := s.w.QueryRowContext(ctx, `
			SELECT page_count * page_size
			FROM pragma_page_count(), pragma_page_size()`).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("size of the in-memory database: %w", err)
		}
		return n, nil
	}
	// TRUNCATE copies the WAL into the file and empties it when no reader is
	// using it; when one is, what is left is still counted below.
	var busy, walPages, moved int
	if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &walPages, &moved); err != nil {
		return 0, fmt.Errorf("checkpoint database %s: %w", s.path, err)
	}
	var total int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("size of database: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}
