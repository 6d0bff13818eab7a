package server

// The register of exceptions on the pages: the actions page's "Set
// exceptions" form (POST /exceptions/apply), the /exceptions register with
// its filters, CSV link, Remove and Approve buttons, and the badge on the
// tenant page's actions. Every form works without JavaScript and carries
// the session's CSRF token, which guard checks.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/exceptions"
)

// dueWithinDays: an exception whose review date is this close, or past, is
// due for review.
const dueWithinDays = 30

// maxFormControls bounds the actions one form may tick.
const maxFormControls = 200

// excStates are the form's states, with their labels.
var excStates = []struct{ Value, Label string }{
	{fleetscore.StateThirdParty, "Third party"},
	{fleetscore.StateIgnored, "Risk accepted (Ignored)"},
	{fleetscore.StateReviewed, "Reviewed"},
	{fleetscore.StateDefault, "Default (clear)"},
}

func stateLabel(state string) string {
	for _, st := range excStates {
		if st.Value == state {
			return st.Label
		}
	}
	return state
}

// statusClass is the badge class of an exception's status.
func statusClass(status string) string {
	switch status {
	case exceptions.StatusWritten, exceptions.StatusInEffect:
		return "good"
	case exceptions.StatusLocal:
		return "info"
	case exceptions.StatusFailed, exceptions.StatusDrifted, exceptions.StatusExpired:
		return "bad"
	case exceptions.StatusPendingApproval:
		return "open"
	}
	return ""
}

// statusText is a status as the pages write it.
func statusText(status string) string {
	switch status {
	case exceptions.StatusInEffect:
		return "in effect"
	case exceptions.StatusPendingApproval:
		return "pending approval"
	}
	return status
}

// ---- The actions page's form ----

// excForm is the "Set exceptions" form on the actions page, with what was
// sent when it is shown again after a validation error.
type excForm struct {
	Error     string
	Templates []excOption // the config's saved templates: their actions, states and reasons
	States    []excOption
	Tenants   []excOption
	Controls  map[string]bool // ticked actions
	Reason    string
	Owner     string
	ReviewBy  string
	Min       string // today, the earliest review date
}

type excOption struct {
	Value, Label string
	Checked      bool
}

// excFormFor is the empty form, or nil when the register is off or the
// principal only reads.
func (s *Server) excFormFor(r *http.Request) (*excForm, error) {
	if s.exceptions == nil || !who(r).Role.AtLeast(auth.RoleAnalyst) {
		return nil, nil
	}
	f := &excForm{Controls: map[string]bool{}, Min: fleetscore.DayOf(s.now()).String()}
	for i, st := range excStates {
		f.States = append(f.States, excOption{Value: st.Value, Label: st.Label, Checked: i == 0})
	}
	for _, t := range s.excTemplates {
		f.Templates = append(f.Templates, excOption{Value: t.Name, Label: fmt.Sprintf("%s (%d %s)", t.Name, len(t.Items), map[bool]string{true: "action", false: "actions"}[len(t.Items) == 1])})
	}
	tenants, err := s.visibleTenants(r.Context())
	if err != nil {
		return nil, err
	}
	for _, t := range tenants {
		f.Tenants = append(f.Tenants, excOption{Value: t.Href, Label: t.Name})
	}
	return f, nil
}

// pickView is an action's checkbox for the form.
type pickView struct {
	Form           bool
	Control, Title string
	Checked        bool
}

func pickOf(f *excForm, control, title string) pickView {
	if f == nil {
		return pickView{}
	}
	return pickView{Form: true, Control: control, Title: title, Checked: f.Controls[control]}
}

// visibleTenants are the principal's tenants by name; Href holds the ID.
func (s *Server) visibleTenants(ctx context.Context) ([]tenantLink, error) {
	statuses, err := s.srcFor(ctx).Tenants(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]tenantLink, 0, len(statuses))
	for _, st := range statuses {
		out = append(out, tenantLink{Name: st.Name, Href: st.ID})
	}
	slices.SortFunc(out, func(a, b tenantLink) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out, nil
}

