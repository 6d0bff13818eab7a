package graph

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// App is an app registration's credential, as the config gives it.
type App struct {
	ClientID     string
	Certificates []*x509.Certificate // certificate auth
	Key          crypto.PrivateKey
	Secret       func() string // secret auth; a func so the value is not copied into structs that get printed
}

// AuthOptions say where Entra is.
type AuthOptions struct {
	AuthorityHost string // "https://login.microsoftonline.com/"
	// Custom is true for an authority that is not Microsoft's (a test
	// endpoint): instance discovery, which only Microsoft's hosts answer, is off.
	Custom     bool
	HTTPClient *http.Client
}

// NewCredential builds one azidentity credential for an app. One credential
// serves every tenant that consented to the app (AdditionallyAllowedTenants
// "*"), and caches each tenant's token until five minutes before it expires.
// homeTenant is any tenant the app is used with; tokens are requested per
// tenant with TokenFor.
func NewCredential(app App, homeTenant string, o AuthOptions) (azcore.TokenCredential, error) {
	build := func() (azcore.TokenCredential, error) { return newCredential(app, homeTenant, o) }
	base, err := build()
	if err != nil {
		return nil, err
	}
	return &Credential{build: build, base: base}, nil
}

// Credential is an app's credential for every tenant, whose cached token for
// one tenant can be dropped: Graph may refuse a token before its expiry
// (401 InvalidAuthenticationToken), and azidentity has no way to skip its
// cache.
type Credential struct {
	build func() (azcore.TokenCredential, error)
	base  azcore.TokenCredential

	mu    sync.Mutex
	fresh map[string]azcore.TokenCredential // by tenant, after Renew
}

// GetToken gets a token for opts.TenantID, from the cache when it has one.
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	cred, ok := c.fresh[strings.ToLower(opts.TenantID)]
	c.mu.Unlock()
	if !ok {
		cred = c.base
	}
	return cred.GetToken(ctx, opts)
}

// Renew makes the tenant's next token a new one from Entra: the tenant gets
// a credential of its own, with an empty cache; the other tenants keep theirs.
func (c *Credential) Renew(tenant string) error {
	cred, err := c.build()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fresh == nil {
		c.fresh = make(map[string]azcore.TokenCredential)
	}
	c.fresh[strings.ToLower(tenant)] = cred
	return nil
}

func newCredential(app App, homeTenant string, o AuthOptions) (azcore.TokenCredential, error) {
	copts := azcore.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: o.AuthorityHost},
	}
	// Never the SDK's default client: ours refuses redirects, so a 307
	// from a token endpoint cannot carry the client secret elsewhere.
	copts.Transport = noRedirects(o.HTTPClient)
	// Errors such as "not consented" are final; retrying them only slows the
	// run. azcore still retries 429 and 5xx from the token endpoint.
	copts.Retry = policy.RetryOptions{MaxRetries: 2, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 10 * time.Second}
	allowed := []string{"*"}
	switch {
	case len(app.Certificates) > 0:
		return azidentity.NewClientCertificateCredential(homeTenant, app.ClientID, app.Certificates, app.Key,
			&azidentity.ClientCertificateCredentialOptions{
				ClientOptions:              copts,
				DisableInstanceDiscovery:   o.Custom,
				AdditionallyAllowedTenants: allowed,
			})
	case app.Secret != nil:
		return azidentity.NewClientSecretCredential(homeTenant, app.ClientID, app.Secret(),
			&azidentity.ClientSecretCredentialOptions{
				ClientOptions:              copts,
				DisableInstanceDiscovery:   o.Custom,
				AdditionallyAllowedTenants: allowed,
			})
	}
	return nil, errors.New("the app has neither a certificate nor a client secret")
}

// NewHTTPClient returns the client for Entra and Graph. It trusts the
// system's CA pool (so SSL_CERT_FILE can add a CA) and the CAs in extraPEM
// (the emulator's, for the demo and tests).
func NewHTTPClient(extraPEM ...[]byte) *http.Client {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, p := range extraPEM {
		pool.AppendCertsFromPEM(p)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
	}
	return &http.Client{Transport: tr, CheckRedirect: refuseRedirect}
}

// RedirectError is a 3xx answer from Entra or Graph. fleetscore follows
// none: the request carried a bearer token or a client secret, and a
// redirect could take either to another host, port or scheme.
type RedirectError struct {
	Status   int    // the 3xx
	From, To string // scheme://host/path of each, without query or credentials
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s answered %d, a redirect to %s: fleetscore follows no redirect with credentials, so nothing was sent there", e.From, e.Status, e.To)
}

func refuseRedirect(req *http.Request, via []*http.Request) error {
	e := &RedirectError{To: bare(req.URL)}
	if len(via) > 0 {
		e.From = bare(via[len(via)-1].URL)
	}
	if req.Response != nil {
		e.Status = req.Response.StatusCode
	}
	return e
}

// bare is a URL without its query, fragment or user info, fit for a message.
func bare(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment, c.RawFragment, c.ForceQuery = nil, "", "", "", false
	return c.String()
}

// noRedirects is hc (or a new client, when nil) refusing redirects, whatever
// the caller's client said.
func noRedirects(hc *http.Client) *http.Client {
	if hc == nil {
		return NewHTTPClient()
	}
	c := *hc
	c.CheckRedirect = refuseRedirect
	return &c
}

// asRedirect finds a RedirectError in err, also when a library kept only
// its text.
func asRedirect(err error) (*RedirectError, bool) {
	var re *RedirectError
	if errors.As(err, &re) {
		return re, true
	}
	// azidentity keeps the text of a transport error, not the error.
	if m := redirectRe.FindStringSubmatch(err.Error()); m != nil {
		status, _ := strconv.Atoi(m[2])
		return &RedirectError{Status: status, From: m[1], To: m[3]}, true
	}
	return nil, false
}

var redirectRe = regexp.MustCompile(`(\S+) answered (\d{3}), a redirect to (\S+): fleetscore follows no redirect`)

// Target is one tenant to read, with the credential of its app.
type Target struct {
	TenantID   string
	ClientID   string
	Credential azcore.TokenCredential
}

// token gets a Graph token for the target's tenant.
func (c *Client) token(ctx context.Context, t Target) (string, error) {
	tok, err := t.Credential.GetToken(ctx, policy.TokenRequestOptions{
		Scopes:   []string{c.scope},
		TenantID: t.TenantID,
	})
	if err != nil {
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return "", timeoutError(t.TenantID, ctx.Err())
			}
			return "", &Error{Kind: KindTimeout, Tenant: t.TenantID, Msg: "token request did not finish before the tenant's deadline", Advice: "the Entra endpoint was too slow; raise timeout or check the network", Err: ctx.Err()}
		}
		return "", classifyTokenError(t.TenantID, t.ClientID, err)
	}
	return tok.Token, nil
}

// TokenError explains a failed token request of the app clientID in
// tenant (not consented, a bad secret or certificate, ...) the way a
// collection's is, with no secret in it.
func TokenError(tenant, clientID string, err error) *Error {
	return classifyTokenError(tenant, clientID, err)
}

// CheckToken gets a token for the target's tenant and reports what it
// shows of the SecurityEvents.Read.All role, without calling Graph.
func (c *Client) CheckToken(ctx context.Context, t Target) (RoleKnowledge, error) {
	tok, err := c.token(ctx, t)
	if err != nil {
		return RoleUnknown, err
	}
	return tokenRoles(tok, secureScoreRoles...), nil
}
