// Package storetest is the conformance suite every fleetscore.Store must
// pass (sqlite.Store, postgres.Store): what saving, re-saving, reading and
// logging must do, written once and run against each store by its own tests.
// It also makes the synthetic histories the stores' benchmarks use.
package storetest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
)

// The tenants of the tests.
var (
	tenantA = fleetscore.Tenant{ID: "11111111-1111-4111-8111-111111111111", Name: "Bravo Ltd", TargetPercent: 70}
	tenantB = fleetscore.Tenant{ID: "22222222-2222-4222-8222-222222222222", Name: "Alpha Inc", TargetPercent: 80}
	tenantC = fleetscore.Tenant{ID: "33333333-3333-4333-8333-333333333333", Name: "Charlie GmbH", TargetPercent: 60}
)

// day0 is the first day of the test histories.
var day0 = fleetscore.MustDay("2026-01-01")

// Run runs the suite. open must return a new, empty store each time it is
// called, whose claims are timed by now (relational.WithClock), and close it
// when the test ends (t.Cleanup). The suite moves now itself: a lease
// expires because the test says so, not because the machine was slow. Every store must also
// be a claimer (Claim and Done, as collect.Claimer), so that several
// collectors can share it, and a fleetscore.FleetReader, for the dashboard.
//
// Scores and percents are compared exactly, times with time.Time.Equal (the
// suite's times are whole milliseconds). The suite assumes what the stores
// may rely on: a control keeps its category from day to day, and only the
// newest day's EnabledServices must be kept.
func Run(t *testing.T, open func(t *testing.T, now func() time.Time) fleetscore.Store) {
	var clk *Clock // each test's, new for each (the tests run one after the other)
	for _, tc := range []struct {
		name string
		test func(*testing.T, fleetscore.Store)
	}{
		{"SavedHistoryReadsBackDayByDay", testRoundTrip},
		{"ScoresRangeIsInclusive", testRange},
		{"ResavingTheSameBatchChangesNothing", testIdempotent},
		{"ResavedLastDayTakesTheNewValues", testResaveLastDay},
		{"FillingAHoleKeepsTheDaysAround", testFillHole},
		{"ControlDisappearsAndComesBack", testDisappear},
		{"TenantsDoNotShareScores", testTwoTenants},
		{"AveragesAndEnabledServices", testAverages},
		{"ProfilesWithStateUpdates", testProfiles},
		{"ProfileMissingFromTheListIsRemoved", testProfileRemoved},
		{"ProfileTextSharedByTenants", testSharedProfileText},
		{"CancelledContextSavesNothing", testCancelled},
		{"CancelAtAnyStepKeepsThePreviousState", testCancelMidway},
		{"InvalidBatchSavesNothing", testInvalidBatch},
		{"CollectionsLog", testCollections},
		{"UnfinishedCollectionIsMarkedInterrupted", testInterrupted},
		{"TenantsWithLatestScoreAndLastCollection", testTenants},
		{"UnknownTenant", testUnknownTenant},
		{"ClaimGoesToOneOwner", testClaimGoesToOneOwner},
		{"DoneClaimIsNotTakenAgain", testDoneClaimIsNotTakenAgain},
		{"FailedClaimIsReleased", testFailedClaimIsReleased},
		{"ExpiredClaimIsTakenOver", func(t *testing.T, s fleetscore.Store) { testExpiredClaimIsTakenOver(t, s, clk) }},
		{"ConcurrentClaimsHaveOneWinner", testConcurrentClaims},
		{"PendingClaims", func(t *testing.T, s fleetscore.Store) { testPendingClaims(t, s, clk) }},
		{"FleetReadsAcrossTenants", testFleetReads},
		{"RecentDaysWithTheirChangingControls", testRecentReads},
		{"ArchiveBacklog", testArchiveBacklog},
		{"ExceptionsRegister", testExceptions},
		{"Campaigns", testCampaigns},
		{"ReportsSentOnce", testReportsSent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk = NewClock(time.Date(2026, 1, 2, 6, 0, 0, 0, time.UTC))
			tc.test(t, open(t, clk.Now))
		})
	}
}

