package server

// Campaigns on the pages: the list (/campaigns), the form that starts one
// (/campaigns/new?control=X, linked from the action page), and a
// campaign's page with its progress, burndown, tenants and notes. Forms
// work without JavaScript and carry the session's CSRF token, which guard
// checks; starting a campaign and editing a note need an analyst.

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/campaign"
)

type campaignsView struct {
	page
	Rows    []campaignRow
	CanEdit bool
}

type campaignRow struct {
	ID      int64
	Control string
	Action  string // the control's title
	Owner   string
	Due     string
	Done    int
	Total   int
	Overdue bool
}

func rowOf(p campaign.Progress) campaignRow {
	return campaignRow{ID: p.ID, Control: p.Control, Action: p.Title, Owner: p.Owner, Due: p.Due.String(), Done: p.Done, Total: p.Total,
		Overdue: p.Overdue}
}

// campaignsOffPage answers the pages of a server without campaigns.
func (s *Server) campaignsOffPage(w http.ResponseWriter, r *http.Request) bool {
	if s.campaigns != nil {
		return false
	}
	s.pageMessage(w, r, http.StatusNotFound, "Not found", "This server keeps no campaigns.")
	return true
}

// campaignsPage is GET /campaigns.
func (s *Server) campaignsPage(w http.ResponseWriter, r *http.Request) {
	if s.campaignsOffPage(w, r) {
		return
	}
	list, err := s.campaigns.List(r.Context(), sees(r))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v := campaignsView{page: s.page(r, "campaigns", "Campaigns"), CanEdit: who(r).Role.AtLeast(auth.RoleAnalyst)}
	for i := len(list) - 1; i >= 0; i-- { // newest first
		v.Rows = append(v.Rows, rowOf(list[i]))
	}
	s.render(w, r, http.StatusOK, "campaigns", v)
}

// newCampaignView is the form that starts a campaign.
type newCampaignView struct {
	page
	Error   string
	Control string
	Action  string // the control's title
	Owner   string
	Due     string
	Min     string
	Tenants []excOption
}

// newCampaignPage is GET /campaigns/new?control=X: the form, with the
// tenants where the control is open ticked.
func (s *Server) newCampaignPage(w http.ResponseWriter, r *http.Request) {
	if s.campaignsOffPage(w, r) {
		return
	}
	control := strings.TrimSpace(r.URL.Query().Get("control"))
	v, err := s.newCampaignModel(r, control, nil)
	if err != nil {
		if errors.Is(err, campaign.ErrInvalid) {
			s.pageMessage(w, r, http.StatusBadRequest, "Bad request", campaignMessage(err)+" Open an action from the actions page and start the campaign there.")
			return
		}
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "campaign_new", v)
}

// newCampaignModel is the form for control; ticked nil ticks the tenants
// where it is open.
func (s *Server) newCampaignModel(r *http.Request, control string, ticked []string) (newCampaignView, error) {
	today := fleetscore.DayOf(s.dataNow())
	v := newCampaignView{page: s.page(r, "campaigns", "New campaign"), Control: control, Min: today.String(),
		Due: today.AddDays(30).String()}
	if control == "" {
		return v, fmt.Errorf("%w: the control is missing (/campaigns/new?control=ID)", campaign.ErrInvalid)
	}
	open, title, err := s.campaigns.OpenTenants(r.Context(), control)
	if err != nil {
		return v, err
	}
	v.Action = title
	if ticked == nil {
		ticked = open
	}
	tenants, err := s.visibleTenants(r.Context())
	if err != nil {
		return v, err
	}
	for _, t := range tenants {
		label := t.Name
		if slices.Contains(open, t.Href) {
			label += " (open)"
		}
		v.Tenants = append(v.Tenants, excOption{Value: t.Href, Label: label, Checked: slices.Contains(ticked, t.Href)})
	}
	return v, nil
}

