package alert_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/alert"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/sqlite"
)

var (
	d0      = fleetscore.MustDay("2026-03-02")
	contoso = fleetscore.Tenant{ID: "11111111-1111-1111-1111-111111111111", Name: "Contoso", TargetPercent: 75}
	fabrik  = fleetscore.Tenant{ID: "22222222-2222-2222-2222-222222222222", Name: "Fabrikam", TargetPercent: 75}
	north   = fleetscore.Tenant{ID: "33333333-3333-3333-3333-333333333333", Name: "Northwind", TargetPercent: 75}
)

// world is a store written directly (no collector), an engine over it
// with fake channels, and a clock.
type world struct {
	t        *testing.T
	store    *sqlite.Store
	state    alert.StateStore
	day      fleetscore.Day
	channels []*fakeChannel
	sleeps   []time.Duration
}

func newWorld(t *testing.T, tenants ...fleetscore.Tenant) *world {
	t.Helper()
	w := &world{t: t, store: openSQLite(t), state: alert.NewMemoryStore(), day: d0}
	if err := w.store.SyncTenants(context.Background(), tenants); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) now() time.Time { return w.day.Time().Add(3 * time.Hour) }

func (w *world) channel(name string) *fakeChannel {
	for _, c := range w.channels {
		if c.name == name {
			return c
		}
	}
	c := &fakeChannel{name: name}
	w.channels = append(w.channels, c)
	return c
}

// save stores a tenant's day: its points out of max and its controls
// (name: score). Profiles, when given, replace the tenant's.
func (w *world) save(t fleetscore.Tenant, d fleetscore.Day, current, max float64, controls map[string]float64, profiles ...fleetscore.ControlProfile) {
	w.t.Helper()
	s := fleetscore.Score{TenantID: t.ID, Day: d, CurrentScore: current, MaxScore: max}
	for _, name := range slices.Sorted(maps.Keys(controls)) {
		s.Controls = append(s.Controls, fleetscore.ControlScore{Name: name, Category: fleetscore.CategoryIdentity, Score: controls[name]})
	}
	b := fleetscore.Batch{Tenant: t, Scores: []fleetscore.Score{s}}
	if len(profiles) > 0 {
		b.Profiles = profiles
	}
	if err := w.store.SaveBatch(context.Background(), b); err != nil {
		w.t.Fatal(err)
	}
}

// history stores days from..to (relative to d0) with the same figures.
func (w *world) history(t fleetscore.Tenant, from, to int, current, max float64, controls map[string]float64, profiles ...fleetscore.ControlProfile) {
	w.t.Helper()
	for i := from; i <= to; i++ {
		w.save(t, d0.AddDays(i), current, max, controls, profiles...)
	}
}

func (w *world) collection(t fleetscore.Tenant, failed bool) {
	w.t.Helper()
	ctx := context.Background()
	c := fleetscore.Collection{TenantID: t.ID, StartedAt: w.now()}
	id, err := w.store.StartCollection(ctx, c)
	if err != nil {
		w.t.Fatal(err)
	}
	c.ID, c.FinishedAt, c.Status = id, w.now().Add(time.Minute), fleetscore.StatusOK
	if failed {
		c.Status, c.Error, c.Advice = fleetscore.StatusError, "Graph answered 403", "grant admin consent again"
	}
	if err := w.store.FinishCollection(ctx, c); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) engine(rules ...alert.Rule) *alert.Engine {
	var chans []alert.Channel
	for _, r := range rules {
		for _, c := range r.Channels {
			w.channel(c)
		}
	}
	for _, c := range w.channels {
		chans = append(chans, c)
	}
	return &alert.Engine{Store: w.state, Source: w.store, Rules: rules, Channels: chans, Now: w.now,
		Sleep: func(_ context.Context, d time.Duration) error { w.sleeps = append(w.sleeps, d); return nil }}
}

func (w *world) evaluate(rules ...alert.Rule) alert.Report {
	w.t.Helper()
	rep, err := w.engine(rules...).Evaluate(context.Background())
	if err != nil {
		w.t.Fatalf("evaluate: %v", err)
	}
	return rep
}

// fakeChannel records what it is sent and fails as told.
type fakeChannel struct {
	name string
	mu   sync.Mutex
	errs []error // returned by the next calls, in order
	got  []alert.Message
	sent int // calls
}