// Clock is a clock that moves only when told to: the claims' clock of the
// suite's stores, and of collectors' stores in tests of leases.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testRoundTrip(t *testing.T, s fleetscore.Store) {
	// A first collection backfills 90 days, in whatever order Graph sent them.
	h := history{}
	b := fleetscore.Batch{Tenant: tenantA, Scores: shuffled(History(tenantA.ID, day0, 90, 250, 1), 2)}
	save(t, s, b)
	h.save(tenantA.ID, b.Scores)
	checkHistory(t, s, tenantA.ID, h)

	// Then one more day a day.
	g := NewGenerator(tenantA.ID, day0, 250, 1)
	g.Days(90)
	for range 3 {
		b := fleetscore.Batch{Tenant: tenantA, Scores: []fleetscore.Score{g.Next()}}
		save(t, s, b)
		h.save(tenantA.ID, b.Scores)
	}
	checkHistory(t, s, tenantA.ID, h)
}

func testRange(t *testing.T, s fleetscore.Store) {
	h := history{}
	b := fleetscore.Batch{Tenant: tenantA, Scores: History(tenantA.ID, day0, 30, 40, 3)}
	save(t, s, b)
	h.save(tenantA.ID, b.Scores)
	newest := h.newest()
	for _, r := range []struct{ from, to fleetscore.Day }{
		{day0.AddDays(10), day0.AddDays(19)},
		{day0.AddDays(10), day0.AddDays(10)},
		{fleetscore.Day{}, day0.AddDays(4)},
		{day0.AddDays(25), fleetscore.Day{}},
		{day0.AddDays(-10), day0.AddDays(100)},
		{day0.AddDays(40), day0.AddDays(50)}, // after the history: none
		{day0.AddDays(20), day0.AddDays(10)}, // from after to: none
	} {
		got := scores(t, s, tenantA.ID, r.from, r.to)
		checkScores(t, "Scores("+r.from.String()+", "+r.to.String()+")", h.between(r.from, r.to), got, newest)
	}
}

func testIdempotent(t *testing.T, s fleetscore.Store) {
	h := history{}
	scores := History(tenantA.ID, day0, 20, 250, 4)
	b := fleetscore.Batch{Tenant: tenantA, Scores: scores, Profiles: sampleProfiles()}
	save(t, s, b)
	h.save(tenantA.ID, scores)
	// The next run repeats it (another order, overlapping days): nothing changes.
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: shuffled(scores, 5), Profiles: sampleProfiles()})
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: scores[15:], Profiles: sampleProfiles()})
	checkHistory(t, s, tenantA.ID, h)
	checkProfiles(t, s, tenantA.ID, sampleProfiles())
	ts, err := s.Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 {
		t.Errorf("Tenants() = %d tenants, want 1", len(ts))
	}
}

func testResaveLastDay(t *testing.T, s fleetscore.Store) {
	h := history{}
	g := NewGenerator(tenantA.ID, day0, 250, 6)
	first := g.Days(10)
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: first})
	h.save(tenantA.ID, first)

	// The daily run re-fetches the newest day, which Graph has since
	// updated, and brings the next day.
	last := first[9]
	last.Controls = slices.Clone(last.Controls)
	last.CurrentScore += 7.25
	last.ActiveUserCount++
	last.Controls[0].Score += 1.5
	last.Controls = slices.Delete(last.Controls, 5, 6)
	last.Controls = append(last.Controls, fleetscore.ControlScore{Name: "aaNewControl", Category: fleetscore.CategoryData, Score: 2})
	last.Averages = map[string]float64{fleetscore.BasisAllTenants: 51.5}
	last.EnabledServices = []string{"HasExchange"}
	next := g.Days(2)[1]
	next.Controls = append(slices.Clone(last.Controls[:30]), fleetscore.ControlScore{Name: "aaNewControl", Category: fleetscore.CategoryData, Score: 3})
	b := fleetscore.Batch{Tenant: tenantA, Scores: []fleetscore.Score{next, last}}
	save(t, s, b)
	h.save(tenantA.ID, b.Scores)
	checkHistory(t, s, tenantA.ID, h)
}

