package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/metrics"
)

// apiFixture is a collected fleet served by a real Server.
type apiFixture struct {
	f   *fleettest.Fleet
	srv *httptest.Server
	s   *Server
	doc *openapi3.T
}

func newAPIFixture(t *testing.T) *apiFixture {
	t.Helper()
	f := fleettest.New(t, fleettest.Options{Tenants: 6})
	a := serveAPI(t, Options{Source: f.Store})
	a.f = f
	return a
}

// serveAPI serves o over HTTP for the API tests.
func serveAPI(t *testing.T, o Options) *apiFixture {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	return &apiFixture{srv: srv, s: s, doc: doc}
}

// get fetches path and, for a JSON answer, validates it against the OpenAPI
// document: every response the tests see is checked against the contract.
func (a *apiFixture) get(t *testing.T, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && strings.HasPrefix(path, "/api/v1/") {
		a.validate(t, req, resp, body)
	}
	return resp, body
}

func (a *apiFixture) validate(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	router, err := legacy.NewRouter(a.doc)
	if err != nil {
		t.Fatal(err)
	}
	// The document's paths are relative to the server root.
	vreq := req.Clone(context.Background())
	vreq.URL.Scheme, vreq.URL.Host = "", ""
	route, params, err := router.FindRoute(vreq)
	if err != nil {
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: not in openapi.json: %v", req.URL.Path, err)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{ExcludeRequestBody: true}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body))}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s answered %d with a body that breaks openapi.json: %v", req.URL, resp.StatusCode, err)
	}
}

func (a *apiFixture) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, body := a.get(t, path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// getCSV fetches a list as CSV, both ways of asking, and parses it.
func (a *apiFixture) getCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	resp, body := a.get(t, path+sep+"format=csv")
	resp2, body2 := a.get(t, path, "Accept", "text/csv")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("GET %s as CSV: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp2.StatusCode != 200 || !bytes.Equal(body, body2) {
		t.Errorf("GET %s: Accept: text/csv and ?format=csv differ", path)
	}
	if !bytes.Contains(body, []byte("\r\n")) {
		t.Errorf("GET %s: CSV lines must end in CRLF (RFC 4180)", path)
	}
	return csvRows(t, path, string(body))
}

