package server

import (
	"net/http"
)

// routes lists every route the server answers. Nothing else is served.
func (s *Server) routes(mux *http.ServeMux) {
	// Pages (pages.go), readable with JavaScript off.
	mux.HandleFunc("GET /{$}", s.overviewPage)
	mux.HandleFunc("GET /tenants/{id}", s.tenantPage)
	mux.HandleFunc("GET /actions", s.actionsPage)
	mux.HandleFunc("GET /collections", s.collectionsPage)
	mux.HandleFunc("POST /collect", s.collectNow)
	mux.Handle("GET /static/", staticHandler())

	// The API (api.go), documented in openapi.json.
	mux.HandleFunc("GET /api/v1/tenants", s.apiTenants)
	mux.HandleFunc("GET /api/v1/tenants/{id}", s.apiTenant)
	mux.HandleFunc("GET /api/v1/tenants/{id}/scores", s.apiScores)
	mux.HandleFunc("GET /api/v1/tenants/{id}/controls", s.apiControls)
	mux.HandleFunc("GET /api/v1/actions", s.apiActions)
	mux.HandleFunc("GET /api/v1/fleet", s.apiFleet)
	mux.HandleFunc("GET /api/v1/collections", s.apiCollections)
	mux.HandleFunc("GET /api/v1/collect", s.apiCollectStatus)
	mux.HandleFunc("GET /api/v1/openapi.json", s.apiOpenAPI)
	mux.HandleFunc("/api/", s.apiNotFound)

	// Operations.
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
}