func (c *fakeChannel) Name() string { return c.name }
func (c *fakeChannel) Type() string { return "fake" }
func (c *fakeChannel) Send(_ context.Context, m alert.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent++
	if len(c.errs) > 0 {
		err := c.errs[0]
		c.errs = c.errs[1:]
		if err != nil {
			return err
		}
	}
	c.got = append(c.got, m)
	return nil
}

func (c *fakeChannel) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.got {
		out = append(out, m.Event+" "+m.Title)
	}
	return out
}

func profile(id, title string, max float64, state string) fleetscore.ControlProfile {
	p := fleetscore.ControlProfile{ID: id, Title: title, Category: fleetscore.CategoryIdentity, MaxScore: max,
		ActionURL: "https://security.microsoft.com/securescore?actionId=" + id}
	if state != "" {
		p.StateUpdates = []fleetscore.ControlStateUpdate{{State: state, UpdatedBy: "admin@contoso.example"}}
	}
	return p
}

func TestBelowTargetFiresOnceAndResolvesOnce(t *testing.T) {
	w := newWorld(t, contoso)
	rule := alert.Rule{Name: "below", When: alert.BelowTarget, Channels: []string{"c"}}
	w.history(contoso, -3, 0, 60, 100, nil)
	for range 3 {
		w.evaluate(rule)
	}
	w.day = d0.AddDays(1)
	w.save(contoso, w.day, 75, 100, nil) // exactly the target meets it
	w.evaluate(rule)
	w.evaluate(rule)
	want := []string{"firing below: Contoso", "resolved below: Contoso"}
	if got := w.channel("c").messages(); !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	m := w.channel("c").got[0]
	if m.Summary != "Contoso's Secure Score is 60.0% (60.00 / 100 points), below its 75% target." || m.TenantID != contoso.ID || m.When != alert.BelowTarget {
		t.Errorf("firing message %+v", m)
	}
	// The dashboard's "meets" and the rule agree: query.TenantRow decides both.
	st, _ := w.store.Tenants(context.Background())
	if !query.TenantRow(st[0]).MeetsTarget {
		t.Error("the dashboard says Contoso is below its target")
	}
}

func TestScoreDropInPercentagePoints(t *testing.T) {
	w := newWorld(t, contoso)
	rule := alert.Rule{Name: "drop", When: alert.ScoreDrop, Percent: 5, Days: 7, Channels: []string{"c"}}
	w.history(contoso, -10, 0, 80, 100, nil)
	w.evaluate(rule)
	// 80 % -> 76 % over a larger max: 4 points of percent; no alert.
	w.day = d0.AddDays(1)
	w.save(contoso, w.day, 76, 100, nil)
	w.evaluate(rule)
	// -> 74 %: 6 percentage points below the best of the week.
	w.day = d0.AddDays(2)
	w.save(contoso, w.day, 74, 100, nil)
	w.evaluate(rule)
	// It stays 6 below for a week, then the drop leaves the window.
	for i := 3; i <= 9; i++ {
		w.day = d0.AddDays(i)
		w.save(contoso, w.day, 74, 100, nil)
		w.evaluate(rule)
	}
	got := w.channel("c").got
	if len(got) != 2 || got[0].Event != alert.Firing || got[1].Event != alert.Resolved {
		t.Fatalf("messages %q", w.channel("c").messages())
	}
	if want := "Contoso's Secure Score fell 6.0 percentage points within 7 days: from 80.00 / 100 (80.0%) on 2026-03-02 to 74.00 / 100 (74.0%) on 2026-03-04."; got[0].Summary != want {
		t.Errorf("summary\n%q, want\n%q", got[0].Summary, want)
	}
	if !got[1].At.Equal(d0.AddDays(8).Time().Add(3 * time.Hour)) {
		t.Errorf("resolved at %s, want when 2026-03-02 left the 7-day window (2026-03-10)", got[1].At)
	}
	if !strings.Contains(got[1].Summary, "no longer 5 percentage points below its best of the 7 days before") {
		t.Errorf("resolved summary %q", got[1].Summary)
	}
}

