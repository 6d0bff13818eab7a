package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	authKeys       = []string{"metrics_token_env", "tls_cert", "tls_key", "trusted_proxies", "oidc"}
	oidcKeys       = []string{"issuer", "tenant_id", "client_id", "client_secret_env", "redirect_url", "admins", "analysts", "clients"}
	oidcClientKeys = []string{"match", "tenants"}
)

// Auth is the optional auth: block: who may reach the dashboard. Local users
// and API tokens live in the database (fleetscore user add, token create);
// this block holds what cannot: the metrics token, the TLS certificate and
// the OpenID Connect provider.
type Auth struct {
	// MetricsToken is the bearer token /metrics asks for when sign-in is
	// on; empty turns /metrics off then.
	MetricsToken    Secret
	MetricsTokenEnv string
	TLSCert, TLSKey string // absolute paths; both or neither
	// TrustedProxies are the reverse proxies (addresses or CIDR ranges)
	// whose X-Forwarded-For names the client; from anyone else the header
	// is ignored.
	TrustedProxies []netip.Prefix
	OIDC           *OIDC
	Line           int
}

// OIDC is sign-in with Microsoft Entra ID, or any OpenID Connect provider.
// A signed-in person's role comes from the first list naming them (with
// Entra ID their UPN or object ID, elsewhere their verified e-mail) or one
// of their groups' IDs: admins, analysts, then clients; someone in none is
// refused.
type OIDC struct {
	Issuer string // https://login.microsoftonline.com/TENANT/v2.0
	// TenantID is the MSSP's own Entra tenant (lower case): set, sign-in
	// follows Entra ID's rules and refuses ID tokens of any other tenant.
	// An Entra issuer gives it when tenant_id is not written.
	TenantID        string
	ClientID        string
	ClientSecret    Secret
	ClientSecretEnv string
	RedirectURL     string // https://fleetscore.example.com/signin/callback
	Admins          []string
	Analysts        []string
	Clients         []OIDCClient
}

// OIDCClient binds people (an e-mail or a group ID) to tenants.
type OIDCClient struct {
	Match   string
	Tenants []string
}

func (p *parser) auth(e entry) *Auth {
	if e.missing() {
		return nil
	}
	if e.val.Kind != yaml.MappingNode {
		p.fail(e.key.Line, "auth must be a block of keys", "write auth: with metrics_token_env:, tls_cert:, tls_key: or oidc: indented below it")
		return nil
	}
	m := p.mapping(e.val, "auth", authKeys)
	a := &Auth{Line: e.key.Line}
	if !m["metrics_token_env"].missing() {
		var v string
		p.secrets(UseServe, func() {
			a.MetricsTokenEnv, v, _ = p.env(m["metrics_token_env"], "the token Prometheus sends to /metrics")
		})
		a.MetricsToken = Secret(v)
	}
	if v, ok := p.scalar(m["tls_cert"], "a file", "tls_cert: /etc/fleetscore/tls.crt"); ok && v != "" {
		a.TLSCert = p.abs(v)
	}
	if v, ok := p.scalar(m["tls_key"], "a file", "tls_key: /etc/fleetscore/tls.key"); ok && v != "" {
		a.TLSKey = p.abs(v)
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		p.fail(e.key.Line, "tls_cert and tls_key go together", "give both the certificate (PEM, with its chain) and its private key, or neither")
	}
	a.TrustedProxies = p.proxies(m["trusted_proxies"])
	a.OIDC = p.oidc(m["oidc"])
	return a
}

// proxies reads trusted_proxies: addresses and CIDR ranges.
func (p *parser) proxies(e entry) []netip.Prefix {
	const example = "trusted_proxies: [10.0.0.5, 192.168.0.0/24, ::1]"
	var out []netip.Prefix
	for _, v := range p.stringList(e, example) {
		pr, err := netip.ParsePrefix(v)
		if err == nil {
			pr = pr.Masked()
		} else {
			a, err2 := netip.ParseAddr(v)
			if err2 != nil || a.Zone() != "" {
				p.fail(e.key.Line, fmt.Sprintf("trusted_proxies: %q is not an IP address or a CIDR range", v),
					"list the addresses of your reverse proxies as they connect to fleetscore, like "+example)
				continue
			}
			a = a.Unmap()
			pr = netip.PrefixFrom(a, a.BitLen())
		}
		if pr.Bits() == 0 {
			p.fail(e.key.Line, fmt.Sprintf("trusted_proxies: %q trusts every address", v),
				"list only your reverse proxies; trusting everyone lets any client write the address the lockout counts")
			continue
		}
		out = append(out, pr)
	}
	return out
}

// entraHosts are the sign-in hosts of Microsoft Entra ID's clouds: an
// issuer on one of them follows Entra ID's rules (auth.NewOIDC refuses one
// without a tenant too).
var entraHosts = []string{"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
	"login.partner.microsoftonline.cn", "sts.windows.net"}