// createCampaignForm is POST /campaigns: a validation error shows the form
// again (400) with the message; success goes to the campaign's page.
func (s *Server) createCampaignForm(w http.ResponseWriter, r *http.Request) {
	if s.campaignsOffPage(w, r) {
		return
	}
	form := r.PostForm
	control := strings.TrimSpace(form.Get("control"))
	tenants := form["tenant"]
	owner := strings.TrimSpace(form.Get("owner"))
	due := strings.TrimSpace(form.Get("due"))
	invalid := func(msg string) {
		v, err := s.newCampaignModel(r, control, tenants)
		if err != nil {
			s.pageMessage(w, r, http.StatusBadRequest, "Bad request", msg)
			return
		}
		v.Error, v.Owner, v.Due = msg, bound(owner, campaign.MaxOwner), bound(due, 10)
		s.render(w, r, http.StatusBadRequest, "campaign_new", v)
	}
	if len(tenants) == 0 {
		invalid("Tick at least one tenant to include in the campaign.")
		return
	}
	for _, t := range tenants {
		if !who(r).SeesTenant(strings.ToLower(strings.TrimSpace(t))) {
			invalid(fmt.Sprintf("Tenant %q is not one of your tenants: tick tenants from the list.", bound(t, 60)))
			return
		}
	}
	req, err := campaignRequest(control, tenants, owner, due)
	if err != nil {
		invalid(strings.TrimSuffix(err.Error(), ".") + ".")
		return
	}
	p, err := s.startCampaign(r, req)
	switch {
	case errors.Is(err, campaign.ErrInvalid):
		invalid(campaignMessage(err))
		return
	case err != nil:
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/campaigns/"+strconv.FormatInt(p.ID, 10), http.StatusSeeOther)
}

// campaignView is a campaign's page.
type campaignView struct {
	page
	campaignRow
	Start     string
	Today     string
	Gained    float64
	Burndown  template.HTML
	Members   []memberRow
	CanEdit   bool
	CSV       string
	Statuses  []string
	NoteSaved string
}

type memberRow struct {
	TenantID, Name, Status, StatusText, Class, Since, Note string
	Score, MaxScore                                        float64
}

// campaignStatusClass is a status's badge class.
func campaignStatusClass(status string) string {
	switch status {
	case campaign.StatusDone:
		return "good"
	case campaign.StatusExcepted, campaign.StatusNotApplicable:
		return "info"
	case campaign.StatusRegressed:
		return "bad"
	}
	return "open"
}

// campaignPage is GET /campaigns/{id}.
func (s *Server) campaignPage(w http.ResponseWriter, r *http.Request) {
	if s.campaignsOffPage(w, r) {
		return
	}
	id, err := campaignID(r)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("campaign %q: %w", bound(r.PathValue("id"), 40), fleetscore.ErrNotFound))
		return
	}
	p, err := s.campaigns.Progress(r.Context(), id, sees(r))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	title := "Campaign " + strconv.FormatInt(p.ID, 10)
	if p.Title != "" {
		title += ": " + p.Title
	}
	v := campaignView{page: s.page(r, "campaigns", title), campaignRow: rowOf(p), Start: p.Start().String(), Today: p.Today.String(),
		Gained: p.PointsGained, CanEdit: who(r).Role.AtLeast(auth.RoleAnalyst),
		CSV: "/api/v1/campaigns/" + strconv.FormatInt(p.ID, 10) + "?format=csv", Statuses: campaign.Statuses,
		NoteSaved: bound(r.URL.Query().Get("saved"), 60)}
	for _, m := range p.Members {
		name := m.Name
		if name == "" {
			name = m.TenantID
		}
		v.Members = append(v.Members, memberRow{TenantID: m.TenantID, Name: name, Status: m.Status,
			StatusText: strings.ReplaceAll(m.Status, "_", " "), Class: campaignStatusClass(m.Status), Since: m.Since.String(),
			Note: m.Note, Score: m.Score, MaxScore: m.MaxScore})
	}
	v.Burndown = burndownChart(p)
	s.render(w, r, http.StatusOK, "campaign", v)
}