func testFillHole(t *testing.T, s fleetscore.Store) {
	h := history{}
	all := History(tenantA.ID, day0, 30, 100, 7)
	// The days of the hole differ from their neighbours: a control only
	// they have, one they lack, and other scores.
	for i := 10; i < 20; i++ {
		d := &all[i]
		d.Controls = slices.Clone(d.Controls[1:])
		d.Controls = append(d.Controls, fleetscore.ControlScore{Name: "zzHoleOnly", Category: fleetscore.CategoryDevice, Score: float64(i)})
		for j := range d.Controls[:20] {
			d.Controls[j].Score += 0.5
		}
	}
	for _, part := range [][]fleetscore.Score{all[:10], all[20:], all[10:20]} {
		save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: part})
		h.save(tenantA.ID, part)
		checkHistory(t, s, tenantA.ID, h)
	}
	// A single day in the middle, changed.
	d := all[5]
	d.Controls = d.Controls[:3]
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: []fleetscore.Score{d}})
	h.save(tenantA.ID, []fleetscore.Score{d})
	checkHistory(t, s, tenantA.ID, h)
}

func testDisappear(t *testing.T, s fleetscore.Store) {
	c := func(name string, score float64) fleetscore.ControlScore {
		return fleetscore.ControlScore{Name: name, Category: fleetscore.CategoryIdentity, Score: score}
	}
	day := func(n int, cs ...fleetscore.ControlScore) fleetscore.Score {
		return fleetscore.Score{Day: day0.AddDays(n), CurrentScore: float64(n), MaxScore: 40, Controls: cs}
	}
	h := history{}
	b := fleetscore.Batch{Tenant: tenantA, Scores: []fleetscore.Score{
		day(0, c("MFA", 1), c("Audit", 2)),
		day(1, c("MFA", 1), c("Audit", 2)),
		day(2, c("Audit", 2)),              // MFA gone
		day(3),                             // no controls at all
		day(4, c("MFA", 5), c("Audit", 2)), // MFA back, another score
		day(5, c("MFA", 5), c("Audit", 0)),
		day(7, c("MFA", 5)), // day 6 is a hole
	}}
	save(t, s, b)
	h.save(tenantA.ID, b.Scores)
	checkHistory(t, s, tenantA.ID, h)

	// Graph later reports day 2 with MFA after all, and the hole.
	b = fleetscore.Batch{Tenant: tenantA, Scores: []fleetscore.Score{
		day(2, c("MFA", 1), c("Audit", 2)),
		day(6, c("Audit", 3)),
	}}
	save(t, s, b)
	h.save(tenantA.ID, b.Scores)
	checkHistory(t, s, tenantA.ID, h)
}

func testTwoTenants(t *testing.T, s fleetscore.Store) {
	// Same control names, different scores, saved in turns.
	ha, hb := history{}, history{}
	ga, gb := NewGenerator(tenantA.ID, day0, 60, 8), NewGenerator(tenantB.ID, day0, 60, 9)
	for range 3 {
		a, b := ga.Days(5), gb.Days(5)
		save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: a})
		save(t, s, fleetscore.Batch{Tenant: tenantB, Scores: b})
		ha.save(tenantA.ID, a)
		hb.save(tenantB.ID, b)
	}
	checkHistory(t, s, tenantA.ID, ha)
	checkHistory(t, s, tenantB.ID, hb)
}

