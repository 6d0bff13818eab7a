package emulator

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Entra ID, as far as a client-credentials collector sees it
// (graph-api.md sections 4.2, 5 and 7).

const (
	roleSecurityEventsRead  = "SecurityEvents.Read.All"
	roleSecurityEventsWrite = "SecurityEvents.ReadWrite.All"
	graphAppID              = "00000003-0000-0000-c000-000000000000"
	assertionType           = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	tokenLifetime           = 3599 // seconds, as Entra sends for client credentials
	assertionSkew           = 5 * time.Minute
)

// graphResources are the resources whose .default scope yields a Graph token.
func graphResource(scope string) (string, bool) {
	res, ok := strings.CutSuffix(scope, "/.default")
	if !ok {
		return "", false
	}
	res = strings.TrimSuffix(res, "/") // Entra tolerates "https://graph.microsoft.com//.default"
	switch strings.ToLower(res) {
	case "https://graph.microsoft.com", "https://graph.microsoft.us", "https://dod-graph.microsoft.us", graphAppID:
		return res, true
	}
	return "", false
}

// exchangeResource is the resource of an Exchange Online scope, for SMTP
// AUTH XOAUTH2: tokens are issued for it (with SMTP.SendAsApp for the
// apps of Tenant.MailApps), and Graph refuses them.
func exchangeResource(scope string) (string, bool) {
	res, ok := strings.CutSuffix(scope, "/.default")
	if !ok {
		return "", false
	}
	res = strings.TrimSuffix(res, "/")
	switch strings.ToLower(res) {
	case "https://outlook.office365.com", "https://outlook.office.com", "https://outlook.office365.us", "https://outlook-dod.office365.us":
		return res, true
	}
	return "", false
}

func baseURL(r *http.Request) string { return "https://" + r.Host }

func (e *Emulator) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if te, _ := e.lookup(tenant); te == nil {
		e.entraError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(tenant))
		return
	}
	t := strings.ToLower(tenant)
	b := baseURL(r) + "/" + t
	doc := map[string]any{
		"token_endpoint":                        b + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              b + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                b + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
		"authorization_endpoint":                b + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         b + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  b + "/oauth2/v2.0/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		"kerberos_endpoint":     b + "/kerberos",
		"tenant_region_scope":   "EU",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
		"rbac_url":              "https://pas.windows.net",
	}
	e.log.Debug("openid-configuration", "tenant", t)
	writeJSON(w, http.StatusOK, doc)
}

func (e *Emulator) keys(w http.ResponseWriter, r *http.Request) {
	// Access tokens are HMAC-signed with a per-emulator key: nothing to publish.
	writeJSON(w, http.StatusOK, map[string]any{"keys": []any{}})
}

func tenantNotFound(tenant string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "+
		"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)
}

