package server

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/metrics"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from what the tests get")

// metricsFixture is a collected fleet on a fixed clock, served with the
// process metrics of a process that ran a few collections.
func metricsFixture(t *testing.T) (*apiFixture, []byte) {
	t.Helper()
	fixed := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	clock := func() time.Time { return fixed }
	f := fleettest.New(t, fleettest.Options{Tenants: 3, Now: clock, Days: 5})
	p := metrics.New("test")
	p.Collected("ok", 2*time.Second)
	p.Collected("ok", 400*time.Millisecond)
	p.Collected("error", 90*time.Second)
	for _, code := range []int{200, 200, 200, 429, 0} {
		p.Answer(code)
	}
	a := serveAPI(t, Options{Source: f.Store, Now: clock, DataNow: clock, Metrics: p})
	a.f = f
	resp, body := a.get(t, "/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return a, body
}

// buildLabels are build_info's labels, which change with every build.
var buildLabels = regexp.MustCompile(`(goversion|revision|version)="[^"]*"`)

// TestMetricsGolden: fleetscore's own families, as a scrape serves them,
// are exactly testdata/metrics.golden (go test ./server -run
// TestMetricsGolden -update rewrites it). The Go runtime's and the
// process's families are left out; build_info's labels are normalised.
func TestMetricsGolden(t *testing.T) {
	_, body := metricsFixture(t)
	var own strings.Builder
	for line := range strings.Lines(string(body)) {
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if strings.HasPrefix(name, "fleetscore_") {
			if strings.HasPrefix(name, "fleetscore_build_info") && !strings.HasPrefix(line, "#") {
				line = buildLabels.ReplaceAllString(line, `$1="X"`)
			}
			own.WriteString(line)
		}
	}
	golden := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(own.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./server -run TestMetricsGolden -update to write it)", err)
	}
	if got := own.String(); got != string(want) {
		t.Errorf("/metrics differs from %s (rerun with -update if the change is meant):\n%s", golden, lineDiff(string(want), got))
	}
	// The new families are in it, with the types Prometheus expects.
	for name, typ := range map[string]string{
		"fleetscore_build_info": "gauge", "fleetscore_collections_total": "counter", "fleetscore_graph_requests_total": "counter",
		"fleetscore_collection_duration_seconds": "histogram", "fleetscore_secure_score_ratio": "gauge",
		"fleetscore_target_ratio": "gauge", "fleetscore_fleet_average_ratio": "gauge",
	} {
		if !strings.Contains(string(want), "# TYPE "+name+" "+typ+"\n") {
			t.Errorf("%s lacks %s, a %s", golden, name, typ)
		}
	}
}

// lineDiff lists the lines only one side has.
func lineDiff(want, got string) string {
	count := map[string]int{}
	for l := range strings.Lines(want) {
		count[l]++
	}
	for l := range strings.Lines(got) {
		count[l]--
	}
	var b strings.Builder
	for l := range strings.Lines(want) {
		if count[l] > 0 {
			b.WriteString("- " + l)
		}
	}
	for l := range strings.Lines(got) {
		if count[l] < 0 {
			b.WriteString("+ " + l)
		}
	}
	return b.String()
}

// TestPromtoolChecksMetrics runs `promtool check metrics` on a whole
// scrape: Prometheus's own linter finds no problem (names, units, HELP,
// counters' _total, histogram buckets). It runs wherever promtool is on the
// PATH; scripts/test.sh installs it and sets FLEETSCORE_TEST_PROMTOOL, and
// then a missing promtool fails the test.
func TestPromtoolChecksMetrics(t *testing.T) {
	promtool := os.Getenv("FLEETSCORE_TEST_PROMTOOL")
	if promtool == "" {
		var err error
		if promtool, err = exec.LookPath("promtool"); err != nil {
			t.Skip("promtool is not installed (scripts/test.sh installs Debian's prometheus package for it)")
		}
	} else if _, err := os.Stat(promtool); err != nil {
		t.Fatalf("FLEETSCORE_TEST_PROMTOOL=%s, which scripts/test.sh should have installed: %v", promtool, err)
	}
	_, body := metricsFixture(t)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	// promtool must have read the families: a scrape it could not parse
	// would fail above; this one has them.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil || fams["fleetscore_collections_total"] == nil || fams["go_goroutines"] == nil {
		t.Errorf("the scrape checked lacks families: %v", err)
	}
}

