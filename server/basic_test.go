package server

import (
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// basicAuth is the Authorization header of HTTP Basic with the token as
// the password, as Power BI's and Excel's Basic credential send it.
func basicAuth(user, token string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, token)
	return req.Header.Get("Authorization")
}

func hasBasicChallenge(resp *http.Response) bool {
	return slices.Contains(resp.Header.Values("WWW-Authenticate"), `Basic realm="fleetscore"`)
}

// TestBasicAuthReadsTheAPI: the API token as the password of HTTP Basic,
// any user name, reads the API's JSON and CSV with the token's role (a
// client's sees only its tenants); a wrong token is a 401 that offers Basic.
func TestBasicAuthReadsTheAPI(t *testing.T) {
	x := newAuthFixture(t)
	for _, role := range []string{"client", "analyst", "admin"} {
		for _, user := range []string{"", "powerbi", "any name at all"} {
			for _, path := range []string{"/api/v1/tenants", "/api/v1/tenants?format=csv", "/api/v1/actions?format=csv&long=1"} {
				resp, body := x.do(t, "GET", path, "", "Authorization", basicAuth(user, x.tokens[role]))
				if resp.StatusCode != 200 || !strings.Contains(body, x.a) {
					t.Fatalf("%s with Basic (%q, %s token): %d\n%s", path, user, role, resp.StatusCode, body)
				}
				if got := strings.Contains(body, x.b); got != (role != "client") {
					t.Errorf("%s with Basic as %s: shows tenant B: %v", path, role, got)
				}
			}
		}
	}
	resp, _ := x.do(t, "HEAD", "/api/v1/tenants", "", "Authorization", basicAuth("excel", x.tokens["client"]))
	if resp.StatusCode != 200 {
		t.Errorf("HEAD /api/v1/tenants with Basic: %d", resp.StatusCode)
	}
	// Roles hold as with Bearer: a client's token may not read the fleet.
	if resp, _ := x.do(t, "GET", "/api/v1/fleet", "", "Authorization", basicAuth("", x.tokens["client"])); resp.StatusCode != 403 {
		t.Errorf("client's Basic on /api/v1/fleet: %d; want 403", resp.StatusCode)
	}
	if resp, _ := x.do(t, "GET", "/api/v1/tenants/"+x.b, "", "Authorization", basicAuth("", x.tokens["client"])); resp.StatusCode != 404 {
		t.Errorf("client's Basic on tenant B: %d; want 404", resp.StatusCode)
	}
	for _, tok := range []string{"wrong", x.tokens["admin"] + "x", "fs_0000", ""} {
		resp, body := x.do(t, "GET", "/api/v1/tenants", "", "Authorization", basicAuth("powerbi", tok))
		if resp.StatusCode != 401 || !hasBasicChallenge(resp) || strings.Contains(body, x.a) {
			t.Errorf("Basic with token %q: %d, WWW-Authenticate %q", tok, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
		}
	}
	// Asking with nothing offers Basic too (Excel then asks for it), but
	// not to a browser session's own scripts (no password dialog).
	if resp, _ := x.do(t, "GET", "/api/v1/tenants", ""); resp.StatusCode != 401 || !hasBasicChallenge(resp) {
		t.Errorf("GET /api/v1/tenants with nothing: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if resp, _ := x.do(t, "GET", "/api/v1/collect", "", "Cookie", SessionCookie+"=gone"); resp.StatusCode != 401 || hasBasicChallenge(resp) {
		t.Errorf("GET /api/v1/collect with an old session cookie: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}

// TestBasicAuthNeverWrites: every route of the table that is not a read
// (so a route added later is covered too) refuses Basic with 401, even
// with the admin's valid token, which as Bearer passes; pages never take
// Basic either.
func TestBasicAuthNeverWrites(t *testing.T) {
	x := newAuthFixture(t)
	admin := basicAuth("powerbi", x.tokens["admin"])
	writes := 0
	for _, r := range x.s.routeTable() {
		method, path := x.concrete(r.pattern)
		if method == http.MethodGet || method == http.MethodHead || r.need == public {
			continue
		}
		writes++
		resp, body := x.do(t, method, path, "", "Authorization", admin)
		if resp.StatusCode != 401 {
			t.Errorf("%s %s with Basic and the admin's token: %d; want 401\n%s", method, path, resp.StatusCode, body)
		}
		if hasBasicChallenge(resp) {
			t.Errorf("%s %s offers Basic, which it refuses", method, path)
		}
		if resp, _ := x.do(t, method, path, "admin"); resp.StatusCode == 401 || resp.StatusCode == 403 {
			t.Errorf("%s %s with the same token as Bearer: %d (so the test proves nothing)", method, path, resp.StatusCode)
		}
	}
	if writes < 8 {
		t.Fatalf("found %d write routes in the table; the enumeration is broken", writes)
	}
	for _, path := range []string{"/", "/tenants/" + x.a, "/actions", "/alerts"} {
		resp, _ := x.do(t, "GET", path, "", "Authorization", admin)
		if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/signin?") {
			t.Errorf("page %s with Basic: %d; want 303 to the sign-in page", path, resp.StatusCode)
		}
	}
}

// TestActionsLongCSV: ?format=csv&long=1 has one row per action and open
// tenant, and its counts per action are the wide form's open_tenants and
// tenants cell.
func TestActionsLongCSV(t *testing.T) {
	x := newAuthFixture(t)
	read := func(path string) []map[string]string {
		t.Helper()
		resp, body := x.do(t, "GET", path, "analyst")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("GET %s: %d %s\n%s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		return csvRows(t, path, body)
	}
	wide := read("/api/v1/actions?format=csv")
	long := read("/api/v1/actions?format=csv&long=1")
	perControl := map[string][]string{}
	for _, r := range long {
		if r["tenant_id"] == "" || strings.Contains(r["tenant_id"], " ") {
			t.Fatalf("long row with tenant_id %q", r["tenant_id"])
		}
		perControl[r["control"]] = append(perControl[r["control"]], r["tenant_id"])
	}
	total, multi := 0, 0
	for _, w := range wide {
		open, _ := strconv.Atoi(w["open_tenants"])
		got := perControl[w["control"]]
		if len(got) != open || strings.Join(got, " ") != w["tenants"] {
			t.Errorf("%s: long form has %v; wide form %d open in %q", w["control"], got, open, w["tenants"])
		}
		delete(perControl, w["control"])
		total += open
		if open > 1 {
			multi++
		}
	}
	if len(perControl) != 0 {
		t.Errorf("long form has actions the wide form lacks: %v", perControl)
	}
	if len(long) != total || multi == 0 {
		t.Errorf("long form: %d rows; wide form: %d open (action, tenant) pairs, %d actions open in several tenants", len(long), total, multi)
	}
	for _, path := range []string{"/api/v1/actions?long=1", "/api/v1/actions?format=json&long=1", "/api/v1/actions?format=csv&long=yes"} {
		if resp, body := x.do(t, "GET", path, "analyst"); resp.StatusCode != 400 || !strings.Contains(body, "long") {
			t.Errorf("GET %s: %d %s; want 400 naming long", path, resp.StatusCode, body)
		}
	}
	if resp, _ := x.do(t, "GET", "/api/v1/actions?long=1", "analyst", "Accept", "text/csv"); resp.StatusCode != 200 {
		t.Errorf("long=1 with Accept: text/csv: %d", resp.StatusCode)
	}
}

// mWeb is a Web.Contents call of the README's Power Query: its relative
// path (with " & id & " where a tenant ID goes) and its Query record.
var mWeb = regexp.MustCompile(`RelativePath = ("[^"]*"(?: & id & "[^"]*")?)(?:, Query = \[([^\]]*)\])?`)

// mColumn is a column an M query types or reads.
var mColumn = regexp.MustCompile(`\{"([a-z_]+)", type |\[(tenant_id)\]|\{("[a-z_]+"(?:, "[a-z_]+")*)\}, MissingField`)

// TestReadmePowerQuery sends what each query of the README's Power BI
// section asks for, with the Basic credential it tells people to use, and
// checks that the answers have every column the query names.
func TestReadmePowerQuery(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "### Power BI and Excel")
	section := text[start : start+1+strings.Index(text[start+1:], "\n### ")]
	blocks := strings.Split(section, "```m\n")[1:]
	if len(blocks) != 3 {
		t.Fatalf("%d M queries in the README's Power BI section; want the tenants, scores and actions", len(blocks))
	}
	x := newAuthFixture(t)
	for _, block := range blocks {
		block = block[:strings.Index(block, "```")]
		var answers strings.Builder
		for _, c := range mWeb.FindAllStringSubmatch(block, -1) {
			path := "/" + strings.ReplaceAll(strings.ReplaceAll(strings.Trim(c[1], `"`), `" & id & "`, x.a), `"`, "")
			q := url.Values{}
			for _, kv := range strings.Split(c[2], ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					q.Set(strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`))
				}
			}
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			resp, body := x.do(t, "GET", path, "", "Authorization", basicAuth("powerbi", x.tokens["analyst"]))
			if resp.StatusCode != 200 || len(body) < 100 {
				t.Errorf("the README's %s: %d\n%.300s", path, resp.StatusCode, body)
			}
			answers.WriteString(body)
		}
		var cols []string
		for _, m := range mColumn.FindAllStringSubmatch(block, -1) {
			cols = append(cols, m[1], m[2])
			for _, c := range strings.Split(m[3], ", ") {
				cols = append(cols, strings.Trim(c, `"`))
			}
		}
		if len(cols) == 0 && !strings.Contains(block, "long") {
			t.Errorf("found no column in the M query:\n%s", block)
		}
		for _, c := range cols {
			if c != "" && !strings.Contains(answers.String(), c) {
				t.Errorf("the README's M reads column %s, which its answers lack:\n%s", c, block)
			}
		}
	}
}
