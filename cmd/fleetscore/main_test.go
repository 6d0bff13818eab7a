package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/sqlite"
)

// One emulator serves every test of the binary. Its CA is trusted the way a
// user trusts a test endpoint: through SSL_CERT_FILE, set before anything
// reads the system's CA pool. Tests add their own tenants to it.
var shared struct {
	emu      *emulator.Emulator
	certFile string // PEM cert+key of the certificate app
	cert     *x509.Certificate
	certApp  string
	otherPEM string // a certificate never uploaded to the app
	secret   string
}

const (
	testCertApp   = "3d1c9a7e-4b2f-4e6a-9c8d-1f2e3a4b5c6d"
	testSecretApp = "7e6d5c4b-3a29-4817-8f6e-5d4c3b2a1908"
)

func TestMain(m *testing.M) {
	if os.Getenv("FLEETSCORE_TEST_MAIN") == "1" {
		main() // the binary itself, for tests that kill it
		return
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fleetscore-cmd-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	shared.emu = emulator.New(emulator.Options{Seed: 99})
	if err := shared.emu.Start(); err != nil {
		panic(err)
	}
	defer shared.emu.Close()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, shared.emu.CACertPEM(), 0o644); err != nil {
		panic(err)
	}
	os.Setenv("SSL_CERT_FILE", ca)

	certPEM, keyPEM, cert, err := selfSignedCert("fleetscore cmd test")
	if err != nil {
		panic(err)
	}
	shared.certFile = filepath.Join(dir, "app.pem")
	os.WriteFile(shared.certFile, append(certPEM, keyPEM...), 0o600)
	otherCert, otherKey, _, err := selfSignedCert("not uploaded")
	if err != nil {
		panic(err)
	}
	shared.otherPEM = filepath.Join(dir, "other.pem")
	os.WriteFile(shared.otherPEM, append(otherCert, otherKey...), 0o600)
	shared.secret = "Q~cmd-test-secret"
	shared.cert = cert
	shared.emu.AddApp(emulator.App{ClientID: testCertApp, Certs: []*x509.Certificate{cert}})
	shared.emu.AddApp(emulator.App{ClientID: testSecretApp, Secrets: []string{shared.secret}})
	return m.Run()
}

// tenantSpec is a tenant for a test config: added to the shared emulator.
type tenantSpec struct {
	name    string
	consent bool // the app is consented in the tenant
	faults  emulator.Faults
	app     string // extra YAML for the tenant's own app block
	unknown bool   // not a tenant the emulator knows
}

// writeConfig adds the tenants to the emulator and writes a config.
func writeConfig(t *testing.T, specs []tenantSpec) (path string, ids []string) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "database: sqlite:fleetscore.db\nconcurrency: 3\ntimeout: 1m\n")
	fmt.Fprintf(&b, "authority_host: %s/\ngraph_url: %s\n", shared.emu.URL(), shared.emu.URL())
	fmt.Fprintf(&b, "app:\n  client_id: %s\n  certificate: %s\n", testCertApp, shared.certFile)
	fmt.Fprintf(&b, "tenants:\n")
	for _, s := range specs {
		id := "0badc0de-0000-4000-8000-00000000dead"
		if !s.unknown {
			var apps []string
			if s.consent {
				apps = []string{testCertApp, testSecretApp}
			}
			info := shared.emu.AddTenant(emulator.Tenant{ConsentedApps: apps, Quirks: true})
			shared.emu.SetFaults(info.ID, s.faults)
			id = info.ID
		}
		ids = append(ids, id)
		fmt.Fprintf(&b, "  - name: %s\n    tenant_id: %s\n", s.name, id)
		if s.app != "" {
			b.WriteString(s.app)
		}
	}
	path = filepath.Join(dir, "fleetscore.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, ids
}

type result struct {
	stdout, stderr string
	err            error
}

func runCmd(t *testing.T, getenv func(string) string, args ...string) result {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), args, getenv, strings.NewReader(""), &out, &errb)
	return result{out.String(), errb.String(), err}
}

