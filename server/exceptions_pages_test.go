package server

import (
	"context"
	"html"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/exceptions"
)

// session is a signed-in browser without the browser: its cookie and the
// CSRF token its forms carry.
type session struct {
	cookie *http.Cookie
	csrf   string
}

// signIn signs name in with the local form.
func (x *exceptionFixture) signIn(t *testing.T, name, password string) session {
	t.Helper()
	form := url.Values{"name": {name}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, x.srv.URL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			sess, err := x.authFixture.svc.CheckSession(context.Background(), c.Value)
			if err != nil {
				t.Fatal(err)
			}
			return session{cookie: c, csrf: sess.CSRF}
		}
	}
	t.Fatalf("sign in as %s: %d, no session cookie", name, resp.StatusCode)
	return session{}
}

// addUser stores a local user with the fixture's password.
func (x *exceptionFixture) addUser(t *testing.T, name string, role auth.Role, tenants ...string) {
	t.Helper()
	if err := x.f.Store.PutUser(context.Background(), auth.User{Name: name, Role: role, Tenants: tenants,
		PasswordHash: auth.HashPassword(x.password)}); err != nil {
		t.Fatal(err)
	}
}

// post sends a form in the session (with its CSRF token unless the form
// sets csrf itself; "-" leaves it out).
func (x *exceptionFixture) post(t *testing.T, s session, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	form = maps.Clone(form)
	if form == nil {
		form = url.Values{}
	}
	switch form.Get("csrf") {
	case "":
		form.Set("csrf", s.csrf)
	case "-":
		form.Del("csrf")
	}
	req, _ := http.NewRequest(http.MethodPost, x.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.cookie != nil {
		req.AddCookie(s.cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// page gets a page in the session.
func (x *exceptionFixture) page(t *testing.T, s session, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, x.srv.URL+path, nil)
	req.AddCookie(s.cookie)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, html.UnescapeString(string(b))
}

func (x *exceptionFixture) register(t *testing.T) []exceptions.Exception {
	t.Helper()
	es, err := x.svc.List(context.Background(), exceptions.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestExceptionFormsAreGuarded: a client gets 403 on every form of the
// register (session or token); a form without its CSRF token gets 403;
// none of them keeps anything.
func TestExceptionFormsAreGuarded(t *testing.T) {
	x := newExceptionFixture(t, false)
	x.addUser(t, "ana", auth.RoleAnalyst)
	ann, ana := x.signIn(t, "ann", x.password), x.signIn(t, "ana", x.password)
	apply := url.Values{"control": {x.control}, "tenant": {x.a}, "state": {"ThirdParty"}, "reason": {"covered by Mimecast"}}

	if resp, _ := x.post(t, ann, "/exceptions/apply", apply); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a client's apply: %d; want 403", resp.StatusCode)
	}
	if resp, _ := x.do(t, http.MethodPost, "/exceptions/apply?"+apply.Encode(), "client"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a client token's apply: %d; want 403", resp.StatusCode)
	}
	noCSRF := url.Values{"csrf": {"-"}}
	for k, v := range apply {
		noCSRF[k] = v
	}
	if resp, body := x.post(t, ana, "/exceptions/apply", noCSRF); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "the form has expired") {
		t.Errorf("an apply without the CSRF token: %d; want 403 saying the form expired", resp.StatusCode)
	}
	wrong := url.Values{"csrf": {"not the token"}}
	for k, v := range apply {
		wrong[k] = v
	}
	if resp, _ := x.post(t, ana, "/exceptions/apply", wrong); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an apply with a wrong CSRF token: %d; want 403", resp.StatusCode)
	}
	if es := x.register(t); len(es) != 0 {
		t.Fatalf("refused applies kept %d exceptions: %+v", len(es), es)
	}

	// One in the register, then a client may not remove or approve it.
	if resp, body := x.post(t, ana, "/exceptions/apply", apply); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the analyst's apply: %d\n%s", resp.StatusCode, body)
	}
	id := itoa(x.register(t)[0].ID)
	for _, path := range []string{"/exceptions/" + id + "/delete", "/exceptions/" + id + "/approve"} {
		if resp, _ := x.post(t, ann, path, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a client's %s: %d; want 403", path, resp.StatusCode)
		}
	}
	if resp, _ := x.post(t, ana, "/exceptions/"+id+"/delete", url.Values{"csrf": {"-"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a remove without the CSRF token: %d; want 403", resp.StatusCode)
	}
	if resp, _ := x.post(t, ana, "/exceptions/"+id+"/approve", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an analyst's approve: %d; want 403 (admins approve)", resp.StatusCode)
	}
	if es := x.register(t); len(es) != 1 {
		t.Errorf("after the refused removes the register has %d exceptions; want 1", len(es))
	}
}

// TestExceptionFormValidation: each bad form shows the actions page again
// with a message naming the fix (400), keeps what was typed, and the
// register stays empty; ticking two actions of which one the tenant lacks
// keeps nothing of the other either.
func TestExceptionFormValidation(t *testing.T) {
	x := newExceptionFixture(t, false)
	x.addUser(t, "ana", auth.RoleAnalyst)
	ana := x.signIn(t, "ana", x.password)
	base := func(edit func(url.Values)) url.Values {
		v := url.Values{"control": {x.control}, "tenant": {x.a, x.b}, "state": {"ThirdParty"}, "reason": {"covered by Mimecast"}, "owner": {"Sam"}}
		edit(v)
		return v
	}
	past := fleetscore.DayOf(time.Now()).AddDays(-3).String()
	for _, c := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no action", base(func(v url.Values) { v.Del("control") }), "Tick at least one action"},
		{"no tenant", base(func(v url.Values) { v.Del("tenant") }), "Tick at least one tenant"},
		{"no reason", base(func(v url.Values) { v.Set("reason", "  ") }), "A reason is required"},
		{"Ignored without a review date", base(func(v url.Values) { v.Set("state", "Ignored") }), "review_by is required for Ignored"},
		{"a review date in the past", base(func(v url.Values) { v.Set("review_by", past) }), "is in the past"},
		{"a review date that is no date", base(func(v url.Values) { v.Set("review_by", "next week") }), "is not a date: give it as YYYY-MM-DD"},
		{"a bad state", base(func(v url.Values) { v.Set("state", "Done") }), `state "Done" is not one of`},
		{"an unknown tenant", base(func(v url.Values) { v.Add("tenant", "00000000-0000-0000-0000-000000000001") }), "is not a configured tenant"},
		{"one action the tenants lack", base(func(v url.Values) { v.Add("control", "no_such_control") }), `has no control "no_such_control"`},
	} {
		resp, body := x.post(t, ana, "/exceptions/apply", c.form)
		body = html.UnescapeString(body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="exc-error"`) || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d; want 400 on the actions page saying %q\n%s", c.name, resp.StatusCode, c.want, excerpt(body, "exc-error"))
			continue
		}
		// What was typed is kept, for fixing.
		if c.form.Get("reason") == "covered by Mimecast" && (!strings.Contains(body, `value="covered by Mimecast"`) || !strings.Contains(body, `value="Sam"`)) {
			t.Errorf("%s: the form does not keep the reason and owner typed", c.name)
		}
		if c.form.Has("control") && !strings.Contains(body, `value="`+x.control+`" form="set-exceptions" checked`) {
			t.Errorf("%s: the ticked action is not ticked any more", c.name)
		}
	}
	if es := x.register(t); len(es) != 0 {
		t.Errorf("invalid forms kept %d exceptions: %+v", len(es), es)
	}
}

// excerpt is the text around the first mark in body, for a failure.
func excerpt(body, mark string) string {
	i := strings.Index(body, mark)
	if i < 0 {
		return "(no " + mark + ")"
	}
	return body[i:min(len(body), i+300)]
}

// TestExceptionsRegisterPage: an analyst applies through the form, is sent
// to the register with the summary, sees both rows with Remove; the
// tenant page badges the action, linking to the register filtered to it;
// Remove takes one out (audited) and keeps the filters; a client sees its
// tenant's row alone, without buttons.
func TestExceptionsRegisterPage(t *testing.T) {
	x := newExceptionFixture(t, false)
	x.addUser(t, "ana", auth.RoleAnalyst)
	ana, ann := x.signIn(t, "ana", x.password), x.signIn(t, "ann", x.password)
	review := fleetscore.DayOf(time.Now()).AddDays(10).String()
	resp, _ := x.post(t, ana, "/exceptions/apply", url.Values{"control": {x.control}, "tenant": {x.a, x.b}, "state": {"Reviewed"},
		"reason": {"reviewed with the client"}, "review_by": {review}, "owner": {"Sam"}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/exceptions?") || !strings.Contains(loc, "applied=2") {
		t.Fatalf("apply: %d to %q; want 303 to /exceptions?applied=2", resp.StatusCode, loc)
	}
	code, body := x.page(t, ana, loc)
	if code != 200 || !strings.Contains(body, "2 exceptions: 0 written, 2 local, 0 failed, 0 refused.") {
		t.Errorf("the register after applying: %d; want the summary\n%s", code, excerpt(body, "exc-flash"))
	}
	es := x.register(t)
	if len(es) != 2 || es[0].State != "Reviewed" || es[0].Owner != "Sam" || es[0].CreatedBy != "ana" || es[0].ReviewBy.String() != review {
		t.Fatalf("the register: %+v", es)
	}
	for _, e := range es {
		if !strings.Contains(body, `id="exc-`+itoa(e.ID)+`" class="exc-row due"`) {
			t.Errorf("exception %d (review in 10 days) is not on the page, highlighted as due", e.ID)
		}
		if !strings.Contains(body, `action="/exceptions/`+itoa(e.ID)+`/delete"`) {
			t.Errorf("exception %d has no Remove button for the analyst", e.ID)
		}
	}
	if !strings.Contains(body, `href="/api/v1/exceptions?format=csv"`) || !strings.Contains(body, `>Exceptions</a>`) {
		t.Error("the register has no CSV link or nav entry")
	}
	// Filtered, the CSV link carries the filter.
	if _, body := x.page(t, ana, "/exceptions?status=local&tenant="+x.b); !strings.Contains(body, "/api/v1/exceptions?format=csv&status=local&tenant="+x.b) ||
		strings.Contains(body, `data-tenant="`+x.a+`"`) || !strings.Contains(body, `data-tenant="`+x.b+`"`) {
		t.Error("the register filtered to tenant B: wrong rows or CSV link")
	}
	if _, body := x.page(t, ana, "/exceptions?status=failed"); strings.Contains(body, `class="exc-row`) {
		t.Error("filtered to failed, the register still shows the local ones")
	}

	// The tenant page badges the action.
	_, tp := x.page(t, ana, "/tenants/"+x.a)
	href := "/exceptions?" + url.Values{"control": {x.control}, "tenant": {x.a}}.Encode()
	if !strings.Contains(tp, `<a href="`+href+`" class="exc-badge badge info" data-status="local"`) || !strings.Contains(tp, "Reviewed: local") {
		t.Errorf("the tenant page does not badge %s with its exception linking to %s", x.control, href)
	}

	// A client: its tenant's row, read-only.
	_, cb := x.page(t, ann, "/exceptions")
	if !strings.Contains(cb, `data-tenant="`+x.a+`"`) || strings.Contains(cb, `data-tenant="`+x.b+`"`) || strings.Contains(cb, x.bName) ||
		strings.Contains(cb, "/delete") || strings.Contains(cb, "set-exceptions") {
		t.Error("the client's register: want its tenant's row only, without buttons")
	}
	if _, ab := x.page(t, ann, "/actions"); strings.Contains(ab, `id="set-exceptions"`) || strings.Contains(ab, `name="control"`) {
		t.Error("the client's actions page offers the exception form")
	}

	// Remove, keeping the filter.
	resp, _ = x.post(t, ana, "/exceptions/"+itoa(es[1].ID)+"/delete", url.Values{"tenant": {x.b}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "removed="+itoa(es[1].ID)) || !strings.Contains(loc, "tenant="+x.b) {
		t.Fatalf("remove: %d to %q", resp.StatusCode, loc)
	}
	if left := x.register(t); len(left) != 1 || left[0].ID != es[0].ID {
		t.Errorf("after removing %d the register holds %+v", es[1].ID, left)
	}
	if resp, _ := x.post(t, ana, "/exceptions/"+itoa(es[1].ID)+"/delete", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removing it again: %d; want 404", resp.StatusCode)
	}
	events, err := x.f.Store.AuditLog(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	var applied, removed int
	for _, e := range events {
		if e.Actor == "ana" && e.Action == "exception.apply" {
			applied++
		}
		if e.Actor == "ana" && e.Action == "exception.delete" && strings.Contains(e.Detail, "exception "+itoa(es[1].ID)+":") {
			removed++
		}
	}
	if applied != 2 || removed != 1 {
		t.Errorf("audit: %d exception.apply, %d exception.delete by ana; want 2 and 1", applied, removed)
	}
}

// TestExceptionApprovalOnThePage: with approval on, an analyst's Ignored
// waits; the admin who did not ask sees Approve and approving writes it
// (local here); the requester sees no Approve.
func TestExceptionApprovalOnThePage(t *testing.T) {
	x := newExceptionFixture(t, true)
	x.addUser(t, "ada", auth.RoleAdmin)
	x.addUser(t, "bob", auth.RoleAdmin)
	ada, bob := x.signIn(t, "ada", x.password), x.signIn(t, "bob", x.password)
	review := fleetscore.DayOf(time.Now()).AddDays(90).String()
	resp, _ := x.post(t, ada, "/exceptions/apply", url.Values{"control": {x.control}, "tenant": {x.a}, "state": {"Ignored"},
		"reason": {"the client accepts the risk"}, "review_by": {review}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "pending_approval=1") {
		t.Fatalf("apply an Ignored: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body := x.page(t, ada, resp.Header.Get("Location"))
	if !strings.Contains(body, "1 waiting for a second admin's approval") {
		t.Errorf("the summary does not say it waits for approval\n%s", excerpt(body, "exc-flash"))
	}
	id := itoa(x.register(t)[0].ID)
	if strings.Contains(body, "/exceptions/"+id+"/approve") {
		t.Error("the requester is offered Approve")
	}
	if _, body := x.page(t, bob, "/exceptions"); !strings.Contains(body, `action="/exceptions/`+id+`/approve"`) || !strings.Contains(body, "pending approval") {
		t.Error("the other admin is not offered Approve on the pending exception")
	}
	if resp, _ := x.post(t, ada, "/exceptions/"+id+"/approve", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the requester approves: %d; want 403", resp.StatusCode)
	}
	if resp, _ := x.post(t, bob, "/exceptions/"+id+"/approve", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bob approves: %d", resp.StatusCode)
	}
	if e := x.register(t)[0]; e.Status != exceptions.StatusLocal || e.ApprovedBy != "bob" {
		t.Errorf("after approval: %+v", e)
	}
	if resp, _ := x.post(t, bob, "/exceptions/"+id+"/approve", nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("approving again: %d; want 409", resp.StatusCode)
	}
}

// TestSavedTemplateFromTheActionsPage: the form offers the config's saved
// templates; picking one applies its actions, states and reasons (the
// ticks and the typed state and reason are not used) at the ticked tenants.
func TestSavedTemplateFromTheActionsPage(t *testing.T) {
	x := newExceptionFixture(t, false)
	x.s.excTemplates = []exceptions.Template{{Name: "Mimecast", Items: []exceptions.TemplateItem{
		{Control: x.control, State: fleetscore.StateThirdParty, Reason: "covered by Mimecast"}}}}
	x.addUser(t, "ana", auth.RoleAnalyst)
	ana := x.signIn(t, "ana", x.password)
	if code, body := x.page(t, ana, "/actions"); code != http.StatusOK || !strings.Contains(body, `<option value="Mimecast">Mimecast (1 action)</option>`) {
		t.Fatalf("the actions page: %d; want the template offered", code)
	}
	form := url.Values{"template": {"Mimecast"}, "tenant": {x.a, x.b}, "state": {"Reviewed"}, "reason": {""}}
	if resp, body := x.post(t, ana, "/exceptions/apply", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply the template: %d\n%s", resp.StatusCode, excerpt(body, "exc-error"))
	}
	es := x.register(t)
	if len(es) != 2 {
		t.Fatalf("register %+v; want the template at 2 tenants", es)
	}
	for _, e := range es {
		if e.Control != x.control || e.State != fleetscore.StateThirdParty || e.Reason != "covered by Mimecast" || e.CreatedBy != "ana" {
			t.Errorf("%+v; want the template's state and reason", e)
		}
	}
	if resp, _ := x.post(t, ana, "/exceptions/apply", url.Values{"template": {"Nope"}, "tenant": {x.a}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown template: %d; want 400", resp.StatusCode)
	}
}

// TestSetExceptionFromTheTenantPage: an action's row on the tenant page
// links to the actions page's exception form with that action and that
// tenant ticked; a client gets no such link.
func TestSetExceptionFromTheTenantPage(t *testing.T) {
	x := newExceptionFixture(t, false)
	x.addUser(t, "ana", auth.RoleAnalyst)
	ana, ann := x.signIn(t, "ana", x.password), x.signIn(t, "ann", x.password)
	_, body := x.page(t, ana, "/tenants/"+x.a)
	link := "/actions?" + url.Values{"control": {x.control}, "tenant": {x.a}}.Encode() + "#set-exceptions-card"
	if !strings.Contains(html.UnescapeString(body), `href="`+link+`"`) {
		t.Fatalf("the tenant page has no link %s", link)
	}
	_, form := x.page(t, ana, strings.TrimSuffix(link, "#set-exceptions-card"))
	form = html.UnescapeString(form)
	if !strings.Contains(form, `value="`+x.control+`" form="set-exceptions" checked`) {
		t.Errorf("the action is not ticked in the form")
	}
	if !strings.Contains(form, `name="tenant" value="`+x.a+`" checked`) || strings.Contains(form, `name="tenant" value="`+x.b+`" checked`) {
		t.Errorf("the tenant, and only it, should be ticked")
	}
	if _, body := x.page(t, ann, "/tenants/"+x.a); strings.Contains(body, "Set exception") {
		t.Error("a client is offered to set an exception")
	}
}