func testAverages(t *testing.T, s fleetscore.Store) {
	h := history{}
	b := fleetscore.Batch{Tenant: tenantA, Scores: []fleetscore.Score{
		{Day: day0, CurrentScore: 10, MaxScore: 20, ActiveUserCount: 5, LicensedUserCount: 9,
			Averages: map[string]float64{
				fleetscore.BasisAllTenants: 41.27, fleetscore.BasisTotalSeats: 38.5, fleetscore.BasisIndustryTypes: 0,
			}},
		{Day: day0.AddDays(1), CurrentScore: 10.5, MaxScore: 20,
			Averages: map[string]float64{fleetscore.BasisTotalSeats: 39}},
		{Day: day0.AddDays(2), CurrentScore: 0, MaxScore: 0, // no max: percent 0
			EnabledServices: []string{"HasExchange", "HasSharePoint"}},
	}}
	save(t, s, b)
	h.save(tenantA.ID, b.Scores)
	checkHistory(t, s, tenantA.ID, h)
	got := scores(t, s, tenantA.ID, day0, day0)
	if len(got) == 1 && got[0].Percent() != 50 {
		t.Errorf("percent of 10/20 = %v, want 50", got[0].Percent())
	}

	// A backfill of older days keeps the newest day's services.
	older := fleetscore.Score{Day: day0.AddDays(-1), CurrentScore: 1, MaxScore: 2, EnabledServices: []string{"Old"}}
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: []fleetscore.Score{older}})
	h.save(tenantA.ID, []fleetscore.Score{older})
	checkHistory(t, s, tenantA.ID, h)
}

// at is a time of the tests' collections and state updates, to the millisecond.
func at(minutes int) time.Time {
	return time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).Add(time.Duration(minutes)*time.Minute + 123*time.Millisecond)
}

func sampleProfiles() []fleetscore.ControlProfile {
	return []fleetscore.ControlProfile{
		{
			ID: "AdminMFAV2", Title: "Ensure multifactor authentication is enabled for all users in administrative roles",
			Category: fleetscore.CategoryIdentity, MaxScore: 10, Rank: 1, Tier: "Core", UserImpact: "Low",
			ImplementationCost: "Low", ActionType: "Config", ActionURL: "https://entra.microsoft.com/#blade/x",
			Service: "AzureAD", Threats: []string{"Account Breach", "Elevation of Privilege"},
			Remediation: "<p>Require MFA for <b>admins</b>.</p>",
			StateUpdates: []fleetscore.ControlStateUpdate{
				{State: fleetscore.StateDefault, UpdatedBy: "graph", UpdatedAt: at(0)},
				{State: fleetscore.StateIgnored, AssignedTo: "ops@mssp.example", Comment: "break-glass accounts",
					UpdatedBy: "alice@client.example", UpdatedAt: at(60)},
			},
		},
		{
			ID: "BlockLegacyAuthentication", Title: "Enable policy to block legacy authentication",
			Category: fleetscore.CategoryIdentity, MaxScore: 8, Rank: 3, Tier: "Core", UserImpact: "Moderate",
			ImplementationCost: "Moderate", ActionType: "Config", Service: "AzureAD", Deprecated: true,
		},
		{
			ID: "mdo_safelinksforOfficeApps", Title: "Turn on Safe Links for Office apps",
			Category: fleetscore.CategoryApps, MaxScore: 9, Rank: 12, Tier: "Defense in depth",
			Service: "MDO", Threats: []string{"Phishing"},
			StateUpdates: []fleetscore.ControlStateUpdate{
				{State: fleetscore.StateThirdParty, Comment: "other mail filter"}, // Graph sent no date
			},
		},
	}
}