func exitCode(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestHelpEverywhere(t *testing.T) {
	for _, c := range commands() {
		r := runCmd(t, nil, c.name, "--help")
		if r.err != nil || !strings.Contains(r.stdout, "Usage: fleetscore "+c.name) {
			t.Errorf("%s --help: err %v, stdout %q", c.name, r.err, r.stdout)
		}
	}
	r := runCmd(t, nil, "--help")
	if r.err != nil || !strings.Contains(r.stdout, "collect") {
		t.Errorf("--help: %v %q", r.err, r.stdout)
	}
	if r := runCmd(t, nil, "frobnicate"); r.err == nil {
		t.Error("an unknown command must fail")
	}
}

// TestCheck gets a token for every tenant and turns each failure into
// advice, writing nothing.
func TestCheck(t *testing.T) {
	secretApp := fmt.Sprintf("    app:\n      client_id: %s\n      client_secret_env: WRONG_SECRET\n", testSecretApp)
	goodSecret := fmt.Sprintf("    app:\n      client_id: %s\n      client_secret_env: GOOD_SECRET\n", testSecretApp)
	otherCert := fmt.Sprintf("    app:\n      client_id: %s\n      certificate: %s\n", testCertApp, shared.otherPEM)
	path, ids := writeConfig(t, []tenantSpec{
		{name: "Good", consent: true},
		{name: "GoodSecret", consent: true, app: goodSecret},
		{name: "Revoked", consent: true, faults: emulator.Faults{RevokeConsent: true}},
		{name: "NeverConsented", consent: false},
		{name: "Unknown", unknown: true},
		{name: "WrongSecret", consent: true, app: secretApp},
		{name: "CertNotUploaded", consent: true, app: otherCert},
	})
	env := map[string]string{"WRONG_SECRET": "not-the-secret", "GOOD_SECRET": shared.secret}
	r := runCmd(t, func(k string) string { return env[k] }, "check", "--config", path)
	if r.err == nil {
		t.Fatalf("check passed with broken tenants:\n%s", r.stdout)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(r.stdout, "\n") {
		for _, name := range []string{"Good ", "GoodSecret", "Revoked", "NeverConsented", "Unknown", "WrongSecret", "CertNotUploaded"} {
			if strings.Contains(l, " "+name) {
				lines[strings.TrimSpace(name)] = l
			}
		}
	}
	expect := map[string][]string{
		"Good":            {"ok", "SecurityEvents.Read.All granted"},
		"GoodSecret":      {"ok"},
		"Revoked":         {"error", "no SecurityEvents.Read.All role"},
		"NeverConsented":  {"error", "AADSTS700016"},
		"Unknown":         {"error", "AADSTS90002"},
		"WrongSecret":     {"error", "AADSTS7000215"},
		"CertNotUploaded": {"error", "AADSTS700027"},
	}
	for name, words := range expect {
		for _, w := range words {
			if !strings.Contains(lines[name], w) {
				t.Errorf("%s: line %q lacks %q", name, lines[name], w)
			}
		}
	}
	for _, fix := range []string{
		ids[3] + "/adminconsent?client_id=" + testCertApp, // consent link for the tenant that never consented
		"Value (not its Secret ID)",                       // wrong secret
		"upload the certificate",                          // certificate not on the app
		"does not exist in this cloud",                    // unknown tenant
	} {
		if !strings.Contains(r.stdout, fix) {
			t.Errorf("check output lacks the fix %q:\n%s", fix, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, shared.secret) || strings.Contains(r.stdout+r.stderr, "not-the-secret") {
		t.Error("check printed a client secret")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "fleetscore.db")); !os.IsNotExist(err) {
		t.Errorf("check must write nothing, but the database exists (%v)", err)
	}
}

func TestConfigErrorsStopEverything(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fleetscore.yaml")
	os.WriteFile(path, []byte("cloud: china\ntarget_procent: 75\ntenants:\n  - name: A\n    tenant_id: contoso.onmicrosoft.com\n"), 0o600)
	for _, cmd := range []string{"collect", "check", "tenants"} {
		r := runCmd(t, nil, cmd, "--config", path)
		if exitCode(r.err) != 2 {
			t.Errorf("%s: exit %d, want 2", cmd, exitCode(r.err))
		}
		for _, want := range []string{path + ":1:", "21Vianet", path + ":2:", "target_percent", path + ":5:", "GUID"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, r.stderr)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "fleetscore.db")); !os.IsNotExist(err) {
			t.Errorf("%s wrote a database despite a bad config", cmd)
		}
	}
}

// TestCollectThenTenantsJSON collects through the binary's own wiring and
// checks `tenants --json` against the emulator's values.
func TestCollectThenTenantsJSON(t *testing.T) {
	path, ids := writeConfig(t, []tenantSpec{
		{name: "Alpha", consent: true},
		{name: "Bravo", consent: true, faults: emulator.Faults{Throttle: 1, RetryAfter: "0.2"}},
		{name: "Charlie", consent: true, faults: emulator.Faults{RevokeConsent: true}},
	})
	r := runCmd(t, nil, "collect", "--config", path)
	if exitCode(r.err) != 1 || !strings.Contains(r.stdout, "2 of 3 tenants collected, 1 failed") {
		t.Fatalf("collect: err %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	r = runCmd(t, nil, "tenants", "--config", path, "--json")
	if r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("tenants --json: %v\n%s", err, r.stdout)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, row := range rows {
		for _, k := range []string{"tenant_id", "name", "percent", "current_score", "max_score", "as_of", "target_percent", "meets_target", "last_collection"} {
			if _, ok := row[k]; !ok {
				t.Errorf("row %v lacks %q", row["name"], k)
			}
		}
		lc := row["last_collection"].(map[string]any)
		for _, k := range []string{"at", "status", "error"} {
			if _, ok := lc[k]; !ok {
				t.Errorf("last_collection of %v lacks %q", row["name"], k)
			}
		}
		id := row["tenant_id"].(string)
		if id == ids[2] {
			if lc["status"] != "error" || row["percent"] != nil || !strings.Contains(lc["error"].(string), "403") {
				t.Errorf("revoked tenant row = %v", row)
			}
			continue
		}
		want, _ := shared.emu.Expected(id)
		last := want[len(want)-1]
		pct := last.CurrentScore / last.MaxScore * 100
		if row["percent"].(float64) != pct || row["as_of"] != last.Day.String() || row["max_score"].(float64) != last.MaxScore {
			t.Errorf("%v: percent %v as of %v, emulator %v as of %s", row["name"], row["percent"], row["as_of"], pct, last.Day)
		}
		if row["meets_target"].(bool) != (pct >= 75) || lc["status"] != "ok" || lc["error"] != "" {
			t.Errorf("%v: %v", row["name"], row)
		}
	}
	// The table shows the failed tenant's reason and fix.
	r = runCmd(t, nil, "tenants", "--config", path)
	if !strings.Contains(r.stdout, "Charlie") || !strings.Contains(r.stdout, "fix: ") || !strings.Contains(r.stdout, "adminconsent") {
		t.Errorf("tenants table:\n%s", r.stdout)
	}
}

// TestKill9MidRun kills the real binary in the middle of a collection and
// shows that the database holds only whole tenants, and that the next run
// completes the work with no duplicate day.
func TestKill9MidRun(t *testing.T) {
	var specs []tenantSpec
	for i := range 12 {
		specs = append(specs, tenantSpec{name: fmt.Sprintf("T%02d", i), consent: true, faults: emulator.Faults{Slow: 150 * time.Millisecond}})
	}
	path, ids := writeConfig(t, specs)
	cmd := exec.Command(os.Args[0], "collect", "--config", path)
	cmd.Env = append(os.Environ(), "FLEETSCORE_TEST_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	oks := 0
	for sc.Scan() {
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "ok ") {
			oks++
			if oks == 3 {
				break
			}
		}
	}
	// Tenants run in batches of the config's concurrency and finish
	// together; a moment after the third one is done, the next batch has
	// logged its collections as running and waits on Graph (150 ms a
	// request): the kill lands in the middle of those tenants.
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the collection finished before it could be killed (%v); slow the emulator down", werr)
	}
	if oks < 3 {
		t.Fatalf("only %d tenants finished before the kill", oks)
	}

	dbPath := filepath.Join(filepath.Dir(path), "fleetscore.db")
	check := func(wantAll bool) {
		t.Helper()
		store, err := sqlite.Open(context.Background(), "sqlite:"+dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		complete := 0
		for _, id := range ids {
			want, _ := shared.emu.Expected(id)
			got, err := store.Scores(context.Background(), id, fleetscore.Day{}, fleetscore.Day{})
			if err != nil && !errors.Is(err, fleetscore.ErrNotFound) {
				t.Fatal(err)
			}
			switch len(got) {
			case 0:
			case len(want):
				complete++
				for i := 1; i < len(got); i++ {
					if !got[i-1].Day.Before(got[i].Day) {
						t.Errorf("tenant %s: day %s twice or out of order", id, got[i].Day)
					}
				}
			default:
				t.Errorf("tenant %s: %d of %d days: a half-written tenant", id, len(got), len(want))
			}
		}
		if wantAll && complete != len(ids) {
			t.Errorf("%d of %d tenants complete after the re-run", complete, len(ids))
		}
		if !wantAll && (complete < 3 || complete == len(ids)) {
			t.Errorf("%d tenants complete after the kill; want at least 3 and not all", complete)
		}
	}
	check(false)

	for _, id := range ids {
		shared.emu.SetFaults(id, emulator.Faults{})
	}
	r := runCmd(t, nil, "collect", "--config", path)
	if r.err != nil {
		t.Fatalf("re-run: %v\n%s", r.err, r.stdout)
	}
	check(true)

	// The killed run's unfinished collections are logged as interrupted.
	store, err := sqlite.Open(context.Background(), "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	log, err := store.Collections(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	interrupted := 0
	for _, c := range log {
		if c.Status == fleetscore.StatusRunning {
			t.Errorf("collection %d still marked running after the re-run", c.ID)
		}
		if strings.Contains(c.Error, "interrupted") {
			interrupted++
		}
	}
	if interrupted == 0 {
		t.Error("no collection of the killed run was logged as interrupted")
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, os.Getenv, "demo", "--dir", dir, "--tenants", "6", "--no-serve")
	if r.err != nil {
		t.Fatalf("demo: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	for _, want := range []string{"5 of 6 tenants collected, 1 failed", "NAME", "fix: ", "adminconsent"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	// The command the demo prints works as printed, in a shell that has
	// none of the demo's environment.
	m := regexp.MustCompile(`go run \./cmd/fleetscore (tenants --config \S+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("the demo prints no follow-up command:\n%s", r.stdout)
	}
	if fr := runCmd(t, nil, strings.Fields(m[1])...); fr.err != nil || !strings.Contains(fr.stdout, "NAME") {
		t.Errorf("the demo's own follow-up %q: %v\n%s%s", m[1], fr.err, fr.stdout, fr.stderr)
	}
	if fi, err := os.Stat(filepath.Join(dir, demoSecretFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the demo's secret file: %v", err)
	}
	// A second run only adds what is new and reuses the same database.
	r = runCmd(t, os.Getenv, "demo", "--dir", dir, "--tenants", "6", "--no-serve")
	if r.err != nil || !strings.Contains(r.stdout, "5 of 6 tenants collected") {
		t.Fatalf("second demo: %v\n%s", r.err, r.stdout)
	}
	store, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(dir, "fleetscore.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rows, err := query.Tenants(context.Background(), store)
	if err != nil || len(rows) != 6 {
		t.Fatalf("rows %d, err %v", len(rows), err)
	}
}

// TestBenchRuns keeps the bench command working; its figures are read in
// the benchmark run, not here.
func TestBenchRuns(t *testing.T) {
	r := runCmd(t, os.Getenv, "bench", "--in-process", "--tenants", "4", "--steady-days", "2", "--latency", "50ms", "--floor-sample", "2", "--json")
	if r.err != nil {
		t.Fatalf("bench: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	var res BenchResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if res.FailedCollections != 0 || res.BackfillDays < 4*85 || res.IncrementalDays < 4 || res.LatencyRequests < 8 {
		t.Errorf("bench result %+v", res)
	}
	if res.DecodeFloorSecs <= 0 || res.JSONBytes <= 0 || res.DatabaseBytesFinal <= 0 || res.LatencyIdealSecs <= 0 {
		t.Errorf("bench figures missing: %+v", res)
	}
	// Every tenant's critical path has at least one page; the ideal is that
	// path's requests x latency spread over the concurrency (or the longest
	// single tenant's, here, with 4 tenants and 8 at once).
	if res.BackfillCPUSeconds <= 0 || res.SteadyDays != 2 || res.LatencyCritical < 4 || res.LatencyCritical > res.LatencyRequests ||
		res.LatencyIdealSecs < float64(res.LatencyCritical)/float64(res.Concurrency)*0.05 {
		t.Errorf("bench figures inconsistent: %+v", res)
	}
}

// TestBenchServeRuns keeps bench --serve working: every route loaded has
// its warm-up request's figures, the warm-up's memory figures are there and
// the heap profile is written.
func TestBenchServeRuns(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "heap.pprof")
	r := runCmd(t, os.Getenv, "bench", "--serve", "--tenants", "3", "--days", "20", "--clients", "2", "--duration", "20ms",
		"--routes", "/,/api/v1/tenants,/api/v1/tenants/{id}/scores", "--memprofile", prof, "--json")
	if r.err != nil {
		t.Fatalf("bench --serve: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	var res serveResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if res.Tenants != 3 || res.Days != 20 || len(res.Routes) != 3 {
		t.Fatalf("bench --serve result %+v", res)
	}
	for _, f := range res.Routes {
		if f.Status != 200 || f.FirstMs <= 0 || f.Requests < 1 {
			t.Errorf("route %+v", f)
		}
	}
	// The peaks are not compared with the RSS after the warm-up: the
	// model hands memory back to the OS a second after its build, which
	// may fall between the readings (and Linux updates a peak lazily).
	if res.WarmRSSBytes <= 0 || res.WarmRSSAnonBytes <= 0 || res.WarmRSSAnonBytes > res.WarmRSSBytes || res.PeakRSS <= 0 || res.WarmPeakRSS <= 0 {
		t.Errorf("memory figures %+v", res)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("heap profile: %v", err)
	}
}

// TestBenchServeChild: by default bench --serve loads a server in a child
// process (this test binary as the CLI) and reports that process's
// figures: its resident memory, its live heap after the warm-up.
func TestBenchServeChild(t *testing.T) {
	t.Setenv("FLEETSCORE_TEST_MAIN", "1") // the child runs main()
	db := filepath.Join(t.TempDir(), "bench.db")
	r := runCmd(t, os.Getenv, "bench", "--serve", "--database", "sqlite:"+db, "--tenants", "3", "--days", "20", "--clients", "2",
		"--duration", "50ms", "--routes", "/,/api/v1/tenants/{id}/scores,/metrics", "--json")
	if r.err != nil {
		t.Fatalf("bench --serve: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	var res serveResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if res.Server != "the server's process" || res.Tenants != 3 || len(res.Routes) != 3 {
		t.Fatalf("bench --serve result %+v", res)
	}
	for _, f := range res.Routes {
		if f.Status != 200 || f.Requests < 1 || f.CPUMs < 0 {
			t.Errorf("route %+v", f)
		}
	}
	if res.WarmHeapBytes <= 0 || res.WarmRSSBytes <= 0 || res.WarmRSSAnonBytes > res.WarmRSSBytes || res.PeakRSS <= 0 || res.WarmPeakRSS <= 0 {
		t.Errorf("the server process's memory figures %+v", res)
	}
}

// TestUsageErrors: no command and an unknown command are both usage
// errors (exit 2); every command's help spells its flags --name, and the
// demo's lists all of them.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"nosuch"}} {
		r := runCmd(t, nil, args...)
		var ee exitError
		if !errors.As(r.err, &ee) || ee.code != 2 {
			t.Errorf("fleetscore %v: %v; want exit status 2", args, r.err)
		}
	}
	if r := runCmd(t, nil, "nosuch"); !strings.Contains(r.stderr, `unknown command "nosuch"`) {
		t.Errorf("unknown command: stderr %q", r.stderr)
	}
	r := runCmd(t, nil, "demo", "--help")
	for _, flag := range []string{"--listen", "--no-serve", "--verbose", "--day-every", "--tenants", "--fresh"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("demo --help lacks %s:\n%s", flag, r.stdout)
		}
	}
	for _, c := range commands() {
		r := runCmd(t, nil, c.name, "--help")
		if regexp.MustCompile(`(?m)^\s+-[a-z]`).MatchString(r.stdout) {
			t.Errorf("%s --help prints a flag with one dash:\n%s", c.name, r.stdout)
		}
	}
	if got := plural(1, "channel") + ", " + plural(2, "channel"); got != "1 channel, 2 channels" {
		t.Errorf("plural: %q", got)
	}
}

// TestCheckWriteRole: with write_back on, check says per tenant whether the
// token carries SecurityEvents.ReadWrite.All, and how to grant it; a
// tenant that turned write_back off gets no such line, and a missing write
// role does not fail check (collection works; exceptions stay local).
func TestCheckWriteRole(t *testing.T) {
	path, ids := writeConfig(t, []tenantSpec{
		{name: "Writer", consent: true},
		{name: "ReadOnly", consent: true},
		{name: "OptedOut", consent: true, app: "    write_back: false\n"},
	})
	shared.emu.SetWriteConsent(ids[0], testCertApp, true)
	shared.emu.SetWriteConsent(ids[2], testCertApp, true)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append([]byte("write_back: true\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, nil, "check", "--config", path)
	if r.err != nil {
		t.Fatalf("check failed: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	// Each tenant's block: its line and the indented lines under it.
	blocks := map[string]string{}
	var cur string
	for _, l := range strings.Split(r.stdout, "\n") {
		for _, name := range []string{"Writer", "ReadOnly", "OptedOut"} {
			if strings.Contains(l, " "+name+" ") {
				cur = name
			}
		}
		if !strings.HasPrefix(l, "         ") && !strings.Contains(l, " "+cur+" ") {
			cur = ""
		}
		if cur != "" {
			blocks[cur] += l + "\n"
		}
	}
	if b := blocks["Writer"]; !strings.Contains(b, "write-back: SecurityEvents.ReadWrite.All granted") {
		t.Errorf("Writer:\n%s", b)
	}
	b := blocks["ReadOnly"]
	for _, want := range []string{"write-back: the token lacks SecurityEvents.ReadWrite.All", "fix: add the application permission SecurityEvents.ReadWrite.All",
		"admin consent", ids[1] + "/adminconsent?client_id=" + testCertApp} {
		if !strings.Contains(b, want) {
			t.Errorf("ReadOnly lacks %q:\n%s", want, b)
		}
	}
	if b := blocks["OptedOut"]; b == "" || strings.Contains(b, "write-back") {
		t.Errorf("OptedOut (write_back: false) must have no write-back line:\n%s", b)
	}
	if !strings.Contains(r.stdout, "1 tenant with write_back on lacks SecurityEvents.ReadWrite.All") {
		t.Errorf("no summary of the tenants lacking the write role:\n%s", r.stdout)
	}
}
