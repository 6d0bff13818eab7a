package collect_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/postgres"
	"github.com/fleetscore/fleetscore/postgres/pgtest"
	"github.com/fleetscore/fleetscore/storetest"
)

// instanceEnv, when set, makes the test binary a collector instance (see
// runInstanceProcess) instead of running the tests: a process the tests can
// kill with SIGKILL.
const instanceEnv = "FLEETSCORE_TEST_INSTANCE"

func TestMain(m *testing.M) {
	if path := os.Getenv(instanceEnv); path != "" {
		os.Exit(runInstanceProcess(path))
	}
	os.Exit(m.Run())
}

// instanceConfig is what a collector instance needs: what `serve` would get
// from its config, plus fixed clocks.
type instanceConfig struct {
	DSN      string
	Emulator string // its URL
	CA       []byte // its CA, PEM
	AppPEM   []byte // the app's certificate and key
	ClientID string
	Tenants  []fleetscore.Tenant
	Now      time.Time
	Owner    string
	TTL      time.Duration
	// ClaimsAt is the claims' clock of an instance in its own process: it
	// stands still, so its leases last until the others' clock passes them.
	ClaimsAt time.Time
}

// instance is one fleetscore instance: its own connections to the shared
// database, its own Graph client and credential, a collector that claims.
type instance struct {
	store *postgres.Store
	col   *collect.Collector
	jobs  []collect.Job
}

func newInstance(ctx context.Context, cfg instanceConfig, claimsNow func() time.Time) (*instance, error) {
	var (
		certs []*x509.Certificate
		key   any
	)
	for rest := cfg.AppPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			key = k
		}
	}
	store, err := postgres.Open(ctx, cfg.DSN, postgres.WithClock(claimsNow))
	if err != nil {
		return nil, err
	}
	hc := graph.NewHTTPClient(cfg.CA)
	gc, err := graph.New(graph.Options{BaseURL: cfg.Emulator, Scope: "https://graph.microsoft.com/.default", HTTPClient: hc})
	if err != nil {
		store.Close()
		return nil, err
	}
	cred, err := graph.NewCredential(graph.App{ClientID: cfg.ClientID, Certificates: certs, Key: key}, "organizations",
		graph.AuthOptions{AuthorityHost: cfg.Emulator + "/", Custom: true, HTTPClient: hc})
	if err != nil {
		store.Close()
		return nil, err
	}
	in := &instance{store: store}
	for _, t := range cfg.Tenants {
		in.jobs = append(in.jobs, collect.Job{Tenant: t, Target: graph.Target{ClientID: cfg.ClientID, Credential: cred, TenantID: t.ID}})
	}
	in.col = &collect.Collector{
		Store: store, Graph: gc, Concurrency: 8, Timeout: time.Minute,
		Claims: store, Owner: cfg.Owner, LeaseTTL: cfg.TTL,
		Now: func() time.Time { return cfg.Now },
	}
	return in, nil
}

// runInstanceProcess is the killed instance: it collects once, printing
// "ok TENANT" as each tenant is collected (after its claim is done).
func runInstanceProcess(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var cfg instanceConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	in, err := newInstance(context.Background(), cfg, func() time.Time { return cfg.ClaimsAt })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer in.store.Close()
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	in.col.Progress = func(r collect.Result) {
		if r.Err == nil && !r.ClaimedElsewhere {
			mu.Lock()
			fmt.Fprintln(out, "ok", r.Tenant.ID)
			out.Flush()
			mu.Unlock()
		}
	}
	in.col.Run(context.Background(), in.jobs)
	fmt.Fprintln(out, "finished")
	out.Flush()
	return 0
}

// fleetFixture is an emulator with n tenants and an app consented in all,
// and a new PostgreSQL database for the instances to share.
type fleetFixture struct {
	emu *emulator.Emulator
	cfg instanceConfig // without Owner
	// claims is the claims' clock of the instances in this process: it
	// stands still until the test moves it, so no lease expires because the
	// machine was slow, and a dead instance's expire when the test says so.
	claims *storetest.Clock
}