func TestControlRegressedHoldsUntilMetOrMarked(t *testing.T) {
	w := newWorld(t, contoso, fabrik)
	rule := alert.Rule{Name: "regressed", When: alert.ControlRegressed, Channels: []string{"c"}}
	mfa := profile("AdminMFAV2", "Require MFA for administrative roles", 10, "")
	legacy := profile("BlockLegacyAuth", "Block legacy authentication", 8, "")
	never := profile("SelfServicePasswordReset", "Enable self-service password reset", 1, "")
	for _, tn := range []fleetscore.Tenant{contoso, fabrik} {
		w.history(tn, -5, 0, 19, 19, map[string]float64{"AdminMFAV2": 10, "BlockLegacyAuth": 8, "SelfServicePasswordReset": 0}, mfa, legacy, never)
	}
	w.evaluate(rule)
	// Day 1: MFA for admins switched off at Contoso, legacy auth at Fabrikam.
	w.day = d0.AddDays(1)
	w.save(contoso, w.day, 9, 19, map[string]float64{"AdminMFAV2": 0, "BlockLegacyAuth": 8, "SelfServicePasswordReset": 0}, mfa, legacy, never)
	w.save(fabrik, w.day, 11, 19, map[string]float64{"AdminMFAV2": 10, "BlockLegacyAuth": 0, "SelfServicePasswordReset": 0}, mfa, legacy, never)
	w.evaluate(rule)
	// Ten days on, still off at both: the alerts hold, nothing is repeated.
	for i := 2; i <= 11; i++ {
		w.day = d0.AddDays(i)
		w.save(contoso, w.day, 9, 19, map[string]float64{"AdminMFAV2": 0, "BlockLegacyAuth": 8, "SelfServicePasswordReset": 0}, mfa, legacy, never)
		w.save(fabrik, w.day, 11, 19, map[string]float64{"AdminMFAV2": 10, "BlockLegacyAuth": 0, "SelfServicePasswordReset": 0}, mfa, legacy, never)
		w.evaluate(rule)
	}
	// Day 12: Contoso turns MFA on again; Fabrikam accepts the risk.
	w.day = d0.AddDays(12)
	w.save(contoso, w.day, 19, 19, map[string]float64{"AdminMFAV2": 10, "BlockLegacyAuth": 8, "SelfServicePasswordReset": 0}, mfa, legacy, never)
	ignored := profile("BlockLegacyAuth", "Block legacy authentication", 8, fleetscore.StateIgnored)
	w.save(fabrik, w.day, 11, 19, map[string]float64{"AdminMFAV2": 10, "BlockLegacyAuth": 0, "SelfServicePasswordReset": 0}, mfa, ignored, never)
	w.evaluate(rule)

	want := []string{
		"firing regressed: Contoso — Require MFA for administrative roles",
		"firing regressed: Fabrikam — Block legacy authentication",
		"resolved regressed: Contoso — Require MFA for administrative roles",
		"resolved regressed: Fabrikam — Block legacy authentication",
	}
	if got := w.channel("c").messages(); !slices.Equal(got, want) {
		t.Fatalf("messages\n%q, want\n%q", got, want)
	}
	got := w.channel("c").got
	if got[0].Control != "AdminMFAV2" || got[0].Link != mfa.ActionURL ||
		got[0].Summary != `Contoso: "Require MFA for administrative roles" (AdminMFAV2) was met on 2026-03-02 and is open now: 0.00 of 10 points.` {
		t.Errorf("firing %+v", got[0])
	}
	if got[2].Summary != `Contoso: "Require MFA for administrative roles" (AdminMFAV2) is met again: 10.00 of 10 points.` {
		t.Errorf("met again: %q", got[2].Summary)
	}
	if got[3].Summary != `Fabrikam: "Block legacy authentication" (BlockLegacyAuth) was marked Ignored (risk accepted) by admin@contoso.example.` {
		t.Errorf("marked: %q", got[3].Summary)
	}
	// A control never met (self-service password reset) is open, not a regression.
	for _, m := range got {
		if m.Control == "SelfServicePasswordReset" {
			t.Errorf("a control never met fired: %+v", m)
		}
	}
}