// TestGrafanaDashboard: the dashboard's tenant variable lists every tenant
// (also those whose collection fails, which have no score) and its "All"
// matches any tenant, not the list it saw; it refreshes with the time
// range; "Points per category" averages over tenants rather than summing
// them; the score panels read the ratio, not the deprecated percent.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Templating struct {
			List []struct {
				Name       string
				Type       string
				IncludeAll bool            `json:"includeAll"`
				AllValue   string          `json:"allValue"`
				Refresh    int             `json:"refresh"`
				Query      json.RawMessage // a string for the datasource
			}
		}
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana-dashboard.json: %v", err)
	}
	found := false
	for _, v := range dash.Templating.List {
		if v.Name != "tenant" {
			continue
		}
		found = true
		if !v.IncludeAll || v.AllValue != ".*" {
			t.Errorf("tenant variable: includeAll %v, allValue %q; want true and \".*\"", v.IncludeAll, v.AllValue)
		}
		if v.Refresh != 2 {
			t.Errorf("tenant variable: refresh %d; want 2 (on time range change)", v.Refresh)
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil || !strings.Contains(q.Query, "fleetscore_target_ratio") {
			t.Errorf("tenant variable lists %s (%v); want the tenants of fleetscore_target_ratio, which every tenant has, scored or failing", v.Query, err)
		}
	}
	if !found {
		t.Fatal("the dashboard has no tenant variable")
	}
	exprs := map[string]string{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs[p.Title] += tg.Expr + "\n"
			if strings.Contains(tg.Expr, "_percent") {
				t.Errorf("panel %q reads a deprecated _percent metric: %s", p.Title, tg.Expr)
			}
		}
	}
	var cat string
	for title, e := range exprs {
		if strings.HasPrefix(title, "Points per category") {
			cat = e
		}
	}
	if cat == "" {
		t.Fatal("no Points per category panel")
	}
	if strings.Contains(cat, "sum") || !strings.Contains(cat, "avg by (category)") {
		t.Errorf("Points per category: %s; want the average per tenant, not a sum across tenants", cat)
	}
	if !strings.Contains(exprs["Secure Score by tenant"], "fleetscore_secure_score_ratio") {
		t.Errorf("the score panel reads %q; want fleetscore_secure_score_ratio", exprs["Secure Score by tenant"])
	}
}

// TestMetricsGzipped: a scrape that takes gzip (as Prometheus's does) gets
// one gzip member, the fleet's part compressed once and kept, that the
// standard library's reader reads to the same text as a plain scrape,
// twice over (the second scrape serves the kept part).
func TestMetricsGzipped(t *testing.T) {
	a, _ := metricsFixture(t)
	// fleetscore's own families, without the few lines that differ
	// between two scrapes (the process's figures).
	own := func(body []byte) string {
		var b strings.Builder
		for line := range strings.Lines(string(body)) {
			if strings.HasPrefix(strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE "), "fleetscore_") {
				b.WriteString(line)
			}
		}
		return b.String()
	}
	resp, plain := a.get(t, "/metrics", "Accept-Encoding", "identity")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("a scrape without gzip got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	want := own(plain)
	if !strings.Contains(want, "fleetscore_secure_score_ratio{") || !strings.Contains(string(plain), "go_goroutines") {
		t.Fatalf("the plain scrape lacks the fleet's or the runtime's families:\n%s", plain)
	}
	for i := range 2 {
		resp, body := a.get(t, "/metrics", "Accept-Encoding", "gzip")
		if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
			t.Fatalf("scrape %d: Content-Encoding %q, want gzip", i, got)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("scrape %d: Vary %q lacks Accept-Encoding", i, resp.Header.Get("Vary"))
		}
		zr, err := stdgzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("scrape %d: %v", i, err)
		}
		text, err := io.ReadAll(zr) // checks the CRC, the length, and that nothing follows
		if err != nil {
			t.Fatalf("scrape %d: %v", i, err)
		}
		if got := own(text); got != want {
			t.Errorf("scrape %d: the gzipped scrape differs from the plain one:\n%s", i, lineDiff(want, got))
		}
		if !strings.Contains(string(text), "go_goroutines") {
			t.Errorf("scrape %d: the runtime's families are missing", i)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := p.TextToMetricFamilies(bytes.NewReader(text)); err != nil {
			t.Errorf("scrape %d: not the text format: %v", i, err)
		}
	}
}
