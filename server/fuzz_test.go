package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/fleettest"
)

// FuzzAPIParams sends arbitrary query strings (and tenant IDs) to every
// API route and to the parameter parsers: nothing panics, nothing answers
// 500.
func FuzzAPIParams(f *testing.F) {
	for _, q := range []string{"", "from=2026-01-01&to=2026-02-01", "format=csv", "category=Identity&tier=Core",
		"tenant=%ZZ", "limit=-1", "from=2026-13-40", "format=CSV&format=json", "a=1;b=2", "to=2026-01-01&from=2026-12-31"} {
		f.Add(q, "11111111-2222-3333-4444-555555555555", "text/csv")
	}
	fl := fleettest.New(f, fleettest.Options{Tenants: 2})
	s, err := New(Options{Source: fl.Store})
	if err != nil {
		f.Fatal(err)
	}
	id := fl.Jobs[0].Tenant.ID
	// The same routes as a client bound to one tenant, through the
	// restricted source.
	svc := &auth.Service{Store: fl.Store}
	tok, _, err := svc.CreateToken(context.Background(), auth.RoleClient, []string{id}, 0, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	sc, err := New(Options{Source: fl.Store, Auth: svc})
	if err != nil {
		f.Fatal(err)
	}
	handlers := []struct {
		h     http.Handler
		token string
	}{{s.Handler(), ""}, {sc.Handler(), tok}}
	paths := []string{"/api/v1/tenants", "/api/v1/tenants/%s", "/api/v1/tenants/%s/scores", "/api/v1/tenants/%s/controls",
		"/api/v1/actions", "/api/v1/fleet", "/api/v1/collections"}
	f.Fuzz(func(t *testing.T, rawQuery, tenant, accept string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{RawQuery: rawQuery}, Header: http.Header{"Accept": {accept}}}
		_, _ = format(r)
		_, _, _ = dayRange(r)
		_, _ = actionFilter(r)
		_ = checkParams(r, "from", "to")
		r.SetPathValue("id", tenant)
		_, _ = tenantID(r)
		for _, p := range paths {
			for _, who := range []string{id, tenant} {
				path := p
				if containsVerb(p) {
					path = replaceVerb(p, url.PathEscape(who))
				}
				for _, h := range handlers {
					req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{"Accept": {accept}},
						RemoteAddr: "127.0.0.1:1", Host: "fleetscore.test", RequestURI: path + "?" + rawQuery}
					if h.token != "" {
						req.Header.Set("Authorization", "Bearer "+h.token)
					}
					rec := httptest.NewRecorder()
					h.h.ServeHTTP(rec, req)
					if rec.Code >= 500 {
						t.Fatalf("GET %s?%s (Accept %q, token %v): %d %s", path, rawQuery, accept, h.token != "", rec.Code, rec.Body.String())
					}
				}
				if !containsVerb(p) {
					break
				}
			}
		}
	})
}

func containsVerb(p string) bool {
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '%' && p[i+1] == 's' {
			return true
		}
	}
	return false
}

func replaceVerb(p, v string) string {
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '%' && p[i+1] == 's' {
			return p[:i] + v + p[i+2:]
		}
	}
	return p
}