func testProfiles(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	ps := sampleProfiles()
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: ps})
	checkProfiles(t, s, tenantA.ID, ps)
	states := map[string]string{}
	got, err := s.Profiles(ctx, tenantA.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		states[p.ID] = p.State()
	}
	want := map[string]string{
		"AdminMFAV2":                 fleetscore.StateIgnored,
		"BlockLegacyAuthentication":  fleetscore.StateDefault,
		"mdo_safelinksforOfficeApps": fleetscore.StateThirdParty,
	}
	for id, st := range want {
		if states[id] != st {
			t.Errorf("state of %s = %q, want %q", id, states[id], st)
		}
	}

	// Next day: a new state update, a changed title; Graph still lists the
	// old updates, which are not repeated.
	ps = sampleProfiles()
	ps[0].StateUpdates = append(ps[0].StateUpdates, fleetscore.ControlStateUpdate{
		State: fleetscore.StateReviewed, UpdatedBy: "bob@client.example", UpdatedAt: at(24 * 60)})
	ps[1].Title = "Block legacy authentication"
	ps[1].Threats = []string{"Password Cracking"}
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: ps})
	checkProfiles(t, s, tenantA.ID, ps)

	// A batch without profiles (nil) leaves them as they are.
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: History(tenantA.ID, day0, 2, 5, 1)})
	checkProfiles(t, s, tenantA.ID, ps)
	got, err = s.Profiles(ctx, tenantA.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.ID == "AdminMFAV2" && p.State() != fleetscore.StateReviewed {
			t.Errorf("state of %s = %q after a new update, want %q", p.ID, p.State(), fleetscore.StateReviewed)
		}
	}

	// A tenant with none has an empty list, not an error.
	save(t, s, fleetscore.Batch{Tenant: tenantB})
	if got, err := s.Profiles(ctx, tenantB.ID); err != nil || len(got) != 0 {
		t.Errorf("Profiles of a tenant without profiles = %v, %v; want none, no error", got, err)
	}
}

func testProfileRemoved(t *testing.T, s fleetscore.Store) {
	ps := sampleProfiles()
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: ps})

	// Microsoft retires a control: it is no longer in the list.
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: ps[:2]})
	checkProfiles(t, s, tenantA.ID, ps[:2])

	// It comes back, with its state history.
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: ps})
	checkProfiles(t, s, tenantA.ID, ps)

	// An empty (not nil) list removes them all.
	save(t, s, fleetscore.Batch{Tenant: tenantA, Profiles: []fleetscore.ControlProfile{}})
	checkProfiles(t, s, tenantA.ID, nil)
}

func testCancelled(t *testing.T, s fleetscore.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := fleetscore.Batch{Tenant: tenantA, Scores: History(tenantA.ID, day0, 5, 20, 10), Profiles: sampleProfiles()}
	if err := s.SaveBatch(ctx, b); err == nil {
		t.Fatal("SaveBatch with a cancelled context succeeded")
	}
	if _, ok, err := s.LatestDay(context.Background(), tenantA.ID); ok || err != nil {
		t.Errorf("LatestDay after a cancelled SaveBatch = %v, %v; want none", ok, err)
	}
	if ts, err := s.Tenants(context.Background()); err != nil || len(ts) != 0 {
		t.Errorf("Tenants after a cancelled SaveBatch = %d tenants, %v; want none", len(ts), err)
	}
}

