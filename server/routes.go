package server

import (
	"net/http"
)

// route is one pattern the server answers.
type route struct {
	pattern string
	handler http.Handler
}

// routeTable lists every route the server answers. Nothing else is served.
func (s *Server) routeTable() []route {
	h := func(p string, f http.HandlerFunc) route { return route{p, f} }
	return []route{
		// Pages (pages.go), readable with JavaScript off.
		h("GET /{$}", s.overviewPage),
		h("GET /tenants/{id}", s.tenantPage),
		h("GET /actions", s.actionsPage),
		h("GET /collections", s.collectionsPage),
		h("POST /collect", s.collectNow),
		{"GET /static/", staticHandler()},

		// The API (api.go), documented in openapi.json.
		h("GET /api/v1/tenants", s.apiTenants),
		h("GET /api/v1/tenants/{id}", s.apiTenant),
		h("GET /api/v1/tenants/{id}/scores", s.apiScores),
		h("GET /api/v1/tenants/{id}/controls", s.apiControls),
		h("GET /api/v1/actions", s.apiActions),
		h("GET /api/v1/fleet", s.apiFleet),
		h("GET /api/v1/collections", s.apiCollections),
		h("GET /api/v1/collect", s.apiCollectStatus),
		h("GET /api/v1/openapi.json", s.apiOpenAPI),
		h("/api/", s.apiNotFound),

		// Operations.
		{"GET /metrics", s.metricsHandler()},
		h("GET /healthz", s.healthz),
		h("GET /readyz", s.readyz),

		// Anything else: an HTML not-found page.
		h("/", func(w http.ResponseWriter, r *http.Request) { s.pageError(w, r, nil) }),
	}
}

func (s *Server) routes(mux *http.ServeMux) {
	for _, r := range s.routeTable() {
		mux.Handle(r.pattern, r.handler)
	}
}
