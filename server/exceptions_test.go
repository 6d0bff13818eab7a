package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/exceptions"
)

// localOnly is the register's Writer with write-back off for every tenant:
// the API tests keep every exception local, so nothing reaches Graph (the
// write itself is tested end to end against the emulator).
type localOnly struct{ t *testing.T }

func (w localOnly) SetControlState(context.Context, string, string, string, string) (fleetscore.ControlProfile, error) {
	w.t.Error("a write was sent with write-back off")
	return fleetscore.ControlProfile{}, nil
}
func (localOnly) WriteBack(string) bool { return false }

// exceptionFixture is the auth fixture served with the register.
type exceptionFixture struct {
	*authFixture
	api     *apiFixture
	svc     *exceptions.Service
	control string // a control profile of tenants a and b
}

func newExceptionFixture(t *testing.T, approval bool) *exceptionFixture {
	t.Helper()
	x := newAuthFixture(t)
	now := time.Now().UTC()
	svc := &exceptions.Service{Store: x.f.Store, Writer: localOnly{t}, Now: func() time.Time { return now }, Approval: approval}
	s, err := New(Options{Source: x.f.Store, Runner: idleRunner{}, Auth: x.svc, Logger: newTestLogger(x.logs), Exceptions: svc})
	if err != nil {
		t.Fatal(err)
	}
	x.s = s
	x.srv = httptest.NewServer(s.Handler())
	t.Cleanup(x.srv.Close)
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := x.f.Store.Profiles(context.Background(), x.a)
	if err != nil || len(ps) == 0 {
		t.Fatalf("profiles of %s: %v", x.a, err)
	}
	control := ""
	for _, p := range ps {
		if !strings.HasPrefix(p.ID, "scid_") {
			control = p.ID
			break
		}
	}
	return &exceptionFixture{authFixture: x, api: &apiFixture{srv: x.srv, s: s, doc: doc}, svc: svc, control: control}
}

// send makes a request with the role's token and a JSON body, and checks a
// JSON answer against openapi.json.
func (x *exceptionFixture) send(t *testing.T, method, path, role, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, x.srv.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := x.tokens[role]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		x.api.validate(t, req, resp, b)
	}
	return resp, b
}

func (x *exceptionFixture) apply(t *testing.T, role string, body map[string]any) (*http.Response, []exceptions.Exception, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, out := x.send(t, http.MethodPost, "/api/v1/exceptions", role, string(b))
	var es []exceptions.Exception
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(out, &es); err != nil {
			t.Fatalf("answer %s: %v", out, err)
		}
	}
	return resp, es, string(out)
}

