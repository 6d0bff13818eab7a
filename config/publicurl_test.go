package config

import (
	"strconv"
	"strings"
	"testing"
)

func TestPublicURL(t *testing.T) {
	base := okApp + okTenants
	oidc := "auth:\n  oidc:\n    issuer: https://login.example\n    client_id: x\n    client_secret_env: OS\n    redirect_url: https://sso.example.com/fleet/signin/callback\n    admins: [a@example.com]\n"
	getenv := env("FLEETSCORE_CLIENT_SECRET", theSecret, "OS", "oidc-secret")
	for _, tc := range []struct{ block, want string }{
		{"", ""},
		{"public_url: https://fleetscore.example.com\n", "https://fleetscore.example.com"},
		{"public_url: https://fleetscore.example.com/\n", "https://fleetscore.example.com"},
		{"public_url: http://10.0.0.5:8080/fleetscore/\n", "http://10.0.0.5:8080/fleetscore"},
		{oidc, "https://sso.example.com/fleet"},
		{oidc + "public_url: https://fleetscore.example.com\n", "https://fleetscore.example.com"},
	} {
		c, err := parseAll(fx.path(), []byte(base+tc.block), getenv)
		if err != nil {
			t.Fatalf("%q: %v", tc.block, err)
		}
		if c.PublicURL != tc.want {
			t.Errorf("%q: public URL %q; want %q", tc.block, c.PublicURL, tc.want)
		}
	}
	for _, bad := range []string{"fleetscore.example.com", "ftp://fleetscore.example.com", "https://", "https://fleetscore.example.com/?x=1", "https://u:p@fleetscore.example.com", "[1, 2]"} {
		_, err := parseAll(fx.path(), []byte(base+"public_url: "+bad+"\n"), getenv)
		lines := strings.Count(base, "\n") + 1
		if err == nil || !strings.Contains(err.Error(), "public_url") || !strings.Contains(err.Error(), ":"+strconv.Itoa(lines)+":") {
			t.Errorf("public_url: %s: %v; want a problem on line %d naming public_url", bad, err, lines)
		}
	}
}
