package relational

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Dialect is everything the SQL of SQLite and PostgreSQL disagree on, in
// one place: the store's queries are written once, with ? and ?N
// placeholders and the SQL both accept (ON CONFLICT upserts, RETURNING,
// IS DISTINCT FROM, true and false), and take from here the few that
// differ. A new table needs a migration per dialect (migrations/sqlite and
// migrations/postgres, the same number) and its queries once.
type Dialect struct {
	name    string
	dollars bool          // placeholders are $1, $2... (PostgreSQL), not ? (SQLite)
	readTx  sql.TxOptions // a read transaction: one snapshot

	schemaMigrations string // creates schema_migrations
	recordMigration  string // records migration ? as applied
	migrationLock    string // taken first by the migrating transaction, "" when its write lock is enough

	// nowNanos is the SQL of the clock claims are timed by, in unix
	// nanoseconds: "" for the Go clock (a parameter). PostgreSQL's is the
	// database's, which every instance shares, so a skewed clock on one
	// machine cannot make it steal a live lease.
	nowNanos string
	// jsonList is a table of the strings of a JSON array parameter, in
	// one column, value.
	jsonList string
	// lockTenant follows the SELECT of a tenant's row in a batch, so that two
	// saves of one tenant follow each other instead of interleaving.
	lockTenant string

	// Queries whose best form differs: each is documented where it is used.
	latestScores, latestCollections, daily, latestControls, latestState, claimDeliveries string

	// Introspection for `fleetscore migrate`: the tables, ordered by name;
	// their foreign keys (table, referenced table); a table's columns (name,
	// type) in order.
	tables, foreignKeys, columns string

	// keepsStatements: the Store keeps each query prepared (stmtCache),
	// which the driver does not (modernc's SQLite; pgx has its own cache).
	keepsStatements bool

	// send runs a batch of statements in a write transaction.
	send func(ctx context.Context, t *tx, b *batch) error
	// importRows fills a table from rows (values as ScanTable gives them).
	importRows func(ctx context.Context, t *tx, table string, cols []Column, read func(emit func(row []any) error) error) error
	// empty empties the tables (ordered referenced first) before a replacing
	// import; after continues the keys once rows were imported.
	empty func(ctx context.Context, t *tx, tables []string) error
	after func(ctx context.Context, s *Store, t *tx, tables []string, cols map[string][]Column) error
}

// Name is "sqlite" or "postgres".
func (d *Dialect) Name() string { return d.name }