func TestAPIExceptionsApplyListDelete(t *testing.T) {
	x := newExceptionFixture(t, false)
	review := fleetscore.DayOf(time.Now()).AddDays(60).String()
	resp, es, body := x.apply(t, "analyst", map[string]any{"control": x.control, "tenants": []string{x.a, strings.ToUpper(x.b)},
		"state": "ThirdParty", "reason": "covered by Mimecast", "review_by": review})
	if resp.StatusCode != http.StatusCreated || len(es) != 2 {
		t.Fatalf("apply: %d %s", resp.StatusCode, body)
	}
	for i, id := range []string{x.a, x.b} {
		e := es[i]
		if e.TenantID != id || e.Control != x.control || e.State != "ThirdParty" || e.Status != exceptions.StatusLocal ||
			e.ReviewBy.String() != review || e.CreatedBy == "" || e.ID == 0 {
			t.Errorf("exception %d: %+v", i, e)
		}
	}
	// The answer carries the API's object, field by field.
	var raw []map[string]any
	_ = json.Unmarshal([]byte(body), &raw)
	for _, k := range []string{"id", "tenant_id", "control", "state", "reason", "review_by", "status", "error", "advice", "created_by", "created_at"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("the answer lacks %q: %s", k, body)
		}
	}

	// The ranking counts both tenants apart, in the API and on the page.
	var actions []map[string]any
	_, ab := x.send(t, http.MethodGet, "/api/v1/actions", "admin", "")
	_ = json.Unmarshal(ab, &actions)
	found := false
	for _, a := range actions {
		if a["control"] == x.control {
			found = true
			if a["excepted_tenants"] != float64(2) {
				t.Errorf("action %s: excepted_tenants %v, want 2", x.control, a["excepted_tenants"])
			}
		}
	}
	if !found {
		t.Errorf("action %s is not in the ranking", x.control)
	}
	if _, page := x.do(t, "GET", "/actions", "admin"); !strings.Contains(page, "2 excepted") && !strings.Contains(page, `<td class="num">2</td><td>`) {
		t.Errorf("the actions page does not count the 2 excepted tenants")
	}

	// Everyone reads the register; a client only its tenant's.
	var list []exceptions.Exception
	for role, want := range map[string]int{"admin": 2, "analyst": 2, "client": 1} {
		resp, b := x.send(t, http.MethodGet, "/api/v1/exceptions", role, "")
		if resp.StatusCode != 200 {
			t.Fatalf("list as %s: %d %s", role, resp.StatusCode, b)
		}
		_ = json.Unmarshal(b, &list)
		if len(list) != want {
			t.Errorf("list as %s: %d exceptions, want %d", role, len(list), want)
		}
		if role == "client" && (len(list) != 1 || list[0].TenantID != x.a || strings.Contains(string(b), x.b)) {
			t.Errorf("the client sees another tenant's exceptions: %s", b)
		}
	}
	resp2, b := x.send(t, http.MethodGet, "/api/v1/exceptions?tenant="+x.b+"&status=local&control="+x.control, "admin", "")
	_ = json.Unmarshal(b, &list)
	if resp2.StatusCode != 200 || len(list) != 1 || list[0].TenantID != x.b {
		t.Errorf("filtered: %d %s", resp2.StatusCode, b)
	}
	if _, b := x.send(t, http.MethodGet, "/api/v1/exceptions?status=written", "admin", ""); strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("no written ones: %s", b)
	}

	// The CSV parses and says what the JSON says.
	resp3, csvBody := x.send(t, http.MethodGet, "/api/v1/exceptions?format=csv", "admin", "")
	recs, err := csv.NewReader(bytes.NewReader(csvBody)).ReadAll()
	if resp3.StatusCode != 200 || err != nil || len(recs) != 3 {
		t.Fatalf("CSV: %d %v\n%s", resp3.StatusCode, err, csvBody)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for i, e := range es {
		r := recs[i+1]
		if r[col["tenant_id"]] != e.TenantID || r[col["reason"]] != "covered by Mimecast" || r[col["status"]] != "local" ||
			r[col["review_by"]] != review || r[col["control"]] != x.control {
			t.Errorf("CSV row %d: %v", i+1, r)
		}
	}

	// Client tokens get 403 on every write.
	for _, w := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/exceptions", `{"control":"` + x.control + `","tenants":["` + x.a + `"],"state":"Ignored","reason":"x","review_by":"` + review + `"}`},
		{http.MethodDelete, "/api/v1/exceptions/" + itoa(es[0].ID), ""},
		{http.MethodPost, "/api/v1/exceptions/" + itoa(es[0].ID) + "/approve", ""},
	} {
		if resp, b := x.send(t, w.method, w.path, "client", w.body); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s as client: %d %s", w.method, w.path, resp.StatusCode, b)
		}
	}
	if n, _ := x.svc.List(context.Background(), exceptions.Filter{}); len(n) != 2 {
		t.Errorf("the client's writes changed the register: %d", len(n))
	}

	// Delete: 204, gone, audited; again: 404.
	if resp, b := x.send(t, http.MethodDelete, "/api/v1/exceptions/"+itoa(es[0].ID), "analyst", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	if resp, _ := x.send(t, http.MethodDelete, "/api/v1/exceptions/"+itoa(es[0].ID), "analyst", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("delete again: %d", resp.StatusCode)
	}
	resp4, audit := x.do(t, "GET", "/api/v1/audit?format=csv", "admin")
	for _, want := range []string{"exception.apply", "exception.delete", "covered by Mimecast", x.b} {
		if resp4.StatusCode != 200 || !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit)
		}
	}
}

