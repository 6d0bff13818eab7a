package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/fleetscore/fleetscore/internal/relational/releasetest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/auth/authtest"
	"github.com/fleetscore/fleetscore/internal/relational"
	"github.com/fleetscore/fleetscore/storetest"
)

func openTemp(tb testing.TB, opts ...Option) *Store {
	tb.Helper()
	s, err := Open(context.Background(), "sqlite:"+filepath.Join(tb.TempDir(), "data", "fleetscore.db"), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) fleetscore.Store { return openTemp(t, WithClock(now)) })
}

func TestStoreInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) fleetscore.Store {
		s, err := Open(context.Background(), "sqlite::memory:", WithClock(now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestParseDSN(t *testing.T) {
	abs, _ := filepath.Abs("rel/x.db")
	for _, tc := range []struct {
		dsn, path, err string
	}{
		{dsn: "sqlite:/var/lib/fleetscore/x.db", path: "/var/lib/fleetscore/x.db"},
		{dsn: "sqlite:///var/lib/fleetscore/x.db", path: "/var/lib/fleetscore/x.db"},
		{dsn: "/var/lib/fleetscore/x.db", path: "/var/lib/fleetscore/x.db"},
		{dsn: "sqlite:rel/x.db", path: abs},
		{dsn: "rel/x.db", path: abs},
		{dsn: "sqlite::memory:", path: ""},
		{dsn: ":memory:", path: ""},
		{dsn: "", err: "no database path"},
		{dsn: "sqlite:", err: "no database path"},
		{dsn: "postgres://localhost/fleetscore", err: "not a SQLite database"},
	} {
		path, err := parseDSN(tc.dsn)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseDSN(%q) error = %v, want one saying %q", tc.dsn, err, tc.err)
		case tc.err == "" && (err != nil || path != tc.path):
			t.Errorf("parseDSN(%q) = %q, %v; want %q", tc.dsn, path, err, tc.path)
		}
	}
}

func TestOpenCreatesFolderAndSetsPragmas(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a folder?#%", "sub")
	s, err := Open(ctx, "sqlite:"+filepath.Join(dir, "fleetscore.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, db := range []struct {
		name      string
		q         *sql.DB
		queryOnly int
	}{{"writer", s.w, 0}, {"reader", s.r, 1}} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"synchronous":  "1", // NORMAL
			"foreign_keys": "1",
			"busy_timeout": fmt.Sprint(busyTimeoutMillis),
			"query_only":   fmt.Sprint(db.queryOnly),
		} {
			var got string
			if err := db.q.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", db.name, pragma, err)
			}
			if got != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", db.name, pragma, got, want)
			}
		}
	}
	var file string
	if err := s.r.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		t.Fatal(err)
	}
	if file != filepath.Join(dir, "fleetscore.db") {
		t.Errorf("database file %q, want %q", file, filepath.Join(dir, "fleetscore.db"))
	}
}

func TestMigrationsAreAppliedOnce(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "fleetscore.db")
	versions, err := relational.SQLite.Versions()
	if err != nil {
		t.Fatal(err)
	}
	applied := func() string {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rows, err := s.r.QueryContext(ctx, `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		n := 0
		for rows.Next() {
			var (
				v  int
				at string
			)
			if err := rows.Scan(&v, &at); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d %s\n", v, at)
			n++
		}
		if n != versions {
			t.Errorf("%d migrations recorded, want %d", n, versions)
		}
		return b.String()
	}
	first := applied()
	time.Sleep(5 * time.Millisecond)
	if again := applied(); again != first {
		t.Errorf("reopening changed schema_migrations:\n%s\nthen\n%s", first, again)
	}
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "fleetscore.db")
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'later')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "schema version 999") || !strings.Contains(err.Error(), "newer fleetscore") {
		t.Errorf("Open of a database from a newer fleetscore: error %v, want one naming version 999 and a newer fleetscore", err)
	}
}

func TestReadersDoNotWaitForAWrite(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	tenant := fleetscore.Tenant{ID: "t1", Name: "One"}
	if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: tenant, Scores: storetest.History("t1", fleetscore.MustDay("2026-01-01"), 10, 50, 1)}); err != nil {
		t.Fatal(err)
	}

	// A long write holds the write lock...
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM scores`); err != nil {
		t.Fatal(err)
	}

	// ...while readers, many at once, read the last committed state at once
	// (the busy timeout is 10 s; they get 2).
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := s.Scores(rctx, "t1", fleetscore.Day{}, fleetscore.Day{})
			if err != nil || len(got) != 10 {
				t.Errorf("Scores during a write = %d days, %v; want 10", len(got), err)
			}
			if _, err := s.Tenants(rctx); err != nil {
				t.Errorf("Tenants during a write: %v", err)
			}
		})
	}
	wg.Wait()

	// A second writer waits for the first instead of failing.
	done := make(chan error)
	go func() { done <- s.SyncTenants(ctx, []fleetscore.Tenant{{ID: "t2", Name: "Two"}}) }()
	select {
	case err := <-done:
		t.Fatalf("SyncTenants returned during another write: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("SyncTenants after the write: %v", err)
	}
}

