// Package pgtest gives tests a throwaway PostgreSQL database: created empty
// for the test on the server FLEETSCORE_TEST_POSTGRES names (by default the
// local one scripts/test.sh starts), dropped when the test ends. A test that
// cannot reach the server fails, saying how to start it: a store test that
// skips would let the PostgreSQL store rot unseen.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the server the tests use: a connection string to a database
// (postgres, usually) of a role that may create databases.
const EnvVar = "FLEETSCORE_TEST_POSTGRES"

// DefaultDSN is the server when EnvVar is unset: the machine's own, with
// trust authentication for local TCP connections.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// prefix starts the name of every database this package creates; the unix
// time of its creation follows, so that databases left behind by a test
// binary that was killed can be recognised and dropped later.
const prefix = "fleetscore_test_"

// staleAfter is when a database left behind is dropped by the next test run.
const staleAfter = 6 * time.Hour

// ServerDSN is the connection string of the test server.
func ServerDSN() string {
	if dsn := os.Getenv(EnvVar); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// NewDatabase creates an empty database for the test, drops it when the test
// ends, and returns its connection string.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server := ServerDSN()
	conn := connect(tb, ctx, server)
	defer conn.Close(context.Background())
	dropStale(ctx, conn)

	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + strconv.FormatInt(time.Now().Unix(), 10) + "_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("create the test database %s on %s: %v", name, redact(server), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn := connect(tb, ctx, server)
		defer conn.Close(context.Background())
		// FORCE: a connection the test leaked must not keep the database.
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			tb.Errorf("drop the test database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(server, name)
	if err != nil {
		tb.Fatalf("%s: %v", EnvVar, err)
	}
	return dsn
}

func connect(tb testing.TB, ctx context.Context, dsn string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("PostgreSQL is not reachable at %s: %v\n"+
			"The PostgreSQL store's tests need a server: run scripts/test.sh, which starts one, "+
			"or set %s to the connection string of a server where this role may create databases.",
			redact(dsn), err, EnvVar)
	}
	return conn
}

// dropStale drops the test databases older than staleAfter, left by test
// binaries that were killed before their cleanup ran. Best effort.
func dropStale(ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE $1`, prefix+"%")
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, n := range names {
		ts, _, _ := strings.Cut(strings.TrimPrefix(n, prefix), "_")
		created, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Since(time.Unix(created, 0)) < staleAfter {
			continue
		}
		_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{n}.Sanitize()+` WITH (FORCE)`)
	}
}

// withDatabase returns dsn with its database replaced by name, in either of
// the forms PostgreSQL accepts (a URL, or key=value pairs).
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("%s is not a valid URL", redact(dsn))
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In key=value form, the last dbname wins.
	return dsn + " dbname=" + name, nil
}

// redact hides a password in a connection string.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
			return u.String()
		}
		return dsn
	}
	if i := strings.Index(dsn, "password="); i >= 0 {
		end := strings.IndexByte(dsn[i:], ' ')
		if end < 0 {
			return dsn[:i] + "password=REDACTED"
		}
		return dsn[:i] + "password=REDACTED" + dsn[i+end:]
	}
	return dsn
}
