package server

import (
	"net/http"
	"strings"

	"github.com/fleetscore/fleetscore/auth"
)

// route is one pattern the server answers.
type route struct {
	pattern string
	need    auth.Role // the least role; public or metricsToken for the others
	handler http.Handler
}

// routeTable lists every route the server answers. Nothing else is served.
func (s *Server) routeTable() []route {
	h := func(p string, need auth.Role, f http.HandlerFunc) route { return route{p, need, f} }
	const client, analyst, admin = auth.RoleClient, auth.RoleAnalyst, auth.RoleAdmin
	return []route{
		// Pages (pages.go), readable with JavaScript off.
		h("GET /{$}", client, s.cachedPage(s.overviewPage, pageOpts{})),
		h("GET /tenants/{id}", client, s.cachedPage(s.tenantPage, pageOpts{})),
		h("GET /tenants/{id}/report", client, s.cachedPage(s.reportPage, pageOpts{})),
		h("GET /tenants/{id}/report.pdf", client, s.reportPDF),
		h("GET /actions", client, s.cachedPage(s.actionsPage, pageOpts{})),
		h("GET /actions/{control}", client, s.cachedPage(s.actionPage, pageOpts{})),
		h("GET /collections", client, s.cachedPage(s.collectionsPage, pageOpts{})),
		h("GET /alerts", client, s.cachedPage(s.alertsPage, pageOpts{})),
		h("POST /alerts/{id}/ack", analyst, s.acknowledgeAlert),
		h("GET /exceptions", client, s.cachedPage(s.exceptionsPage, pageOpts{byName: true})),
		h("POST /exceptions/apply", analyst, s.applyExceptionsForm),
		h("POST /exceptions/{id}/delete", analyst, s.deleteExceptionForm),
		h("POST /exceptions/{id}/approve", admin, s.approveExceptionForm),
		h("GET /campaigns", client, s.cachedPage(s.campaignsPage, pageOpts{})),
		h("GET /campaigns/new", analyst, s.cachedPage(s.newCampaignPage, pageOpts{})),
		h("POST /campaigns", analyst, s.createCampaignForm),
		h("GET /campaigns/{id}", client, s.cachedPage(s.campaignPage, pageOpts{})),
		h("POST /campaigns/{id}/note", analyst, s.campaignNoteForm),
		h("POST /collect", admin, s.collectNow),
		h("GET /signin", public, s.signinPage),
		h("POST /signin", public, s.signin),
		h("GET /signin/oidc", public, s.oidcStart),
		h("GET /signin/callback", public, s.oidcCallback),
		h("POST /signout", client, s.signout),
		{"GET /static/", public, staticHandler()},

		// The API (api.go), documented in openapi.json.
		h("GET /api/v1/tenants", client, s.fleetAnswer(s.apiTenants)),
		h("GET /api/v1/tenants/{id}", client, s.apiTenant),
		h("GET /api/v1/tenants/{id}/scores", client, s.apiScores),
		h("GET /api/v1/tenants/{id}/controls", client, s.apiControls),
		h("GET /api/v1/tenants/{id}/changes", client, s.apiTenantChanges),
		h("GET /api/v1/changes", client, s.fleetAnswer(s.apiChanges)),
		h("GET /api/v1/actions", client, s.fleetAnswer(s.apiActions)),
		// One action over every tenant: kept as the pages are (per version,
		// per what the principal sees), not rebuilt with each version as a
		// fleetAnswer is: there is one per control.
		h("GET /api/v1/actions/{control}", client, s.cachedPage(s.apiAction, pageOpts{})),
		h("GET /api/v1/fleet", analyst, s.fleetAnswer(s.apiFleet)),
		h("GET /api/v1/collections", client, s.apiCollections),
		h("GET /api/v1/collect", analyst, s.apiCollectStatus),
		h("GET /api/v1/exceptions", client, s.apiExceptions),
		h("POST /api/v1/exceptions", analyst, s.apiApplyException),
		h("DELETE /api/v1/exceptions/{id}", analyst, s.apiDeleteException),
		h("POST /api/v1/exceptions/{id}/approve", admin, s.apiApproveException),
		h("GET /api/v1/campaigns", client, s.apiCampaigns),
		h("POST /api/v1/campaigns", analyst, s.apiCreateCampaign),
		h("GET /api/v1/campaigns/{id}", client, s.apiCampaign),
		h("GET /api/v1/audit", admin, s.apiAudit),
		h("GET /api/v1/openapi.json", client, s.apiOpenAPI),
		h("/api/", client, s.apiNotFound),

		// Operations.
		{"GET /metrics", metricsToken, s.metricsHandler()},
		h("GET /healthz", public, s.healthz),
		h("GET /readyz", public, s.readyz),

		// Anything else: an HTML not-found page.
		h("/", public, func(w http.ResponseWriter, r *http.Request) { s.pageError(w, r, nil) }),
	}
}

func (s *Server) routes(mux *http.ServeMux) {
	for _, r := range s.routeTable() {
		h := r.handler
		if m, _, ok := strings.Cut(r.pattern, " "); !ok || (m != http.MethodGet && m != http.MethodHead) {
			// A write may change what a kept page shows (pagecache.go).
			next := h
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					defer s.invalidatePages()
				}
				next.ServeHTTP(w, r)
			})
		}
		mux.Handle(r.pattern, s.guard(r.need, h))
	}
}
