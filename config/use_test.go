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
