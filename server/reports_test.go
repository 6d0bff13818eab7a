package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/report"
	"github.com/fleetscore/fleetscore/report/reporttest"
)

// TestClientReport: a client's token downloads its tenant's report, PDF
// and HTML, with the figures the API gives the same token; another
// tenant's report is a 404, as for a tenant that does not exist; admin and
// analyst read any.
func TestClientReport(t *testing.T) {
	x := newAuthFixture(t)
	ctx := context.Background()
	// The client's tenant gets a name with letters beyond ASCII.
	statuses, err := x.f.Store.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var tenants []fleetscore.Tenant
	for _, st := range statuses {
		if st.ID == x.a {
			st.Name = "Café Lumière — O'Brien & Søn"
		}
		tenants = append(tenants, st.Tenant)
	}
	if err := x.f.Store.SyncTenants(ctx, tenants); err != nil {
		t.Fatal(err)
	}
	p := report.LastMonth(time.Now())
	getJSON := func(path string, v any) {
		t.Helper()
		resp, body := x.do(t, http.MethodGet, path, "client")
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatal(err)
		}
	}
	var row query.Tenant
	getJSON("/api/v1/tenants/"+x.a, &row)
	var days []query.DayScore
	getJSON("/api/v1/tenants/"+x.a+"/scores?from="+p.From.String()+"&to="+p.To.String(), &days)
	var controls []query.Control
	getJSON("/api/v1/tenants/"+x.a+"/controls", &controls)
	if len(days) == 0 {
		t.Fatalf("no stored day in %s", p.Key)
	}
	want := []string{row.Name, percent(days[len(days)-1].Percent), strconv.FormatFloat(row.TargetPercent, 'f', -1, 64) + "%"} // as the tenant page writes it
	for _, c := range controls {
		if c.Open && len(want) < 8 {
			want = append(want, c.Title)
		}
	}
	if len(want) != 8 {
		t.Fatalf("the tenant has fewer than 5 open actions: %v", want)
	}

	resp, body := x.do(t, http.MethodGet, "/tenants/"+x.a+"/report.pdf?period="+p.Key, "client")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(body, "%PDF-") {
		t.Fatalf("the client's report: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, p.Key+".pdf") {
		t.Errorf("Content-Disposition %q", cd)
	}
	text := reporttest.Text(t, []byte(body))
	for _, w := range want {
		if !strings.Contains(text, reporttest.Squash(w)) {
			t.Errorf("the PDF lacks %q (from the API):\n%s", w, text)
		}
	}
	if n, drawn := reporttest.Pages(t, []byte(body)); n != drawn || n < 2 {
		t.Errorf("pdftoppm drew %d of %d pages", drawn, n)
	}

	resp, body = x.do(t, http.MethodGet, "/tenants/"+x.a+"/report?period="+p.Key, "client")
	if resp.StatusCode != 200 || !strings.Contains(body, "Café Lumière — O&#39;Brien &amp; Søn") || !strings.Contains(body, want[1]) {
		t.Errorf("the client's HTML report: %d", resp.StatusCode)
	}
	// Its inline style is let in by a nonce of the answer's policy, nothing else.
	csp := resp.Header.Get("Content-Security-Policy")
	_, nonce, _ := strings.Cut(csp, "style-src 'nonce-")
	nonce, _, _ = strings.Cut(nonce, "'")
	if nonce == "" || !strings.Contains(body, `<style nonce="`+nonce+`">`) || strings.Contains(csp, "script-src") && !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q does not admit the report's style element", csp)
	}

	for _, path := range []string{"/tenants/" + x.b + "/report.pdf?period=" + p.Key, "/tenants/" + x.b + "/report",
		"/tenants/00000000-0000-4000-8000-000000000001/report.pdf"} {
		resp, body = x.do(t, http.MethodGet, path, "client")
		if resp.StatusCode != http.StatusNotFound || strings.Contains(body, x.bName) {
			t.Errorf("client GET %s: %d, want 404 without the tenant's name", path, resp.StatusCode)
		}
	}
	for _, role := range []string{"analyst", "admin"} {
		resp, _ = x.do(t, http.MethodGet, "/tenants/"+x.b+"/report.pdf?period="+p.Key, role)
		if resp.StatusCode != 200 {
			t.Errorf("%s GET another tenant's report: %d, want 200", role, resp.StatusCode)
		}
	}
	resp, _ = x.do(t, http.MethodGet, "/tenants/"+x.b+"/report.pdf", "")
	if resp.StatusCode == 200 {
		t.Errorf("no token: %d, want sign-in", resp.StatusCode)
	}
	for _, bad := range []string{"2026-13", "2026-Q5", "last", "2026-11-30..2026-11-01"} {
		resp, body = x.do(t, http.MethodGet, "/tenants/"+x.a+"/report.pdf?period="+bad, "client")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "period") {
			t.Errorf("period %q: %d, want 400 naming the period", bad, resp.StatusCode)
		}
	}
	// The tenant page links both, last month picked.
	_, body = x.do(t, http.MethodGet, "/tenants/"+x.a, "client")
	for _, w := range []string{`action="/tenants/` + x.a + `/report"`, `formaction="/tenants/` + x.a + `/report.pdf"`,
		`value="` + p.Key + `" selected`, report.LastQuarter(time.Now()).Key} {
		if !strings.Contains(body, w) {
			t.Errorf("the tenant page lacks %s", w)
		}
	}
}
