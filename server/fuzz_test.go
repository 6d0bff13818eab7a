package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/fleettest"
)

// FuzzAPIParams sends arbitrary query strings (and tenant IDs) to every
// API route and to the parameter parsers: nothing panics, nothing answers
// 500.
func FuzzAPIParams(f *testing.F) {
	for _, q := range []string{"", "from=2026-01-01&to=2026-02-01", "format=csv", "category=Identity&tier=Core",
		"tenant=%ZZ", "limit=-1", "from=2026-13-40", "format=CSV&format=json", "a=1;b=2", "to=2026-01-01&from=2026-12-31"} {
		f.Add(q, "11111111-2222-3333-4444-555555555555", "text/csv")
	}
	fl := fleettest.New(f, fleettest.Options{Tenants: 2})
	s, err := New(Options{Source: fl.Store})
	if err != nil {
		f.Fatal(err)
	}
	id := fl.Jobs[0].Tenant.ID
	// The same routes as a client bound to one tenant, through the
	// restricted source.
	svc := &auth.Service{Store: fl.Store}
	tok, _, err := svc.CreateToken(context.Background(), auth.RoleClient, []string{id}, 0, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	sc, err := New(Options{Source: fl.Store, Auth: svc})
	if err != nil {
		f.Fatal(err)
	}
	handlers := []struct {
		h     http.Handler
		token string
	}{{s.Handler(), ""}, {sc.Handler(), tok}}
	paths := []string{"/api/v1/tenants", "/api/v1/tenants/%s", "/api/v1/tenants/%s/scores", "/api/v1/tenants/%s/controls",
		"/api/v1/actions", "/api/v1/fleet", "/api/v1/collections"}
	f.Fuzz(func(t *testing.T, rawQuery, tenant, accept string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{RawQuery: rawQuery}, Header: http.Header{"Accept": {accept}}}
		_, _ = format(r)
		_, _, _ = dayRange(r)
		_, _ = actionFilter(r)
		_ = checkParams(r, "from", "to")
		r.SetPathValue("id", tenant)
		_, _ = tenantID(r)
		for _, p := range paths {
			for _, who := range []string{id, tenant} {
				path := p
				if containsVerb(p) {
					path = replaceVerb(p, url.PathEscape(who))
				}
				for _, h := range handlers {
					req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{"Accept": {accept}},
						RemoteAddr: "127.0.0.1:1", Host: "fleetscore.test", RequestURI: path + "?" + rawQuery}
					if h.token != "" {
						req.Header.Set("Authorization", "Bearer "+h.token)
					}
					rec := httptest.NewRecorder()
					h.h.ServeHTTP(rec, req)
					if rec.Code >= 500 {
						t.Fatalf("GET %s?%s (Accept %q, token %v): %d %s", path, rawQuery, accept, h.token != "", rec.Code, rec.Body.String())
					}
				}
				if !containsVerb(p) {
					break
				}
			}
		}
	})
}

func containsVerb(p string) bool {
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '%' && p[i+1] == 's' {
			return true
		}
	}
	return false
}

func replaceVerb(p, v string) string {
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '%' && p[i+1] == 's' {
			return p[:i] + v + p[i+2:]
		}
	}
	return p
}

// FuzzCSVCell writes any cell, between a number and an empty cell, and
// reads the CSV back with encoding/csv: the cell comes back as written,
// with a leading quote if a spreadsheet would otherwise run it as a
// formula; the number comes back unchanged; no cell is a formula.
func FuzzCSVCell(f *testing.F) {
	for _, c := range []string{"", "plain", "=1+1", "+1", "-4.5", "-2+3", "@SUM(1)", "\t=x", "\r=x", " =x", "\n-x", "'=x",
		`=HYPERLINK("http://e.example","x")`, "a,b", `"q"`, "line\nbreak", "\x00", "\xff", "1e5", "-.5", "-Inf"} {
		f.Add(c, -4.5)
	}
	number := regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$`)
	f.Fuzz(func(t *testing.T, cell string, n float64) {
		if math.IsNaN(n) || math.IsInf(n, 0) {
			n = -1
		}
		var buf bytes.Buffer
		if err := writeCSV(&buf, table{header: []string{"n", "cell", "empty"}, rows: [][]string{{num(n), cell, ""}}}); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("read back %q: %v", buf.String(), err)
		}
		if len(recs) != 2 || len(recs[1]) != 3 {
			t.Fatalf("%q read back as %q", cell, recs)
		}
		want := cell
		if t := strings.TrimLeft(cell, " \n"); t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) &&
			!number.MatchString(cell) {
			want = "'" + cell
		}
		// With CRLF line ends the writer drops a CR in a cell, and the
		// reader turns a quoted CRLF into LF.
		want = strings.ReplaceAll(want, "\r", "")
		if got := recs[1][1]; got != want {
			t.Errorf("cell %q read back as %q; want %q", cell, got, want)
		}
		if got := recs[1][0]; got != num(n) {
			t.Errorf("number %s read back as %q", num(n), got)
		}
		for _, c := range recs[1] {
			if csvFormula(c) {
				t.Errorf("cell %q reads back as the formula %q", cell, c)
			}
		}
	})
}

// FuzzSafeNext: whatever the next check returns, the Location a sign-in
// answers keeps a browser on fleetscore's origin.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/actions?x=1", "/%09/evil.example/x", "/\t/evil", "/\\evil", "/%5Cevil", "//evil",
		"/\r\n/evil", "https://evil", " /\t\\evil", "/\x00", "/..//evil", "/./\\evil", "\\\\evil", "/a/../\t/evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("safeNext(%q) = %q: not a path", next, got)
		}
		if loc := redirectTo(next); !staysHome(t, loc) {
			t.Fatalf("next %q: Location %q leaves %s", next, loc, origin)
		}
	})
}
