package collect_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/sqlite"
)

const (
	certAppID   = "5a7c0e1d-2b3f-4c5d-8e9f-0a1b2c3d4e5f"
	secretAppID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
	appSecret   = "Q~fleetscore-test-secret-value"
)

// fixture is a real HTTPS Entra + Graph emulator, a real SQLite store and a
// real Graph client with azidentity credentials, wired as the binary wires
// them. Only sleeping is replaced: waits are recorded, not slept.
type fixture struct {
	t     *testing.T
	emu   *emulator.Emulator
	store *sqlite.Store
	gc    *graph.Client
	now   time.Time

	mu    sync.Mutex
	waits []time.Duration

	answers answerCounts // every answer of Entra and Graph, by status

	certCred, secretCred graph.Target
}

func newFixture(t *testing.T, opts emulator.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, now: time.Now().UTC()}
	opts.Now = func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	f.emu = emulator.New(opts)
	if err := f.emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.emu.Close() })

	cert, key := testCert(t)
	f.emu.AddApp(emulator.App{ClientID: certAppID, Certs: []*x509.Certificate{cert}})
	f.emu.AddApp(emulator.App{ClientID: secretAppID, Secrets: []string{appSecret}})

	store, err := sqlite.Open(context.Background(), "sqlite:"+t.TempDir()+"/fleetscore.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.store = store

	hc := graph.CountAnswers(graph.NewHTTPClient(f.emu.CACertPEM()), &f.answers)
	f.gc, err = graph.New(graph.Options{
		BaseURL:    f.emu.URL(),
		Scope:      "https://graph.microsoft.com/.default",
		HTTPClient: hc,
		Sleep: func(ctx context.Context, d time.Duration) error {
			f.mu.Lock()
			f.waits = append(f.waits, d)
			f.mu.Unlock()
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	auth := graph.AuthOptions{AuthorityHost: f.emu.URL() + "/", Custom: true, HTTPClient: hc}
	cc, err := graph.NewCredential(graph.App{ClientID: certAppID, Certificates: []*x509.Certificate{cert}, Key: key}, "organizations", auth)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := graph.NewCredential(graph.App{ClientID: secretAppID, Secret: func() string { return appSecret }}, "organizations", auth)
	if err != nil {
		t.Fatal(err)
	}
	f.certCred = graph.Target{ClientID: certAppID, Credential: cc}
	f.secretCred = graph.Target{ClientID: secretAppID, Credential: sc}
	return f
}

func (f *fixture) advance(days int) {
	f.mu.Lock()
	f.now = f.now.AddDate(0, 0, days)
	f.mu.Unlock()
}

func (f *fixture) job(info emulator.TenantInfo, secret bool) collect.Job {
	target := f.certCred
	if secret {
		target = f.secretCred
	}
	target.TenantID = info.ID
	return collect.Job{
		Tenant:     fleetscore.Tenant{ID: info.ID, Name: info.Name, TargetPercent: 75},
		Target:     target,
		ConsentURL: f.emu.URL() + "/" + info.ID + "/adminconsent?client_id=" + target.ClientID,
	}
}

func (f *fixture) collector() *collect.Collector {
	return &collect.Collector{Store: f.store, Graph: f.gc, Concurrency: 4, Timeout: time.Minute}
}

func testCert(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "fleetscore test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// assertStored checks the store holds exactly what the emulator serves for
// the tenant: every day, score, max, percent, average and control score.
func (f *fixture) assertStored(tenantID string) []fleetscore.Score {
	f.t.Helper()
	want, profiles := f.emu.Expected(tenantID)
	got, err := f.store.Scores(context.Background(), tenantID, fleetscore.Day{}, fleetscore.Day{})
	if err != nil {
		f.t.Fatalf("scores of %s: %v", tenantID, err)
	}
	// The store keeps days that fell out of Graph's window: compare the
	// window Graph serves now.
	byDay := make(map[fleetscore.Day]fleetscore.Score, len(got))
	for i, s := range got {
		if i > 0 && !got[i-1].Day.Before(s.Day) {
			f.f("tenant %s: days not strictly increasing at %s (duplicate or disorder)", tenantID, s.Day)
		}
		byDay[s.Day] = s
	}
	for _, w := range want {
		g, ok := byDay[w.Day]
		if !ok {
			f.f("tenant %s: day %s not stored", tenantID, w.Day)
			continue
		}
		if g.CurrentScore != w.CurrentScore || g.MaxScore != w.MaxScore {
			f.f("tenant %s %s: stored %v/%v, emulator %v/%v", tenantID, w.Day, g.CurrentScore, g.MaxScore, w.CurrentScore, w.MaxScore)
		}
		if g.Percent() != w.CurrentScore/w.MaxScore*100 {
			f.f("tenant %s %s: percent %v, want %v", tenantID, w.Day, g.Percent(), w.CurrentScore/w.MaxScore*100)
		}
		for basis, avg := range w.Averages {
			if g.Averages[basis] != avg {
				f.f("tenant %s %s: average %s = %v, want %v", tenantID, w.Day, basis, g.Averages[basis], avg)
			}
		}
		if len(g.Controls) != len(w.Controls) {
			f.f("tenant %s %s: %d controls stored, emulator has %d", tenantID, w.Day, len(g.Controls), len(w.Controls))
			continue
		}
		wc := make(map[string]float64, len(w.Controls))
		for _, c := range w.Controls {
			wc[c.Name] = c.Score
		}
		for _, c := range g.Controls {
			if s, ok := wc[c.Name]; !ok || s != c.Score {
				f.f("tenant %s %s: control %s = %v, emulator %v (present %v)", tenantID, w.Day, c.Name, c.Score, s, ok)
			}
		}
	}
	gotProfiles, err := f.store.Profiles(context.Background(), tenantID)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(gotProfiles) != len(profiles) {
		f.f("tenant %s: %d profiles stored, emulator serves %d", tenantID, len(gotProfiles), len(profiles))
	}
	states := make(map[string]fleetscore.ControlProfile, len(profiles))
	for _, p := range profiles {
		states[p.ID] = p
	}
	for _, p := range gotProfiles {
		w := states[p.ID]
		if p.State() != w.State() || p.MaxScore != w.MaxScore || p.Title != w.Title || p.Deprecated != w.Deprecated {
			f.f("tenant %s: profile %s = %q/%v/%q/%v, emulator %q/%v/%q/%v", tenantID, p.ID, p.State(), p.MaxScore, p.Title, p.Deprecated, w.State(), w.MaxScore, w.Title, w.Deprecated)
		}
	}
	return got
}

func (f *fixture) f(format string, args ...any) {
	f.t.Helper()
	f.t.Errorf(format, args...)
}

func (f *fixture) waitsOf(d time.Duration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.waits {
		if w == d {
			n++
		}
	}
	return n
}

// TestCollectFleet collects 5 tenants with certificate auth and 2 with secret
// auth: one pages its scores, one is throttled with a fractional
// Retry-After, one has its consent revoked and one answers 503 twice.
func TestCollectFleet(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 42})
	var infos []emulator.TenantInfo
	for i := range 7 {
		ti := emulator.Tenant{Quirks: true, ConsentedApps: []string{certAppID, secretAppID}}
		if i == 0 {
			ti.ScorePageSize = 7 // 90 days over 13 pages
		}
		infos = append(infos, f.emu.AddTenant(ti))
	}
	paged, throttled, revoked, unavailable := infos[0], infos[1], infos[2], infos[3]
	f.emu.SetFaults(throttled.ID, emulator.Faults{Throttle: 2, RetryAfter: "2.128"})
	f.emu.SetFaults(revoked.ID, emulator.Faults{RevokeConsent: true})
	f.emu.SetFaults(unavailable.ID, emulator.Faults{Unavailable: 2, UnavailableStatus: 503})

	var jobs []collect.Job
	for i, ti := range infos {
		jobs = append(jobs, f.job(ti, i >= 5))
	}
	sum := f.collector().Run(context.Background(), jobs)

	if sum.OK != 6 || sum.Failed != 1 || sum.Skipped != 0 {
		for _, r := range sum.Results {
			t.Logf("%s: %v", r.Tenant.Name, r.Err)
		}
		t.Fatalf("summary ok=%d failed=%d skipped=%d, want 6 ok and 1 failed", sum.OK, sum.Failed, sum.Skipped)
	}
	if sum.Err() == nil {
		t.Error("a run with a failed tenant must report an error")
	}
	for i, ti := range infos {
		if ti.ID == revoked.ID {
			continue
		}
		got := f.assertStored(ti.ID)
		want, _ := f.emu.Expected(ti.ID)
		if len(got) != len(want) {
			t.Errorf("tenant %d: %d days stored, emulator serves %d", i, len(got), len(want))
		}
		if st := f.emu.Stats(ti.ID); st.MaxConcurrent > graph.MaxConcurrentPerTenant {
			t.Errorf("tenant %d: %d concurrent requests, Graph allows %d", i, st.MaxConcurrent, graph.MaxConcurrentPerTenant)
		}
	}
	if st := f.emu.Stats(paged.ID); st.Requests < 13 {
		t.Errorf("paged tenant: %d Graph requests; 90 days at 7 a page need at least 13", st.Requests)
	}
	if n := f.waitsOf(2128 * time.Millisecond); n != 2 {
		t.Errorf("Retry-After 2.128 honoured %d times, want 2 (waits %v)", n, f.waits)
	}
	if st := f.emu.Stats(unavailable.ID); st.Unavailable != 2 {
		t.Errorf("unavailable tenant saw %d injected 503s, want 2", st.Unavailable)
	}

	// The revoked tenant is reported with the advice and the consent link.
	r := sum.Results[2]
	if r.Err == nil || r.Collection.Status != fleetscore.StatusError {
		t.Fatalf("revoked tenant: err %v status %q", r.Err, r.Collection.Status)
	}
	for _, want := range []string{"SecurityEvents.Read.All", "admin consent", "adminconsent?client_id=" + certAppID} {
		if !strings.Contains(r.Collection.Advice, want) {
			t.Errorf("revoked tenant's advice lacks %q: %s", want, r.Collection.Advice)
		}
	}
	if !strings.Contains(r.Collection.Error, "403") {
		t.Errorf("revoked tenant's error should say Graph answered 403: %s", r.Collection.Error)
	}
	statuses, err := f.store.Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range statuses {
		if s.LastCollection == nil {
			t.Errorf("%s: no collection logged", s.Name)
			continue
		}
		wantStatus := fleetscore.StatusOK
		if s.ID == revoked.ID {
			wantStatus = fleetscore.StatusError
			if s.LastCollection.Advice != r.Collection.Advice {
				t.Errorf("logged advice %q, want %q", s.LastCollection.Advice, r.Collection.Advice)
			}
			if s.Latest != nil {
				t.Errorf("revoked tenant has a score although it was never collected")
			}
		} else if s.Latest == nil || s.Latest.Percent() != s.Latest.CurrentScore/s.Latest.MaxScore*100 {
			t.Errorf("%s: latest %+v", s.Name, s.Latest)
		}
		if s.LastCollection.Status != wantStatus {
			t.Errorf("%s: last collection %q, want %q (%s)", s.Name, s.LastCollection.Status, wantStatus, s.LastCollection.Error)
		}
	}

	// A day later only the new day is fetched, and the day that fell out
	// of Graph's window stays in the store.
	firstDays, _ := f.store.Scores(context.Background(), paged.ID, fleetscore.Day{}, fleetscore.Day{})
	f.advance(1)
	before := f.emu.Stats(infos[4].ID).Requests
	sum = f.collector().Run(context.Background(), jobs)
	if sum.OK != 6 {
		t.Fatalf("second run: %d ok, want 6", sum.OK)
	}
	for _, ti := range []emulator.TenantInfo{paged, infos[4], infos[6]} {
		got := f.assertStored(ti.ID)
		if len(got) != len(firstDays)+1 && ti.ID == paged.ID {
			t.Errorf("after one more day: %d days stored, want %d", len(got), len(firstDays)+1)
		}
	}
	if got, _ := f.store.Scores(context.Background(), paged.ID, firstDays[0].Day, firstDays[0].Day); len(got) != 1 {
		t.Errorf("the oldest day %s left Graph's window and must stay stored; got %d rows", firstDays[0].Day, len(got))
	}
	if reqs := f.emu.Stats(infos[4].ID).Requests - before; reqs > 3 {
		t.Errorf("a daily run made %d Graph requests for one tenant; one scores page and the profile pages suffice", reqs)
	}
}

// TestInterruptedCollectionResumes stops a run half-way, with a crashing
// Graph for one tenant and a cancelled context for the rest, and shows that
// nothing half-written is left and the re-run completes with no duplicates.
func TestInterruptedCollectionResumes(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 7, Latency: 20 * time.Millisecond})
	var jobs []collect.Job
	var infos []emulator.TenantInfo
	for i := range 10 {
		spec := emulator.Tenant{ConsentedApps: []string{certAppID}}
		if i == 0 {
			spec.ScorePageSize = 10 // nine pages of scores: Graph dies in the middle of them
		}
		ti := f.emu.AddTenant(spec)
		infos = append(infos, ti)
		jobs = append(jobs, f.job(ti, false))
	}
	crashing := infos[0]
	f.emu.SetFaults(crashing.ID, emulator.Faults{FailAfter: 3}) // Graph dies after three answers

	ctx, cancel := context.WithCancel(context.Background())
	done := 0
	var mu sync.Mutex
	c := f.collector()
	c.Concurrency = 2
	c.Progress = func(r collect.Result) {
		mu.Lock()
		defer mu.Unlock()
		if r.Err == nil {
			done++
			if done == 3 {
				cancel()
			}
		}
	}
	sum := c.Run(ctx, jobs)
	if sum.OK < 3 || sum.OK == len(jobs) {
		t.Fatalf("the interrupted run collected %d tenants; want at least 3 and not all", sum.OK)
	}
	if sum.Err() == nil {
		t.Error("an interrupted run must report an error")
	}
	if r := sum.Results[0]; r.Err == nil || r.Collection.Status != fleetscore.StatusError {
		t.Errorf("the tenant whose Graph crashed: err %v, status %q", r.Err, r.Collection.Status)
	}
	// Every tenant has either all of its days or none: no partial batch.
	for i, ti := range infos {
		want, _ := f.emu.Expected(ti.ID)
		got, err := f.store.Scores(context.Background(), ti.ID, fleetscore.Day{}, fleetscore.Day{})
		if err != nil && !strings.Contains(err.Error(), "not found") {
			t.Fatal(err)
		}
		if len(got) != 0 && len(got) != len(want) {
			t.Errorf("tenant %d: %d of %d days stored after the interruption: a partial batch", i, len(got), len(want))
		}
		if collected := sum.Results[i].Err == nil; collected != (len(got) == len(want)) {
			t.Errorf("tenant %d: reported collected=%v but %d days stored", i, collected, len(got))
		}
	}

	// Graph is back; the re-run completes every tenant, exactly.
	f.emu.SetFaults(crashing.ID, emulator.Faults{})
	c.Progress = nil
	sum = c.Run(context.Background(), jobs)
	if sum.OK != len(jobs) {
		for _, r := range sum.Results {
			t.Logf("%s: %v", r.Tenant.Name, r.Err)
		}
		t.Fatalf("re-run collected %d of %d", sum.OK, len(jobs))
	}
	for _, ti := range infos {
		got := f.assertStored(ti.ID)
		want, _ := f.emu.Expected(ti.ID)
		if len(got) != len(want) {
			t.Errorf("tenant %s: %d days after the re-run, want %d", ti.Name, len(got), len(want))
		}
	}
	log, err := f.store.Collections(context.Background(), crashing.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].Status != fleetscore.StatusOK || log[1].Status != fleetscore.StatusError {
		t.Errorf("crashing tenant's log = %+v, want ok then error (newest first)", log)
	}
}

