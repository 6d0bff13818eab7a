package config

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAuthBlock(t *testing.T) {
	base := "app:\n  client_id: 6e1f3c55-8a0b-4d7e-9f2a-51c0d2b4a7e9\n  client_secret_env: S\ntenants:\n  - name: A\n    tenant_id: 11111111-2222-3333-4444-555555555555\n"
	envs := map[string]string{"S": "x-secret-value", "MT": "metrics-token-value", "OS": "oidc-secret-value"}
	getenv := func(k string) string { return envs[k] }
	dir := t.TempDir()
	c, err := parseAll(dir+"/fleetscore.yaml", []byte(base+`auth:
  metrics_token_env: MT
  tls_cert: tls.crt
  tls_key: tls.key
  trusted_proxies: [10.0.0.5, 192.168.1.0/24, "::1", 172.16.5.9/16]
  oidc:
    issuer: https://login.microsoftonline.com/AAAAAAAA-1111-4111-8111-111111111111/v2.0
    client_id: 6e1f3c55-8a0b-4d7e-9f2a-51c0d2b4a7e9
    client_secret_env: OS
    redirect_url: https://fleetscore.example.com/signin/callback
    admins: [Alice@Example.com]
    analysts: [bob@example.com, 0b1c2d3e-0000-4000-8000-000000000000]
    clients:
      - match: carol@client.example
        tenants: [11111111-2222-3333-4444-555555555555]
`), getenv)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Auth
	if a == nil || a.MetricsToken.Reveal() != "metrics-token-value" || a.TLSCert != dir+"/tls.crt" || a.OIDC == nil ||
		a.OIDC.ClientSecret.Reveal() != "oidc-secret-value" || a.OIDC.Admins[0] != "alice@example.com" || len(a.OIDC.Analysts) != 2 ||
		a.OIDC.Clients[0].Tenants[0] != "11111111-2222-3333-4444-555555555555" {
		t.Errorf("auth: %+v %+v", a, a.OIDC)
	}
	if got := fmt.Sprint(a.TrustedProxies); got != "[10.0.0.5/32 192.168.1.0/24 ::1/128 172.16.0.0/16]" {
		t.Errorf("trusted_proxies: %s", got)
	}
	if a.OIDC.TenantID != "aaaaaaaa-1111-4111-8111-111111111111" {
		t.Errorf("the tenant of an Entra issuer: %q", a.OIDC.TenantID)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, a, a.OIDC); strings.Contains(s, "metrics-token-value") || strings.Contains(s, "oidc-secret-value") {
		t.Errorf("a printed config shows a secret: %s", s)
	}
	for _, tc := range []struct {
		block, says string
		line        int
	}{
		{"auth:\n  tls_cert: a.crt\n", "tls_cert and tls_key go together", 7},
		{"auth:\n  metrics_token_env: NOPE\n", "NOPE", 8},
		{"auth:\n  password: hunter2\n", "password", 8},
		{"auth:\n  oidc:\n    issuer: https://x.example\n", "oidc has no client_id", 8},
		{"auth:\n  trusted_proxies: [10.0.0.1, proxy.example]\n", `"proxy.example" is not an IP address`, 8},
		{"auth:\n  trusted_proxies: 0.0.0.0/0\n", "trusts every address", 8},
		{"auth:\n  trusted_proxies: {a: b}\n", "trusted_proxies must be a list", 8},
		{"auth:\n  oidc:\n    issuer: https://login.microsoftonline.com/organizations/v2.0\n", "names no tenant", 9},
		{"auth:\n  oidc:\n    tenant_id: contoso.onmicrosoft.com\n", "tenant_id \"contoso.onmicrosoft.com\" is not a GUID", 9},
		{"auth:\n  oidc:\n    issuer: https://login.microsoftonline.com/aaaaaaaa-1111-4111-8111-111111111111/v2.0\n    tenant_id: bbbbbbbb-2222-4222-8222-222222222222\n",
			"not the issuer's tenant", 10},
		{"auth:\n  oidc:\n    clients:\n      - match: a@b.c\n        tenants: [contoso]\n", "not a GUID", 11},
	} {
		_, err := parseAll(dir+"/fleetscore.yaml", []byte(base+tc.block), getenv)
		at := fmt.Sprintf("fleetscore.yaml:%d:", tc.line)
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), at) {
			t.Errorf("%q: %v; want an error at %s saying %q", tc.block, err, at, tc.says)
		}
		if strings.Contains(fmt.Sprint(err), "hunter2") {
			t.Errorf("the error shows an unknown key's value: %v", err)
		}
	}
}

var problemLine = regexp.MustCompile(`^fleetscore\.yaml:\d+: `)

// FuzzParse: Parse never panics on any bytes, and every problem it reports
// names the file and a line.
func FuzzParse(f *testing.F) {
	f.Add([]byte(okApp + okTenants))
	f.Add([]byte("auth:\n  oidc:\n    clients:\n      - match: a\n        tenants: [x]\n"))
	f.Add([]byte("archive:\n  container: c\n"))
	f.Add([]byte("tenants: &a [*a]\n"))
	f.Add([]byte("{"))
	getenv := env("FLEETSCORE_CLIENT_SECRET", theSecret)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := parseAll("fleetscore.yaml", data, getenv)
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if line == "" || !utf8.ValidString(line) {
				continue
			}
			if !problemLine.MatchString(line) && !strings.HasPrefix(line, "fleetscore.yaml: ") && !strings.HasPrefix(line, "  ") {
				t.Errorf("problem without file:line: %q", line)
			}
		}
	})
}

// TestOIDCTenantID: tenant_id turns on Entra ID's rules for any issuer (a
// sovereign cloud's, or a test provider); another provider has none.
func TestOIDCTenantID(t *testing.T) {
	base := "app:\n  client_id: 6e1f3c55-8a0b-4d7e-9f2a-51c0d2b4a7e9\n  client_secret_env: S\ntenants:\n  - name: A\n    tenant_id: 11111111-2222-3333-4444-555555555555\n"
	getenv := func(k string) string {
		if k == EnvListen || k == EnvData {
			return "" // not secrets: left to their defaults
		}
		return "v-" + k
	}
	oidc := "auth:\n  oidc:\n    client_id: x\n    client_secret_env: OS\n    redirect_url: https://f.example/signin/callback\n"
	for issuer, want := range map[string]string{
		"issuer: https://idp.example\n": "",
		"issuer: https://idp.example\n    tenant_id: \"{AAAAAAAA-1111-4111-8111-111111111111}\"\n": "aaaaaaaa-1111-4111-8111-111111111111",
		"issuer: https://login.microsoftonline.us/aaaaaaaa-1111-4111-8111-111111111111/v2.0\n":     "aaaaaaaa-1111-4111-8111-111111111111",
	} {
		c, err := parseAll("fleetscore.yaml", []byte(base+oidc+"    "+issuer), getenv)
		if err != nil {
			t.Errorf("%s: %v", issuer, err)
			continue
		}
		if got := c.Auth.OIDC.TenantID; got != want {
			t.Errorf("%s: tenant %q; want %q", issuer, got, want)
		}
	}
}