// token is the client-credentials grant.
func (e *Emulator) token(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	te, def := e.lookup(tenant)
	if te == nil {
		e.entraError(w, r, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(tenant))
		return
	}
	e.count(te, func(s *Stats) { s.TokenRequests++ })
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		e.entraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	form := r.PostForm
	if gt := form.Get("grant_type"); gt == "" {
		e.entraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	} else if gt != "client_credentials" {
		e.entraError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+gt+"'.")
		return
	}
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok { // client_secret_basic
		clientID, secret = u, p
	}
	if clientID == "" {
		e.entraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	scope := form.Get("scope")
	e.count(te, func(s *Stats) { s.TokenHost, s.TokenScope = hostOf(r), resourceScopes(scope) })
	if h := hostOf(r); isMicrosoftLogin(h) && h != def.cloud.login {
		e.entraError(w, r, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(tenant))
		return
	}
	if scope == "" {
		e.entraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
		return
	}
	app, known := e.app(clientID)
	e.mu.RLock()
	tenantID := def.model.id
	e.mu.RUnlock()
	te.mu.Lock()
	faults := te.faults
	te.mu.Unlock()
	if !known || !e.consented(def, clientID) || faults.NotConsented {
		e.entraError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been "+
				"installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your "+
				"authentication request to the wrong tenant.", clientID, tenantID))
		return
	}

	appidacr := "1"
	switch assertion := form.Get("client_assertion"); {
	case secret != "":
		if !containsString(app.Secrets, secret) {
			e.entraError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf(
				"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "+
					"not the client secret ID, for a secret added to app '%s'.", clientID))
			return
		}
	case assertion != "":
		if form.Get("client_assertion_type") != assertionType {
			e.entraError(w, r, http.StatusBadRequest, "invalid_request", 50027,
				"Invalid client_assertion_type: expected '"+assertionType+"'.")
			return
		}
		tokenURL := baseURL(r) + r.URL.Path
		if status, code, errName, msg := e.checkAssertion(assertion, app, tokenURL); code != 0 {
			e.entraError(w, r, status, errName, code, msg)
			return
		}
		appidacr = "2"
	default:
		e.entraError(w, r, http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}

	var resource string
	var exchange bool // an Exchange Online token, for SMTP XOAUTH2
	var others int
	for _, s := range strings.Fields(scope) {
		switch s {
		case "openid", "offline_access", "profile", "email": // MSAL adds these
			continue
		}
		if res, ok := graphResource(s); ok && resource == "" {
			resource = res
			continue
		}
		if res, ok := exchangeResource(s); ok && resource == "" {
			resource, exchange = res, true
			continue
		}
		others++
	}
	if resource == "" || others > 0 {
		e.entraError(w, r, http.StatusBadRequest, "invalid_scope", 70011, fmt.Sprintf(
			"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' "+
				"is not valid. The scope %s is not valid.", scope))
		return
	}
	if isMicrosoftLogin(hostOf(r)) && !exchange && !strings.EqualFold(resource, def.cloud.graph) && resource != graphAppID {
		e.entraError(w, r, http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf(
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been "+
				"installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your "+
				"authentication request to the wrong tenant.", resource, tenantID))
		return
	}

	var roles []string
	if e.reader(def, clientID) {
		roles = append(roles, roleSecurityEventsRead)
	}
	if e.writer(def, clientID) {
		roles = append(roles, roleSecurityEventsWrite)
	}
	if e.mailer(def, clientID) {
		roles = append(roles, roleMailSend)
	}
	if exchange {
		roles = nil
		if e.mailer(def, clientID) {
			roles = []string{roleSMTPSendAsApp}
		}
	}
	if faults.RevokeConsent {
		roles = nil // the app role assignment is gone: Entra still issues a token, without roles
	}
	now := e.wall()
	tok := e.issueAccessToken(accessClaims{
		Aud:      resource,
		Iss:      "https://sts.windows.net/" + tenantID + "/",
		Iat:      now.Unix(),
		Nbf:      now.Unix(),
		Exp:      now.Unix() + tokenLifetime,
		AppID:    clientID,
		AppIDAcr: appidacr,
		Idp:      "https://sts.windows.net/" + tenantID + "/",
		IdTyp:    "app",
		Oid:      guidFrom(h(strHash(tenantID), strHash(strings.ToLower(clientID)))),
		Roles:    roles,
		Sub:      guidFrom(h(strHash(tenantID), strHash(strings.ToLower(clientID)))),
		Tid:      tenantID,
		Uti:      strings.ReplaceAll(newGUID()[:22], "-", "A"),
		Ver:      "1.0",
	})
	e.count(te, func(s *Stats) { s.Tokens++ })
	e.log.Debug("token issued", "tenant", tenantID, "client_id", clientID, "roles", len(roles), "cert", appidacr == "2")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     tokenLifetime,
		"ext_expires_in": tokenLifetime,
		"access_token":   tok,
	})
}