func itoa(n int64) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAPIExceptionsBadInput(t *testing.T) {
	x := newExceptionFixture(t, false)
	today := fleetscore.DayOf(time.Now())
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not JSON", `control=x`, "must be a JSON object"},
		{"unknown field", `{"control":"` + x.control + `","tenants":["` + x.a + `"],"state":"ThirdParty","reason":"r","expires":"2030-01-01"}`, `unknown field "expires"`},
		{"no reason", `{"control":"` + x.control + `","tenants":["` + x.a + `"],"state":"ThirdParty"}`, "reason is required"},
		{"long reason", `{"control":"` + x.control + `","tenants":["` + x.a + `"],"state":"ThirdParty","reason":"` + strings.Repeat("r", 1025) + `"}`, "at most 1024"},
		{"bad state", `{"control":"` + x.control + `","tenants":["` + x.a + `"],"state":"Done","reason":"r"}`, "not one of ThirdParty, Ignored, Reviewed, Default"},
		{"ignored without review", `{"control":"` + x.control + `","tenants":["` + x.a + `"],"state":"Ignored","reason":"r"}`, "review_by is required for Ignored"},
		{"bad date", `{"control":"` + x.control + `","tenants":["` + x.a + `"],"state":"Ignored","reason":"r","review_by":"31/12/2030"}`, "review_by: \"31/12/2030\" is not a date in the form YYYY-MM-DD"},
		{"past date", `{"control":"` + x.control + `","tenants":["` + x.a + `"],"state":"Ignored","reason":"r","review_by":"` + today.AddDays(-1).String() + `"}`, "is in the past"},
		{"no tenants", `{"control":"` + x.control + `","tenants":[],"state":"ThirdParty","reason":"r"}`, "tenants is required"},
		{"not a GUID", `{"control":"` + x.control + `","tenants":["contoso"],"state":"ThirdParty","reason":"r"}`, `tenant "contoso" is not a GUID`},
		{"unknown tenant", `{"control":"` + x.control + `","tenants":["ffffffff-ffff-4fff-8fff-ffffffffffff"],"state":"ThirdParty","reason":"r"}`, "not a configured tenant"},
		{"unknown control", `{"control":"mdo_nosuch","tenants":["` + x.a + `"],"state":"ThirdParty","reason":"r"}`, `has no control "mdo_nosuch"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := x.send(t, http.MethodPost, "/api/v1/exceptions", "admin", tc.body)
			var e struct{ Error apiError }
			_ = json.Unmarshal(b, &e)
			if resp.StatusCode != http.StatusBadRequest || e.Error.Code != "bad_request" || !strings.Contains(e.Error.Message, tc.want) {
				t.Errorf("%d %s; want 400 naming %q", resp.StatusCode, b, tc.want)
			}
		})
	}
	for _, path := range []string{"/api/v1/exceptions?status=done", "/api/v1/exceptions?tenant=contoso", "/api/v1/exceptions?owner=x"} {
		if resp, b := x.send(t, http.MethodGet, path, "admin", ""); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
		}
	}
	if resp, _ := x.send(t, http.MethodDelete, "/api/v1/exceptions/abc", "admin", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("DELETE /api/v1/exceptions/abc: %d", resp.StatusCode)
	}
	if n, _ := x.svc.List(context.Background(), exceptions.Filter{}); len(n) != 0 {
		t.Errorf("bad requests changed the register: %+v", n)
	}
}

func TestAPIExceptionApproval(t *testing.T) {
	x := newExceptionFixture(t, true)
	review := fleetscore.DayOf(time.Now()).AddDays(30).String()
	// The admin token requests; the same admin cannot approve.
	resp, es, body := x.apply(t, "admin", map[string]any{"control": x.control, "tenants": []string{x.a}, "state": "Ignored",
		"reason": "accepted risk: legacy app", "review_by": review})
	if resp.StatusCode != http.StatusCreated || es[0].Status != exceptions.StatusPendingApproval {
		t.Fatalf("apply: %d %s", resp.StatusCode, body)
	}
	id := itoa(es[0].ID)
	if resp, b := x.send(t, http.MethodPost, "/api/v1/exceptions/"+id+"/approve", "admin", ""); resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(string(b), "another admin must approve") {
		t.Errorf("self-approval: %d %s", resp.StatusCode, b)
	}
	if resp, _ := x.send(t, http.MethodPost, "/api/v1/exceptions/"+id+"/approve", "analyst", ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("analyst approval: %d", resp.StatusCode)
	}
	// A second admin (another token) approves.
	tok, _, err := x.authFixture.svc.CreateToken(context.Background(), "admin", nil, time.Hour, "second admin")
	if err != nil {
		t.Fatal(err)
	}
	x.tokens["admin2"] = tok
	resp, b := x.send(t, http.MethodPost, "/api/v1/exceptions/"+id+"/approve", "admin2", "")
	var e exceptions.Exception
	_ = json.Unmarshal(b, &e)
	if resp.StatusCode != 200 || e.Status != exceptions.StatusLocal || e.ApprovedBy == "" {
		t.Fatalf("approval: %d %s", resp.StatusCode, b)
	}
	if resp, _ := x.send(t, http.MethodPost, "/api/v1/exceptions/"+id+"/approve", "admin2", ""); resp.StatusCode != http.StatusConflict {
		t.Errorf("approving twice: %d", resp.StatusCode)
	}
	if resp, _ := x.send(t, http.MethodPost, "/api/v1/exceptions/99999/approve", "admin2", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("approving an unknown one: %d", resp.StatusCode)
	}
	_, audit := x.do(t, "GET", "/api/v1/audit?format=csv", "admin")
	if !strings.Contains(audit, "exception.approve") {
		t.Errorf("the approval is not audited:\n%s", audit)
	}
}

// TestAPIExceptionsDueForReview: review_within keeps the exceptions whose
// review date is that close or passed, as the register page's "due for
// review" does (its CSV link carries it); a bad value is a 400.
func TestAPIExceptionsDueForReview(t *testing.T) {
	x := newExceptionFixture(t, false)
	today := fleetscore.DayOf(time.Now())
	for id, days := range map[string]int{x.a: 10, x.b: 200} {
		if resp, _, body := x.apply(t, "analyst", map[string]any{"control": x.control, "tenants": []string{id},
			"state": "Reviewed", "reason": "reviewed", "review_by": today.AddDays(days).String()}); resp.StatusCode != http.StatusCreated {
			t.Fatalf("apply: %d %s", resp.StatusCode, body)
		}
	}
	var due []map[string]any
	resp, body := x.send(t, http.MethodGet, "/api/v1/exceptions?review_within=30", "admin", "")
	if err := json.Unmarshal(body, &due); resp.StatusCode != http.StatusOK || err != nil || len(due) != 1 || due[0]["tenant_id"] != x.a {
		t.Errorf("review_within=30: %d %s; want only %s's", resp.StatusCode, body, x.a)
	}
	if resp, body := x.send(t, http.MethodGet, "/api/v1/exceptions?review_within=soon", "admin", ""); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "review_within") {
		t.Errorf("a bad review_within: %d %s", resp.StatusCode, body)
	}
	x.addUser(t, "ana", auth.RoleAnalyst)
	ana := x.signIn(t, "ana", x.password)
	if _, page := x.page(t, ana, "/exceptions?due=1"); !strings.Contains(html.UnescapeString(page), "review_within=30") {
		t.Error("the register's CSV link for due for review lacks review_within=30")
	}
}
