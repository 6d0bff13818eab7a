// Package releasetest checks that a database written by the previous
// release opens and reads identically: testdata/mkfixture, run in a checkout
// of that release, wrote the fixtures with Fill (the same code as here),
// with the checksums of every table; Check opens a copy with this code.
package releasetest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/storetest"
)

// releaseRead is what the release's read methods returned (ReadBack), the
// same for both dialects.
//
//go:embed release.read.json.gz
var releaseRead []byte

// Check compares the release database s (opened, so migrated, by this
// fleetscore) with what the release recorded: sumsFile has the checksums of
// its tables, which must not change but for the tables a later migration
// rebuilt (Rebuilt), whose rows must read back from the tables that replaced
// them as they were in the release's database before it was opened (before,
// from Before); and every read method must return what the release's did
// (fields added since may be new) and what it returns for the same history
// written now into fresh.
func Check(t *testing.T, s, fresh Store, sumsFile string, before map[string]string) {
	t.Helper()
	ctx := context.Background()
	want, err := os.ReadFile(sumsFile)
	if err != nil {
		t.Fatal(err)
	}
	var kept strings.Builder
	for line := range strings.Lines(string(want)) {
		if _, ok := Rebuilt[strings.Fields(line + " ")[0]]; !ok {
			kept.WriteString(line)
		}
	}
	if got := checksumsOf(ctx, s, kept.String()); got != kept.String() {
		t.Errorf("the release's tables after opening it:\n%s\nwant (as the release wrote them):\n%s", got, kept.String())
	}
	for table, r := range Rebuilt {
		if before[table] == "" {
			t.Errorf("no rows of the release's %s read before the migration", table)
		}
		got, err := rowsOf(ctx, s.DB(), r.Now)
		if err != nil {
			t.Fatalf("the rows of the release's %s, read back after %s: %v", table, r.Migration, err)
		}
		if got != before[table] {
			t.Errorf("the rows of the release's %s after %s:\n%s\nwant (as they were before):\n%s", table, r.Migration, got, before[table])
		}
	}
	zr, err := gzip.NewReader(bytes.NewReader(releaseRead))
	if err != nil {
		t.Fatal(err)
	}
	var then, now any
	if err := json.NewDecoder(zr).Decode(&then); err != nil {
		t.Fatal(err)
	}
	got := ReadBack(ctx, s)
	if err := json.Unmarshal(got, &now); err != nil {
		t.Fatal(err)
	}
	if path := differs(then, now, "read"); path != "" {
		t.Errorf("the release's database reads differently than the release read it: at %s", path)
	}
	Fill(ctx, fresh)
	if want := ReadBack(ctx, fresh); string(got) != string(want) {
		t.Errorf("the release's database reads differently from the same history written now:\n%s\nwant\n%s", got, want)
	}
}

// differs is the path of the first value of want that got lacks or has
// otherwise, "" when none: objects may have gained keys.
func differs(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if p := differs(w[k], g[k], path+"."+k); p != "" {
				return p
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path
		}
		for i := range w {
			if p := differs(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
		return ""
	default:
		if want != got {
			return fmt.Sprintf("%s: %v, want %v", path, got, want)
		}
		return ""
	}
}

// Rebuilt are the release's tables that a later migration rebuilt, each
// with the query of the rows it held in the release's schema (Release) and
// the same query of the tables that replaced it (Now), their surrogate keys
// left out.
var Rebuilt = map[string]struct{ Migration, Release, Now string }{
	"control_changes": {
		Migration: "0013_change_prev.sql",
		Release:   `SELECT tenant, control, day, score FROM control_changes`,
		Now:       `SELECT tenant, control, day, score FROM control_changes`,
	},
	"profiles": {
		Migration: "0011_profile_contents.sql",
		Release: `
			SELECT tenant, control, title, category, max_score, rank, tier, user_impact, implementation_cost,
			       action_type, action_url, service, threats, deprecated, remediation, removed
			FROM profiles`,
		Now: `
			SELECT p.tenant, p.control, c.title, c.category, p.max_score, p.rank, p.tier, c.user_impact,
			       c.implementation_cost, c.action_type, c.action_url, c.service, c.threats, p.deprecated,
			       c.remediation, p.removed
			FROM profiles p
			JOIN profile_contents c ON c.id = p.content`,
	},
}

// Before reads the rows of the Rebuilt tables from the release's database
// db, before this fleetscore opens (so migrates) it: what Check compares
// their rows after the migration with.
func Before(ctx context.Context, db *sql.DB) (map[string]string, error) {
	out := map[string]string{}
	for table, r := range Rebuilt {
		rows, err := rowsOf(ctx, db, r.Release)
		if err != nil {
			return nil, fmt.Errorf("the release's %s: %w", table, err)
		}
		out[table] = rows
	}
	return out, nil
}

// rowsOf is the rows of a Rebuilt query, one line each, sorted: each value
// as the driver gives it (texts quoted). Before and after a migration are
// read from the same database, so by the same driver.
func rowsOf(ctx context.Context, db *sql.DB, query string) (string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var lines []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		line := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case string:
				line[i] = strconv.Quote(v)
			case []byte:
				line[i] = strconv.Quote(string(v))
			default:
				line[i] = fmt.Sprint(v)
			}
		}
		lines = append(lines, strings.Join(line, " "))
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}

