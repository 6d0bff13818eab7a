package server

import (
	"strings"
	"testing"
)

// TestClientAfterFleetAnswers: the fleet-wide answers the model keeps for
// the admin are never what a client is sent: asked after the admin, in
// JSON and CSV, a client's lists name its own tenant only.
func TestClientAfterFleetAnswers(t *testing.T) {
	x := newAuthFixture(t)
	paths := []string{"/api/v1/tenants", "/api/v1/tenants?format=csv", "/api/v1/actions", "/api/v1/actions?format=csv&long=1", "/api/v1/changes?days=90"}
	for _, path := range paths {
		resp, body := x.do(t, "GET", path, "admin")
		if resp.StatusCode != 200 || !strings.Contains(body, x.b) && !strings.Contains(path, "changes") {
			t.Fatalf("admin GET %s: %d, tenant B named: %v", path, resp.StatusCode, strings.Contains(body, x.b))
		}
	}
	for _, path := range paths {
		resp, body := x.do(t, "GET", path, "client")
		if resp.StatusCode != 200 || strings.Contains(body, x.b) || strings.Contains(body, x.bName) {
			t.Errorf("client GET %s after the admin: %d, mentions tenant B: %v", path, resp.StatusCode, strings.Contains(body, x.b) || strings.Contains(body, x.bName))
		}
	}
}
