package config

import (
	"fmt"
	"net/url"
	"strings"
)

// publicURL reads public_url: the address people open fleetscore at
// ("https://fleetscore.example.com", a path allowed behind a proxy), which
// the alert messages link to. Unset, it is the origin of
// auth.oidc.redirect_url when sign-in with OIDC is configured, else "" (no
// links to fleetscore's pages).
func (p *parser) publicURL(e entry, a *Auth) string {
	const fix = "write the address people open fleetscore at, like public_url: https://fleetscore.example.com"
	v, ok := p.scalar(e, "a URL", "public_url: https://fleetscore.example.com")
	if !ok {
		if a != nil && a.OIDC != nil {
			if base, cut := strings.CutSuffix(a.OIDC.RedirectURL, "/signin/callback"); cut {
				return base
			}
		}
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		p.fail(e.key.Line, fmt.Sprintf("public_url %q is not an http or https URL", v), fix)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		p.fail(e.key.Line, fmt.Sprintf("public_url %q has a user, a query or a fragment", v), fix+" (scheme, host and, behind a proxy, a path)")
	default:
		return strings.TrimRight(u.String(), "/")
	}
	return ""
}