// entraError writes Entra's error body (graph-api.md 4.2).
func (e *Emulator) entraError(w http.ResponseWriter, r *http.Request, status int, errName string, code int, msg string) {
	now := e.wall().UTC()
	ts := now.Format("2006-01-02 15:04:05Z")
	trace := newGUID()
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = newGUID()
	}
	e.log.Debug("entra error", "path", r.URL.Path, "status", status, "error", errName, "code", code)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("x-ms-request-id", trace)
	writeJSON(w, status, map[string]any{
		"error": errName,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			code, msg, trace, corr, ts),
		"error_codes":    []int{code},
		"timestamp":      ts,
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jwt is a parsed compact JWS.
type jwt struct {
	header    map[string]any
	claims    map[string]any
	signed    []byte // header.payload, as signed
	signature []byte
}

// decodeSegment decodes base64url, with or without padding (and tolerates
// the standard alphabet).
func decodeSegment(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func parseJWT(s string) (*jwt, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("a JWT has 3 parts, this one %d", len(parts))
	}
	j := &jwt{signed: []byte(parts[0] + "." + parts[1])}
	hb, err := decodeSegment(parts[0])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	cb, err := decodeSegment(parts[1])
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if j.signature, err = decodeSegment(parts[2]); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(hb))
	dec.UseNumber()
	if err := dec.Decode(&j.header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	dec = json.NewDecoder(bytes.NewReader(cb))
	dec.UseNumber()
	if err := dec.Decode(&j.claims); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return j, nil
}

func (j *jwt) str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func (j *jwt) num(k string) (int64, bool) {
	switch v := j.claims[k].(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, true
		}
		if f, err := v.Float64(); err == nil {
			return int64(f), true
		}
	}
	return 0, false
}

// decodeThumbprint accepts a thumbprint in base64 (std or url alphabet,
// padded or not); MSAL sends x5t#S256 in padded standard base64.
func decodeThumbprint(s string) []byte {
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

// checkAssertion verifies a client assertion; code 0 means valid.
func (e *Emulator) checkAssertion(assertion string, app App, tokenURL string) (status, code int, errName, msg string) {
	fail := func(code int, msg string) (int, int, string, string) {
		return http.StatusUnauthorized, code, "invalid_client", msg
	}
	j, err := parseJWT(assertion)
	if err != nil {
		return fail(50027, "JWT token is invalid or malformed: "+err.Error()+".")
	}
	alg := j.str(j.header, "alg")
	var thumb []byte
	var sha1Thumb bool
	if s := j.str(j.header, "x5t#S256"); s != "" {
		thumb = decodeThumbprint(s)
	} else if s := j.str(j.header, "x5t"); s != "" {
		thumb, sha1Thumb = decodeThumbprint(s), true
	}
	keyNotFound := func(reason string) (int, int, string, string) {
		return fail(700027, fmt.Sprintf("Client assertion contains an invalid signature. [Reason - %s, Thumbprint of key used by client: '%s', "+
			"Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. Review the "+
			"documentation at https://docs.microsoft.com/en-us/graph/deployments if not using Azure Portal.]",
			reason, strings.ToUpper(hex.EncodeToString(thumb)), app.ClientID))
	}
	if alg != "PS256" && alg != "RS256" {
		return fail(700027, fmt.Sprintf("Client assertion failed signature validation. Unsupported asymmetric signing algorithm '%s'.", alg))
	}
	if thumb == nil {
		return keyNotFound("The key was not found.")
	}
	var cert *x509.Certificate
	for _, c := range app.Certs {
		var sum []byte
		if sha1Thumb {
			s := sha1.Sum(c.Raw)
			sum = s[:]
		} else {
			s := sha256.Sum256(c.Raw)
			sum = s[:]
		}
		if hmac.Equal(sum, thumb) {
			cert = c
			break
		}
	}
	if cert == nil {
		return keyNotFound("The key was not found.")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fail(700027, "Client assertion failed signature validation. Unsupported asymmetric signing algorithm: the certificate key is not RSA.")
	}
	digest := sha256.Sum256(j.signed)
	if alg == "PS256" {
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], j.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	} else {
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], j.signature)
	}
	if err != nil {
		return keyNotFound("The provided signature value did not match the expected signature value.")
	}
	iss, sub := j.str(j.claims, "iss"), j.str(j.claims, "sub")
	if !strings.EqualFold(iss, app.ClientID) || !strings.EqualFold(sub, app.ClientID) {
		return fail(700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at "+
			"https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	if aud := audience(j.claims["aud"]); !strings.EqualFold(aud, tokenURL) {
		return fail(700027, fmt.Sprintf("Client assertion failed signature validation. The audience '%s' is not the token endpoint '%s'.", aud, tokenURL))
	}
	now := e.wall()
	nbf, hasNbf := j.num("nbf")
	exp, hasExp := j.num("exp")
	if !hasExp || (hasNbf && now.Add(assertionSkew).Unix() < nbf) || now.Add(-assertionSkew).Unix() >= exp {
		return fail(700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, "+
			"expiry time of assertion %s. Review the documentation at "+
			"https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
			now.UTC().Format("2006-01-02T15:04:05.0000000Z"), time.Unix(nbf, 0).UTC().Format("2006-01-02T15:04:05.0000000Z"),
			time.Unix(exp, 0).UTC().Format("2006-01-02T15:04:05.0000000Z")))
	}
	return 0, 0, "", ""
}