// entraTenant reads the tenant of an Entra issuer
// (https://login.microsoftonline.com/TENANT/v2.0); entra is false for any
// other provider.
func entraTenant(issuer string) (tenant string, entra bool) {
	u, err := url.Parse(issuer)
	if err != nil || !slices.Contains(entraHosts, strings.ToLower(u.Hostname())) {
		return "", false
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	tenant, _ = guid(first)
	return tenant, true
}

func (p *parser) oidc(e entry) *OIDC {
	if e.missing() {
		return nil
	}
	if e.val.Kind != yaml.MappingNode {
		p.fail(e.key.Line, "oidc must be a block of keys", "write oidc: with issuer:, client_id:, client_secret_env:, redirect_url: and admins:/analysts:/clients: indented below it")
		return nil
	}
	m := p.mapping(e.val, "oidc", oidcKeys)
	o := &OIDC{}
	str := func(k, example string) string {
		v, ok := p.scalar(m[k], "a value", example)
		if !ok || v == "" {
			p.fail(e.key.Line, "oidc has no "+k, "write "+example)
		}
		return v
	}
	o.Issuer = str("issuer", "issuer: https://login.microsoftonline.com/YOUR-TENANT-ID/v2.0")
	if v, ok := p.scalar(m["tenant_id"], "a GUID", "tenant_id: YOUR-MSP-TENANT-ID"); ok && v != "" {
		if o.TenantID, ok = guid(v); !ok {
			p.fail(m["tenant_id"].key.Line, fmt.Sprintf("tenant_id %q is not a GUID", v),
				"write your own (the MSSP's) Directory (tenant) ID, a GUID shown on the Overview page of the Microsoft Entra admin center")
		}
	}
	if tid, entra := entraTenant(o.Issuer); entra && o.TenantID == "" {
		if tid == "" {
			p.fail(m["issuer"].key.Line, fmt.Sprintf("issuer %q names no tenant", o.Issuer),
				"write issuer: https://login.microsoftonline.com/YOUR-MSP-TENANT-ID/v2.0 with your tenant's GUID, or add tenant_id: YOUR-MSP-TENANT-ID")
		}
		o.TenantID = tid
	} else if entra && tid != "" && tid != o.TenantID {
		p.fail(m["tenant_id"].key.Line, fmt.Sprintf("tenant_id %s is not the issuer's tenant %s", o.TenantID, tid),
			"give both your own (the MSSP's) tenant ID, or leave tenant_id out")
	}
	o.ClientID = str("client_id", "client_id: the Application (client) ID of fleetscore's sign-in app")
	o.RedirectURL = str("redirect_url", "redirect_url: https://fleetscore.example.com/signin/callback")
	for k, v := range map[string]string{"issuer": o.Issuer, "redirect_url": o.RedirectURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			p.fail(m[k].key.Line, fmt.Sprintf("%s %q is not a URL", k, v), "write the full https:// address")
		}
	}
	if m["client_secret_env"].missing() {
		p.fail(e.key.Line, "oidc has no client_secret_env", "write client_secret_env: FLEETSCORE_OIDC_SECRET and put the sign-in app's secret in that variable")
	} else {
		var v string
		p.secrets(UseServe, func() {
			o.ClientSecretEnv, v, _ = p.env(m["client_secret_env"], "the sign-in app's client secret")
		})
		o.ClientSecret = Secret(v)
	}
	o.Admins = p.stringList(m["admins"], "admins: [alice@example.com]")
	o.Analysts = p.stringList(m["analysts"], "analysts: [bob@example.com, 0b1c...group id]")
	if c := m["clients"]; !c.missing() {
		if c.val.Kind != yaml.SequenceNode {
			p.fail(c.key.Line, "clients must be a list", "write clients: then lines like - {match: carol@client.example, tenants: [TENANT-ID]}")
		} else {
			for _, n := range c.val.Content {
				n = resolve(n)
				if n.Kind != yaml.MappingNode {
					p.fail(n.Line, "each client must be a block with match: and tenants:", "write - {match: carol@client.example, tenants: [TENANT-ID]}")
					continue
				}
				cm := p.mapping(n, "oidc client", oidcClientKeys)
				var oc OIDCClient
				if v, ok := p.scalar(cm["match"], "an e-mail or a group ID", "match: carol@client.example"); ok && v != "" {
					oc.Match = strings.ToLower(v)
				} else {
					p.fail(n.Line, "a client has no match", "write match: with the person's e-mail or a group's object ID")
				}
				for _, t := range p.stringList(cm["tenants"], "tenants: [11111111-2222-3333-4444-555555555555]") {
					id, ok := guid(t)
					if !ok {
						p.fail(cm["tenants"].key.Line, fmt.Sprintf("tenant %q is not a GUID", t), tenantIDFix)
						continue
					}
					oc.Tenants = append(oc.Tenants, id)
				}
				if len(oc.Tenants) == 0 {
					p.fail(n.Line, "a client has no tenants", "write tenants: [TENANT-ID, ...] with the tenants this client may see")
				}
				o.Clients = append(o.Clients, oc)
			}
		}
	}
	return o
}

// stringList reads a list of scalars, lower-cased (e-mails and group IDs).
func (p *parser) stringList(e entry, example string) []string {
	if e.missing() {
		return nil
	}
	if e.val.Kind == yaml.ScalarNode {
		if v := strings.TrimSpace(e.val.Value); v != "" {
			return []string{strings.ToLower(v)}
		}
		return nil
	}
	if e.val.Kind != yaml.SequenceNode {
		p.fail(e.key.Line, e.key.Value+" must be a list", "write it like "+example)
		return nil
	}
	var out []string
	for _, n := range e.val.Content {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode || strings.TrimSpace(n.Value) == "" {
			p.fail(n.Line, e.key.Value+" must hold plain values", "write it like "+example)
			continue
		}
		out = append(out, strings.ToLower(strings.TrimSpace(n.Value)))
	}
	return out
}