// Store is what the fixture fills and reads: every store method.
type Store interface {
	fleetscore.Store
	fleetscore.FleetReader
	alert.StateStore
	auth.Store
	Claim(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ttl time.Duration) (bool, error)
	Done(ctx context.Context, tenantID string, day fleetscore.Day, owner string, ok bool) error
	SetArchivePending(ctx context.Context, tenantID string, day fleetscore.Day, errText string) error
	Tables(ctx context.Context) ([]string, error)
	Columns(ctx context.Context, table string) ([]string, error)
	ScanTable(ctx context.Context, table string, columns []string, fn func(row []any) error) error
	DB() *sql.DB
}

var (
	day0 = fleetscore.MustDay("2026-09-01")
	at0  = time.Date(2026, 9, 21, 6, 0, 0, 0, time.UTC)
)

// Fill writes the fixture's history into s, as the release did.
func Fill(ctx context.Context, s Store) {
	tenants := []fleetscore.Tenant{
		{ID: "0a1b2c3d-0000-4000-8000-000000000001", Name: "Contoso Ltd.", TargetPercent: 75},
		{ID: "0a1b2c3d-0000-4000-8000-000000000002", Name: "Fabrikam", TargetPercent: 80},
		{ID: "0a1b2c3d-0000-4000-8000-000000000003", Name: "Northwind", TargetPercent: 0},
	}
	check(s.SyncTenants(ctx, tenants))
	for i, t := range tenants {
		scores := storetest.History(t.ID, day0, 20, 30, uint64(i+1))
		scores[len(scores)-1].EnabledServices = []string{"exo", "spo"}
		var profiles []fleetscore.ControlProfile
		for j, c := range scores[len(scores)-1].Controls {
			p := fleetscore.ControlProfile{ID: c.Name, Title: "Fix " + c.Name, Category: c.Category, MaxScore: 10,
				Rank: j + 1, Tier: "Core", UserImpact: "Low", ImplementationCost: "Low", ActionType: "Config",
				ActionURL: "https://security.microsoft.com/securescore?control=" + c.Name, Service: "MDO",
				Threats: []string{"Phishing"}, Deprecated: j%7 == 3, Remediation: "<p>Change the setting.</p>"}
			if j%5 == 0 {
				p.StateUpdates = []fleetscore.ControlStateUpdate{{State: fleetscore.StateIgnored, UpdatedBy: "ops@example.com",
					Comment: "accepted risk", AssignedTo: "ops", UpdatedAt: at0.Add(-time.Duration(j) * time.Hour)}}
			}
			profiles = append(profiles, p)
		}
		check(s.SaveBatch(ctx, fleetscore.Batch{Tenant: t, Scores: scores, Profiles: profiles}))
		// A later list without two of them: those are kept, marked removed.
		check(s.SaveBatch(ctx, fleetscore.Batch{Tenant: t, Profiles: profiles[2:]}))
		id, err := s.StartCollection(ctx, fleetscore.Collection{TenantID: t.ID, StartedAt: at0.Add(time.Duration(i) * time.Minute)})
		check(err)
		c := fleetscore.Collection{ID: id, TenantID: t.ID, FinishedAt: at0.Add(time.Duration(i)*time.Minute + 7*time.Second),
			Days: 20, Controls: 30, Requests: 4}
		if i == 2 {
			c.Error, c.Advice = "Graph answered 403", "grant consent"
		}
		check(s.FinishCollection(ctx, c))
		ok, err := s.Claim(ctx, t.ID, day0.AddDays(19), "instance-a", time.Hour)
		check(err)
		if !ok {
			panic("claim refused")
		}
		check(s.Done(ctx, t.ID, day0.AddDays(19), "instance-a", i != 1))
	}
	check(s.SetArchivePending(ctx, tenants[1].ID, day0.AddDays(18), "blob storage unreachable"))
	// The third tenant's second collection never finished.
	_, err := s.StartCollection(ctx, fleetscore.Collection{TenantID: tenants[2].ID, StartedAt: at0.Add(time.Hour)})
	check(err)

	msg := alert.Message{Event: alert.Firing, Rule: "below-target", When: "below_target", Title: "below-target: Fabrikam", Summary: "72.5 % < 80 %", At: at0, OpenedAt: at0}
	applied, err := s.ApplyChanges(ctx, []alert.Change{{Event: alert.Firing, At: at0, Channels: []string{"ops-teams"}, Message: msg,
		Alert: alert.Open{Key: alert.Key{Rule: "below-target", Tenant: tenants[1].ID}, Facts: []alert.Fact{{Name: "score", Value: "72.5 %"}}, TenantName: "Fabrikam", Title: msg.Title, Summary: msg.Summary}}})
	check(err)
	ds, err := s.ClaimDeliveries(ctx, "instance-a", at0, time.Minute)
	check(err)
	for _, d := range ds {
		check(s.RecordAttempt(ctx, d.ID, alert.Attempt{At: at0, Took: 120 * time.Millisecond, Error: "503 from Teams"}))
		check(s.RecordAttempt(ctx, d.ID, alert.Attempt{At: at0.Add(time.Minute), Took: 80 * time.Millisecond}))
		check(s.FinishDelivery(ctx, d.ID, alert.StatusDelivered, at0.Add(time.Minute)))
	}
	_ = applied

	check(s.PutUser(ctx, auth.User{Name: "admin", Role: auth.RoleAdmin, PasswordHash: "$argon2id$v=19$fixture", CreatedAt: at0}))
	check(s.PutUser(ctx, auth.User{Name: "client", Role: auth.RoleClient, Tenants: []string{tenants[0].ID}, PasswordHash: "$argon2id$v=19$other", CreatedAt: at0}))
	check(s.PutSession(ctx, auth.Session{IDHash: "sessionhash", Principal: auth.Principal{Name: "admin", Role: auth.RoleAdmin},
		CSRF: "csrf", CreatedAt: at0, ExpiresAt: at0.Add(12 * time.Hour), LastSeen: at0}))
	check(s.PutToken(ctx, auth.Token{ID: "tok1", Hash: "tokenhash1", Role: auth.RoleAnalyst, CreatedAt: at0}))
	check(s.PutToken(ctx, auth.Token{ID: "tok2", Hash: "tokenhash2", Role: auth.RoleAnalyst, CreatedAt: at0.Add(time.Second), Revoked: true}))
	check(s.AddFailure(ctx, "admin", at0))
	check(s.Audit(ctx, auth.Event{At: at0, Actor: "admin", Action: "signin", IP: "192.0.2.1"}))
}

