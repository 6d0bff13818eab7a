package server

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/fleettest"
)

// decimals is how many digits follow the point in a number's text.
func decimals(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 && !strings.ContainsAny(s, "eE") {
		return len(s) - i - 1
	}
	return 0
}

// allowed is what the edge rounds a field to: percents (and the change_
// percentage points) 4 decimals, points 2, seconds as they are.
func allowed(name string) int {
	switch {
	case name == "seconds":
		return 99
	case strings.Contains(name, "percent"), strings.HasPrefix(name, "change_"):
		return 4
	}
	return 2
}

// walkNumbers calls f with every number in a decoded JSON value and the
// name of the member that holds it.
func walkNumbers(name string, v any, f func(name string, n json.Number)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walkNumbers(k, e, f)
		}
	case []any:
		for _, e := range x {
			walkNumbers(name, e, f)
		}
	case json.Number:
		f(name, x)
	}
}

// TestAPINumbersAreRounded: every number of every JSON and CSV answer
// has at most 2 decimals for points and 4 for percents, whatever the
// sums and quotients inside (a percent such as 200/3 has many).
func TestAPINumbersAreRounded(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 4})
	s, err := New(Options{Source: f.Store})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	id := f.Jobs[0].Tenant.ID
	checked := 0
	for _, path := range []string{"/api/v1/tenants", "/api/v1/tenants/" + id, "/api/v1/tenants/" + id + "/scores?from=2000-01-01",
		"/api/v1/tenants/" + id + "/controls", "/api/v1/actions", "/api/v1/fleet", "/api/v1/collections",
		"/api/v1/tenants/" + id + "/changes?from=2000-01-01", "/api/v1/changes?days=90"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		walkNumbers("", v, func(name string, n json.Number) {
			checked++
			if d := decimals(n.String()); d > allowed(name) {
				t.Errorf("GET %s: %s = %s has %d decimals", path, name, n, d)
			}
		})
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		resp, err = http.Get(srv.URL + path + sep + "format=csv")
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(resp.Body).ReadAll()
		resp.Body.Close()
		if err != nil || len(recs) == 0 {
			t.Fatalf("GET %s as CSV: %v", path, err)
		}
		for _, row := range recs[1:] {
			for i, cell := range row {
				name := recs[0][i]
				if name == "tenant_id" || name == "date" || !csvNumber.MatchString(cell) {
					continue
				}
				if d := decimals(cell); d > allowed(name) {
					t.Errorf("GET %s as CSV: %s = %s has %d decimals", path, name, cell, d)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no numbers were checked")
	}
}

func TestRoundJSONLeavesStringsAlone(t *testing.T) {
	in := []byte(`{"percent": 66.66666666666667, "name": "a \"percent\": 1.23456 b", "current_score": 112.59000000000002, "days": 3, "seconds": 1.234567,` +
		` "averages": {"AllTenants": 41.123456}, "change_7d": -0.00001}`)
	want := `{"percent": 66.6667, "name": "a \"percent\": 1.23456 b", "current_score": 112.59, "days": 3, "seconds": 1.234567,` +
		` "averages": {"AllTenants": 41.12}, "change_7d": 0}`
	if got := string(roundJSON(in)); got != want {
		t.Errorf("roundJSON:\n got %s\nwant %s", got, want)
	}
}