func testCancelMidway(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	g := NewGenerator(tenantA.ID, day0, 30, 11)
	before := history{}
	first := g.Days(10)
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: first, Profiles: sampleProfiles()})
	before.save(tenantA.ID, first)

	// The next batch changes everything it can: the newest day, two new
	// days, an older day, profiles changed and removed.
	last := first[9]
	last.CurrentScore++
	last.Controls = slices.Clone(last.Controls[2:])
	older := fleetscore.Score{Day: day0.AddDays(-3), CurrentScore: 1, MaxScore: 9,
		Controls: []fleetscore.ControlScore{{Name: "Old", Category: fleetscore.CategoryData, Score: 1}}}
	ps := sampleProfiles()[1:]
	ps[0].Title = "changed"
	ps[1].StateUpdates = append(ps[1].StateUpdates, fleetscore.ControlStateUpdate{State: fleetscore.StateDefault, UpdatedAt: at(5)})
	b := fleetscore.Batch{Tenant: tenantA, Scores: append(g.Days(2), last, older), Profiles: ps}
	after := history{}
	after.save(tenantA.ID, first)
	after.save(tenantA.ID, b.Scores)

	// Cancel it at its first step, then its second... until it completes:
	// each time, either all of it is saved or none.
	var n int64
	for n = 1; ; n++ {
		if n > 100000 {
			t.Fatal("SaveBatch still looks at its context after 100000 steps")
		}
		err := s.SaveBatch(newCountdown(n), b)
		if err == nil {
			break
		}
		if t.Failed() {
			return
		}
		got, err2 := s.Scores(ctx, tenantA.ID, fleetscore.Day{}, fleetscore.Day{})
		if err2 != nil {
			t.Fatalf("Scores after SaveBatch cancelled at step %d: %v", n, err2)
		}
		checkScores(t, "after a SaveBatch cancelled at step "+strconv.FormatInt(n, 10)+" ("+err.Error()+")",
			before.between(fleetscore.Day{}, fleetscore.Day{}), got, before.newest())
		checkProfiles(t, s, tenantA.ID, sampleProfiles())
	}
	if n == 1 {
		t.Error("SaveBatch never looked at its context")
	}
	t.Logf("SaveBatch completed when cancelled at step %d", n)
	checkHistory(t, s, tenantA.ID, after)
	checkProfiles(t, s, tenantA.ID, ps)
}

func testInvalidBatch(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	scores := History(tenantA.ID, day0, 3, 10, 12)
	scores[2].TenantID = tenantB.ID // someone else's
	if err := s.SaveBatch(ctx, fleetscore.Batch{Tenant: tenantA, Scores: scores}); err == nil {
		t.Error("SaveBatch with a score of another tenant succeeded")
	}
	if err := s.SaveBatch(ctx, fleetscore.Batch{Scores: scores[:1]}); err == nil {
		t.Error("SaveBatch without a tenant ID succeeded")
	}
	if _, ok, err := s.LatestDay(ctx, tenantA.ID); ok || err != nil {
		t.Errorf("LatestDay after invalid batches = %v, %v; want none", ok, err)
	}
}

func testCollections(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	start := func(tenantID string, minute int) int64 {
		t.Helper()
		id, err := s.StartCollection(ctx, fleetscore.Collection{TenantID: tenantID, StartedAt: at(minute), Status: fleetscore.StatusRunning})
		if err != nil {
			t.Fatalf("StartCollection(%s): %v", tenantID, err)
		}
		return id
	}
	finish := func(c fleetscore.Collection) {
		t.Helper()
		if err := s.FinishCollection(ctx, c); err != nil {
			t.Fatalf("FinishCollection(%d): %v", c.ID, err)
		}
	}
	list := func(tenantID string, limit int) []fleetscore.Collection {
		t.Helper()
		cs, err := s.Collections(ctx, tenantID, limit)
		if err != nil {
			t.Fatalf("Collections(%q, %d): %v", tenantID, limit, err)
		}
		return cs
	}

	id1 := start(tenantA.ID, 0)
	running := list(tenantA.ID, 10)
	if len(running) != 1 || running[0].ID != id1 || running[0].Status != fleetscore.StatusRunning ||
		!running[0].StartedAt.Equal(at(0)) || !running[0].FinishedAt.IsZero() || running[0].TenantID != tenantA.ID {
		t.Errorf("Collections while running = %+v, want collection %d running since %s", running, id1, at(0))
	}
	c1 := fleetscore.Collection{ID: id1, TenantID: tenantA.ID, StartedAt: at(0), FinishedAt: at(0).Add(5 * time.Second),
		Status: fleetscore.StatusOK, Days: 90, Controls: 250, Requests: 3}
	finish(c1)
	id2 := start(tenantB.ID, 1)
	id3 := start(tenantA.ID, 2)
	c3 := fleetscore.Collection{ID: id3, TenantID: tenantA.ID, StartedAt: at(2), FinishedAt: at(3), Status: fleetscore.StatusError,
		Error: "AADSTS7000215: invalid client secret", Advice: "Create a new client secret and update the config.", Requests: 1}
	finish(c3)
	c2 := fleetscore.Collection{ID: id2, TenantID: tenantB.ID, StartedAt: at(1), Status: fleetscore.StatusRunning}
	if !(id1 < id2 && id2 < id3) {
		t.Fatalf("collection IDs %d, %d, %d do not grow", id1, id2, id3)
	}

	checkCollections(t, "all", list("", 0), c3, c2, c1)
	checkCollections(t, "all, limit 2", list("", 2), c3, c2)
	checkCollections(t, "tenant A", list(tenantA.ID, 0), c3, c1)
	checkCollections(t, "tenant A, limit 1", list(tenantA.ID, 1), c3)
	if got := list(tenantA.ID, 0); len(got) == 2 && got[1].Duration() != 5*time.Second {
		t.Errorf("duration of collection %d = %s, want 5s", id1, got[1].Duration())
	}

	wantNotFound(t, "FinishCollection of an unknown ID", s.FinishCollection(ctx, fleetscore.Collection{ID: id3 + 100, Status: fleetscore.StatusOK}))
	_, err := s.Collections(ctx, tenantC.ID, 10)
	wantNotFound(t, "Collections of an unknown tenant", err)
}