// applyExceptionsForm is POST /exceptions/apply: the ticked actions, each
// with the form's state, reason, review date and owner, at the ticked
// tenants. Everything is validated before anything is written (a
// validation error shows the actions page again, 400, with the message
// and nothing kept); then the browser goes to the register with a
// summary. Each exception is audited with Graph's answer.
func (s *Server) applyExceptionsForm(w http.ResponseWriter, r *http.Request) {
	if s.exceptions == nil {
		s.pageMessage(w, r, http.StatusNotFound, "Not found", "This server keeps no exceptions.")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.pageMessage(w, r, http.StatusBadRequest, "Bad request", "The form could not be read: reload the actions page and try again.")
		return
	}
	p := who(r)
	form := r.PostForm
	controls := form["control"]
	tenants := form["tenant"]
	reason := strings.TrimSpace(form.Get("reason"))
	owner := strings.TrimSpace(form.Get("owner"))
	state := form.Get("state")
	review := strings.TrimSpace(form.Get("review_by"))
	var saved *exceptions.Template
	if name := form.Get("template"); name != "" {
		for i := range s.excTemplates {
			if s.excTemplates[i].Name == name {
				saved = &s.excTemplates[i]
			}
		}
		if saved == nil {
			s.pageMessage(w, r, http.StatusBadRequest, "Bad request", "That template is not in the config: reload the actions page and pick one from the list.")
			return
		}
	}

	invalid := func(msg string) {
		v, err := s.actionsModel(r)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		if v.Exc == nil {
			s.pageMessage(w, r, http.StatusBadRequest, "Bad request", msg)
			return
		}
		f := v.Exc
		f.Error, f.Reason, f.Owner, f.ReviewBy = msg, bound(reason, exceptions.MaxReason), bound(owner, exceptions.MaxOwner), bound(review, 10)
		for i := range f.States {
			f.States[i].Checked = f.States[i].Value == state
		}
		for i := range f.Tenants {
			f.Tenants[i].Checked = slices.Contains(tenants, f.Tenants[i].Value)
		}
		for _, c := range controls {
			f.Controls[c] = true
		}
		s.render(w, r, http.StatusBadRequest, "actions", v)
	}
	switch {
	case saved != nil && len(tenants) == 0:
		invalid("Tick at least one tenant to apply the template " + saved.Name + " at.")
		return
	case saved != nil:
		// The template's actions, states and reasons; the ticks, state and
		// reason of the form are not used.
	case len(controls) == 0:
		invalid("Tick at least one action (the box at the start of its row) to set an exception on, or pick a saved template.")
		return
	case len(controls) > maxFormControls:
		invalid(fmt.Sprintf("%d actions are ticked; at most %d at once.", len(controls), maxFormControls))
		return
	case len(tenants) == 0:
		invalid("Tick at least one tenant to set the exceptions at.")
		return
	case reason == "":
		invalid("A reason is required: say why, for the auditor (e.g. \"covered by Mimecast\").")
		return
	}
	var reviewBy fleetscore.Day
	if review != "" {
		d, err := fleetscore.ParseDay(review)
		if err != nil {
			invalid(fmt.Sprintf("The review date %q is not a date: give it as YYYY-MM-DD.", bound(review, 40)))
			return
		}
		reviewBy = d
	}
	for _, t := range tenants {
		id := strings.ToLower(strings.TrimSpace(t))
		if !isGUID(id) || !p.SeesTenant(id) {
			invalid(fmt.Sprintf("Tenant %q is not one of your tenants: tick tenants from the list.", bound(t, 60)))
			return
		}
	}
	tmpl := exceptions.Template{Name: "the ticked actions"}
	for _, c := range controls {
		tmpl.Items = append(tmpl.Items, exceptions.TemplateItem{Control: c, State: state, Reason: reason})
	}
	if saved != nil {
		tmpl = *saved
	}
	es, err := s.exceptions.ApplyTemplate(r.Context(), p, tmpl, tenants, reviewBy, owner)
	for _, e := range es {
		s.auditException(r, p, "exception.apply", e)
	}
	switch {
	case errors.Is(err, exceptions.ErrInvalid) && len(es) == 0:
		invalid(excMessage(err))
		return
	case errors.Is(err, exceptions.ErrForbidden):
		s.denied(w, r, http.StatusForbidden, excMessage(err))
		return
	case err != nil:
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/exceptions?"+appliedQuery(es).Encode(), http.StatusSeeOther)
}

// excMessage is a register error as a sentence for the page.
func excMessage(err error) string {
	// The kind's name, and what wraps it (the form's ticked actions are
	// applied as one template), say nothing the rest does not.
	msg := err.Error()
	for _, kind := range []error{exceptions.ErrInvalid, exceptions.ErrForbidden, exceptions.ErrConflict} {
		if i := strings.LastIndex(msg, kind.Error()+": "); i >= 0 {
			msg = msg[i+len(kind.Error())+2:]
		}
	}
	return strings.TrimSuffix(msg, ".") + "."
}

// appliedQuery is the register's address after an apply: the counts by
// status and the IDs of the failed ones (at most maxFlashFailed), whose
// errors the register shows.
func appliedQuery(es []exceptions.Exception) url.Values {
	counts := map[string]int{}
	q := url.Values{}
	for _, e := range es {
		counts[e.Status]++
		if e.Status == exceptions.StatusFailed && len(q["f"]) < maxFlashFailed {
			q.Add("f", strconv.FormatInt(e.ID, 10))
		}
	}
	q.Set("applied", strconv.Itoa(len(es)))
	for _, st := range exceptions.Statuses {
		if counts[st] > 0 {
			q.Set(st, strconv.Itoa(counts[st]))
		}
	}
	return q
}

// maxFlashFailed bounds the failed exceptions the summary lists.
const maxFlashFailed = 50

// applyFlash is the summary after an apply.
type applyFlash struct {
	Text   string
	Failed []exceptionRow
}

// ---- The register ----

type exceptionsView struct {
	page
	Configured bool
	Rows       []exceptionRow
	Count      int // in the register, before the filters (the principal's tenants)
	Tenants    []tenantLink
	Statuses   []excOption
	Tenant     string
	Control    string
	Status     string
	Due        bool
	Filtered   bool
	FilterNote string // a filter that was ignored, and why
	CSV        string
	CSVNote    string
	CanEdit    bool // analyst or admin: Remove
	Flash      *applyFlash
	Removed    string
	Problem    string // a Remove or Approve that did not go through
	Hidden     []excOption
}

type exceptionRow struct {
	exceptions.Exception
	TenantName  string
	Title       string
	StateLabel  string
	StatusClass string
	StatusText  string
	Due         string // "overdue", "due" or ""
	CanApprove  bool
}

// excBadge is an action's exception on the tenant page.
type excBadge struct {
	Status, Class, Text, Href string
}

// tenantExceptions are the tenant's exceptions by control, as badges.
func (s *Server) tenantExceptions(ctx context.Context, tenantID string) (map[string]*excBadge, error) {
	if s.exceptions == nil {
		return nil, nil
	}
	es, err := s.exceptions.List(ctx, exceptions.Filter{TenantID: tenantID})
	if err != nil {
		return nil, err
	}
	out := map[string]*excBadge{}
	for _, e := range es {
		out[e.Control] = excBadgeOf(e)
	}
	return out, nil
}

// excBadgeOf is an exception's badge, linking to it in the register.
func excBadgeOf(e exceptions.Exception) *excBadge {
	return &excBadge{Status: e.Status, Class: statusClass(e.Status),
		Text: stateLabel(e.State) + ": " + statusText(e.Status),
		Href: "/exceptions?" + url.Values{"tenant": {e.TenantID}, "control": {e.Control}}.Encode()}
}

// exceptionsPage is GET /exceptions: the register, filtered by tenant,
// control, status and due for review (query parameters), with the CSV of
// the API. A client sees its tenants' rows, read-only.
func (s *Server) exceptionsPage(w http.ResponseWriter, r *http.Request) {
	v := exceptionsView{page: s.page(r, "exceptions", "Exceptions"), Configured: s.exceptions != nil}
	if s.exceptions == nil {
		s.render(w, r, http.StatusOK, "exceptions", v)
		return
	}
	ctx := r.Context()
	p := who(r)
	v.CanEdit = p.Role.AtLeast(auth.RoleAnalyst)
	q := r.URL.Query()
	var err error
	if v.Tenants, err = s.visibleTenants(ctx); err != nil {
		s.pageError(w, r, err)
		return
	}
	names := map[string]string{}
	for _, t := range v.Tenants {
		names[t.Href] = t.Name
	}
	v.Tenant = strings.ToLower(strings.TrimSpace(q.Get("tenant")))
	if v.Tenant != "" && names[v.Tenant] == "" {
		v.FilterNote = fmt.Sprintf("Tenant %q is not one of your tenants; showing every tenant.", bound(v.Tenant, 60))
		v.Tenant = ""
	}
	v.Control = bound(strings.TrimSpace(q.Get("control")), exceptions.MaxControl)
	v.Status = q.Get("status")
	if v.Status != "" && !slices.Contains(exceptions.Statuses, v.Status) {
		v.FilterNote = fmt.Sprintf("Status %q is not one of %s; showing every status.", bound(v.Status, 40), strings.Join(exceptions.Statuses, ", "))
		v.Status = ""
	}
	v.Due = q.Get("due") != ""
	v.Filtered = v.Tenant != "" || v.Control != "" || v.Status != "" || v.Due
	for _, st := range exceptions.Statuses {
		v.Statuses = append(v.Statuses, excOption{Value: st, Label: statusText(st), Checked: st == v.Status})
	}
	filter := url.Values{}
	for k, val := range map[string]string{"tenant": v.Tenant, "control": v.Control, "status": v.Status} {
		if val != "" {
			filter.Set(k, val)
		}
	}
	if v.Due {
		filter.Set("due", "1")
	}
	for _, k := range []string{"tenant", "control", "status", "due"} {
		if val := filter.Get(k); val != "" {
			v.Hidden = append(v.Hidden, excOption{Value: val, Label: k})
		}
	}
	csv := url.Values{"format": {"csv"}}
	for _, k := range []string{"tenant", "control", "status"} {
		if val := filter.Get(k); val != "" {
			csv.Set(k, val)
		}
	}
	if v.Due {
		csv.Set("review_within", strconv.Itoa(dueWithinDays))
	}
	v.CSV = "/api/v1/exceptions?" + csv.Encode()

	all, err := s.exceptions.List(ctx, exceptions.Filter{})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	today := fleetscore.DayOf(s.now())
	titles := map[string]map[string]string{} // tenant -> control -> title
	title := func(tenantID, control string) string {
		m, ok := titles[tenantID]
		if !ok {
			m = map[string]string{}
			if ps, err := s.srcFor(ctx).Profiles(ctx, tenantID); err == nil {
				for _, pr := range ps {
					m[pr.ID] = pr.Title
				}
			}
			titles[tenantID] = m
		}
		return m[control]
	}
	row := func(e exceptions.Exception) exceptionRow {
		er := exceptionRow{Exception: e, TenantName: names[e.TenantID], Title: title(e.TenantID, e.Control),
			StateLabel: stateLabel(e.State), StatusClass: statusClass(e.Status), StatusText: statusText(e.Status)}
		if er.TenantName == "" {
			er.TenantName = e.TenantID
		}
		if !e.ReviewBy.IsZero() {
			switch left := e.ReviewBy.Sub(today); {
			case left < 0:
				er.Due = "overdue"
			case left <= dueWithinDays:
				er.Due = "due"
			}
		}
		er.CanApprove = e.Status == exceptions.StatusPendingApproval && p.Role == auth.RoleAdmin && !strings.EqualFold(e.CreatedBy, p.Name)
		return er
	}
	byID := map[int64]exceptions.Exception{}
	f := exceptions.Filter{TenantID: v.Tenant, Control: v.Control, Status: v.Status}
	for _, e := range all {
		if !p.SeesTenant(e.TenantID) {
			continue
		}
		v.Count++
		byID[e.ID] = e
		if !f.Match(e) {
			continue
		}
		er := row(e)
		if v.Due && er.Due == "" {
			continue
		}
		v.Rows = append(v.Rows, er)
	}

	// After an apply: the summary, and each failed one's error and advice.
	if n, err := strconv.Atoi(q.Get("applied")); err == nil && n >= 0 {
		count := func(st string) int { c, _ := strconv.Atoi(q.Get(st)); return max(c, 0) }
		text := fmt.Sprintf("%d %s: %d written, %d local, %d failed, %d refused", n, plural(n, "exception", "exceptions"),
			count(exceptions.StatusWritten), count(exceptions.StatusLocal), count(exceptions.StatusFailed), count(exceptions.StatusRefused))
		if c := count(exceptions.StatusInEffect); c > 0 {
			text += fmt.Sprintf(", %d already in effect at Microsoft (nothing sent)", c)
		}
		if c := count(exceptions.StatusPendingApproval); c > 0 {
			text += fmt.Sprintf(", %d waiting for a second admin's approval", c)
		}
		v.Flash = &applyFlash{Text: text + "."}
		for _, raw := range q["f"] {
			id, _ := strconv.ParseInt(raw, 10, 64)
			if e, ok := byID[id]; ok && e.Status == exceptions.StatusFailed && len(v.Flash.Failed) < maxFlashFailed {
				v.Flash.Failed = append(v.Flash.Failed, row(e))
			}
		}
	}
	if id, err := strconv.ParseInt(q.Get("removed"), 10, 64); err == nil && id > 0 {
		v.Removed = strconv.FormatInt(id, 10)
	}
	if id, err := strconv.ParseInt(q.Get("remove_failed"), 10, 64); err == nil && id > 0 {
		if e, ok := byID[id]; ok {
			v.Problem = fmt.Sprintf("Exception %d was not removed: %s", id, e.Error)
		}
	}
	s.render(w, r, http.StatusOK, "exceptions", v)
}

// backToRegister is the register's address with the filters the form
// carried (hidden fields), plus extra.
func backToRegister(r *http.Request, extra url.Values) string {
	q := url.Values{}
	for _, k := range []string{"tenant", "control", "status", "due"} {
		if val := strings.TrimSpace(r.PostFormValue(k)); val != "" && len(val) <= exceptions.MaxControl {
			q.Set(k, val)
		}
	}
	for k, vs := range extra {
		q[k] = vs
	}
	return "/exceptions?" + q.Encode()
}

// deleteExceptionForm is POST /exceptions/{id}/delete: the Remove button
// (analyst or admin). Default is written back where the state was written;
// when that fails the exception stays, with the error, and the register
// says so. It is audited.
func (s *Server) deleteExceptionForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formExceptionID(w, r)
	if !ok {
		return
	}
	p := who(r)
	e, err := s.exceptions.Delete(r.Context(), p, id)
	if err != nil {
		if e.ID != 0 {
			s.auditException(r, p, "exception.delete.failed", e)
			http.Redirect(w, r, backToRegister(r, url.Values{"remove_failed": {strconv.FormatInt(id, 10)}})+"#exc-"+strconv.FormatInt(id, 10), http.StatusSeeOther)
			return
		}
		s.formExceptionError(w, r, err)
		return
	}
	s.auditException(r, p, "exception.delete", e)
	http.Redirect(w, r, backToRegister(r, url.Values{"removed": {strconv.FormatInt(id, 10)}}), http.StatusSeeOther)
}