func TestCollectionFailing(t *testing.T) {
	w := newWorld(t, contoso, fabrik)
	rule := alert.Rule{Name: "failing", When: alert.CollectionFailing, Runs: 2, Channels: []string{"c"}}
	run := func(contosoFails, fabrikFails bool) {
		w.collection(contoso, contosoFails)
		w.collection(fabrik, fabrikFails)
		w.evaluate(rule)
		w.day = w.day.AddDays(1)
	}
	run(false, true) // Fabrikam fails once: not yet
	run(true, true)  // Fabrikam twice: fires
	run(true, true)  // Contoso twice: fires; Fabrikam three times: nothing new
	run(true, false) // Fabrikam collected: resolves
	run(false, false)
	want := []string{"firing failing: Fabrikam", "firing failing: Contoso", "resolved failing: Fabrikam", "resolved failing: Contoso"}
	if got := w.channel("c").messages(); !slices.Equal(got, want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
	m := w.channel("c").got[0]
	if m.Summary != "Fabrikam could not be collected 2 times in a row, since 2026-03-02 03:00 UTC: Graph answered 403 Fix: grant admin consent again" {
		t.Errorf("summary %q", m.Summary)
	}
}

func TestNewAction(t *testing.T) {
	w := newWorld(t, contoso, fabrik, north)
	rule := alert.Rule{Name: "new", When: alert.NewAction, Tenants: 2, Days: 7, Channels: []string{"c"}}
	mfa := profile("AdminMFAV2", "Require MFA for administrative roles", 10, "")
	fresh := profile("PasskeysForAdmins", "Require phishing-resistant MFA for admins", 9, "")
	old := map[string]float64{"AdminMFAV2": 10}
	for _, tn := range []fleetscore.Tenant{contoso, fabrik} {
		w.history(tn, -10, 0, 10, 10, old, mfa)
	}
	// Northwind is new to fleetscore: its first days are not news.
	w.history(north, -1, 0, 10, 19, map[string]float64{"AdminMFAV2": 10, "PasskeysForAdmins": 0}, mfa, fresh)
	w.evaluate(rule)
	if n := len(w.channel("c").got); n != 0 {
		t.Fatalf("%d messages before anything is new", n)
	}
	// Microsoft adds the action: open at Contoso and Fabrikam, met at none.
	w.day = d0.AddDays(1)
	withNew := map[string]float64{"AdminMFAV2": 10, "PasskeysForAdmins": 0}
	w.save(contoso, w.day, 10, 19, withNew, mfa, fresh)
	w.save(fabrik, w.day, 10, 19, withNew, mfa, fresh)
	w.save(north, w.day, 10, 19, withNew, mfa, fresh)
	rep := w.evaluate(rule)
	if len(rep.Fired) != 1 {
		t.Fatalf("fired %+v", rep.Fired)
	}
	m := rep.Fired[0]
	if m.TenantID != "" || m.Control != "PasskeysForAdmins" || m.Title != "new: Require phishing-resistant MFA for admins" ||
		m.Summary != `"Require phishing-resistant MFA for admins" (PasskeysForAdmins) is a new recommended action, open at 2 tenants: Contoso, Fabrikam.` {
		t.Errorf("fired %+v", m)
	}
	open, err := w.engine(rule).OpenAlerts(context.Background())
	if err != nil || len(open[""]) != 1 || len(open) != 1 {
		t.Errorf("open alerts %+v, %v; want one fleet alert under \"\"", open, err)
	}
	// Contoso does it: open at one tenant only.
	w.day = d0.AddDays(2)
	w.save(contoso, w.day, 19, 19, map[string]float64{"AdminMFAV2": 10, "PasskeysForAdmins": 9}, mfa, fresh)
	w.save(fabrik, w.day, 10, 19, withNew, mfa, fresh)
	rep = w.evaluate(rule)
	if len(rep.Resolved) != 1 || !strings.Contains(rep.Resolved[0].Summary, "is no longer a new action open at 2 or more tenants: it is new and open at 1 now") {
		t.Errorf("resolved %+v", rep.Resolved)
	}
}

func TestRuleRemovedClosesItsAlertsQuietly(t *testing.T) {
	w := newWorld(t, contoso)
	rule := alert.Rule{Name: "below", When: alert.BelowTarget, Channels: []string{"c"}}
	w.history(contoso, 0, 0, 60, 100, nil)
	w.evaluate(rule)
	rep := w.evaluate()
	if len(rep.Resolved) != 0 || len(w.channel("c").got) != 1 {
		t.Errorf("resolved %v, sent %q; want the firing only", rep.Resolved, w.channel("c").messages())
	}
	if open, _ := w.state.OpenAlerts(context.Background()); len(open) != 0 {
		t.Errorf("still open: %+v", open)
	}
}

func TestTenantNoLongerConfigured(t *testing.T) {
	w := newWorld(t, contoso, fabrik)
	rule := alert.Rule{Name: "below", When: alert.BelowTarget, Channels: []string{"c"}}
	w.history(contoso, 0, 0, 60, 100, nil)
	w.history(fabrik, 0, 0, 60, 100, nil)
	w.evaluate(rule)
	e := w.engine(rule)
	e.Tenants = []string{strings.ToUpper(contoso.ID)}
	rep, err := e.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Resolved) != 1 || rep.Resolved[0].Summary != "Fabrikam is no longer checked: it is not among the configured tenants." {
		t.Errorf("resolved %+v", rep.Resolved)
	}
}