// SQLite is the dialect of modernc.org/sqlite.
var SQLite = &Dialect{
	name:   "sqlite",
	readTx: sql.TxOptions{ReadOnly: true},
	schemaMigrations: `
		CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at TEXT    NOT NULL
		)`,
	recordMigration: `
		INSERT INTO schema_migrations (version, applied_at)
		VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`,
	jsonList: `json_each(?)`,
	// CROSS JOIN keeps tenants the outer loop: without statistics the planner
	// would otherwise scan every score row.
	latestScores: `
		SELECT s.tenant, s.day, s.current_score, s.max_score, s.active_users, s.licensed_users,
		       s.avg_all_tenants, s.avg_total_seats, s.avg_industry_types
		FROM tenants t
		CROSS JOIN scores s
		WHERE s.tenant = t.id
		  AND s.day = (SELECT max(day) FROM scores WHERE tenant = t.id)`,
	latestCollections: `
		SELECT c.tenant, c.id, c.started_at, c.finished_at, c.status, c.error, c.advice,
		       c.days, c.controls, c.requests
		FROM tenants t
		JOIN collections c
		  ON c.id = (SELECT max(id) FROM collections WHERE tenant = t.id)`,
	daily: `FROM tenants t CROSS JOIN scores s WHERE s.tenant = t.id AND`,
	latestControls: `
		FROM control_changes cc
		JOIN (SELECT tenant, control, max(day) AS day
		      FROM control_changes
		      GROUP BY tenant, control) m
		  ON m.tenant = cc.tenant AND m.control = cc.control AND m.day = cc.day`,
	latestState: `
		LEFT JOIN control_states st
		  ON st.id = (SELECT max(id) FROM control_states
		              WHERE tenant = p.tenant AND control = p.control)`,
	// The single writer connection serialises claims between processes.
	claimDeliveries: `
		UPDATE alert_deliveries
		SET lease_owner = ?1, lease_until = ?2
		WHERE status = 'pending' AND (lease_owner = ?1 OR lease_until <= ?3)
		RETURNING ` + deliveryColumns,
	tables: `
		SELECT name
		FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT IN ('schema_migrations', 'store_version')
		ORDER BY name`,
	foreignKeys: `
		SELECT m.name, f."table"
		FROM sqlite_schema m, pragma_foreign_key_list(m.name) f
		WHERE m.type = 'table'`,
	columns:         `SELECT name, type FROM pragma_table_info(?) ORDER BY cid`,
	keepsStatements: true,
	send:            sendPrepared,
	importRows: func(ctx context.Context, t *tx, table string, cols []Column, read func(func([]any) error) error) error {
		st, err := t.c.(*sql.Tx).PrepareContext(ctx, `INSERT INTO `+quote(table)+` (`+quoteAll(columnNames(cols))+`)
			VALUES (?`+strings.Repeat(", ?", len(cols)-1)+`)`)
		if err != nil {
			return err
		}
		defer st.Close()
		return read(func(row []any) error {
			_, err := st.ExecContext(ctx, row...)
			return err
		})
	},
	empty: func(ctx context.Context, t *tx, tables []string) error {
		for i := len(tables) - 1; i >= 0; i-- {
			if _, err := t.exec(ctx, `DELETE FROM `+quote(tables[i])); err != nil {
				return fmt.Errorf("empty table %s: %w", tables[i], err)
			}
		}
		return nil
	},
	after: func(context.Context, *Store, *tx, []string, map[string][]Column) error { return nil },
}