func TestSchedule(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct{ spec, now, next string }{
		{"daily 02:00", "2026-11-27T01:59:00Z", "2026-11-27T02:00:00Z"},
		{"daily 02:00", "2026-11-27T02:00:00Z", "2026-11-28T02:00:00Z"},
		{"daily  23:30", "2026-12-31T23:31:00Z", "2027-01-01T23:30:00Z"},
		{"every 6h", "2026-11-27T01:00:00Z", "2026-11-27T07:00:00Z"},
	} {
		s, err := collect.ParseSchedule(tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if got := s.Next(at(tc.now)); !got.Equal(at(tc.next)) {
			t.Errorf("%s after %s = %s, want %s", tc.spec, tc.now, got, tc.next)
		}
	}
	for _, bad := range []string{"daily 25:00", "hourly", "every 10s", "daily 2"} {
		if _, err := collect.ParseSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestRunnerCollectNow runs a collection on demand between scheduled runs
// and reports its progress.
func TestRunnerCollectNow(t *testing.T) {
	f := newFixture(t, emulator.Options{Seed: 3})
	var jobs []collect.Job
	for range 3 {
		jobs = append(jobs, f.job(f.emu.AddTenant(emulator.Tenant{ConsentedApps: []string{certAppID}}), false))
	}
	runs := make(chan collect.Summary, 4)
	r := &collect.Runner{
		Collector: f.collector(),
		Jobs:      func() []collect.Job { return jobs },
		Schedule:  collect.Schedule{Interval: 24 * time.Hour},
		After:     func(_ context.Context, s collect.Summary) { runs <- s },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Loop(ctx, false)
	deadline := time.After(30 * time.Second)
	for !r.CollectNow() { // the loop may not have started yet
		select {
		case <-deadline:
			t.Fatal("CollectNow never accepted")
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case s := <-runs:
		if s.OK != 3 {
			t.Fatalf("on-demand run: %d ok", s.OK)
		}
	case <-deadline:
		t.Fatal("the on-demand run did not finish")
	}
	st := r.Status()
	if st.Running || st.Done != 3 || st.Total != 3 || st.Failed != 0 || st.LastEnd.IsZero() || st.LastNote != "3 of 3 tenants collected, 0 failed" {
		t.Errorf("status after the run: %+v", st)
	}
	if st.NextRun.Before(time.Now().Add(23 * time.Hour)) {
		t.Errorf("next scheduled run %v, want a day from now", st.NextRun)
	}
}