// failingSource fails the reads a score_drop rule makes.
type failingSource struct{ query.Source }

func (failingSource) Daily(context.Context, fleetscore.Day, fleetscore.Day) ([]fleetscore.Score, error) {
	return nil, errors.New("disk on fire")
}

func TestRuleThatCannotReadKeepsItsAlerts(t *testing.T) {
	w := newWorld(t, contoso)
	drop := alert.Rule{Name: "drop", When: alert.ScoreDrop, Points: 10, Channels: []string{"c"}}
	below := alert.Rule{Name: "below", When: alert.BelowTarget, Channels: []string{"c"}}
	w.history(contoso, -3, 0, 80, 100, nil)
	w.day = d0.AddDays(1)
	w.save(contoso, w.day, 60, 100, nil)
	w.evaluate(drop, below)
	e := w.engine(drop, below)
	e.Source = failingSource{w.store}
	w.day = d0.AddDays(2)
	w.save(contoso, w.day, 80, 100, nil)
	rep, err := e.Evaluate(context.Background())
	if err == nil || !strings.Contains(err.Error(), "rule drop: read daily scores: disk on fire") {
		t.Errorf("error %v", err)
	}
	// The drop alert is not resolved for want of data; below-target, which
	// could read, is.
	if len(rep.Resolved) != 1 || rep.Resolved[0].Rule != "below" {
		t.Errorf("resolved %+v", rep.Resolved)
	}
	open, _ := w.state.OpenAlerts(context.Background())
	if len(open) != 1 || open[0].Rule != "drop" {
		t.Errorf("open %+v", open)
	}
}