func newFleetFixture(t *testing.T, tenants int, ttl time.Duration) *fleetFixture {
	t.Helper()
	now := time.Now().UTC()
	// Fewer controls than real tenants have (80, not 150-300): the machine's
	// CPUs serve the emulator and three collectors at once, next to other
	// tests. What is shared (the claims, the leases, the writes) is the same.
	emu := emulator.New(emulator.Options{Seed: 66, Days: 90, Now: func() time.Time { return now }})
	var ts []fleetscore.Tenant
	for range tenants {
		ti := emu.AddTenant(emulator.Tenant{Controls: 80, Quirks: true})
		ts = append(ts, fleetscore.Tenant{ID: ti.ID, Name: ti.Name, TargetPercent: 75})
	}
	cert, key := testCert(t)
	emu.AddApp(emulator.App{ClientID: certAppID, Certs: []*x509.Certificate{cert}})
	emu.ConsentAll(certAppID)
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	app := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})...)
	return &fleetFixture{emu: emu, claims: storetest.NewClock(now), cfg: instanceConfig{
		DSN: pgtest.NewDatabase(t), Emulator: emu.URL(), CA: emu.CACertPEM(), AppPEM: app,
		ClientID: certAppID, Tenants: ts, Now: now, TTL: ttl,
	}}
}

func (ff *fleetFixture) instance(t *testing.T, owner string) *instance {
	t.Helper()
	cfg := ff.cfg
	cfg.Owner = owner
	in, err := newInstance(context.Background(), cfg, ff.claims.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.store.Close() })
	return in
}

// collected is the set of tenants a run collected itself.
func collected(s collect.Summary) map[string]bool {
	out := map[string]bool{}
	for _, r := range s.Results {
		if r.Err == nil && !r.ClaimedElsewhere {
			out[r.Tenant.ID] = true
		}
	}
	return out
}

