package main

import (
	"os"
	"strings"
	"testing"
)

// TestSecretsOnlyWhereUsed: an admin's shell without the service's
// environment can manage users, tokens and look at tenants and alerts; the
// commands that send a secret refuse, naming the missing variable and its
// line, and only that one.
func TestSecretsOnlyWhereUsed(t *testing.T) {
	cfg, ids := writeConfig(t, []tenantSpec{
		{name: "Contoso", consent: true},
		{name: "Fabrikam", consent: true, app: "    app:\n      client_id: " + testSecretApp + "\n      client_secret_env: FABRIKAM_SECRET\n"},
	})
	extra := "channels:\n  - name: ops\n    type: webhook\n    url_env: OPS_WEBHOOK_URL\n    secret_env: OPS_WEBHOOK_SECRET\n" +
		"auth:\n  metrics_token_env: METRICS_TOKEN\n"
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(extra); err != nil {
		t.Fatal(err)
	}
	f.Close()
	none := func(string) string { return "" }

	// Commands that use no secret run.
	if r := runWithStdin(t, "long enough password\n", "user", "add", "ann", "--config", cfg, "--role", "admin"); r.err != nil {
		t.Fatalf("user add without the service's environment: %v\n%s", r.err, r.stderr)
	}
	for _, args := range [][]string{
		{"user", "list"},
		{"token", "create", "--role", "analyst", "--expires", "30d"},
		{"token", "list"},
		{"tenants"},
		{"alerts", "list"},
	} {
		r := runCmd(t, none, append(args, "--config", cfg)...)
		if r.err != nil {
			t.Errorf("%s without the service's environment: %v\n%s", strings.Join(args, " "), r.err, r.stderr)
		}
	}

	// Commands that send a secret name the missing ones they need, and
	// only those.
	cases := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"collect"}, []string{"FABRIKAM_SECRET", "OPS_WEBHOOK_URL", "OPS_WEBHOOK_SECRET"}, []string{"METRICS_TOKEN"}},
		{[]string{"alerts", "test"}, []string{"OPS_WEBHOOK_URL"}, []string{"FABRIKAM_SECRET", "METRICS_TOKEN"}},
		{[]string{"check"}, []string{"FABRIKAM_SECRET", "OPS_WEBHOOK_URL", "METRICS_TOKEN"}, nil},
		{[]string{"serve"}, []string{"FABRIKAM_SECRET", "OPS_WEBHOOK_URL", "METRICS_TOKEN"}, nil},
	}
	for _, tc := range cases {
		r := runCmd(t, none, append(tc.args, "--config", cfg)...)
		name := strings.Join(tc.args, " ")
		if exitCode(r.err) != 2 {
			t.Errorf("%s without its secrets: exit %d (%v); want 2", name, exitCode(r.err), r.err)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) || !strings.Contains(r.stderr, "fleetscore.yaml:") {
				t.Errorf("%s: stderr does not name %s with its line:\n%s", name, w, r.stderr)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(r.stderr, n) {
				t.Errorf("%s: stderr names %s, which it does not use:\n%s", name, n, r.stderr)
			}
		}
	}

	// With the environment, collect runs.
	env := func(k string) string {
		switch k {
		case "FABRIKAM_SECRET":
			return shared.secret
		case "OPS_WEBHOOK_URL":
			return "https://127.0.0.1:1/hook"
		case "OPS_WEBHOOK_SECRET":
			return "0123456789abcdef0123456789abcdef"
		case "METRICS_TOKEN":
			return "metrics-token-long-enough-0123456789"
		}
		return ""
	}
	if r := runCmd(t, env, "collect", "--config", cfg); r.err != nil || !strings.Contains(r.stdout, ids[1]) && !strings.Contains(r.stdout, "Fabrikam") {
		t.Errorf("collect with the environment: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
}
