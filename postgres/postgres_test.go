package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/fleetscore/fleetscore/internal/relational/releasetest"
	"github.com/jackc/pgx/v5"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/auth/authtest"
	"github.com/fleetscore/fleetscore/internal/relational"
	"github.com/fleetscore/fleetscore/postgres/pgtest"
	"github.com/fleetscore/fleetscore/sqlite"
	"github.com/fleetscore/fleetscore/storetest"
)

// openTemp opens a store in a new throwaway database.
func openTemp(tb testing.TB, opts ...Option) *Store {
	tb.Helper()
	s, err := Open(context.Background(), pgtest.NewDatabase(tb), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) fleetscore.Store { return openTemp(t, WithClock(now)) })
}

func TestOpenBadDSNDoesNotShowThePassword(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:s3cret@127.0.0.1:5432/x?sslmode=bogus")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open with a bad DSN: error %v; want one that hides the password", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = Open(ctx, "postgres://u:s3cret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open of an unreachable server: error %v; want one that hides the password", err)
	}
}

// TestMigrationsOnceWhenInstancesStartTogether opens the same new database
// from eight instances at once: all succeed and each migration is recorded
// once.
func TestMigrationsOnceWhenInstancesStartTogether(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	const instances = 8
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		errs   = make(chan error, instances)
		stores = make(chan *Store, instances)
	)
	for range instances {
		wg.Go(func() {
			<-start
			s, err := Open(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			stores <- s
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	close(stores)
	for err := range errs {
		t.Errorf("an instance failed to open the database: %v", err)
	}
	var s *Store
	for st := range stores {
		s = st
		t.Cleanup(func() { st.Close() })
	}
	if s == nil {
		t.Fatal("no instance opened the database")
	}
	versions, err := relational.Postgres.Versions()
	if err != nil {
		t.Fatal(err)
	}
	var n, newest int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &newest); err != nil {
		t.Fatal(err)
	}
	if n != versions || newest != versions {
		t.Errorf("schema_migrations has %d rows up to version %d, want %d", n, newest, versions)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != versions {
		t.Errorf("SchemaVersion() = %d, %v; want %d", v, err, versions)
	}
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "schema version 999") || !strings.Contains(err.Error(), "newer fleetscore") {
		t.Errorf("Open of a database from a newer fleetscore: error %v, want one naming version 999 and a newer fleetscore", err)
	}
}

// rowVersions maps each row of a table to its xmin, the transaction that
// last wrote it.
func rowVersions(t *testing.T, s *Store, table string) map[string]string {
	t.Helper()
	rows, err := s.DB().QueryContext(context.Background(), `SELECT t::text, xmin::text FROM "`+table+`" t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var row, xmin string
		if err := rows.Scan(&row, &xmin); err != nil {
			t.Fatal(err)
		}
		out[row] = xmin
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestResavingWritesNothing re-saves the same data and checks, through each
// row's xmin, that no row was written again (in PostgreSQL an update that
// changes nothing still writes a new row version).
// TestChangeRowsKeepTheirPrev: every change row keeps the score before it
// through backfills and re-fetches (what the fleet's change ledger reads).
func TestChangeRowsKeepTheirPrev(t *testing.T) { releasetest.ChangePrev(t, openTemp(t)) }

func TestStateBeforeADay(t *testing.T) { releasetest.StateBefore(t, openTemp(t)) }

func TestResavingWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	tenant := fleetscore.Tenant{ID: "t1", Name: "One", TargetPercent: 70}
	scores := storetest.History("t1", fleetscore.MustDay("2026-01-01"), 30, 250, 1)
	b := fleetscore.Batch{Tenant: tenant, Scores: scores, Profiles: syntheticProfiles(scores[0])}
	if err := s.SaveBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]map[string]string{}
	for _, table := range tables {
		before[table] = rowVersions(t, s, table)
	}
	if n := len(before["control_changes"]); n < 250 || n > 250+29*8 {
		t.Errorf("%d change rows for 30 days of 250 controls with ~4 changes a day", n)
	}
	for _, b := range []fleetscore.Batch{b, {Tenant: tenant, Scores: scores[25:], Profiles: b.Profiles}, {Tenant: fleetscore.Tenant{ID: "t1"}}} {
		if err := s.SaveBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range tables {
		after := rowVersions(t, s, table)
		if len(after) != len(before[table]) {
			t.Errorf("%s: %d rows after re-saving, %d before", table, len(after), len(before[table]))
		}
		rewritten := 0
		for row, xmin := range after {
			if before[table][row] != xmin {
				rewritten++
			}
		}
		if rewritten > 0 {
			t.Errorf("re-saving the same data wrote %d rows of %s again, want 0", rewritten, table)
		}
	}
}

// TestConcurrentSavesOfOneTenant saves overlapping batches of one tenant
// from several goroutines at once (as two instances that do not claim
// tenants would): they are written one after the other and the history is
// that of the last batch for each day.
func TestConcurrentSavesOfOneTenant(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	tenant := fleetscore.Tenant{ID: "t1", Name: "One"}
	days := storetest.History("t1", fleetscore.MustDay("2026-01-01"), 40, 120, 3)
	var wg sync.WaitGroup
	for i := range 6 {
		part := days[i*5 : i*5+15] // each overlaps the next
		wg.Go(func() {
			if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: tenant, Scores: part, Profiles: syntheticProfiles(part[0])}); err != nil {
				t.Errorf("SaveBatch of days %s..%s: %v", part[0].Day, part[len(part)-1].Day, err)
			}
		})
	}
	wg.Wait()
	got, err := s.Scores(ctx, tenant.ID, fleetscore.Day{}, fleetscore.Day{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 {
		t.Fatalf("%d days stored, want 40", len(got))
	}
	for i, g := range got {
		w := days[i]
		if g.Day != w.Day || g.CurrentScore != w.CurrentScore || len(g.Controls) != len(w.Controls) {
			t.Errorf("day %s: %v/%d controls, want %s %v/%d controls", g.Day, g.CurrentScore, len(g.Controls), w.Day, w.CurrentScore, len(w.Controls))
			continue
		}
		want := map[string]float64{}
		for _, c := range w.Controls {
			want[c.Name] = c.Score
		}
		for _, c := range g.Controls {
			if want[c.Name] != c.Score {
				t.Errorf("day %s: control %s = %v, want %v", g.Day, c.Name, c.Score, want[c.Name])
			}
		}
	}
}

// TestNewControlNamesFromManyTenantsAtOnce has twenty tenants, saved at
// once, bring the same new control names in different orders: no deadlock,
// no duplicate name, every tenant saved.
func TestNewControlNamesFromManyTenantsAtOnce(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
			days := storetest.History(id, fleetscore.MustDay("2026-01-01"), 3, 200, uint64(i))
			for d := range days {
				// Reversed for odd tenants: the same names in the other order.
				if i%2 == 1 {
					cs := days[d].Controls
					for a, b := 0, len(cs)-1; a < b; a, b = a+1, b-1 {
						cs[a], cs[b] = cs[b], cs[a]
					}
				}
			}
			if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: fleetscore.Tenant{ID: id}, Scores: days}); err != nil {
				t.Errorf("tenant %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var names, distinct int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT name) FROM controls`).Scan(&names, &distinct); err != nil {
		t.Fatal(err)
	}
	if names != 200 || distinct != 200 {
		t.Errorf("%d control names (%d distinct), want 200", names, distinct)
	}
	var maxID int
	if err := s.DB().QueryRowContext(ctx, `SELECT max(id) FROM controls`).Scan(&maxID); err != nil {
		t.Fatal(err)
	}
	if maxID > 4*200 {
		t.Errorf("control keys reach %d for 200 names: the sequence is being burnt", maxID)
	}
}

func TestSizeGrowsWithTheHistory(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	empty, err := s.Size()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		id := fmt.Sprintf("t%d", i)
		if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: fleetscore.Tenant{ID: id}, Scores: storetest.History(id, fleetscore.MustDay("2026-01-01"), 90, 250, uint64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	full, err := s.Size()
	if err != nil {
		t.Fatal(err)
	}
	if full <= empty {
		t.Errorf("Size() = %d after 450 tenant-days, %d empty", full, empty)
	}
	t.Logf("empty %d bytes, 5 tenants x 90 days x 250 controls %d bytes (%.0f per tenant-day)", empty, full, float64(full-empty)/450)
}

func TestPingAndClose(t *testing.T) {
	s := openTemp(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping of an open store: %v", err)
	}
	s.Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping of a closed store succeeded")
	}
}

// syntheticProfiles are control profiles for the controls of a day, with
// remediation text of a realistic size.
func syntheticProfiles(day fleetscore.Score) []fleetscore.ControlProfile {
	var ps []fleetscore.ControlProfile
	for i, c := range day.Controls {
		p := fleetscore.ControlProfile{
			ID: c.Name, Title: "Do the right thing about " + c.Name, Category: c.Category, MaxScore: 10, Rank: i + 1,
			Tier: "Core", UserImpact: "Low", ImplementationCost: "Low", ActionType: "Config",
			ActionURL: "https://security.microsoft.com/securescore?viewid=actions&control=" + c.Name,
			Service:   "MDO", Threats: []string{"Phishing", "Account Breach"},
			Remediation: strings.Repeat("<p>Go to the portal and change the setting.</p>", 12),
		}
		if i%10 == 0 {
			p.StateUpdates = []fleetscore.ControlStateUpdate{{State: fleetscore.StateIgnored, UpdatedBy: "ops@example.com",
				Comment: "accepted risk", UpdatedAt: time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC)}}
		}
		ps = append(ps, p)
	}
	return ps
}

func TestAlertState(t *testing.T) {
	alerttest.StateStoreSuite(t, func(t *testing.T) alert.StateStore { return openTemp(t) })
}

func TestAuthStore(t *testing.T) {
	authtest.Run(t, func(t *testing.T) auth.Store { return openTemp(t) })
}

// TestOpensTheReleaseDatabase loads a database written by the previous
// release (testdata/release.sql: pg_dump --inserts of what
// internal/relational/testdata/mkfixture wrote at commit 1e8987b) and checks
// that it migrates without loss and reads as the same history written now.
func TestOpensTheReleaseDatabase(t *testing.T) {
	ctx := context.Background()
	dump, err := os.ReadFile(filepath.Join("testdata", "release.sql"))
	if err != nil {
		t.Fatal(err)
	}
	// psql's meta-commands (\restrict) are not SQL.
	var script strings.Builder
	for line := range strings.Lines(string(dump)) {
		if !strings.HasPrefix(line, `\`) {
			script.WriteString(line)
		}
	}
	dsn := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, script.String(), pgx.QueryExecModeSimpleProtocol)
	conn.Close(ctx)
	if err != nil {
		t.Fatalf("load the release's dump: %v", err)
	}
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	before, err := releasetest.Before(ctx, raw)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	releasetest.Check(t, s, openTemp(t), filepath.Join("testdata", "release.sums"), before)
}

// TestSameSchemaAsSQLite keeps the dialects' migrations in step: `fleetscore
// migrate` copies tables by name, the store's queries are the same for
// both, and a version means the same schema in both.
func TestSameSchemaAsSQLite(t *testing.T) {
	ctx := context.Background()
	pg := openTemp(t)
	lite, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "fleetscore.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	a, err := relational.SQLite.Versions()
	if err != nil {
		t.Fatal(err)
	}
	b, err := relational.Postgres.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("SQLite has %d migrations, PostgreSQL %d: add the other dialect's twin, the same number", a, b)
	}
	pgTables, err := pg.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	liteTables, err := lite.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pgTables, liteTables) {
		t.Fatalf("tables (in copy order): PostgreSQL %v, SQLite %v", pgTables, liteTables)
	}
	for _, table := range pgTables {
		a, err := pg.Columns(ctx, table)
		if err != nil {
			t.Fatal(err)
		}
		b, err := lite.Columns(ctx, table)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, b) {
			t.Errorf("table %s: PostgreSQL's columns %v, SQLite's %v", table, a, b)
		}
	}
}

// BenchmarkStorageYear: 50 tenants x 365 daily collections after a 90-day
// backfill, in a new database, bytes per tenant-day beside the goal
// (storetest), with the server's autovacuum settings: the goal's are
// PostgreSQL's defaults (autovacuum on, every minute), which the benchmark
// reports (autovacuum-on 1) and which a test server may not have (then
// point FLEETSCORE_TEST_POSTGRES at one initdb made).
// FLEETSCORE_STORAGE_TENANTS=1000 runs the goal's 1,000 tenants instead of 50.
//
//	go test ./postgres -run '^$' -bench StorageYear -benchtime 1x
func BenchmarkStorageYear(b *testing.B) {
	storetest.BenchmarkStorage(b, func(b *testing.B) storetest.Sized {
		s := openTemp(b)
		var on string
		if err := s.DB().QueryRow(`SHOW autovacuum`).Scan(&on); err != nil {
			b.Fatal(err)
		}
		if on != "on" {
			b.Logf("autovacuum is %s on this server, not PostgreSQL's default (on): dead rows are never vacuumed", on)
		}
		b.ReportMetric(map[bool]float64{true: 1}[on == "on"], "autovacuum-on")
		return s
	}, storetest.Storage{Tenants: 50, Backfill: 90, Days: 365, Controls: 250, Window: 30})
}

// BenchmarkTenantReads: one tenant's reads of a page (storetest), another
// tenant each op, in the database FLEETSCORE_BENCH_POSTGRES names (opened
// as it is: one `fleetscore bench --serve` filled), else 40 tenants x 400
// days filled through the store in a new database.
//
//	FLEETSCORE_BENCH_POSTGRES=postgres://... go test ./postgres -run '^$' -bench TenantReads
func BenchmarkTenantReads(b *testing.B) {
	dsn := os.Getenv("FLEETSCORE_BENCH_POSTGRES")
	if dsn == "" {
		storetest.BenchmarkTenantReads(b, openTemp(b), true)
		return
	}
	s, err := Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkTenantReads(b, s, false)
}

func TestEachProfileSummaries(t *testing.T) { releasetest.EachProfileSummaries(t, openTemp(t)) }