// checkOncePerDay checks the shared database after the instances are done:
// every tenant has exactly the emulator's days, each written once (the
// write log the trigger of logWrites keeps), one done claim for today by one
// owner, and no collection left running. byOwner is what each instance said
// it collected; it must agree with the claims, and no tenant may be in two.
func (ff *fleetFixture) checkOncePerDay(t *testing.T, db *pgx.Conn, byOwner map[string]map[string]bool) {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, ff.cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Days: exactly the emulator's, each once.
	for _, tn := range ff.cfg.Tenants {
		want, _ := ff.emu.Expected(tn.ID)
		got, err := s.Scores(ctx, tn.ID, fleetscore.Day{}, fleetscore.Day{})
		if err != nil {
			t.Fatalf("scores of %s: %v", tn.Name, err)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d days stored, the emulator serves %d", tn.Name, len(got), len(want))
			continue
		}
		for i := range want {
			if got[i].Day != want[i].Day || got[i].CurrentScore != want[i].CurrentScore || len(got[i].Controls) != len(want[i].Controls) {
				t.Errorf("%s: day %d is %s %v (%d controls), want %s %v (%d controls)", tn.Name, i,
					got[i].Day, got[i].CurrentScore, len(got[i].Controls), want[i].Day, want[i].CurrentScore, len(want[i].Controls))
				break
			}
		}
	}
	var writes, days, twice, updates int
	err = db.QueryRow(ctx, `
		SELECT count(*),
		       count(DISTINCT (tenant, day)),
		       (SELECT count(*) FROM (SELECT 1 FROM score_writes GROUP BY tenant, day HAVING count(*) > 1) d),
		       count(*) FILTER (WHERE op <> 'INSERT')
		FROM score_writes`).Scan(&writes, &days, &twice, &updates)
	if err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM scores`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if twice > 0 || updates > 0 || writes != stored || days != stored {
		t.Errorf("score rows written %d times for %d tenant-days (%d stored): %d tenant-days written more than once, %d updates",
			writes, days, stored, twice, updates)
	}

	// Claims: one per tenant for today, done, by the instance that said it
	// collected the tenant.
	today := fleetscore.DayOf(ff.cfg.Now).Unix()
	rows, err := db.Query(ctx, `SELECT tenant, owner, done FROM claims WHERE day = $1`, today)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{}
	var tenant, who string
	var done bool
	_, err = pgx.ForEachRow(rows, []any{&tenant, &who, &done}, func() error {
		if !done {
			t.Errorf("tenant %s: its claim for today, by %s, is not done", tenant, who)
		}
		owner[tenant] = who
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(owner) != len(ff.cfg.Tenants) {
		t.Errorf("%d claims for today, want one for each of the %d tenants", len(owner), len(ff.cfg.Tenants))
	}
	seen := map[string]string{}
	for o, ids := range byOwner {
		for id := range ids {
			if other, ok := seen[id]; ok {
				t.Errorf("tenant %s was collected by both %s and %s", id, other, o)
			}
			seen[id] = o
			if owner[id] != o {
				t.Errorf("tenant %s: %s says it collected it, but the claim is %s's", id, o, owner[id])
			}
		}
	}
	perOwner := map[string]int{}
	for _, o := range owner {
		perOwner[o]++
	}
	t.Logf("claims done per instance: %v", perOwner)

	// The log: nothing left running; one collection that succeeded per tenant.
	log, err := s.Collections(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]int{}
	interrupted, stopped := 0, 0
	for _, c := range log {
		switch {
		case c.Status == fleetscore.StatusRunning:
			t.Errorf("tenant %s: collection %d still running", c.TenantID, c.ID)
		case c.Status == fleetscore.StatusOK:
			ok[c.TenantID]++
		case strings.Contains(c.Error, "interrupted"): // its instance was killed
			interrupted++
		case strings.Contains(c.Error, "cancelled") || strings.Contains(c.Error, "stopped"): // its instance was stopped
			stopped++
		default:
			t.Errorf("tenant %s: collection %d failed: %s", c.TenantID, c.ID, c.Error)
		}
	}
	again := 0
	for _, tn := range ff.cfg.Tenants {
		switch {
		case ok[tn.ID] == 0:
			t.Errorf("%s: no collection succeeded", tn.Name)
		case ok[tn.ID] > 1:
			// The killed instance saved the tenant and logged it, and died
			// before it marked its claim done: the tenant was collected
			// again, which wrote nothing (the write log says so above).
			again++
		}
	}
	if again > 0 {
		t.Logf("%d tenants collected again after the kill, without writing anything", again)
	}
	t.Logf("%d collections logged: %d ok, %d interrupted by the kill, %d stopped by the cancel", len(log), len(log)-interrupted-stopped, interrupted, stopped)
}

// logWrites records every insert and update of a score row: the proof that
// no day is written twice, even by an instance that took a tenant over.
func logWrites(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn) // the schema first
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	_, err = db.Exec(ctx, `
		CREATE TABLE score_writes (tenant integer, day integer, op text);
		CREATE FUNCTION log_score_write() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
		    INSERT INTO score_writes VALUES (NEW.tenant, NEW.day, TG_OP);
		    RETURN NULL;
		END $$;
		CREATE TRIGGER score_writes AFTER INSERT OR UPDATE ON scores
		    FOR EACH ROW EXECUTE FUNCTION log_score_write();`)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestThreeInstancesKillOne runs three collector instances against one
// PostgreSQL database and 200 emulated tenants: one is a separate process,
// killed with SIGKILL in the middle of its run, the other two run in this
// process. The survivors' runs finish their own tenants and, once the dead
// instance's leases have expired, those it was collecting. Every
// tenant ends up collected once for the day: one done claim each, every day
// stored exactly once, each tenant collected by one instance only.
//
// Leases are timed by clocks that stand still: the killed instance's at
// half a lease before the survivors'. Its leases expire when the test moves
// the survivors' clock on by three quarters of a lease, after the kill, and
// the survivors' own never do, however slow the machine.
func TestThreeInstancesKillOne(t *testing.T) {
	const (
		tenants = 200
		ttl     = 2 * time.Second
		killAt  = 10 // oks of the process before it is killed
	)
	start := time.Now()
	ff := newFleetFixture(t, tenants, ttl)
	db := logWrites(t, ff.cfg.DSN)

	// The instance to kill, in its own process.
	cfg := ff.cfg
	cfg.Owner = "instance-a"
	cfg.ClaimsAt = ff.claims.Now().Add(-ttl / 2)
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "instance-a.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), instanceEnv+"="+cfgPath)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	ib, ic := ff.instance(t, "instance-b"), ff.instance(t, "instance-c")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// The survivors run alongside it.
	var (
		wg     sync.WaitGroup
		sb, sc collect.Summary
	)
	wg.Go(func() { sb = ib.col.Run(context.Background(), ib.jobs) })
	wg.Go(func() { sc = ic.col.Run(context.Background(), ic.jobs) })

	aDone := map[string]bool{}
	sc2 := bufio.NewScanner(out)
	for len(aDone) < killAt && sc2.Scan() {
		if id, ok := strings.CutPrefix(sc2.Text(), "ok "); ok {
			aDone[id] = true
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("instance a was not killed mid-run (%v); it collected %d tenants", werr, len(aDone))
	}
	killed := time.Now()
	// Its leases still held at its death: what the survivors must take over.
	var held int
	var heldTenant string
	err = db.QueryRow(context.Background(), `
		SELECT count(*), coalesce(min(tenant), '')
		FROM claims
		WHERE owner = 'instance-a' AND NOT done`).Scan(&held, &heldTenant)
	if err != nil {
		t.Fatal(err)
	}
	if held > 0 {
		// Until the clock moves, a's leases are live: nobody takes them.
		if ok, err := ib.store.Claim(context.Background(), heldTenant, fleetscore.DayOf(ff.cfg.Now), "probe", ttl); ok || err != nil {
			t.Fatalf("a claim of a tenant the dead instance held, before its lease expired: %v, %v; want refused", ok, err)
		}
	}
	ff.claims.Advance(3 * ttl / 4)
	wg.Wait()
	t.Logf("instance a killed after %d tenants with %d claims held, %s into the run; then b collected %d, c %d, %s after the kill",
		len(aDone), held, killed.Sub(start).Round(time.Millisecond), sb.OK, sc.OK, time.Since(killed).Round(time.Millisecond))
	if held == 0 {
		t.Error("instance a held no claim when it was killed: nothing was taken over")
	}
	for name, s := range map[string]collect.Summary{"b": sb, "c": sc} {
		if s.Failed > 0 || s.Skipped > 0 {
			t.Fatalf("instance %s: %v (%s)", name, s.Err(), firstError(s))
		}
	}

	// The survivors' runs took a's tenants over once its leases expired.
	var remaining int
	if err := db.QueryRow(context.Background(), `SELECT $1::int - count(*) FILTER (WHERE done) FROM claims`, tenants).Scan(&remaining); err != nil {
		t.Fatal(err)
	}
	if remaining > 0 {
		t.Errorf("%d tenants not collected when the survivors' runs ended", remaining)
	}
	byOwner := map[string]map[string]bool{"instance-a": aDone, "instance-b": collected(sb), "instance-c": collected(sc)}
	ff.checkOncePerDay(t, db, byOwner)
	t.Logf("took %s", time.Since(start).Round(time.Millisecond))
}

// TestCancelledInstanceHandsOverAtOnce: an instance stopped in an orderly
// way (its context cancelled, as on SIGTERM) releases the claims it holds,
// so the others' runs take its tenants over at once, without waiting for
// the leases (a minute here) to expire.
func TestCancelledInstanceHandsOverAtOnce(t *testing.T) {
	const tenants = 40
	ff := newFleetFixture(t, tenants, time.Minute)
	db := logWrites(t, ff.cfg.DSN)
	ia, ib, ic := ff.instance(t, "instance-a"), ff.instance(t, "instance-b"), ff.instance(t, "instance-c")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n sync.Mutex
	oks := 0
	ia.col.Progress = func(r collect.Result) {
		n.Lock()
		defer n.Unlock()
		if r.Err == nil && !r.ClaimedElsewhere {
			if oks++; oks == 3 {
				cancel()
			}
		}
	}
	var (
		wg         sync.WaitGroup
		sa, sb, sc collect.Summary
	)
	start := time.Now()
	wg.Go(func() { sa = ia.col.Run(ctx, ia.jobs) })
	wg.Go(func() { sb = ib.col.Run(context.Background(), ib.jobs) })
	wg.Go(func() { sc = ic.col.Run(context.Background(), ic.jobs) })
	wg.Wait()
	if sa.Err() == nil {
		t.Fatalf("instance a was not stopped mid-run: %d collected", sa.OK)
	}
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("the survivors took %s: they waited for a's leases (a minute) instead of taking its released claims", elapsed)
	}
	byOwner := map[string]map[string]bool{"instance-a": collected(sa), "instance-b": collected(sb), "instance-c": collected(sc)}
	t.Logf("a collected %d before it stopped; b %d, c %d, a's released tenants included", sa.OK, sb.OK, sc.OK)
	ff.checkOncePerDay(t, db, byOwner)
}

func firstError(s collect.Summary) error {
	for _, r := range s.Results {
		if r.Err != nil {
			return fmt.Errorf("%s: %w", r.Tenant.Name, r.Err)
		}
	}
	return errors.New("no error")
}