// Checksums is, for every table, its row count and the SHA-256 of its rows
// as ScanTable gives them, sorted.
func Checksums(ctx context.Context, s Store) string {
	tables, err := s.Tables(ctx)
	check(err)
	sort.Strings(tables)
	var b strings.Builder
	for _, t := range tables {
		cols, err := s.Columns(ctx, t)
		check(err)
		checksum(ctx, s, &b, t, cols)
	}
	return b.String()
}

// checksumsOf is Checksums of the release's tables and columns only (as
// want lists them): a table or column a later migration added is new, and
// what the release wrote must be as it was.
func checksumsOf(ctx context.Context, s Store, want string) string {
	var b strings.Builder
	for line := range strings.Lines(want) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		checksum(ctx, s, &b, f[0], strings.Split(f[1], ","))
	}
	return b.String()
}

func checksum(ctx context.Context, s Store, b *strings.Builder, t string, cols []string) {
	var rows []string
	check(s.ScanTable(ctx, t, cols, func(row []any) error {
		parts := make([]string, len(row))
		for i, v := range row {
			parts[i] = fmt.Sprintf("%T:%v", v, v)
		}
		rows = append(rows, strings.Join(parts, "\x1f"))
		return nil
	}))
	sort.Strings(rows)
	sum := sha256.Sum256([]byte(strings.Join(rows, "\n")))
	fmt.Fprintf(b, "%s %s %d %s\n", t, strings.Join(cols, ","), len(rows), hex.EncodeToString(sum[:]))
}

// ReadBack is what the store's read methods return, as JSON.
func ReadBack(ctx context.Context, s Store) []byte {
	out := map[string]any{}
	ts, err := s.Tenants(ctx)
	check(err)
	out["tenants"] = ts
	for _, t := range ts {
		sc, err := s.Scores(ctx, t.ID, fleetscore.Day{}, fleetscore.Day{})
		check(err)
		ps, err := s.Profiles(ctx, t.ID)
		check(err)
		out["scores "+t.ID], out["profiles "+t.ID] = sc, ps
	}
	var err2 error
	out["collections"], err2 = s.Collections(ctx, "", 0)
	check(err2)
	out["daily"], err2 = s.Daily(ctx, fleetscore.Day{}, fleetscore.Day{})
	check(err2)
	out["latest controls"], err2 = s.LatestControls(ctx)
	check(err2)
	out["profile summaries"], err2 = s.ProfileSummaries(ctx)
	check(err2)
	out["open alerts"], err2 = s.OpenAlerts(ctx)
	check(err2)
	out["deliveries"], err2 = s.Deliveries(ctx, 0)
	check(err2)
	out["users"], err2 = s.Users(ctx)
	check(err2)
	out["tokens"], err2 = s.Tokens(ctx)
	check(err2)
	out["audit"], err2 = s.AuditLog(ctx, 10)
	check(err2)
	b, err := json.MarshalIndent(out, "", " ")
	check(err)
	return b
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