// approveExceptionForm is POST /exceptions/{id}/approve: a second admin
// approves a pending Ignored exception, which is written then. Audited.
func (s *Server) approveExceptionForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formExceptionID(w, r)
	if !ok {
		return
	}
	p := who(r)
	e, err := s.exceptions.Approve(r.Context(), p, id)
	if err != nil {
		s.formExceptionError(w, r, err)
		return
	}
	s.auditException(r, p, "exception.approve", e)
	http.Redirect(w, r, backToRegister(r, nil)+"#exc-"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// formExceptionID is the {id} of a register form, after checking there is
// a register and the principal may see the exception's tenant.
func (s *Server) formExceptionID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	if s.exceptions == nil {
		s.pageMessage(w, r, http.StatusNotFound, "Not found", "This server keeps no exceptions.")
		return 0, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.pageMessage(w, r, http.StatusNotFound, "Not found", "There is no such exception: reload the register.")
		return 0, false
	}
	return id, true
}

func (s *Server) formExceptionError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, fleetscore.ErrNotFound):
		s.pageMessage(w, r, http.StatusNotFound, "Not found", "That exception is not in the register any more: reload the register.")
	case errors.Is(err, exceptions.ErrForbidden):
		s.denied(w, r, http.StatusForbidden, excMessage(err))
	case errors.Is(err, exceptions.ErrConflict):
		s.pageMessage(w, r, http.StatusConflict, "Not done", excMessage(err)+" Reload the register.")
	case errors.Is(err, exceptions.ErrInvalid):
		s.pageMessage(w, r, http.StatusBadRequest, "Not done", excMessage(err))
	default:
		s.pageError(w, r, err)
	}
}

// pageMessage shows the error page with a status and message of its own.
func (s *Server) pageMessage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	v := errorView{page: s.page(r, "", title), Message: msg, Status: status}
	s.render(w, r, status, "error", v)
}

// bound cuts s to at most n bytes, on a rune boundary.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
