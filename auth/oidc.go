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
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCConfig is sign-in with an OpenID Connect provider (Microsoft Entra
// ID, or any other): the authorization code flow with PKCE, state and
// nonce. A person's role is that of the first list naming their e-mail or
// one of their groups: Admins, Analysts, then Clients.
type OIDCConfig struct {
	Issuer       string
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
	var claims struct {
		Email             string   `json:"email"`
		PreferredUsername string   `json:"preferred_username"`
		UPN               string   `json:"upn"`
		Groups            []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		return Principal{}, "", fmt.Errorf("the ID token's claims: %w", err)
	}
	name := strings.ToLower(firstOf(claims.Email, claims.PreferredUsername, claims.UPN, idt.Subject))
	p, ok := o.role(name, claims.Groups)
	if !ok {
		return Principal{Name: name}, "", ErrNotAllowed
	}
	return p, f.Next, nil
}

func (o *OIDC) httpClient() *http.Client {
	if o.cfg.HTTPClient != nil {
		return o.cfg.HTTPClient
	}
	return http.DefaultClient
}

// role maps a person to the first list that names them.
func (o *OIDC) role(name string, groups []string) (Principal, bool) {
	ids := append([]string{name}, groups...)
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
