package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCConfig is sign-in with an OpenID Connect provider (Microsoft Entra
// ID, or any other): the authorization code flow with PKCE, state and
// nonce. A person's role is that of the first list naming one of their
// verified identifiers or one of their groups: Admins, Analysts, then
// Clients. With Entra ID (TenantID set) the identifiers are the UPN
// (preferred_username, upn) and the object ID (oid) of a person of that
// tenant; elsewhere the e-mail, only if the provider says it verified it.
// An unverified e-mail is anyone's to type, so it never gives a role.
type OIDCConfig struct {
	Issuer string
	// TenantID is the MSSP's own Entra tenant: set, the ID token's tid must
	// be it. Required with an Entra issuer.
	TenantID     string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Admins       []string // e-mails or group IDs, lower case
	Analysts     []string
	Clients      []OIDCClient
	HTTPClient   *http.Client     // nil: http.DefaultClient
	Now          func() time.Time // nil: time.Now
}

// OIDCClient binds an e-mail or a group ID to tenants.
type OIDCClient struct {
	Match   string
	Tenants []string
}

// OIDC runs the sign-in flow.
type OIDC struct {
	cfg      OIDCConfig
	provider *oidc.Provider // for UserInfo
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
	aead     cipher.AEAD
	ctx      context.Context // carries the HTTP client to the provider
}

// ErrNotAllowed is a signed-in person no role list names.
var ErrNotAllowed = errors.New("signed in, but not given a role in fleetscore's config")

// flowTTL is how long a sign-in may take at the provider.
const flowTTL = 10 * time.Minute

// NewOIDC reads the provider's discovery document.
func NewOIDC(ctx context.Context, c OIDCConfig) (*OIDC, error) {
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	// The key set is fetched later, on the first sign-in: its context must
	// outlive this call.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), hc)
	if c.TenantID == "" && entraIssuer(c.Issuer) {
		return nil, fmt.Errorf("OIDC issuer %s is Microsoft Entra ID: give the MSSP's own tenant ID, so that no other tenant's people sign in", c.Issuer)
	}
	c.TenantID = strings.ToLower(c.TenantID)
	p, err := oidc.NewProvider(pctx, c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC discovery at %s: %w", c.Issuer, err)
	}
	// The flow's cookie is sealed with a key every instance derives from the
	// client secret they share, so any instance finishes a sign-in another
	// began.
	key := sha256.Sum256([]byte("fleetscore oidc flow\x00" + c.ClientSecret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	c.Now = now
	return &OIDC{
		cfg:      c,
		provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: c.ClientID, Now: now}),
		oauth: oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		aead: aead,
		ctx:  pctx,
	}, nil
}

// flow is what the browser carries, sealed, from the start of a sign-in
// to its callback.
type flow struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Next     string    `json:"x"`
	Expires  time.Time `json:"e"`
}

// Start begins a sign-in: the provider's URL to send the browser to, and
// the sealed value of the cookie that must come back with the callback.
func (o *OIDC) Start(next string) (authURL, cookie string) {
	f := flow{State: randomText(24), Nonce: randomText(24), Verifier: oauth2.GenerateVerifier(), Next: next,
		Expires: o.cfg.Now().Add(flowTTL)}
	b, _ := json.Marshal(f)
	iv := make([]byte, o.aead.NonceSize())
	_, _ = rand.Read(iv)
	cookie = base64.RawURLEncoding.EncodeToString(o.aead.Seal(iv, iv, b, nil))
	authURL = o.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return authURL, cookie
}

