package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRequire: a secret that cannot be loaded does not fail Load; the
// commands that need it get the problem, with its line, from Require, and
// the others do not.
func TestRequire(t *testing.T) {
	y := `
app:
  client_id: ` + clientID + `
  client_secret_env: APP_SECRET
archive:
  container: raw
  connection_string_env: ARCHIVE_CONN
channels:
  - name: ops
    type: teams
    url_env: TEAMS_URL
auth:
  metrics_token_env: METRICS_TOKEN
` + okTenants
	c, err := Parse(fx.path(), []byte(y), env())
	if err != nil {
		t.Fatalf("Parse with every secret missing: %v; want the file accepted", err)
	}
	if err := c.Require(0); err != nil {
		t.Errorf("Require(0) = %v", err)
	}
	cases := []struct {
		use  Use
		want []string // variable names, each with its line
	}{
		{UseGraph, []string{":4: environment variable APP_SECRET"}},
		{UseArchive, []string{":7: environment variable ARCHIVE_CONN"}},
		{UseChannels, []string{":11: environment variable TEAMS_URL"}},
		{UseServe, []string{":13: environment variable METRICS_TOKEN"}},
		{UseGraph | UseServe, []string{"APP_SECRET", "METRICS_TOKEN"}},
		{UseAll, []string{"APP_SECRET", "ARCHIVE_CONN", "TEAMS_URL", "METRICS_TOKEN"}},
	}
	all := []string{"APP_SECRET", "ARCHIVE_CONN", "TEAMS_URL", "METRICS_TOKEN"}
	for _, tc := range cases {
		err := c.Require(tc.use)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("Require(%s) = %v; want an *Error", tc.use, err)
			continue
		}
		if len(ce.Problems) != len(tc.want) {
			t.Errorf("Require(%s): %d problems, want %d:\n%v", tc.use, len(ce.Problems), len(tc.want), err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Require(%s) does not say %q:\n%v", tc.use, w, err)
			}
		}
		for _, v := range all {
			named := false
			for _, w := range tc.want {
				named = named || strings.Contains(w, v)
			}
			if !named && strings.Contains(err.Error(), v) {
				t.Errorf("Require(%s) names %s, which it does not use:\n%v", tc.use, v, err)
			}
		}
	}
	// A problem that is not about a secret's value still fails Load.
	bad := strings.Replace(y, "client_secret_env: APP_SECRET", "client_secret_env: Q~looks-like-a-secret", 1)
	if _, err := Parse(fx.path(), []byte(bad), env()); err == nil {
		t.Error("client_secret_env holding something that is not a variable name was accepted by Load")
	}
}

// TestTenantCloud: a tenant's cloud: gives it that cloud's endpoints and
// scope, and its own app; the others keep the file's, custom endpoints
// included.
func TestTenantCloud(t *testing.T) {
	y := `authority_host: https://login.example.test/
graph_url: https://graph.example.test
` + okApp + `
tenants:
  - name: Contoso
    tenant_id: ` + contosoID + `
  - name: Fabrikam Federal
    tenant_id: ` + fabrikamID + `
    cloud: usgov
    app:
      client_id: 6a3e0c11-2b4d-4f6e-8a90-1b2c3d4e5f60
      client_secret_env: GOV_SECRET
`
	c, err := parseAll(fx.path(), []byte(y), env("GOV_SECRET", "gov-secret-value"))
	if err != nil {
		t.Fatal(err)
	}
	con, fab := c.Tenants[0], c.Tenants[1]
	if con.Cloud.Name != "global" || con.Cloud.AuthorityHost != "https://login.example.test/" || con.Cloud.GraphURL != "https://graph.example.test" ||
		con.Cloud.GraphScope != "https://graph.microsoft.com/.default" || !con.Cloud.Custom {
		t.Errorf("Contoso's cloud = %+v; want the file's custom endpoints", con.Cloud)
	}
	if fab.Cloud.Name != "usgov" || fab.Cloud.AuthorityHost != "https://login.microsoftonline.us/" || fab.Cloud.GraphURL != "https://graph.microsoft.us" ||
		fab.Cloud.GraphScope != "https://graph.microsoft.us/.default" || fab.Cloud.Custom {
		t.Errorf("Fabrikam's cloud = %+v; want usgov's", fab.Cloud)
	}
	if got := c.AdminConsentURL(fab); !strings.HasPrefix(got, "https://login.microsoftonline.us/"+fabrikamID+"/adminconsent?client_id=6a3e0c11") {
		t.Errorf("Fabrikam's consent link = %s", got)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"usgov tenant on the default app", strings.Replace(y, "    app:\n      client_id: 6a3e0c11-2b4d-4f6e-8a90-1b2c3d4e5f60\n      client_secret_env: GOV_SECRET\n", "", 1),
			":13: tenant Fabrikam Federal is in the usgov cloud, but the default app is registered in global"},
		{"unknown cloud", strings.Replace(y, "cloud: usgov", "cloud: gcchigh", 1), ":13: unknown cloud \"gcchigh\"; write cloud: usgov (GCC High)"},
	} {
		_, err := parseAll(fx.path(), []byte(tc.yaml), env("GOV_SECRET", "gov-secret-value"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}
}

// TestExceptionsBlock: approval and templates are read; a bad state or a
// missing reason names the line and the fix.
func TestExceptionsBlock(t *testing.T) {
	y := okApp + okTenants + `exceptions:
  approval: true
  templates:
    - name: Mimecast
      items:
        - {control: mdo_safelinksforemail, state: thirdparty, reason: covered by Mimecast}
        - {control: mdo_safeattachments, state: ThirdParty, reason: covered by Mimecast}
`
	c, err := parseAll(fx.path(), []byte(y), goodEnv)
	if err != nil {
		t.Fatal(err)
	}
	x := c.Exceptions
	if x == nil || !x.Approval || len(x.Templates) != 1 || x.Templates[0].Name != "Mimecast" || len(x.Templates[0].Items) != 2 ||
		x.Templates[0].Items[0].State != "ThirdParty" || x.Templates[0].Items[1].Control != "mdo_safeattachments" {
		t.Fatalf("exceptions = %+v", x)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"bad state", strings.Replace(y, "state: thirdparty", "state: covered", 1), `state "covered" is not one of ThirdParty, Ignored, Reviewed, Default`},
		{"no reason", strings.Replace(y, ", reason: covered by Mimecast}", "}", 1), "the template item for mdo_safelinksforemail has no reason; add reason:"},
		{"unknown key", strings.Replace(y, "approval: true", "aproval: true", 1), "aproval"},
	} {
		_, err := parseAll(fx.path(), []byte(tc.yaml), goodEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fleetscore.yaml:") {
			t.Errorf("%s: %v; want %q with the line", tc.name, err, tc.want)
		}
	}
}