func checkCollections(t *testing.T, what string, got []fleetscore.Collection, want ...fleetscore.Collection) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("Collections(%s) = %d collections %+v, want %d", what, len(got), got, len(want))
		return
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || g.TenantID != w.TenantID || g.Status != w.Status || g.Error != w.Error || g.Advice != w.Advice ||
			g.Days != w.Days || g.Controls != w.Controls || g.Requests != w.Requests ||
			!g.StartedAt.Equal(w.StartedAt) || !g.FinishedAt.Equal(w.FinishedAt) {
			t.Errorf("Collections(%s)[%d] = %+v, want %+v", what, i, g, w)
		}
	}
}

func testInterrupted(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	// The process was killed during the collection of A (and of B).
	idA, err := s.StartCollection(ctx, fleetscore.Collection{TenantID: tenantA.ID, StartedAt: at(0)})
	if err != nil {
		t.Fatal(err)
	}
	idB, err := s.StartCollection(ctx, fleetscore.Collection{TenantID: tenantB.ID, StartedAt: at(0)})
	if err != nil {
		t.Fatal(err)
	}
	// The next run starts A again.
	next, err := s.StartCollection(ctx, fleetscore.Collection{TenantID: tenantA.ID, StartedAt: at(60)})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.Collections(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]fleetscore.Collection{}
	for _, c := range cs {
		byID[c.ID] = c
	}
	if c := byID[idA]; c.Status != fleetscore.StatusError || !strings.Contains(c.Error, "interrupted") {
		t.Errorf("the unfinished collection of A = %+v, want status error, interrupted", c)
	}
	if c := byID[next]; c.Status != fleetscore.StatusRunning {
		t.Errorf("the new collection of A = %+v, want running", c)
	}
	if c := byID[idB]; c.Status != fleetscore.StatusRunning {
		t.Errorf("the collection of B = %+v, want still running (only A started again)", c)
	}
}

