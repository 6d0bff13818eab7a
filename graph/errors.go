package graph

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Kind says what went wrong, so callers and people can act on it.
type Kind string

// The kinds of failure a tenant's collection can meet.
const (
	KindNotConsented   Kind = "not_consented"    // app not in the tenant (AADSTS700016) or consent missing (65001)
	KindNoPermission   Kind = "no_permission"    // token has no SecurityEvents.Read.All role: Graph 403
	KindBadSecret      Kind = "bad_secret"       // AADSTS7000215 / 7000222
	KindBadCertificate Kind = "bad_certificate"  // AADSTS700027 / 700024 / 50012
	KindTenantNotFound Kind = "tenant_not_found" // AADSTS90002
	KindAuth           Kind = "auth"             // any other token failure
	KindThrottled      Kind = "throttled"        // 429 after every retry
	KindUnavailable    Kind = "unavailable"      // 5xx after every retry
	KindMalformed      Kind = "malformed"        // a response that is not the JSON Graph documents
	KindNetwork        Kind = "network"          // no answer at all
	KindTimeout        Kind = "timeout"          // the tenant's deadline passed
	KindCancelled      Kind = "cancelled"        // the run was stopped before the tenant was done
	KindGraph          Kind = "graph"            // any other Graph error
)

// Error is a failed request to Entra or Graph, with advice for people. Its
// message never holds a secret or a token.
type Error struct {
	Kind   Kind
	Tenant string
	Status int    // HTTP status, 0 when there was no response
	Code   string // "AADSTS700016" or Graph's error.code
	Msg    string // what happened, one line
	Advice string // how to fix it
	Err    error  // the cause, when it is safe to show
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	if e.Code != "" && !strings.Contains(e.Msg, e.Code) {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// entraError is the body of a failed token or discovery request.
type entraError struct {
	Error       string  `json:"error"`
	Description string  `json:"error_description"`
	Codes       []int64 `json:"error_codes"`
}

var aadstsRe = regexp.MustCompile(`AADSTS(\d+)`)

// classifyTokenError turns what azidentity returned into advice. azidentity
// wraps Entra's JSON body in *AuthenticationFailedError; the AADSTS code is
// read from error_codes, or from the text when the body is not at hand
// (discovery failures are reported as text by MSAL).
func classifyTokenError(tenant, clientID string, err error) *Error {
	if e, ok := AsError(err); ok {
		return e
	}
	if re, ok := asRedirect(err); ok {
		return &Error{Kind: KindAuth, Tenant: tenant, Status: re.Status, Msg: "token request failed: " + re.Error(),
			Advice: "the cloud's login host (or authority_host) must be Entra itself, or a proxy that answers without redirecting"}
	}
	code := 0
	oauthErr := ""
	desc := ""
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil && afe.RawResponse.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(afe.RawResponse.Body, 64<<10))
		var ee entraError
		if json.Unmarshal(body, &ee) == nil {
			oauthErr, desc = ee.Error, ee.Description
			if len(ee.Codes) > 0 {
				code = int(ee.Codes[0])
			}
		}
	}
	text := err.Error()
	if code == 0 {
		if m := aadstsRe.FindStringSubmatch(text); m != nil {
			code, _ = strconv.Atoi(m[1])
		}
	}
	if desc == "" {
		if m := aadstsRe.FindStringIndex(text); m != nil {
			desc = text[m[0]:]
		}
	}
	desc = firstLine(desc)
	e := &Error{Tenant: tenant, Kind: KindAuth, Msg: "token request failed"}
	if code != 0 {
		e.Code = "AADSTS" + strconv.Itoa(code)
	}
	if desc != "" {
		e.Msg = "token request failed: " + desc
	} else if oauthErr != "" {
		e.Msg = "token request failed: " + oauthErr
	}
	switch code {
	case 700016:
		e.Kind = KindNotConsented
		e.Advice = fmt.Sprintf("the app %s is not registered in tenant %s: an admin of that tenant must grant admin consent (open the admin-consent link), or the client_id or tenant_id in the config is wrong", clientID, tenant)
	case 65001, 90094:
		e.Kind = KindNotConsented
		e.Advice = fmt.Sprintf("tenant %s has not consented to the app %s: an admin of that tenant must grant admin consent (open the admin-consent link)", tenant, clientID)
	case 7000215:
		e.Kind = KindBadSecret
		e.Advice = "the client secret is wrong: copy the secret's Value (not its Secret ID) from the app registration's Certificates & secrets page into the environment variable or file the config names"
	case 7000222:
		e.Kind = KindBadSecret
		e.Advice = "the client secret has expired: create a new one under the app registration's Certificates & secrets and update the environment variable or file the config names"
	case 700027, 50012:
		e.Kind = KindBadCertificate
		e.Advice = fmt.Sprintf("Entra does not accept the certificate for app %s: upload the certificate's public part (.cer/.pem) under the app registration's Certificates & secrets, and check the config points at the matching private key", clientID)
	case 700024:
		e.Kind = KindBadCertificate
		e.Advice = "the client assertion was outside its valid time: check this machine's clock (NTP)"
	case 7000218:
		e.Kind = KindAuth
		e.Advice = "no credential was sent: give the app a certificate or client_secret_env in the config"
	case 90002, 900023:
		e.Kind = KindTenantNotFound
		e.Advice = fmt.Sprintf("tenant %s does not exist in this cloud: check tenant_id (the Directory (tenant) ID on the client's Entra overview page) and the cloud setting (global, usgov, usgovdod)", tenant)
	case 90038:
		e.Kind = KindTenantNotFound
		e.Advice = fmt.Sprintf("tenant %s belongs to another national cloud: set cloud (or a per-tenant app registered in that cloud)", tenant)
	case 7000112, 70001:
		e.Advice = fmt.Sprintf("the app %s is disabled in tenant %s: an admin must enable its enterprise application", clientID, tenant)
	case 53003:
		e.Advice = "a Conditional Access policy for workload identities blocked the token: exclude the app or allow this machine's location"
	case 700022, 700023, 70011:
		e.Advice = "the token scope was refused: check graph_scope / cloud in the config"
	default:
		if code == 0 && desc == "" {
			e.Kind = KindNetwork
			e.Msg = "token request failed: " + scrub(firstLine(text))
			e.Advice = "the Entra token endpoint could not be reached: check the network, proxy and authority_host"
		}
	}
	return e
}