// campaignNoteForm is POST /campaigns/{id}/note: tenant and note.
func (s *Server) campaignNoteForm(w http.ResponseWriter, r *http.Request) {
	if s.campaignsOffPage(w, r) {
		return
	}
	id, err := campaignID(r)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("campaign %q: %w", bound(r.PathValue("id"), 40), fleetscore.ErrNotFound))
		return
	}
	tenant := strings.ToLower(strings.TrimSpace(r.PostForm.Get("tenant")))
	note := r.PostForm.Get("note")
	if !isGUID(tenant) || !who(r).SeesTenant(tenant) {
		s.pageMessage(w, r, http.StatusBadRequest, "Bad request", "That tenant is not in the campaign: reload the campaign's page and try again.")
		return
	}
	if err := s.campaigns.SetNote(r.Context(), id, tenant, note); err != nil {
		if errors.Is(err, campaign.ErrInvalid) {
			s.pageMessage(w, r, http.StatusBadRequest, "Bad request", campaignMessage(err))
			return
		}
		s.pageError(w, r, err)
		return
	}
	s.auditCampaign(r, "campaign.note", fmt.Sprintf("campaign %d: note of %s: %q", id, tenant, bound(strings.TrimSpace(note), 200)))
	http.Redirect(w, r, "/campaigns/"+strconv.FormatInt(id, 10)+"?saved="+tenant+"#t-"+tenant, http.StatusSeeOther)
}

// burndownChart draws the open tenants by day as bars, 0 to the
// campaign's tenants, one per day from its start to today.
func burndownChart(p campaign.Progress) template.HTML {
	const w, h, left, right, top, bottom = 760.0, 200.0, 40.0, 12.0, 12.0, 26.0
	var b svgBuf
	desc := "No days yet"
	if n := len(p.Burndown); n > 0 {
		desc = fmt.Sprintf("Open tenants by day: %d on %s, %d on %s", p.Burndown[0].Open, p.Burndown[0].Day, p.Burndown[n-1].Open, p.Burndown[n-1].Day)
	}
	b.raw(`<svg class="chart burndown" id="burndown" viewBox="0 0 `).num(w).raw(" ").num(h).
		raw(`" role="img" aria-labelledby="burndown-title burndown-desc">`)
	b.raw(`<title id="burndown-title">Open tenants by day</title><desc id="burndown-desc">`).text(desc).raw(`</desc>`)
	total := max(p.Total, 1)
	y := scale{0, float64(total), h - bottom, top}
	b.raw(`<g class="chart-grid">`)
	step := max(1, total/4)
	for v := 0; v <= total; v += step {
		yy := y.at(float64(v))
		b.raw(`<line x1="`).num(left).raw(`" x2="`).num(w - right).raw(`" y1="`).num(yy).raw(`" y2="`).num(yy).raw(`"/>`)
		b.raw(`<text class="chart-label" x="`).num(left - 6).raw(`" y="`).num(yy + 3.5).raw(`" text-anchor="end">`).raw(strconv.Itoa(v)).raw(`</text>`)
	}
	b.raw(`</g>`)
	n := len(p.Burndown)
	slot := (w - left - right) / float64(max(n, 1))
	days := make([]fleetscore.Day, n)
	for i, d := range p.Burndown {
		days[i] = d.Day
	}
	b.raw(`<g class="chart-x">`)
	for _, i := range xTicks(days, 6) {
		b.raw(`<text class="chart-label" y="`).num(h - 8).raw(`" x="`).num(left + slot*(float64(i)+0.5)).raw(`" text-anchor="middle">`).
			text(days[i].Time().Format("2 Jan")).raw(`</text>`)
	}
	b.raw(`</g><g class="burn-bars">`)
	for i, d := range p.Burndown {
		y0 := y.at(float64(d.Open))
		b.raw(`<rect class="burn-bar" data-day="`).text(d.Day.String()).raw(`" data-open="`).raw(strconv.Itoa(d.Open)).raw(`" x="`).
			num(left + slot*float64(i) + slot*0.15).raw(`" width="`).num(slot * 0.7).raw(`" y="`).num(y0).raw(`" height="`).num(h - bottom - y0).
			raw(`"><title>`).text(d.Day.Time().Format("Mon 2 Jan 2006")).raw(": ").raw(strconv.Itoa(d.Open)).raw(" open</title></rect>")
	}
	b.raw(`</g></svg>`)
	return b.html()
}

// campaignMessage is a campaign error as a sentence for the page.
func campaignMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, campaign.ErrInvalid.Error()+": "); i >= 0 {
		msg = msg[i+len(campaign.ErrInvalid.Error())+2:]
	}
	return strings.TrimSuffix(msg, ".") + "."
}