// Finish checks the callback: the state against the cookie, the code at
// the provider (with the PKCE verifier), the ID token (signature, issuer,
// audience, expiry) and its nonce; then maps the person to a role.
func (o *OIDC) Finish(ctx context.Context, cookie, state, code string) (p Principal, next string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil || len(raw) < o.aead.NonceSize() {
		return Principal{}, "", errors.New("the sign-in cookie is missing or damaged")
	}
	plain, err := o.aead.Open(nil, raw[:o.aead.NonceSize()], raw[o.aead.NonceSize():], nil)
	if err != nil {
		return Principal{}, "", errors.New("the sign-in cookie is missing or damaged")
	}
	var f flow
	if err := json.Unmarshal(plain, &f); err != nil {
		return Principal{}, "", errors.New("the sign-in cookie is missing or damaged")
	}
	if !o.cfg.Now().Before(f.Expires) {
		return Principal{}, "", errors.New("the sign-in took too long")
	}
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1 {
		return Principal{}, "", errors.New("the sign-in's state does not match")
	}
	tok, err := o.oauth.Exchange(oidc.ClientContext(ctx, o.httpClient()), code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Principal{}, "", fmt.Errorf("exchange the code: %w", scrub(err))
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return Principal{}, "", errors.New("the provider sent no ID token")
	}
	idt, err := o.verifier.Verify(oidc.ClientContext(ctx, o.httpClient()), rawID)
	if err != nil {
		return Principal{}, "", fmt.Errorf("the ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return Principal{}, "", errors.New("the ID token's nonce does not match")
	}
	name, ids, err := o.identify(oidc.ClientContext(ctx, o.httpClient()), idt, tok)
	if err != nil {
		return Principal{Name: name}, "", err
	}
	p, ok := o.role(name, ids)
	if !ok {
		return Principal{Name: name}, "", ErrNotAllowed
	}
	return p, f.Next, nil
}

// idClaims are the ID token's claims a role may be mapped on.
type idClaims struct {
	Email             string   `json:"email"`
	EmailVerified     any      `json:"email_verified"` // a bool; some providers send "true"
	PreferredUsername string   `json:"preferred_username"`
	UPN               string   `json:"upn"`
	OID               string   `json:"oid"`
	TID               string   `json:"tid"`
	Groups            []string `json:"groups"`
}

// identify finds the person's name and the identifiers (verified ones and
// group IDs) the role lists are matched on.
func (o *OIDC) identify(ctx context.Context, idt *oidc.IDToken, tok *oauth2.Token) (name string, ids []string, err error) {
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		return "", nil, fmt.Errorf("the ID token's claims: %w", err)
	}
	if o.cfg.TenantID != "" {
		// Entra ID: its email claim is whatever the account's mail field
		// says, set by whoever runs that tenant, so it is never used.
		if !strings.EqualFold(c.TID, o.cfg.TenantID) {
			return "", nil, fmt.Errorf("the ID token is of tenant %q, not of the MSSP's tenant", c.TID)
		}
		upn := strings.ToLower(firstOf(c.PreferredUsername, c.UPN))
		name = firstOf(upn, strings.ToLower(c.OID), idt.Subject)
		return name, slices.Concat([]string{strings.ToLower(c.PreferredUsername), strings.ToLower(c.UPN), strings.ToLower(c.OID)}, c.Groups), nil
	}
	email, verified := c.Email, truthy(c.EmailVerified)
	if email == "" || c.EmailVerified == nil {
		// The ID token may leave the e-mail (or whether it is verified) to
		// the UserInfo endpoint.
		info, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		switch {
		case err != nil && len(c.Groups) == 0:
			return "", nil, fmt.Errorf("the ID token has no verified e-mail, and UserInfo: %w", scrub(err))
		case err != nil:
			// The groups may still give a role; the e-mail does not.
		case info.Subject != idt.Subject:
			// OpenID Connect Core 5.3.2: UserInfo of another subject is
			// not this person's.
			return "", nil, errors.New("UserInfo is of another subject than the ID token")
		case email == "" || strings.EqualFold(email, info.Email):
			email, verified = info.Email, info.EmailVerified
		}
	}
	email = strings.ToLower(email)
	if email != "" && !verified {
		if len(c.Groups) == 0 {
			return email, nil, fmt.Errorf("the provider has not verified the e-mail %s, so it gives no role", email)
		}
		return idt.Subject, c.Groups, nil // matched on their groups only
	}
	if email == "" {
		return idt.Subject, c.Groups, nil
	}
	return email, append([]string{email}, c.Groups...), nil
}

// truthy reads email_verified: true, or "true" as some providers send it.
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// entraIssuer reports an issuer on one of Microsoft Entra ID's sign-in
// hosts.
func entraIssuer(issuer string) bool {
	u, err := url.Parse(issuer)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
		"login.partner.microsoftonline.cn", "sts.windows.net":
		return true
	}
	return false
}

func (o *OIDC) httpClient() *http.Client {
	if o.cfg.HTTPClient != nil {
		return o.cfg.HTTPClient
	}
	return http.DefaultClient
}

// role maps a person to the first list that names one of their
// identifiers (verified ones and group IDs; never their bare name, which
// may be an unverified claim).
func (o *OIDC) role(name string, ids []string) (Principal, bool) {
	ids = slices.Clone(ids)
	for i := range ids {
		ids[i] = strings.ToLower(ids[i])
	}
	named := func(list []string) bool {
		return slices.ContainsFunc(ids, func(id string) bool { return id != "" && slices.Contains(list, id) })
	}
	switch {
	case named(o.cfg.Admins):
		return Principal{Name: name, Role: RoleAdmin}, true
	case named(o.cfg.Analysts):
		return Principal{Name: name, Role: RoleAnalyst}, true
	}
	var tenants []string
	for _, c := range o.cfg.Clients {
		if named([]string{c.Match}) {
			for _, t := range c.Tenants {
				if !slices.Contains(tenants, t) {
					tenants = append(tenants, t)
				}
			}
		}
	}
	if len(tenants) == 0 {
		return Principal{}, false
	}
	return Principal{Name: name, Role: RoleClient, Tenants: tenants}, true
}

func firstOf(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// scrub keeps the provider's error code and drops the rest of an
// oauth2.RetrieveError, whose body could echo what was sent.
func scrub(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fmt.Errorf("the provider answered %d %s", re.Response.StatusCode, re.ErrorCode)
	}
	return err
}