func testTenants(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	if err := s.SyncTenants(ctx, []fleetscore.Tenant{tenantA, tenantB}); err != nil {
		t.Fatal(err)
	}
	ts, err := s.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Tenant != tenantB || ts[1].Tenant != tenantA || ts[0].Latest != nil || ts[0].LastCollection != nil {
		t.Fatalf("Tenants() after SyncTenants = %+v, want %s then %s, without scores or collections", ts, tenantB.Name, tenantA.Name)
	}

	// A is collected twice; C, not configured, shows up in a batch.
	scores := History(tenantA.ID, day0, 5, 30, 13)
	save(t, s, fleetscore.Batch{Tenant: tenantA, Scores: scores})
	var last int64
	for i := range 2 {
		id, err := s.StartCollection(ctx, fleetscore.Collection{TenantID: tenantA.ID, StartedAt: at(i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishCollection(ctx, fleetscore.Collection{ID: id, FinishedAt: at(i).Add(time.Second), Status: fleetscore.StatusOK, Days: 5}); err != nil {
			t.Fatal(err)
		}
		last = id
	}
	save(t, s, fleetscore.Batch{Tenant: tenantC, Scores: History(tenantC.ID, day0, 1, 3, 14)})
	// A is renamed; B is no longer configured but keeps its place.
	renamed := fleetscore.Tenant{ID: tenantA.ID, Name: "Zulu plc", TargetPercent: 90}
	if err := s.SyncTenants(ctx, []fleetscore.Tenant{renamed, tenantC}); err != nil {
		t.Fatal(err)
	}

	ts, err = s.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[0].Tenant != tenantB || ts[1].Tenant != tenantC || ts[2].Tenant != renamed {
		t.Fatalf("Tenants() = %+v, want %s, %s, %s", ts, tenantB.Name, tenantC.Name, renamed.Name)
	}
	a := ts[2]
	if a.Latest == nil {
		t.Fatal("Tenants(): no latest score for a tenant with 5 days")
	}
	if len(a.Latest.Controls) != 0 {
		t.Errorf("Tenants(): latest score has %d controls; they are not to be loaded", len(a.Latest.Controls))
	}
	want := scores[4]
	want.Controls = nil
	if d := diffScore(want, *a.Latest, want.Day); len(d) > 0 {
		t.Errorf("Tenants(): latest score: %s", strings.Join(d, "; "))
	}
	if a.LastCollection == nil || a.LastCollection.ID != last || a.LastCollection.Status != fleetscore.StatusOK ||
		a.LastCollection.TenantID != tenantA.ID || !a.LastCollection.FinishedAt.Equal(at(1).Add(time.Second)) {
		t.Errorf("Tenants(): last collection = %+v, want collection %d, ok", a.LastCollection, last)
	}
	if ts[1].Latest == nil || ts[1].LastCollection != nil {
		t.Errorf("Tenants(): %s = %+v, want a latest score and no collection", tenantC.Name, ts[1])
	}
}

func testUnknownTenant(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	const unknown = "99999999-9999-4999-8999-999999999999"
	_, err := s.Scores(ctx, unknown, fleetscore.Day{}, fleetscore.Day{})
	wantNotFound(t, "Scores of an unknown tenant", err)
	_, err = s.Profiles(ctx, unknown)
	wantNotFound(t, "Profiles of an unknown tenant", err)
	if _, ok, err := s.LatestDay(ctx, unknown); ok || err != nil {
		t.Errorf("LatestDay of an unknown tenant = %v, %v; want false, no error", ok, err)
	}

	// A configured tenant never collected is known: empty, not an error.
	if err := s.SyncTenants(ctx, []fleetscore.Tenant{tenantA}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Scores(ctx, tenantA.ID, fleetscore.Day{}, fleetscore.Day{}); err != nil || len(got) != 0 {
		t.Errorf("Scores of a tenant never collected = %v, %v; want none, no error", got, err)
	}
	if _, ok, err := s.LatestDay(ctx, tenantA.ID); ok || err != nil {
		t.Errorf("LatestDay of a tenant never collected = %v, %v; want false, no error", ok, err)
	}
	if got, err := s.Collections(ctx, tenantA.ID, 0); err != nil || len(got) != 0 {
		t.Errorf("Collections of a tenant never collected = %v, %v; want none, no error", got, err)
	}
}