// totalChanges is the number of rows the writer connection has ever changed.
func totalChanges(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	if err := s.w.QueryRowContext(context.Background(), `SELECT total_changes()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func count(t *testing.T, s *Store, table string) int64 {
	t.Helper()
	var n int64
	if err := s.r.QueryRowContext(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

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
	rows := count(t, s, "control_changes")
	// 250 controls on the first day, then about 4 changes a day.
	if rows < 250 || rows > 250+29*8 {
		t.Errorf("%d change rows for 30 days of 250 controls with ~4 changes a day", rows)
	}
	before := totalChanges(t, s)
	for _, b := range []fleetscore.Batch{b, {Tenant: tenant, Scores: scores[25:], Profiles: b.Profiles}, {Tenant: fleetscore.Tenant{ID: "t1"}}} {
		if err := s.SaveBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if n := totalChanges(t, s) - before; n != 0 {
		t.Errorf("re-saving the same data changed %d rows, want 0", n)
	}
	if n := count(t, s, "control_changes"); n != rows {
		t.Errorf("re-saving the same data: %d change rows, want %d", n, rows)
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

// TestBytesPerTenantDay measures the steady-state growth of the database: 50
// tenants backfilled with 90 days, then 30 daily collections each (the newest
// day re-fetched, the new day, the full profile list, a collection log row).
// The goal is well under 1 KB per tenant-day.
func TestBytesPerTenantDay(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const (
		tenants  = 50
		backfill = 90
		daily    = 30
		controls = 250
	)
	ctx := context.Background()
	s := openTemp(t)
	first := fleetscore.MustDay("2026-01-01")
	gens := make([]*storetest.Generator, tenants)
	lastDay := make([]fleetscore.Score, tenants)
	profiles := make([][]fleetscore.ControlProfile, tenants)
	tenant := func(i int) fleetscore.Tenant {
		return fleetscore.Tenant{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), Name: fmt.Sprint("Tenant ", i)}
	}
	start := time.Now()
	for i := range tenants {
		gens[i] = storetest.NewGenerator(tenant(i).ID, first, controls, uint64(i))
		days := gens[i].Days(backfill)
		lastDay[i] = days[len(days)-1]
		profiles[i] = syntheticProfiles(days[0])
		if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: tenant(i), Scores: days, Profiles: profiles[i]}); err != nil {
			t.Fatal(err)
		}
	}
	backfillTime := time.Since(start)
	base, err := s.Size()
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for range daily {
		for i := range tenants {
			next := gens[i].Next()
			id, err := s.StartCollection(ctx, fleetscore.Collection{TenantID: tenant(i).ID, StartedAt: next.Day.Time().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			b := fleetscore.Batch{Tenant: tenant(i), Scores: []fleetscore.Score{lastDay[i], next}, Profiles: profiles[i]}
			if err := s.SaveBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
			err = s.FinishCollection(ctx, fleetscore.Collection{ID: id, Status: fleetscore.StatusOK,
				FinishedAt: next.Day.Time().Add(time.Hour + 3*time.Second), Days: 2, Controls: controls, Requests: 3})
			if err != nil {
				t.Fatal(err)
			}
			lastDay[i] = next
		}
	}
	dailyTime := time.Since(start)
	end, err := s.Size()
	if err != nil {
		t.Fatal(err)
	}
	perTenantDay := float64(end-base) / (tenants * daily)
	t.Logf("backfill: %d tenants x %d days x %d controls in %s (%s per tenant); database %d bytes (%.0f bytes per tenant-day, profiles included)",
		tenants, backfill, controls, backfillTime.Round(time.Millisecond), (backfillTime / tenants).Round(time.Millisecond),
		base, float64(base)/(tenants*backfill))
	t.Logf("daily: %d collections in %s (%s each); growth %d bytes = %.0f bytes per tenant-day",
		tenants*daily, dailyTime.Round(time.Millisecond), (dailyTime / (tenants * daily)).Round(time.Microsecond), end-base, perTenantDay)
	if perTenantDay > 600 {
		t.Errorf("%.0f bytes per tenant-day at steady state, want well under 1000", perTenantDay)
	}
}

func BenchmarkSaveBatchBackfill(b *testing.B) {
	ctx := context.Background()
	s := openTemp(b)
	first := fleetscore.MustDay("2026-01-01")
	i := 0
	for b.Loop() {
		b.StopTimer()
		tenant := fleetscore.Tenant{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), Name: "T"}
		batch := fleetscore.Batch{Tenant: tenant, Scores: storetest.History(tenant.ID, first, 90, 250, uint64(i))}
		i++
		b.StartTimer()
		if err := s.SaveBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSaveBatchDaily(b *testing.B) {
	ctx := context.Background()
	s := openTemp(b)
	tenant := fleetscore.Tenant{ID: "00000000-0000-4000-8000-000000000000", Name: "T"}
	g := storetest.NewGenerator(tenant.ID, fleetscore.MustDay("2020-01-01"), 250, 1)
	days := g.Days(90)
	if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: tenant, Scores: days, Profiles: syntheticProfiles(days[0])}); err != nil {
		b.Fatal(err)
	}
	profiles := syntheticProfiles(days[0])
	last := days[len(days)-1]
	for b.Loop() {
		b.StopTimer()
		next := g.Next()
		batch := fleetscore.Batch{Tenant: tenant, Scores: []fleetscore.Score{last, next}, Profiles: profiles}
		last = next
		b.StartTimer()
		if err := s.SaveBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScores90Days(b *testing.B) {
	ctx := context.Background()
	s := openTemp(b)
	tenant := fleetscore.Tenant{ID: "00000000-0000-4000-8000-000000000000", Name: "T"}
	days := storetest.History(tenant.ID, fleetscore.MustDay("2026-01-01"), 90, 250, 1)
	if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: tenant, Scores: days}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if got, err := s.Scores(ctx, tenant.ID, fleetscore.Day{}, fleetscore.Day{}); err != nil || len(got) != 90 {
			b.Fatal(len(got), err)
		}
	}
}

func TestAuthStore(t *testing.T) {
	authtest.Run(t, func(t *testing.T) auth.Store { return openTemp(t) })
}

// TestOpensTheReleaseDatabase opens a database written by the previous
// release (testdata/release.db, written by
// internal/relational/testdata/mkfixture at commit 1e8987b) and checks that
// it migrates without loss and reads as the same history written now.
func TestOpensTheReleaseDatabase(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "release.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "release.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	before, err := releasetest.Before(context.Background(), raw)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	releasetest.Check(t, s, openTemp(t), filepath.Join("testdata", "release.sums"), before)
}

// BenchmarkStorageYear: 50 tenants x 365 daily collections after a 90-day
// backfill, in a file, bytes per tenant-day beside the goal (storetest);
// FLEETSCORE_STORAGE_TENANTS=1000 runs the goal's 1,000 tenants instead.
//
//	go test ./sqlite -run '^$' -bench StorageYear -benchtime 1x
func BenchmarkStorageYear(b *testing.B) {
	storetest.BenchmarkStorage(b, func(b *testing.B) storetest.Sized { return openTemp(b) },
		storetest.Storage{Tenants: 50, Backfill: 90, Days: 365, Controls: 250, Window: 30})
}

// TestProfileTextKeptOnce: tenants with the same profiles share their text
// (one profile_contents row per distinct content), and a shifted rank
// rewrites the rank alone: no content is added.
func TestProfileTextKeptOnce(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	day := storetest.History("t0", fleetscore.MustDay("2026-01-01"), 1, 40, 1)[0]
	ps := syntheticProfiles(day)
	for i := range 3 {
		if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: fleetscore.Tenant{ID: fmt.Sprint("t", i)}, Profiles: ps}); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s, "profile_contents"); n != int64(len(ps)) {
		t.Errorf("%d profile contents for 3 tenants of the same %d profiles, want %d", n, len(ps), len(ps))
	}
	if n := count(t, s, "profiles"); n != int64(3*len(ps)) {
		t.Errorf("%d profiles, want %d", n, 3*len(ps))
	}

	// The first control goes: the ranks of the others move up one.
	shifted := slices.Clone(ps[1:])
	for i := range shifted {
		shifted[i].Rank--
	}
	before := totalChanges(t, s)
	if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: fleetscore.Tenant{ID: "t0"}, Profiles: shifted}); err != nil {
		t.Fatal(err)
	}
	if n := totalChanges(t, s) - before; n != int64(len(ps)) {
		t.Errorf("shifting %d ranks and removing one profile changed %d rows, want %d", len(shifted), n, len(ps))
	}
	if n := count(t, s, "profile_contents"); n != int64(len(ps)) {
		t.Errorf("%d profile contents after ranks moved, want %d", n, len(ps))
	}

	// Microsoft rewords one: one content more, whichever tenants save it.
	ps[3].Remediation = "<p>Open the new portal.</p>"
	for i := range 3 {
		if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: fleetscore.Tenant{ID: fmt.Sprint("t", i)}, Profiles: ps}); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s, "profile_contents"); n != int64(len(ps)+1) {
		t.Errorf("%d profile contents after one was reworded, want %d", n, len(ps)+1)
	}
	got, err := s.Profiles(ctx, "t2")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.ID == ps[3].ID && p.Remediation != ps[3].Remediation {
			t.Errorf("remediation of %s = %q, want %q", p.ID, p.Remediation, ps[3].Remediation)
		}
	}
}

// TestFleetReadsShareStrings: the fleet-wide reads a server's model keeps
// (Daily, LatestControls, ProfileSummaries) hold each repeated string once
// (a tenant's ID on each of its days, a control's name and title on each
// tenant), not once per row.
func TestFleetReadsShareStrings(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := storetest.Fill(ctx, s, 2, 3, now, nil); err != nil {
		t.Fatal(err)
	}
	same := func(a, b string) bool { return a == b && unsafe.StringData(a) == unsafe.StringData(b) }
	daily, err := s.Daily(ctx, fleetscore.Day{}, fleetscore.DayOf(now))
	if err != nil || len(daily) != 6 {
		t.Fatalf("daily: %d rows, %v", len(daily), err)
	}
	if !same(daily[0].TenantID, daily[1].TenantID) || daily[0].TenantID == daily[5].TenantID {
		t.Errorf("daily tenant IDs %q %q %q: one copy per tenant expected", daily[0].TenantID, daily[1].TenantID, daily[5].TenantID)
	}
	ids := []string{storetest.FillTenant(0).ID, storetest.FillTenant(1).ID}
	latest, err := s.LatestControls(ctx)
	if err != nil || len(latest[ids[0]]) == 0 || len(latest[ids[1]]) == 0 {
		t.Fatalf("latest controls: %v", err)
	}
	a, b := latest[ids[0]][0], latest[ids[1]][0]
	if !same(a.Name, b.Name) || !same(a.Category, b.Category) {
		t.Errorf("latest controls %+v and %+v: their name and category should be one copy", a, b)
	}
	profs, err := s.ProfileSummaries(ctx)
	if err != nil || len(profs[ids[0]]) == 0 || len(profs[ids[1]]) == 0 {
		t.Fatalf("profile summaries: %v", err)
	}
	p, q := profs[ids[0]][0], profs[ids[1]][0]
	if !same(p.ID, q.ID) || !same(p.Title, q.Title) || !same(p.Tier, q.Tier) {
		t.Errorf("profiles %q/%q and %q/%q: one copy of the ID, title and tier expected", p.ID, p.Title, q.ID, q.Title)
	}
}

// BenchmarkTenantReads: one tenant's reads of a page (storetest), another
// tenant each op, over the file FLEETSCORE_BENCH_SQLITE names (opened as
// it is: a store `fleetscore bench --serve` filled), else 40 tenants x 400
// days filled through the store.
//
//	FLEETSCORE_BENCH_SQLITE=/work/data/s1000.db go test ./sqlite -run '^$' -bench TenantReads
func BenchmarkTenantReads(b *testing.B) {
	path := os.Getenv("FLEETSCORE_BENCH_SQLITE")
	if path == "" {
		storetest.BenchmarkTenantReads(b, openTemp(b), true)
		return
	}
	s, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkTenantReads(b, s, false)
}

func TestEachProfileSummaries(t *testing.T) { releasetest.EachProfileSummaries(t, openTemp(t)) }
