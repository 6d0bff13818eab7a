package main

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/postgres/pgtest"
	"github.com/fleetscore/fleetscore/sqlite"
)

func openTables(t *testing.T, dsn string) tableStore {
	t.Helper()
	s, err := openTableStore(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sums is every table's row count and checksum.
func sums(t *testing.T, s tableStore) map[string]checksum {
	t.Helper()
	ctx := context.Background()
	tables, err := s.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]checksum{}
	for _, table := range tables {
		cols, err := s.Columns(ctx, table)
		if err != nil {
			t.Fatal(err)
		}
		// One column order for both stores: by name.
		cols = slices.Sorted(slices.Values(cols))
		if out[table], err = tableSum(ctx, s, table, cols); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkSums compares the counts and checksums of the source's and the
// target's tables. The tables both have must match; a table only one of
// them has (its schema is ahead) must be empty; the report must name every
// table.
func checkSums(t *testing.T, what string, src, dst map[string]checksum, report string) {
	t.Helper()
	for table, s := range src {
		d, ok := dst[table]
		switch {
		case !ok && s.rows > 0:
			t.Errorf("%s: table %s, with %d rows in the source, is not in the target", what, table, s.rows)
		case !ok:
			if !strings.Contains(report, table) {
				t.Errorf("%s: the report does not say table %s was not copied:\n%s", what, table, report)
			}
		case s != d:
			t.Errorf("%s: table %s: %d rows, checksum %x in the source; %d rows, checksum %x in the target", what, table, s.rows, s.sum, d.rows, d.sum)
		case s.rows > 0 && !strings.Contains(report, table):
			t.Errorf("%s: the report does not name table %s:\n%s", what, table, report)
		}
	}
	for table, d := range dst {
		if _, ok := src[table]; !ok && d.rows > 0 {
			t.Errorf("%s: table %s, only in the target, has %d rows", what, table, d.rows)
		}
	}
}

// sameHistory checks, through the Store interface alone, that two stores
// hold the same history: tenants, every day with its controls, profiles and
// the collection log.
func sameHistory(t *testing.T, a, b fleetscore.Store) {
	t.Helper()
	ctx := context.Background()
	ta, err := a.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ta, tb) {
		t.Errorf("Tenants differ:\n%+v\n%+v", ta, tb)
	}
	for _, ts := range ta {
		sa, err := a.Scores(ctx, ts.ID, fleetscore.Day{}, fleetscore.Day{})
		if err != nil {
			t.Fatal(err)
		}
		sb, err := b.Scores(ctx, ts.ID, fleetscore.Day{}, fleetscore.Day{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sa, sb) {
			t.Errorf("tenant %s: Scores differ (%d and %d days)", ts.Name, len(sa), len(sb))
		}
		pa, err := a.Profiles(ctx, ts.ID)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := b.Profiles(ctx, ts.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(pa, pb) {
			t.Errorf("tenant %s: Profiles differ (%d and %d)", ts.Name, len(pa), len(pb))
		}
	}
	ca, err := a.Collections(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Collections(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ca, cb) {
		t.Errorf("Collections differ:\n%+v\n%+v", ca, cb)
	}
}

// TestMigrateSQLiteToPostgresAndBack collects real (emulated) tenants into
// SQLite, copies the history to PostgreSQL with `migrate`, and checks that
// the counts and checksums of every table match, and that both stores read
// back the same history; then refuses to overwrite, overwrites with --force,
// and copies the PostgreSQL history into a new SQLite file that matches the
// first one table for table.
func TestMigrateSQLiteToPostgresAndBack(t *testing.T) {
	ctx := context.Background()
	path, ids := writeConfig(t, []tenantSpec{
		{name: "Alpha", consent: true},
		{name: "Bravo", consent: true},
		{name: "Charlie", consent: true},
		{name: "Delta", consent: true, faults: emulator.Faults{RevokeConsent: true}},
	})
	if r := runCmd(t, nil, "collect", "--config", path); exitCode(r.err) != 1 {
		t.Fatalf("collect: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	from := "sqlite:" + filepath.Join(filepath.Dir(path), "fleetscore.db")
	// Claims too: one done, one released.
	func() {
		s, err := sqlite.Open(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		today := fleetscore.DayOf(time.Now())
		for i, ok := range []bool{true, false} {
			if got, err := s.Claim(ctx, ids[i], today, "instance-1", time.Minute); !got || err != nil {
				t.Fatalf("claim: %v %v", got, err)
			}
			if err := s.Done(ctx, ids[i], today, "instance-1", ok); err != nil {
				t.Fatal(err)
			}
		}
	}()

	to := pgtest.NewDatabase(t)
	r := runCmd(t, nil, "migrate", "--from", from, "--to", to)
	if r.err != nil {
		t.Fatalf("migrate: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	t.Logf("migrate:\n%s", r.stdout)
	src, dst := openTables(t, from), openTables(t, to)
	want, got := sums(t, src), sums(t, dst)
	checkSums(t, "SQLite -> PostgreSQL", want, got, r.stdout)
	// The collection and the claims fill these; the others (alerts...) are
	// empty here, and copied as such.
	for _, table := range []string{"tenants", "controls", "scores", "tenant_controls", "control_changes",
		"profiles", "control_states", "collections", "claims"} {
		if want[table].rows == 0 || got[table].rows == 0 {
			t.Errorf("table %s: %d rows in the source, %d in the copy: the test copies nothing of it", table, want[table].rows, got[table].rows)
		}
	}
	if !strings.Contains(r.stdout, "verified") || strings.Contains(r.stdout, "DIFFERENT") {
		t.Errorf("migrate's report:\n%s", r.stdout)
	}
	sameHistory(t, src, dst)

	// New rows in the copy get new keys.
	last, err := src.Collections(ctx, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	id, err := dst.StartCollection(ctx, fleetscore.Collection{TenantID: ids[0], StartedAt: time.Now()})
	if err != nil {
		t.Fatalf("a new collection in the copy: %v", err)
	}
	if id <= last[0].ID {
		t.Errorf("a new collection in the copy has ID %d, not after the copied %d", id, last[0].ID)
	}

	// A target that is not empty is left alone, unless --force.
	r = runCmd(t, nil, "migrate", "--from", from, "--to", to)
	if r.err == nil || !strings.Contains(r.err.Error(), "not empty") || !strings.Contains(r.err.Error(), "--force") {
		t.Errorf("migrate into a database that is not empty: %v; want a refusal naming --force", r.err)
	}
	r = runCmd(t, nil, "migrate", "--from", from, "--to", to, "--force")
	if r.err != nil {
		t.Fatalf("migrate --force: %v\n%s", r.err, r.stdout)
	}
	checkSums(t, "migrate --force", want, sums(t, dst), r.stdout)

	// And back, into a new SQLite file.
	back := "sqlite:" + filepath.Join(t.TempDir(), "back.db")
	r = runCmd(t, nil, "migrate", "--from", to, "--to", back)
	if r.err != nil {
		t.Fatalf("migrate back: %v\n%s", r.err, r.stdout)
	}
	checkSums(t, "SQLite -> PostgreSQL -> SQLite", want, sums(t, openTables(t, back)), r.stdout)
}

// TestStoresHaveTheSameSchema: the two stores have the same tables with the
// same columns, so that migrate copies everything either way.
func TestStoresHaveTheSameSchema(t *testing.T) {
	lite := openTables(t, "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
	pg := openTables(t, pgtest.NewDatabase(t))
	for _, dir := range []struct {
		name     string
		src, dst tableStore
	}{{"SQLite -> PostgreSQL", lite, pg}, {"PostgreSQL -> SQLite", pg, lite}} {
		plan, skipped, err := copyPlan(context.Background(), dir.src, dir.dst)
		if err != nil || len(skipped) > 0 {
			t.Errorf("%s: %v; tables the target lacks: %v", dir.name, err, skipped)
		}
		all, err := dir.src.Tables(context.Background())
		if err != nil || !slices.Equal(slices.Sorted(slices.Values(plan)), slices.Sorted(slices.Values(all))) {
			t.Errorf("%s: copies %v of %v (%v)", dir.name, plan, all, err)
		}
	}
}

func TestMigrateArguments(t *testing.T) {
	if r := runCmd(t, nil, "migrate", "--from", "sqlite:x.db"); exitCode(r.err) != 2 {
		t.Errorf("migrate without --to: exit %d, want 2", exitCode(r.err))
	}
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	if r := runCmd(t, nil, "migrate", "--from", dsn, "--to", dsn); r.err == nil || !strings.Contains(r.err.Error(), "same database") {
		t.Errorf("migrate onto itself: %v", r.err)
	}
}

func TestChecksumIsOrderFreeAndTyped(t *testing.T) {
	sum := func(rows ...[]any) checksum {
		var c checksum
		for _, r := range rows {
			if err := c.add(r); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	a, b := []any{int64(1), "x", nil}, []any{int64(2), 1.5, "y"}
	tenth := 0.1
	if sum(a, b) != sum(b, a) {
		t.Error("the checksum depends on the order of the rows")
	}
	for _, pair := range [][2][]any{
		{{int64(1)}, {1.0}},                // an integer is not a float
		{{"1"}, {int64(1)}},                // nor a string
		{{nil}, {""}},                      // NULL is not empty
		{{"ab", "c"}, {"a", "bc"}},         // values are delimited
		{{tenth + 2*tenth}, {0.3}},         // floats are exact
		{{int64(1), nil}, {nil, int64(1)}}, // columns are ordered
	} {
		if sum(pair[0]) == sum(pair[1]) {
			t.Errorf("rows %v and %v have the same checksum", pair[0], pair[1])
		}
	}
	if sum([]any{0.0}) != sum([]any{math.Copysign(0, -1)}) {
		t.Error("0 and -0 differ")
	}
}