// csvRows parses a CSV answer into one map per row, keyed by the header.
func csvRows(t *testing.T, path, body string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("GET %s: CSV does not parse: %v", path, err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// sameValue compares a CSV cell with the JSON value it flattens.
func sameValue(cell string, v any) bool {
	switch v := v.(type) {
	case nil:
		return cell == ""
	case float64:
		f, err := strconv.ParseFloat(cell, 64)
		return err == nil && f == v
	case bool:
		return cell == strconv.FormatBool(v)
	case string:
		return cell == v
	case []any:
		var parts []string
		for _, p := range v {
			parts = append(parts, fmt.Sprint(p))
		}
		return cell == strings.Join(parts, " ")
	}
	return false
}

// compareCSV checks every CSV row against the JSON list, column by column;
// flatten maps a nested JSON key to its CSV column.
func compareCSV(t *testing.T, name string, rows []map[string]string, list []map[string]any, flatten func(map[string]any) map[string]any) {
	t.Helper()
	if len(rows) != len(list) {
		t.Fatalf("%s: %d CSV rows, %d JSON items", name, len(rows), len(list))
	}
	for i := range list {
		item := list[i]
		if flatten != nil {
			item = flatten(item)
		}
		for col, cell := range rows[i] {
			v, ok := item[col]
			if !ok {
				t.Errorf("%s: CSV column %q has no JSON field", name, col)
				continue
			}
			if !sameValue(cell, v) {
				t.Errorf("%s row %d: CSV %s=%q, JSON %v", name, i, col, cell, v)
			}
		}
	}
}

func TestAPIEveryEndpoint(t *testing.T) {
	a := newAPIFixture(t)
	f := a.f

	// GET /api/v1/tenants: every field, the emulator's percent.
	var tenants []map[string]any
	a.getJSON(t, "/api/v1/tenants", &tenants)
	if len(tenants) != 7 {
		t.Fatalf("%d tenants, want 7", len(tenants))
	}
	for _, tn := range tenants {
		for _, k := range []string{"tenant_id", "name", "percent", "current_score", "max_score", "as_of", "target_percent",
			"meets_target", "change_7d", "change_30d", "last_collection"} {
			if _, ok := tn[k]; !ok {
				t.Errorf("tenant lacks %s", k)
			}
		}
		id := tn["tenant_id"].(string)
		if id == f.Failing.ID {
			lc := tn["last_collection"].(map[string]any)
			if lc["status"] != "error" || !strings.Contains(lc["error"].(string), "403") || tn["percent"] != nil {
				t.Errorf("failing tenant: %v", tn)
			}
			continue
		}
		scores, _ := f.Emu.Expected(id)
		last := scores[len(scores)-1]
		// The API rounds at its edge: percents to 4 decimals, points to 2.
		if tn["percent"].(float64) != round(last.CurrentScore/last.MaxScore*100, percentDecimals) || tn["as_of"] != last.Day.String() {
			t.Errorf("%v: %v%% as of %v; emulator %v as of %s", tn["name"], tn["percent"], tn["as_of"], last.CurrentScore/last.MaxScore*100, last.Day)
		}
	}
	flatTenant := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		if lc, ok := m["last_collection"].(map[string]any); ok {
			out["last_collection_at"], out["last_collection_status"], out["last_collection_error"] = lc["at"], lc["status"], lc["error"]
		}
		return out
	}
	compareCSV(t, "tenants", a.getCSV(t, "/api/v1/tenants"), tenants, flatTenant)

	id := f.Jobs[0].Tenant.ID
	var one map[string]any
	a.getJSON(t, "/api/v1/tenants/"+id, &one)
	if !reflect.DeepEqual(one, tenants[indexOf(tenants, id)]) {
		t.Errorf("GET /tenants/{id} differs from its row in the list")
	}

	// Scores: one row a day, the range honoured.
	scores, _ := f.Emu.Expected(id)
	from, to := scores[10].Day, scores[19].Day
	var days []map[string]any
	a.getJSON(t, fmt.Sprintf("/api/v1/tenants/%s/scores?from=%s&to=%s", id, from, to), &days)
	var want []string
	for _, s := range scores[10:20] {
		want = append(want, s.Day.String())
	}
	var got []string
	for i, d := range days {
		got = append(got, d["date"].(string))
		s := scores[10+i]
		if d["current_score"].(float64) != round(s.CurrentScore, pointDecimals) || d["max_score"].(float64) != round(s.MaxScore, pointDecimals) ||
			d["percent"].(float64) != round(s.CurrentScore/s.MaxScore*100, percentDecimals) {
			t.Errorf("day %v = %v, emulator %v/%v", d["date"], d, s.CurrentScore, s.MaxScore)
		}
		avg := d["averages"].(map[string]any)
		for basis, v := range s.Averages {
			if avg[basis] != round(v, pointDecimals) {
				t.Errorf("day %v average %s = %v, emulator %v", d["date"], basis, avg[basis], v)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scores %s..%s = %v, want %v", from, to, got, want)
	}
	compareCSV(t, "scores", a.getCSV(t, fmt.Sprintf("/api/v1/tenants/%s/scores?from=%s&to=%s", id, from, to)), days,
		func(m map[string]any) map[string]any {
			out := map[string]any{}
			for k, v := range m {
				out[k] = v
			}
			avg := m["averages"].(map[string]any)
			for _, b := range []string{"AllTenants", "TotalSeats", "IndustryTypes"} {
				out["average_"+b] = avg[b]
			}
			return out
		})

	// Controls: every field; sorted by points available.
	var controls []map[string]any
	a.getJSON(t, "/api/v1/tenants/"+id+"/controls", &controls)
	if len(controls) != len(scores[len(scores)-1].Controls) {
		t.Errorf("%d controls, the latest day has %d", len(controls), len(scores[len(scores)-1].Controls))
	}
	for _, c := range controls {
		for _, k := range []string{"control", "title", "category", "score", "max_score", "state", "user_impact",
			"implementation_cost", "tier", "action_url", "deprecated"} {
			if _, ok := c[k]; !ok {
				t.Errorf("control lacks %s", k)
			}
		}
	}
	compareCSV(t, "controls", a.getCSV(t, "/api/v1/tenants/"+id+"/controls"), controls, nil)

	// Actions: ranked, filtered, CSV.
	var actions []map[string]any
	a.getJSON(t, "/api/v1/actions", &actions)
	for i := 1; i < len(actions); i++ {
		p, c := actions[i-1], actions[i]
		if p["open_tenants"].(float64) < c["open_tenants"].(float64) ||
			p["open_tenants"] == c["open_tenants"] && p["points_available"].(float64) < c["points_available"].(float64) {
			t.Fatalf("actions not ranked at %d: %v then %v", i, p["control"], c["control"])
		}
	}
	for _, k := range []string{"control", "title", "category", "open_tenants", "tenants", "points_available",
		"fleet_percent_gain", "ignored_tenants", "third_party_tenants"} {
		if _, ok := actions[0][k]; !ok {
			t.Errorf("action lacks %s", k)
		}
	}
	compareCSV(t, "actions", a.getCSV(t, "/api/v1/actions"), actions, nil)
	var identity []map[string]any
	a.getJSON(t, "/api/v1/actions?category=Identity&tier=Core", &identity)
	for _, x := range identity {
		if x["category"] != "Identity" || x["tier"] != "Core" {
			t.Errorf("filter let %v through", x)
		}
	}

	// Fleet: per day, range honoured.
	var fleet []map[string]any
	a.getJSON(t, fmt.Sprintf("/api/v1/fleet?from=%s&to=%s", from, to), &fleet)
	if len(fleet) == 0 || fleet[0]["date"].(string) < from.String() || fleet[len(fleet)-1]["date"].(string) > to.String() {
		t.Errorf("fleet %s..%s: %v", from, to, fleet)
	}
	compareCSV(t, "fleet", a.getCSV(t, fmt.Sprintf("/api/v1/fleet?from=%s&to=%s", from, to)), fleet, nil)

	// Collections: the log, newest first.
	var log []map[string]any
	a.getJSON(t, "/api/v1/collections", &log)
	if len(log) != 7 {
		t.Errorf("%d collections logged, want 7", len(log))
	}
	compareCSV(t, "collections", a.getCSV(t, "/api/v1/collections"), log, nil)
}

func indexOf(list []map[string]any, id string) int {
	for i, m := range list {
		if m["tenant_id"] == id {
			return i
		}
	}
	return -1
}

// TestAPIBadInput answers every bad request with a 400 or 404 and a JSON
// error, never a 500.
func TestAPIBadInput(t *testing.T) {
	a := newAPIFixture(t)
	id := a.f.Jobs[0].Tenant.ID
	unknown := "01234567-89ab-cdef-0123-456789abcdef"
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/api/v1/tenants/" + id + "/scores?from=2026-02-30", 400, "from"},
		{"/api/v1/tenants/" + id + "/scores?from=yesterday", 400, "YYYY-MM-DD"},
		{"/api/v1/tenants/" + id + "/scores?from=2026-05-02&to=2026-05-01", 400, "after"},
		{"/api/v1/tenants/" + id + "/scores?since=2026-05-01", 400, "unknown parameter"},
		{"/api/v1/tenants/" + unknown + "/scores", 404, unknown},
		{"/api/v1/tenants/" + unknown, 404, unknown},
		{"/api/v1/tenants/" + unknown + "/controls", 404, unknown},
		{"/api/v1/tenants/contoso.onmicrosoft.com/controls", 400, "GUID"},
		{"/api/v1/tenants?format=xml", 400, "format"},
		{"/api/v1/actions?category=Network", 400, "Identity"},
		{"/api/v1/actions?tenant=" + url.QueryEscape("' OR 1=1 --"), 400, "GUID"},
		{"/api/v1/fleet?to=2026-13-01", 400, "to"},
		{"/api/v1/collections?limit=-5", 400, "limit"},
		{"/api/v1/collections?limit=lots", 400, "limit"},
		{"/api/v1/collections?tenant=" + unknown, 404, unknown},
		{"/api/v1/nope", 404, "no API route"},
		{"/api/v1/collect", 404, "no collections"},
	} {
		resp, body := a.get(t, tc.path)
		var e struct {
			Error struct{ Code, Message string }
		}
		if resp.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.Error.Code == "" || !strings.Contains(e.Error.Message, tc.says) {
			t.Errorf("GET %s: %d %s; want %d with a JSON error saying %q", tc.path, resp.StatusCode, body, tc.status, tc.says)
		}
	}
}

// TestMetricsMatchTheAPI scrapes /metrics and checks every tenant's
// percent against the API's.
func TestMetricsMatchTheAPI(t *testing.T) {
	// Served as serve serves it: with the process's own metrics, which the
	// dashboard reads too (graph_requests_total has a series once Graph
	// answered).
	f := fleettest.New(t, fleettest.Options{Tenants: 6})
	counted := metrics.New("test")
	counted.Answer(200)
	a := serveAPI(t, Options{Source: f.Store, Metrics: counted})
	a.f = f
	var tenants []map[string]any
	a.getJSON(t, "/api/v1/tenants", &tenants)
	resp, body := a.get(t, "/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	byTenant := func(name string) map[string]float64 {
		out := map[string]float64{}
		fam := families[name]
		if fam == nil {
			t.Fatalf("no %s", name)
		}
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				if l.GetName() == "tenant_id" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	pct, target, success := byTenant("fleetscore_secure_score_percent"), byTenant("fleetscore_target_percent"), byTenant("fleetscore_collection_success")
	ratio, ratioTarget := byTenant("fleetscore_secure_score_ratio"), byTenant("fleetscore_target_ratio")
	for _, tn := range tenants {
		id := tn["tenant_id"].(string)
		if tn["percent"] == nil {
			if _, ok := pct[id]; ok {
				t.Errorf("%s has no score but a percent metric", id)
			}
			if success[id] != 0 {
				t.Errorf("failing tenant %s: collection_success %v", id, success[id])
			}
			continue
		}
		// The ratio is the API's percent / 100, to as many digits.
		if r, ok := ratio[id]; !ok || round(r*100, percentDecimals) != tn["percent"].(float64) || round(ratioTarget[id]*100, percentDecimals) != tn["target_percent"].(float64) {
			t.Errorf("%s: ratio %v (target %v), API %v%% (target %v)", id, r, ratioTarget[id], tn["percent"], tn["target_percent"])
		}
		// /metrics rounds a percent as the API does, to 4 decimals.
		if round(pct[id], percentDecimals) != tn["percent"].(float64) || target[id] != tn["target_percent"].(float64) || success[id] != 1 {
			t.Errorf("%s: metric %v%% (target %v, success %v), API %v%% (target %v)", id, pct[id], target[id], success[id], tn["percent"], tn["target_percent"])
		}
	}
	// Points per category add up to the tenant's points.
	cat := families["fleetscore_secure_score_category_points"]
	sums := map[string]float64{}
	for _, m := range cat.Metric {
		for _, l := range m.Label {
			if l.GetName() == "tenant_id" {
				sums[l.GetValue()] += m.GetGauge().GetValue()
			}
		}
	}
	points := byTenant("fleetscore_secure_score_points")
	for id, p := range points {
		if math.Abs(sums[id]-p) > 1e-6 {
			t.Errorf("%s: categories sum to %v, points %v", id, sums[id], p)
		}
	}
	// The Grafana dashboard in the repo uses only metrics that exist.
	dash, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`fleetscore_[a-z_]+`).FindAllString(string(dash), -1)
	if len(used) < 8 {
		t.Errorf("the dashboard uses only %d fleetscore metrics", len(used))
	}
	for _, name := range used {
		if families[name] == nil {
			t.Errorf("deploy/grafana-dashboard.json uses %s, which /metrics does not export", name)
		}
	}
	for _, name := range []string{"process_cpu_seconds_total", "go_goroutines", "fleetscore_collection_last_success_timestamp_seconds",
		"fleetscore_collection_last_duration_seconds", "fleetscore_collection_duration_seconds", "fleetscore_build_info"} {
		if families[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// TestOpenAPIListsEveryRoute validates the document and checks it against
// the route table: no API route undocumented, no documented path unserved.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI: %v", err)
	}
	s := &Server{}
	served := map[string]bool{}
	for _, r := range s.routeTable() {
		method, path, ok := strings.Cut(r.pattern, " ")
		if !ok || !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		served[strings.ToLower(method)+" "+path] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[strings.ToLower(method)+" "+path] = true
		}
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 || len(served) < 9 {
		t.Errorf("routes not documented: %v; documented but not served: %v (%d served)", missing, extra, len(served))
	}
}

func TestGzipAndNotFound(t *testing.T) {
	a := newAPIFixture(t)
	_, plain := a.get(t, "/api/v1/tenants")
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/api/v1/tenants", nil)
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: the client then does not decompress
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Error("the gzipped answer differs from the plain one")
	}
	resp404, body := a.get(t, "/no/such/page")
	if resp404.StatusCode != 404 || !strings.HasPrefix(resp404.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("no page at this address")) {
		t.Errorf("unknown page: %d %s", resp404.StatusCode, resp404.Header.Get("Content-Type"))
	}
}

// TestPagesShowOpenAlerts shows each tenant's open alerts on its row and
// its page, and the fleet's on the overview.
func TestPagesShowOpenAlerts(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 3})
	id := f.Jobs[0].Tenant.ID
	since := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	s, err := New(Options{Source: f.Store, OpenAlerts: func(context.Context) (map[string][]OpenAlert, error) {
		return map[string][]OpenAlert{
			id: {{Rule: "big-drop", Title: "Secure Score dropped 10.5 points", Summary: "from 412.5 to 402.0 in 7 days", Since: since}},
			"": {{Rule: "new-action", Title: "New recommended action at 5 tenants", Since: since}},
		}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(path string) string {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	home := get("/")
	for _, want := range []string{"1 open alert", `/alerts?tenant=` + id, "Fleet alerts", "New recommended action at 5 tenants"} {
		if !strings.Contains(home, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if n := strings.Count(home, "alert-badge"); n != 1 {
		i := strings.Index(home, "open alert")
		t.Errorf("only the tenant with an alert gets the badge; found %d badges: %s", n, home[max(0, i-300):min(len(home), i+300)])
	}
	page := get("/tenants/" + id)
	for _, want := range []string{"Open alerts", "Secure Score dropped 10.5 points", "from 412.5 to 402.0 in 7 days", "rule big-drop"} {
		if !strings.Contains(page, want) {
			t.Errorf("tenant page lacks %q", want)
		}
	}
	if other := get("/tenants/" + f.Jobs[1].Tenant.ID); strings.Contains(other, "Open alerts") {
		t.Error("a tenant without alerts shows an alerts section")
	}
}