// Postgres is the dialect of PostgreSQL through pgx's database/sql driver
// (github.com/jackc/pgx/v5/stdlib); its batches and COPY use pgx itself.
var Postgres = &Dialect{
	name:    "postgres",
	dollars: true,
	readTx:  sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	schemaMigrations: `
		CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`,
	recordMigration: `INSERT INTO schema_migrations (version) VALUES (?)`,
	// Any number, the same in every fleetscore ("fleetsco" in ASCII).
	migrationLock: `SELECT pg_advisory_xact_lock(28821929964794735)`,
	nowNanos:      `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint * 1000`,
	jsonList:      `json_array_elements_text(CAST(? AS json)) AS j (value)`,
	// FOR NO KEY UPDATE: rows that merely refer to the tenant can still be added.
	lockTenant: ` FOR NO KEY UPDATE`,
	latestScores: `
		SELECT t.id, s.day, s.current_score, s.max_score, s.active_users, s.licensed_users,
		       s.avg_all_tenants, s.avg_total_seats, s.avg_industry_types
		FROM tenants t
		CROSS JOIN LATERAL (
		    SELECT * FROM scores WHERE tenant = t.id ORDER BY day DESC LIMIT 1
		) s`,
	latestCollections: `
		SELECT t.id, c.id, c.started_at, c.finished_at, c.status, c.error, c.advice,
		       c.days, c.controls, c.requests
		FROM tenants t
		CROSS JOIN LATERAL (
		    SELECT * FROM collections WHERE tenant = t.id ORDER BY id DESC LIMIT 1
		) c`,
	daily: `FROM scores s JOIN tenants t ON t.id = s.tenant WHERE`,
	latestControls: `
		FROM (
		    SELECT DISTINCT ON (tenant, control) tenant, control, score
		    FROM control_changes
		    ORDER BY tenant, control, day DESC
		) cc`,
	latestState: `
		LEFT JOIN LATERAL (
		    SELECT state, updated_at, assigned_to, comment, updated_by
		    FROM control_states
		    WHERE tenant = p.tenant AND control = p.control
		    ORDER BY id DESC
		    LIMIT 1
		) st ON true`,
	// Rows another instance is leasing at this very moment are skipped
	// rather than waited for: they are its.
	claimDeliveries: `
		UPDATE alert_deliveries d
		SET lease_owner = ?1, lease_until = ?2
		FROM (
		    SELECT id
		    FROM alert_deliveries
		    WHERE status = 'pending' AND (lease_owner = ?1 OR lease_until <= ?3)
		    ORDER BY id
		    FOR UPDATE SKIP LOCKED
		) free
		WHERE d.id = free.id
		RETURNING d.id, d.alert, d.channel, d.message, d.created_at, d.status, d.attempts, d.last_error, d.finished_at`,
	tables: `
		SELECT table_name
		FROM information_schema.tables
		WHERE table_schema = current_schema()
		  AND table_type = 'BASE TABLE'
		  AND table_name NOT IN ('schema_migrations', 'store_version')
		ORDER BY table_name COLLATE "C"`,
	foreignKeys: `
		SELECT c.relname, r.relname
		FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid
		JOIN pg_class r ON r.oid = k.confrelid
		WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace`,
	columns: `
		SELECT column_name, data_type
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ?
		ORDER BY ordinal_position`,
	send: func(ctx context.Context, t *tx, b *batch) error {
		return withPgx(t, func(c *pgx.Conn) error {
			var pb pgx.Batch
			for _, it := range b.items {
				pb.Queue(t.s.bind(it.query), it.args...)
			}
			return c.SendBatch(ctx, &pb).Close()
		})
	},
	importRows: func(ctx context.Context, t *tx, table string, cols []Column, read func(func([]any) error) error) error {
		var buf [][]any
		flush := func() error {
			if len(buf) == 0 {
				return nil
			}
			err := withPgx(t, func(c *pgx.Conn) error {
				_, err := c.CopyFrom(ctx, pgx.Identifier{table}, columnNames(cols), pgx.CopyFromRows(buf))
				return err
			})
			buf = buf[:0]
			return err
		}
		err := read(func(row []any) error {
			r := make([]any, len(row))
			for i, v := range row {
				r[i] = v
				if n, ok := v.(int64); ok && cols[i].Type == "boolean" {
					r[i] = n != 0
				}
			}
			if buf = append(buf, r); len(buf) >= importChunk {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	},
	empty: func(ctx context.Context, t *tx, tables []string) error {
		if _, err := t.exec(ctx, `TRUNCATE `+quoteAll(tables)+` RESTART IDENTITY`); err != nil {
			return fmt.Errorf("empty the tables: %w", err)
		}
		return nil
	},
	// Keys copied explicitly do not move the sequences that make new ones;
	// and the planner gets statistics now rather than when autovacuum runs.
	after: func(ctx context.Context, s *Store, t *tx, tables []string, cols map[string][]Column) error {
		for _, table := range tables {
			for _, c := range cols[table] {
				if c.Name != "id" {
					continue
				}
				_, err := t.exec(ctx, `
					SELECT setval(pg_get_serial_sequence(?, 'id'), coalesce(max(id), 0) + 1, false)
					FROM `+quote(table), table)
				if err != nil {
					return fmt.Errorf("continue the keys of %s: %w", table, err)
				}
			}
		}
		if _, err := t.exec(ctx, `ANALYZE `+quoteAll(tables)); err != nil {
			return fmt.Errorf("analyze the tables: %w", err)
		}
		return nil
	},
}

// withPgx runs fn on the pgx connection under t's transaction.
func withPgx(t *tx, fn func(c *pgx.Conn) error) error {
	return t.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("the PostgreSQL dialect needs pgx's driver, not %T", dc)
		}
		return fn(c.Conn())
	})
}

// claimNow is the SQL of the claims' clock and its arguments.
func (s *Store) claimNow() (string, []any) {
	if s.now != nil || s.d.nowNanos == "" {
		now := time.Now()
		if s.now != nil {
			now = s.now()
		}
		return `CAST(?5 AS bigint)`, []any{now.UnixNano()}
	}
	return s.d.nowNanos, nil
}