func audience(v any) string {
	switch a := v.(type) {
	case string:
		return a
	case []any:
		if len(a) == 1 {
			s, _ := a[0].(string)
			return s
		}
	}
	return ""
}

// accessClaims are the claims of the app-only access tokens the emulator issues.
type accessClaims struct {
	Aud      string   `json:"aud"`
	Iss      string   `json:"iss"`
	Iat      int64    `json:"iat"`
	Nbf      int64    `json:"nbf"`
	Exp      int64    `json:"exp"`
	AppID    string   `json:"appid"`
	AppIDAcr string   `json:"appidacr"`
	Idp      string   `json:"idp"`
	IdTyp    string   `json:"idtyp"`
	Oid      string   `json:"oid"`
	Roles    []string `json:"roles,omitempty"`
	Sub      string   `json:"sub"`
	Tid      string   `json:"tid"`
	Uti      string   `json:"uti"`
	Ver      string   `json:"ver"`
}

const accessTokenHeader = `{"typ":"JWT","alg":"HS256","kid":"fleetscore-emulator"}`

func (e *Emulator) issueAccessToken(c accessClaims) string {
	payload, _ := json.Marshal(c) // plain struct: cannot fail
	s := base64.RawURLEncoding.EncodeToString([]byte(accessTokenHeader)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, e.tokenKey)
	mac.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// verifyAccessToken checks a Graph request's bearer token; the message says
// what Graph would say when it is not acceptable. Claims are returned whenever
// the token is the emulator's own, even when it is not acceptable, so that the
// 401 can be counted against its tenant.
func (e *Emulator) verifyAccessToken(r *http.Request) (*accessClaims, string) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return nil, "Access token is empty."
	}
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, "Access token is empty."
	}
	tok = strings.TrimSpace(tok)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format."
	}
	mac := hmac.New(sha256.New, e.tokenKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, "Access token validation failure. Invalid signature."
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, "CompactToken parsing failed with error code: 80049217"
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, "CompactToken parsing failed with error code: 80049217"
	}
	now := e.wall().Unix()
	if now >= c.Exp || now+300 < c.Nbf {
		return &c, "Lifetime validation failed, the token is expired."
	}
	if _, ok := graphResource(c.Aud + "/.default"); !ok {
		return &c, "Access token validation failure. Invalid audience."
	}
	return &c, ""
}

func (c *accessClaims) hasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role || r == roleSecurityEventsWrite {
			return true
		}
	}
	return false
}

// resourceScopes is scope without the OpenID scopes MSAL adds.
func resourceScopes(scope string) string {
	var out []string
	for _, s := range strings.Fields(scope) {
		switch s {
		case "openid", "offline_access", "profile", "email":
			continue
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}
