package emulator

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// azidentity is the real client: these tests run it against the emulator the
// way the collector will (graph-api.md section 7).

func clientOptions(e *Emulator) azcore.ClientOptions {
	o := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.URL() + "/"},
		Transport: e.Client(),
	}
	o.Retry.MaxRetries = -1
	return o
}

func secretCredential(t *testing.T, e *Emulator, tenant, clientID, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:              clientOptions(e),
		DisableInstanceDiscovery:   true,
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func certCredential(t *testing.T, e *Emulator, tenant, clientID string, cert *x509.Certificate, key *rsa.PrivateKey) *azidentity.ClientCertificateCredential {
	t.Helper()
	cred, err := azidentity.NewClientCertificateCredential(tenant, clientID, []*x509.Certificate{cert}, key,
		&azidentity.ClientCertificateCredentialOptions{
			ClientOptions:              clientOptions(e),
			DisableInstanceDiscovery:   true,
			AdditionallyAllowedTenants: []string{"*"},
		})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func getToken(cred azcore.TokenCredential, tenant string) (azcore.AccessToken, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}, TenantID: tenant})
}

// selfSigned makes an RSA 2048 certificate like the ones MSSPs upload to their app.
func selfSigned(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "fleetscore collector"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestAzidentityGetsTokens(t *testing.T) {
	e := startEmulator(t, Options{Seed: 1, Tenants: 2})
	cert, key := selfSigned(t)
	const certApp = "99999999-8888-7777-6666-555555555555"
	e.AddApp(App{ClientID: certApp, Certs: []*x509.Certificate{cert}})
	e.ConsentAll(certApp)
	tenants := e.Tenants()

	t.Run("client secret, one credential for many tenants", func(t *testing.T) {
		cred := secretCredential(t, e, tenants[0].ID, testApp, testSecret)
		for _, ti := range tenants {
			tok, err := getToken(cred, ti.ID)
			if err != nil {
				t.Fatalf("tenant %s: %v", ti.ID, err)
			}
			if time.Until(tok.ExpiresOn) < 50*time.Minute {
				t.Errorf("token expires in %v; Entra gives about an hour", time.Until(tok.ExpiresOn))
			}
			claims := accessTokenClaims(t, tok.Token)
			if claims["tid"] != ti.ID || claims["appid"] != testApp || claims["aud"] != "https://graph.microsoft.com" {
				t.Errorf("claims %v", claims)
			}
			if roles, _ := claims["roles"].([]any); len(roles) != 1 || roles[0] != "SecurityEvents.Read.All" {
				t.Errorf("roles %v, want [SecurityEvents.Read.All]", claims["roles"])
			}
		}
		// azidentity caches: a second call for the same tenant needs no request.
		before := e.Stats(tenants[0].ID).TokenRequests
		if _, err := getToken(cred, tenants[0].ID); err != nil {
			t.Fatal(err)
		}
		if after := e.Stats(tenants[0].ID).TokenRequests; after != before {
			t.Errorf("token requests went from %d to %d; expires_in must let azidentity cache", before, after)
		}
	})

	t.Run("client certificate (PS256, x5t#S256)", func(t *testing.T) {
		cred := certCredential(t, e, tenants[0].ID, certApp, cert, key)
		for _, ti := range tenants {
			tok, err := getToken(cred, ti.ID)
			if err != nil {
				t.Fatalf("tenant %s: %v", ti.ID, err)
			}
			if claims := accessTokenClaims(t, tok.Token); claims["appidacr"] != "2" {
				t.Errorf("appidacr %v, want 2 (certificate)", claims["appidacr"])
			}
		}
	})

	t.Run("the token works against Graph", func(t *testing.T) {
		tok, err := getToken(secretCredential(t, e, tenants[1].ID, testApp, testSecret), tenants[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		p := decodePage(t, get(t, e, tok.Token, "/v1.0/security/secureScores?$top=1"))
		if len(p.Value) != 1 || !strings.Contains(string(p.Value[0]), tenants[1].ID) {
			t.Errorf("want one score of tenant %s, got %.200s", tenants[1].ID, p.Value)
		}
	})
}

func TestAzidentityFailuresCarryAADSTSCodes(t *testing.T) {
	e := startEmulator(t, Options{Seed: 1, Tenants: 2})
	cert, key := selfSigned(t)
	other, otherKey := selfSigned(t)
	const certApp = "99999999-8888-7777-6666-555555555555"
	e.AddApp(App{ClientID: certApp, Certs: []*x509.Certificate{cert}})
	e.ConsentAll(certApp)
	const lonelyApp = "44444444-4444-4444-4444-444444444444"
	e.AddApp(App{ClientID: lonelyApp, Secrets: []string{"s"}}) // registered, consented nowhere
	tenants := e.Tenants()
	e.SetFaults(tenants[1].ID, Faults{NotConsented: true})
	unknown := "0badc0de-0000-4000-8000-000000000000"
	_ = key

	tests := []struct {
		name   string
		cred   azcore.TokenCredential
		tenant string
		want   []string
	}{
		{"wrong secret", secretCredential(t, e, tenants[0].ID, testApp, "wrong"), tenants[0].ID,
			[]string{"AADSTS7000215", "invalid_client"}},
		{"unregistered certificate", certCredential(t, e, tenants[0].ID, certApp, other, otherKey), tenants[0].ID,
			[]string{"AADSTS700027", "invalid_client", "The key was not found"}},
		{"unknown tenant", secretCredential(t, e, unknown, testApp, testSecret), unknown,
			[]string{"AADSTS90002", "invalid_tenant", unknown}},
		{"app not consented in the tenant", secretCredential(t, e, tenants[0].ID, lonelyApp, "s"), tenants[0].ID,
			[]string{"AADSTS700016", "unauthorized_client", lonelyApp}},
		{"service principal removed (NotConsented fault)", secretCredential(t, e, tenants[1].ID, testApp, testSecret), tenants[1].ID,
			[]string{"AADSTS700016", "unauthorized_client"}},
		{"unknown client ID", secretCredential(t, e, tenants[0].ID, "00000000-0000-0000-0000-00000000beef", "s"), tenants[0].ID,
			[]string{"AADSTS700016"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := getToken(tt.cred, tt.tenant)
			if err == nil {
				t.Fatal("got a token, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func accessTokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// assertion signs a client assertion by hand, to cover what MSAL never sends.
type assertion struct {
	alg        string // PS256 or RS256
	thumbKey   string // "x5t#S256" or "x5t"
	thumbEnc   *base64.Encoding
	iss, sub   string
	aud        string
	nbf, exp   time.Time
	cert       *x509.Certificate
	key        *rsa.PrivateKey
	corruptSig bool
}

func (a assertion) sign(t *testing.T) string {
	t.Helper()
	var thumb []byte
	if a.thumbKey == "x5t" {
		s := sha1.Sum(a.cert.Raw)
		thumb = s[:]
	} else {
		s := sha256.Sum256(a.cert.Raw)
		thumb = s[:]
	}
	hdr, _ := json.Marshal(map[string]any{"alg": a.alg, "typ": "JWT", a.thumbKey: a.thumbEnc.EncodeToString(thumb)})
	cl, _ := json.Marshal(map[string]any{"aud": a.aud, "iss": a.iss, "sub": a.sub, "jti": newGUID(), "nbf": a.nbf.Unix(), "exp": a.exp.Unix()})
	signed := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(cl)
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	if a.alg == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, a.key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, a.key, crypto.SHA256, digest[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	if a.corruptSig {
		sig[10] ^= 0xff
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestTokenEndpointChecksClientAssertions(t *testing.T) {
	e := startEmulator(t, Options{Seed: 1, Tenants: 1})
	cert, key := selfSigned(t)
	const certApp = "99999999-8888-7777-6666-555555555555"
	e.AddApp(App{ClientID: certApp, Certs: []*x509.Certificate{cert}})
	e.ConsentAll(certApp)
	tenant := e.Tenants()[0].ID
	tokenURL := e.URL() + "/" + tenant + "/oauth2/v2.0/token"
	now := time.Now()
	good := assertion{alg: "PS256", thumbKey: "x5t#S256", thumbEnc: base64.StdEncoding, iss: certApp, sub: certApp,
		aud: tokenURL, nbf: now, exp: now.Add(10 * time.Minute), cert: cert, key: key}

	tests := []struct {
		name       string
		change     func(a *assertion)
		wantStatus int
		wantCode   int
	}{
		{"MSAL's own shape", func(a *assertion) {}, 200, 0},
		{"RS256 with SHA-1 x5t, base64url unpadded", func(a *assertion) {
			a.alg, a.thumbKey, a.thumbEnc = "RS256", "x5t", base64.RawURLEncoding
		}, 200, 0},
		{"x5t#S256 base64url padded", func(a *assertion) { a.thumbEnc = base64.URLEncoding }, 200, 0},
		{"clock skew within 5 minutes", func(a *assertion) { a.nbf = now.Add(4 * time.Minute) }, 200, 0},
		{"expired", func(a *assertion) { a.nbf, a.exp = now.Add(-30*time.Minute), now.Add(-20*time.Minute) }, 401, 700024},
		{"not yet valid", func(a *assertion) { a.nbf = now.Add(20 * time.Minute) }, 401, 700024},
		{"bad signature", func(a *assertion) { a.corruptSig = true }, 401, 700027},
		{"wrong audience", func(a *assertion) { a.aud = "https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/token" }, 401, 700027},
		{"iss is not the client", func(a *assertion) { a.iss = "someone-else" }, 401, 700021},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := good
			tt.change(&a)
			tr := postToken(t, e, tenant, url.Values{
				"grant_type":            {"client_credentials"},
				"client_id":             {certApp},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {a.sign(t)},
				"client_info":           {"1"},
				"scope":                 {"https://graph.microsoft.com/.default openid offline_access profile"},
			})
			if tr.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", tr.Status, tt.wantStatus, tr.Description)
			}
			if tt.wantCode != 0 && (len(tr.ErrorCodes) != 1 || tr.ErrorCodes[0] != tt.wantCode || tr.Error != "invalid_client") {
				t.Errorf("got %s %v, want invalid_client [%d]: %s", tr.Error, tr.ErrorCodes, tt.wantCode, tr.Description)
			}
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	e := startEmulator(t, Options{Seed: 1, Tenants: 1})
	tenant := e.Tenants()[0].ID
	form := func(change func(v url.Values)) url.Values {
		v := secretForm(testApp, testSecret)
		change(v)
		return v
	}
	tests := []struct {
		name       string
		tenant     string
		form       url.Values
		wantStatus int
		wantError  string
		wantCode   int
	}{
		{"unknown tenant", "0badc0de-0000-4000-8000-000000000000", form(func(v url.Values) {}), 400, "invalid_request", 90002},
		{"neither secret nor assertion", tenant, form(func(v url.Values) { v.Del("client_secret") }), 401, "invalid_client", 7000218},
		{"wrong secret", tenant, form(func(v url.Values) { v.Set("client_secret", "nope") }), 401, "invalid_client", 7000215},
		{"scope of another resource", tenant, form(func(v url.Values) { v.Set("scope", "https://management.azure.com/.default") }), 400, "invalid_scope", 70011},
		{"two resources", tenant, form(func(v url.Values) {
			v.Set("scope", "https://graph.microsoft.com/.default https://graph.microsoft.us/.default")
		}), 400, "invalid_scope", 70011},
		{"delegated scope", tenant, form(func(v url.Values) { v.Set("scope", "SecurityEvents.Read.All") }), 400, "invalid_scope", 70011},
		{"wrong grant", tenant, form(func(v url.Values) { v.Set("grant_type", "password") }), 400, "unsupported_grant_type", 70003},
		{"no scope", tenant, form(func(v url.Values) { v.Del("scope") }), 400, "invalid_request", 900144},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := postToken(t, e, tt.tenant, tt.form)
			if tr.Status != tt.wantStatus || tr.Error != tt.wantError || len(tr.ErrorCodes) != 1 || tr.ErrorCodes[0] != tt.wantCode {
				t.Errorf("got %d %s %v, want %d %s [%d]", tr.Status, tr.Error, tr.ErrorCodes, tt.wantStatus, tt.wantError, tt.wantCode)
			}
			if !strings.HasPrefix(tr.Description, "AADSTS") || !strings.Contains(tr.Description, "\r\nTrace ID: ") ||
				!strings.Contains(tr.Description, "\r\nCorrelation ID: ") || !strings.Contains(tr.Description, "\r\nTimestamp: ") {
				t.Errorf("error_description is not in Entra's shape: %q", tr.Description)
			}
		})
	}
	t.Run("US Government Graph scope", func(t *testing.T) {
		tr := postToken(t, e, tenant, form(func(v url.Values) { v.Set("scope", "https://graph.microsoft.us/.default") }))
		if tr.Status != 200 || tr.ExpiresIn != 3599 || tr.TokenType != "Bearer" {
			t.Errorf("got %+v", tr)
		}
	})
	t.Run("client_secret_basic", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.URL()+"/"+tenant+"/oauth2/v2.0/token",
			strings.NewReader("grant_type=client_credentials&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(testApp, testSecret)
		resp, err := e.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestOpenIDConfiguration(t *testing.T) {
	e := startEmulator(t, Options{Seed: 1, Tenants: 1})
	tenant := e.Tenants()[0].ID
	r := get(t, e, "", "/"+tenant+"/v2.0/.well-known/openid-configuration")
	if r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"issuer":                 e.URL() + "/" + tenant + "/v2.0",
		"token_endpoint":         e.URL() + "/" + tenant + "/oauth2/v2.0/token",
		"authorization_endpoint": e.URL() + "/" + tenant + "/oauth2/v2.0/authorize",
		"jwks_uri":               e.URL() + "/" + tenant + "/discovery/v2.0/keys",
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %s", k, doc[k], v)
		}
	}
	r = get(t, e, "", "/0badc0de-0000-4000-8000-000000000000/v2.0/.well-known/openid-configuration")
	var er tokenResponse
	_ = json.Unmarshal(r.Body, &er)
	if r.Status != 400 || er.Error != "invalid_tenant" || len(er.ErrorCodes) != 1 || er.ErrorCodes[0] != 90002 ||
		!strings.Contains(er.Description, "Tenant '0badc0de-0000-4000-8000-000000000000' not found") {
		t.Errorf("unknown tenant: %d %s", r.Status, r.Body)
	}
}