func TestBadRule(t *testing.T) {
	w := newWorld(t, contoso)
	_, err := w.engine(alert.Rule{Name: "x", When: "score_dropp", Channels: []string{"c"}},
		alert.Rule{Name: "y", When: alert.ScoreDrop, Channels: []string{"c"}},
		alert.Rule{Name: "z", When: alert.NewAction, Channels: []string{"c"}}).Evaluate(context.Background())
	for _, want := range []string{`rule x: unknown condition "score_dropp"`, "rule y: score_drop needs points or percent", "rule z: new_action needs tenants"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// TestDelivery covers retries within an evaluation, messages left for the
// next one, order, Retry-After, giving up and channels that disappear.
func TestDelivery(t *testing.T) {
	// fire puts every tenant of the world below its target.
	fire := func(w *world, channels ...string) alert.Rule {
		ts, _ := w.store.Tenants(context.Background())
		for _, st := range ts {
			w.history(st.Tenant, 0, 0, 60, 100, nil)
		}
		return alert.Rule{Name: "below", When: alert.BelowTarget, Channels: channels}
	}
	fail := &alert.StatusError{Status: http.StatusInternalServerError}

	t.Run("fails twice then takes it: delivered once", func(t *testing.T) {
		w := newWorld(t, contoso)
		r := fire(w, "c")
		w.channel("c").errs = []error{fail, fail}
		rep := w.evaluate(r)
		if rep.Delivered != 1 || len(w.channel("c").got) != 1 || w.channel("c").sent != 3 {
			t.Errorf("report %+v, got %d, sent %d", rep, len(w.channel("c").got), w.channel("c").sent)
		}
		if !slices.Equal(w.sleeps, []time.Duration{2 * time.Second, 4 * time.Second}) {
			t.Errorf("slept %v", w.sleeps)
		}
		ds, _ := w.state.Deliveries(context.Background(), 0)
		if ds[0].Status != alert.StatusDelivered || ds[0].Attempts != 3 || ds[0].LastError != fail.Error() {
			t.Errorf("delivery %+v", ds[0])
		}
		w.evaluate(r)
		if len(w.channel("c").got) != 1 {
			t.Error("delivered again")
		}
	})

	t.Run("down for a run: the messages wait, in order, then arrive once", func(t *testing.T) {
		w := newWorld(t, contoso, fabrik)
		r := fire(w, "c", "d")
		w.channel("c").errs = []error{fail, fail, fail}
		rep := w.evaluate(r)
		// c stops at its first message; d, another channel, is not held up.
		if rep.Delivered != 2 || rep.Pending != 2 || w.channel("c").sent != 3 || len(rep.Failures) != 1 {
			t.Errorf("report %+v, c sent %d", rep, w.channel("c").sent)
		}
		w.day = d0.AddDays(1)
		rep = w.evaluate(r)
		want := []string{"firing below: Contoso", "firing below: Fabrikam"}
		if got := w.channel("c").messages(); !slices.Equal(got, want) || rep.Delivered != 2 || rep.Pending != 0 {
			t.Errorf("c got %q, report %+v", got, rep)
		}
		if got := w.channel("d").messages(); !slices.Equal(got, want) {
			t.Errorf("d got %q", got)
		}
	})

	t.Run("a refusal is not retried at once, but at the next evaluation", func(t *testing.T) {
		w := newWorld(t, contoso)
		r := fire(w, "c")
		w.channel("c").errs = []error{&alert.StatusError{Status: http.StatusNotFound}}
		rep := w.evaluate(r)
		if w.channel("c").sent != 1 || rep.Pending != 1 || len(w.sleeps) != 0 {
			t.Errorf("sent %d, report %+v, slept %v", w.channel("c").sent, rep, w.sleeps)
		}
		w.evaluate(r)
		if len(w.channel("c").got) != 1 {
			t.Errorf("not delivered at the next evaluation")
		}
	})

	t.Run("Retry-After is honoured, up to the longest backoff", func(t *testing.T) {
		w := newWorld(t, contoso)
		r := fire(w, "c")
		w.channel("c").errs = []error{&alert.StatusError{Status: 429, RetryAfter: 7 * time.Second}, &alert.StatusError{Status: 429, RetryAfter: time.Hour}}
		w.evaluate(r)
		if !slices.Equal(w.sleeps, []time.Duration{7 * time.Second, time.Minute}) || len(w.channel("c").got) != 1 {
			t.Errorf("slept %v, got %d", w.sleeps, len(w.channel("c").got))
		}
	})

	t.Run("given up after three days", func(t *testing.T) {
		w := newWorld(t, contoso)
		r := fire(w, "c")
		w.channel("c").errs = []error{fail, fail, fail, fail, fail, fail}
		w.evaluate(r)
		w.day = d0.AddDays(1)
		w.evaluate(r)
		w.day = d0.AddDays(4)
		rep := w.evaluate(r)
		if rep.Expired != 1 || w.channel("c").sent != 6 || len(w.channel("c").got) != 0 {
			t.Errorf("report %+v, sent %d", rep, w.channel("c").sent)
		}
		ds, _ := w.state.Deliveries(context.Background(), 0)
		if ds[0].Status != alert.StatusExpired || !strings.Contains(ds[0].LastError, "not delivered within 72h0m0s") {
			t.Errorf("delivery %+v", ds[0])
		}
	})

	t.Run("a channel removed from the config", func(t *testing.T) {
		w := newWorld(t, contoso)
		r := fire(w, "c")
		w.channel("c").errs = []error{fail, fail, fail}
		w.evaluate(r)
		e := w.engine(r)
		e.Channels = nil
		rep, err := e.Evaluate(context.Background())
		if err != nil || rep.Expired != 1 {
			t.Errorf("report %+v, %v", rep, err)
		}
	})
}

func TestTestMessages(t *testing.T) {
	w := newWorld(t)
	w.channel("ok")
	w.channel("broken").errs = []error{&alert.StatusError{Status: 404}}
	res := w.engine().Test(context.Background())
	if len(res) != 2 || res[0].Channel != "ok" || res[0].Err != nil || res[1].Err == nil {
		t.Fatalf("results %+v", res)
	}
	m := w.channel("ok").got[0]
	if m.Event != alert.Test || !strings.Contains(m.Summary, "test message from fleetscore to the fake channel ok") {
		t.Errorf("test message %+v", m)
	}
	if w.channel("broken").sent != 1 {
		t.Error("a test is one attempt")
	}
	if ds, _ := w.state.Deliveries(context.Background(), 0); len(ds) != 0 {
		t.Error("a test message was recorded")
	}
}
