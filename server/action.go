package server

// One recommended action across the fleet: the action page
// (/actions/{control}) and GET /api/v1/actions/{control}, both from
// query.ActionDetailView.

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/microcosm-cc/bluemonday"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/query"
)

// maxControlID bounds the {control} path value: Graph's control names are
// a few dozen characters.
const maxControlID = 256

// controlID reads and checks the {control} path value.
func controlID(r *http.Request) (string, error) {
	c := r.PathValue("control")
	if c == "" || len(c) > maxControlID {
		return "", badRequest("control %q must be 1 to %d characters", bound(c, 40), maxControlID)
	}
	return c, nil
}

// actionHref is the action page of a control.
func actionHref(control string) string { return "/actions/" + url.PathEscape(control) }

// unsafeFileName is what may not go into a download's file name.
var unsafeFileName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func (s *Server) apiAction(w http.ResponseWriter, r *http.Request) {
	control, err := controlID(r)
	if err == nil {
		err = checkParams(r)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := query.ActionDetailView(r.Context(), s.srcFor(r.Context()), control)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, d, func() table {
		t := table{name: "action-" + unsafeFileName.ReplaceAllString(control, "_"), header: []string{"control", "title", "category",
			"tenant_id", "name", "state", "score", "max_score", "open", "gain_points", "gain_percent", "lifts_over_target", "portal_url"}}
		for _, x := range d.Tenants {
			t.rows = append(t.rows, []string{d.Control, d.Title, d.Category, x.TenantID, x.Name, x.State, points(x.Score),
				points(x.MaxScore), strconv.FormatBool(x.Open), points(x.GainPoints), apiPercent(x.GainPercent),
				strconv.FormatBool(x.LiftsOverTarget), x.PortalURL})
		}
		return t
	})
}

// actionView is the action page.
type actionView struct {
	page
	D           *query.ActionDetail
	Rows        []actionTenantRow
	RowsHTML    template.HTML // Rows written in Go (rowhtml.go)
	Lifted      int
	Remediation template.HTML // sanitised
	// CampaignHref starts a campaign for the action; "" for a role that
	// may not (a client).
	CampaignHref string
	Register     bool // the server keeps exceptions: the table has their column
}

type actionTenantRow struct {
	query.ActionTenant
	Href        string // the tenant's page
	HistoryHref string // the tenant's history of this action
	Status      string
	Label       string
	Exc         *excBadge
}

// remediationPolicy is how Graph's remediation HTML is cleaned before it
// is shown: stricter than bluemonday's UGCPolicy, it keeps text
// formatting, lists, tables and https links (no referrer, no follow, a new
// tab) and drops everything else: script, style, event handlers, images,
// forms, frames, and every attribute but a link's href.
func remediationPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "hr", "b", "strong", "i", "em", "u", "s", "sub", "sup", "small", "code", "pre", "kbd",
		"blockquote", "span", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd",
		"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("https")
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}

func (s *Server) actionPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.actionPageView(r)
	switch {
	case errors.Is(err, errNoAction):
		s.actionNotFound(w, r)
	case err != nil:
		s.pageError(w, r, err)
	default:
		s.render(w, r, http.StatusOK, "action", v)
	}
}

// errNoAction: the action page of an unknown action (or a bad ID).
var errNoAction = errors.New("no such action")

// actionPageView is the action page's view of the request.
func (s *Server) actionPageView(r *http.Request) (actionView, error) {
	control, err := controlID(r)
	if err != nil {
		return actionView{}, errNoAction
	}
	ctx := r.Context()
	d, err := query.ActionDetailView(ctx, s.srcFor(ctx), control)
	if errors.Is(err, fleetscore.ErrNotFound) {
		return actionView{}, errNoAction
	}
	if err != nil {
		return actionView{}, err
	}
	v := actionView{page: s.page(r, "actions", d.Title), D: d, Lifted: d.Lifted(), Register: s.exceptions != nil,
		Remediation: template.HTML(s.pages.remediation.Sanitize(d.Remediation))}
	if who(r).Role.AtLeast(auth.RoleAnalyst) {
		v.CampaignHref = "/campaigns/new?" + url.Values{"control": {d.Control}}.Encode()
	}
	excs := map[string]*excBadge{}
	if s.exceptions != nil {
		es, err := s.exceptions.List(ctx, exceptions.Filter{Control: d.Control})
		if err != nil {
			return actionView{}, err
		}
		for _, e := range es {
			excs[e.TenantID] = excBadgeOf(e)
		}
	}
	for _, t := range d.Tenants {
		row := actionTenantRow{ActionTenant: t, Href: "/tenants/" + t.TenantID,
			HistoryHref: controlHistoryHref(t.TenantID, d.Control), Exc: excs[t.TenantID]}
		if t.Excepted != "" {
			row.Status, row.Label = "excepted", "Excepted ("+stateLabel(t.Excepted)+")"
		} else {
			row.Status, row.Label = controlStatus(t.Deprecated, t.State, t.Open)
		}
		v.Rows = append(v.Rows, row)
	}
	v.RowsHTML = actionRowsHTML(v.Rows, v.Register)
	return v, nil
}

// actionNotFound is the 404 of an unknown action, or of one at none of the
// principal's tenants: the same page, so it tells nothing about others.
func (s *Server) actionNotFound(w http.ResponseWriter, r *http.Request) {
	v := errorView{page: s.page(r, "actions", "Not found"), Status: http.StatusNotFound,
		Message: "There is no such recommended action at your tenants. The actions page lists them all."}
	s.render(w, r, http.StatusNotFound, "error", v)
}

// controlHistoryHref is a tenant's history of one control: its page's
// "What changed" for that control alone.
func controlHistoryHref(tenantID, control string) string {
	return "/tenants/" + tenantID + "?control=" + url.QueryEscape(control) + "#changes"
}

// controlStatus is how the pages name a control's status at a tenant.
func controlStatus(deprecated bool, state string, open bool) (status, label string) {
	switch {
	case deprecated:
		return "deprecated", "Deprecated"
	case state == fleetscore.StateIgnored:
		return "ignored", "Ignored (risk accepted)"
	case state == fleetscore.StateThirdParty:
		return "third-party", "Third party"
	case open:
		return "open", "Open"
	}
	return "done", "Done"
}