// graphErrorBody is Graph's OData error.
type graphErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// responseError turns a non-2xx Graph response into an Error.
func responseError(tenant string, resp *http.Response, body []byte, token string) *Error {
	var ge graphErrorBody
	_ = json.Unmarshal(body, &ge)
	e := &Error{Tenant: tenant, Status: resp.StatusCode, Code: ge.Error.Code, Kind: KindGraph}
	msg := firstLine(ge.Error.Message)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Msg = fmt.Sprintf("Graph answered %d: %s", resp.StatusCode, msg)
	switch {
	case resp.StatusCode == http.StatusForbidden:
		e.Kind = KindNoPermission
		switch tokenRoles(token, secureScoreRoles...) {
		case RoleLacking:
			e.Advice = fmt.Sprintf("the app's token for tenant %s carries no SecurityEvents.Read.All role: the admin consent was revoked, or the permission was added to the app but never admin-consented in this tenant; an admin of the tenant must grant admin consent again (open the admin-consent link)", tenant)
		case RoleGranted:
			e.Advice = "Graph refused the request although the token carries SecurityEvents.Read.All: check the tenant has a licence that includes Secure Score, and that no Conditional Access policy blocks the app"
		default:
			// Microsoft asks clients to treat access tokens as opaque: when
			// this one cannot be read, say what may be wrong, not what is.
			e.Advice = fmt.Sprintf("Graph refused the app in tenant %s, and its token does not show which roles it carries: the admin consent may have been revoked or never granted (an admin of the tenant grants it with the admin-consent link), or the tenant lacks a licence that includes Secure Score, or a Conditional Access policy blocks the app", tenant)
		}
	case resp.StatusCode == http.StatusUnauthorized:
		e.Kind = KindAuth
		e.Advice = "Graph did not accept the token: check graph_url and cloud match the authority (a token from one cloud is not valid in another)"
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Kind = KindThrottled
		e.Advice = "Graph kept throttling this tenant: lower concurrency, or let the next run catch up"
	case resp.StatusCode >= 500:
		e.Kind = KindUnavailable
		e.Advice = "Graph was unavailable for this tenant: the next run catches up"
	case resp.StatusCode == http.StatusNotFound:
		e.Advice = "Graph has no Secure Score for this tenant: check graph_url, and that the tenant has a Microsoft 365 subscription"
	}
	return e
}

// RoleKnowledge is what an access token shows of a role.
type RoleKnowledge int

// What a token can show of a role: nothing (an opaque token, which
// Microsoft allows), that it carries it, or that it does not.
const (
	RoleUnknown RoleKnowledge = iota
	RoleGranted
	RoleLacking
)

// secureScoreRoles are the application roles that read Secure Score.
var secureScoreRoles = []string{"SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All"}

// tokenRoles reads the roles claim of a JWT access token without verifying
// it: only to give better advice, never to decide access. A token that is
// not a readable JWT shows nothing, and is not guessed at.
func tokenRoles(token string, roles ...string) RoleKnowledge {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return RoleUnknown
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return RoleUnknown
	}
	var claims struct {
		Roles *[]string `json:"roles"`
		Tid   string    `json:"tid"`
	}
	if json.Unmarshal(payload, &claims) != nil || (claims.Roles == nil && claims.Tid == "") {
		return RoleUnknown
	}
	if claims.Roles != nil {
		for _, have := range *claims.Roles {
			for _, want := range roles {
				if strings.EqualFold(have, want) {
					return RoleGranted
				}
			}
		}
	}
	return RoleLacking
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

var secretish = regexp.MustCompile(`(?i)(client_secret|client_assertion|access_token|password)=[^&\s]+`)

// scrub removes anything that looks like a credential from an error text.
func scrub(s string) string { return secretish.ReplaceAllString(s, "$1=REDACTED") }
