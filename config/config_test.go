package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	clientID    = "3f1c2a10-5b6d-4e8f-9a01-23456789abcd"
	otherClient = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	contosoID   = "3f2b8c1e-7d4a-4b6e-9c2d-5a1e8f3b7c40"
	fabrikamID  = "8a4c2e6f-1b3d-4f5a-8e7c-2d9b6a4f1e83"
	theSecret   = "s3cr3t~Value.Never-Shown_42"
	pfxPassword = "pfx-Pa55word!Never-Shown"
)

// fixture is a folder of credential files, good and bad, shared by the tests.
type fixture struct {
	dir    string
	hasPFX bool // openssl was found and made the .pfx files
}

var fx *fixture

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fleetscore-config-test")
	if err != nil {
		panic(err)
	}
	fx, err = makeFixture(dir)
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func selfSigned(key any, pub any, notBefore, notAfter time.Time) []byte {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fleetscore test"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		panic(err)
	}
	return der
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func makeFixture(dir string) (*fixture, error) {
	now := time.Now()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	ec8, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecSEC1, _ := x509.MarshalECPrivateKey(ec)
	certDER := selfSigned(key, &key.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	cert := pemBlock("CERTIFICATE", certDER)
	keyPEM := pemBlock("PRIVATE KEY", pkcs8)
	ecCert := pemBlock("CERTIFICATE", selfSigned(ec, &ec.PublicKey, now.Add(-time.Hour), now.AddDate(1, 0, 0)))
	files := map[string][]byte{
		"good.pem":       append(append([]byte{}, cert...), keyPEM...),
		"pkcs1.pem":      append(append([]byte{}, cert...), pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))...),
		"cert.pem":       cert,
		"key.pem":        keyPEM,
		"expired.pem":    append(pemBlock("CERTIFICATE", selfSigned(key, &key.PublicKey, now.AddDate(-2, 0, 0), now.AddDate(0, 0, -3))), keyPEM...),
		"soon.pem":       append(pemBlock("CERTIFICATE", selfSigned(key, &key.PublicKey, now.AddDate(-1, 0, 0), now.AddDate(0, 0, 10))), keyPEM...),
		"mismatch.pem":   append(append([]byte{}, cert...), pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(other))...),
		"ec.pem":         append(append([]byte{}, ecCert...), pemBlock("EC PRIVATE KEY", ecSEC1)...),
		"ec8.pem":        append(append([]byte{}, ecCert...), pemBlock("PRIVATE KEY", ec8)...),
		"encrypted.pem":  append(append([]byte{}, cert...), pemBlock("ENCRYPTED PRIVATE KEY", []byte("not really"))...),
		"garbage.pem":    []byte("this is not a certificate\n"),
		"cert.cer":       certDER,
		"secret.txt":     []byte(theSecret + "\n"),
		"empty.txt":      []byte("\n"),
		"guidsecret.txt": []byte("5d1e8f8a-1111-4c3b-9a7e-222222222222\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "open-secret.txt"), []byte(theSecret), 0o644); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "folder.pem"), 0o700); err != nil {
		return nil, err
	}
	f := &fixture{dir: dir}
	// The standard library and x/crypto cannot write PKCS#12, so openssl
	// makes the PFX files when it is installed.
	if _, err := exec.LookPath("openssl"); err == nil {
		legacy := []string{"-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"}
		for _, pfx := range []struct {
			name string
			args []string
		}{{"good.pfx", legacy}, {"modern.pfx", nil}, {"legacy.pfx", []string{"-legacy"}}} {
			args := append([]string{"pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem",
				"-out", pfx.name, "-passout", "env:PFXPW"}, pfx.args...)
			cmd := exec.Command("openssl", args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PFXPW="+pfxPassword)
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("openssl %v: %v\n%s", args, err, out)
			}
		}
		f.hasPFX = true
	}
	return f, nil
}

func (f *fixture) path() string { return filepath.Join(f.dir, "fleetscore.yaml") }

// env is a fake environment.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

var goodEnv = env("FLEETSCORE_CLIENT_SECRET", theSecret, "FLEETSCORE_CERT_PASSWORD", pfxPassword)

const (
	okApp = `
app:
  client_id: ` + clientID + `
  certificate: good.pem
`
	okTenants = `
tenants:
  - name: Contoso
    tenant_id: ` + contosoID + `
`
)

var marker = regexp.MustCompile(`#@(\w+)`)

// markers returns the line of each #@name comment in text.
func markers(text string) map[string]int {
	out := map[string]int{}
	for i, l := range strings.Split(text, "\n") {
		for _, m := range marker.FindAllStringSubmatch(l, -1) {
			out[m[1]] = i + 1
		}
	}
	return out
}

// TestProblems feeds one mistake at a time and expects exactly one problem,
// on the line marked #@here (none: the whole file), naming the fix. Words
// may refer to other marked lines as {name}.
func TestProblems(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		env   func(string) string
		words []string
		pfx   bool // needs openssl's PFX files
	}{
		// keys
		{name: "unknown key", yaml: okApp + okTenants + "targt_percent: 80 #@here\n",
			words: []string{"unknown key targt_percent", "did you mean target_percent?"}},
		{name: "unknown tenant key", yaml: okApp + okTenants + "    target_precent: 80 #@here\n",
			words: []string{"unknown key target_precent in a tenant", "did you mean target_percent?"}},
		{name: "unknown app key", yaml: okApp + "  certificat_password_env: X #@here\n" + okTenants,
			words: []string{"certificat_password_env", "did you mean certificate_password_env?"}},
		{name: "alias for a key", yaml: okApp + "tenants:\n  - name: Contoso\n    tenant: " + contosoID + " #@here\n    tenant_id: " + fabrikamID + "\n",
			words: []string{"unknown key tenant in a tenant", "did you mean tenant_id?"}},
		{name: "unknown key far from any", yaml: okApp + okTenants + "colour: blue #@here\n",
			words: []string{"unknown key colour at the top level", "the keys here are database, target_percent"}},
		{name: "app key at top level", yaml: okApp + okTenants + "client_secret_file: x.txt #@here\n",
			words: []string{"client_secret_file belongs in an app block, not at the top level", "indent it under an app: key"}},
		{name: "key set twice", yaml: okApp + okTenants + "concurrency: 4 #@first\nconcurrency: 5 #@here\n",
			words: []string{"concurrency is set twice, on lines {first} and {here}", "keep one"}},
		{name: "merge key", yaml: okApp + okTenants + "<<: {concurrency: 4} #@here\n",
			words: []string{"merge keys", "alias"}},
		{name: "write_back not a boolean", yaml: okApp + okTenants + "write_back: sometimes #@here\n",
			words: []string{`write_back must be true or false, not "sometimes"`, "write write_back: true"}},
		{name: "tenant write_back not a boolean", yaml: okApp + okTenants + "    write_back: 2 #@here\n",
			words: []string{`write_back must be true or false, not "2"`, "write write_back: false"}},
		{name: "write_back a list", yaml: okApp + okTenants + "write_back: [a] #@here\n",
			words: []string{"write_back must be true or false, not a list"}},

		// types
		{name: "concurrency many", yaml: okApp + okTenants + "concurrency: many #@here\n",
			words: []string{`concurrency must be a whole number, not "many"`, "concurrency: 8"}},
		{name: "target high", yaml: okApp + okTenants + "target_percent: high #@here\n",
			words: []string{`target_percent must be a number, not "high"`, "target_percent: 75"}},
		{name: "timeout list", yaml: okApp + okTenants + "timeout: [5m] #@here\n",
			words: []string{"timeout must be a duration, not a list", "timeout: 5m"}},
		{name: "cloud mapping", yaml: okApp + okTenants + "cloud: #@here\n  name: global\n",
			words: []string{"cloud must be a cloud name, not a mapping"}},
		{name: "tenants mapping", yaml: okApp + "tenants: #@here\n  name: Contoso\n",
			words: []string{"tenants must be a list", "- name:"}},
		{name: "tenant scalar", yaml: okApp + "tenants:\n  - Contoso #@here\n",
			words: []string{"a tenant must be a mapping"}},
		{name: "app scalar", yaml: "app: " + clientID + " #@here\n" + okTenants,
			words: []string{"app must be a block", "indent client_id:"}},
		{name: "not a mapping", yaml: "- a #@here\n- b\n", words: []string{"must be a mapping of keys"}},

		// tenants
		{name: "tenant_id domain", yaml: okApp + "tenants:\n  - name: Contoso\n    tenant_id: contoso.onmicrosoft.com #@here\n",
			words: []string{"tenant_id contoso.onmicrosoft.com is a domain name", "Directory (tenant) ID", "Overview page", "domain names like contoso.onmicrosoft.com are not accepted"}},
		{name: "tenant_id not guid", yaml: okApp + "tenants:\n  - name: Contoso\n    tenant_id: 12345 #@here\n",
			words: []string{"tenant_id is not a GUID", "Directory (tenant) ID", "Microsoft Entra admin center", "contoso.onmicrosoft.com are not accepted"}},
		{name: "tenant_id common", yaml: okApp + "tenants:\n  - name: Contoso\n    tenant_id: common #@here\n",
			words: []string{"tenant_id common is not a tenant", "Directory (tenant) ID"}},
		{name: "tenant_id zero", yaml: okApp + "tenants:\n  - name: Contoso\n    tenant_id: 00000000-0000-0000-0000-000000000000 #@here\n",
			words: []string{"placeholder", "Directory (tenant) ID"}},
		{name: "tenant without id", yaml: okApp + "tenants:\n  - name: Contoso #@here\n",
			words: []string{"tenant Contoso has no tenant_id", "add tenant_id:", "Directory (tenant) ID"}},
		{name: "tenant without name", yaml: okApp + "tenants:\n  - tenant_id: " + contosoID + " #@here\n",
			words: []string{"the tenant has no name", "add name:"}},
		{name: "duplicate tenant id", yaml: okApp + "tenants:\n  - name: Contoso\n    tenant_id: " + contosoID + " #@first\n  - name: Fabrikam\n    tenant_id: " + strings.ToUpper(contosoID) + " #@here\n",
			words: []string{"tenant_id " + contosoID + " is listed twice, on lines {first} and {here}", "remove one"}},
		{name: "duplicate tenant id braced", yaml: okApp + "tenants:\n  - name: Contoso\n    tenant_id: " + contosoID + " #@first\n  - name: Contoso EU\n    tenant_id: '{" + strings.ToUpper(contosoID) + "}' #@here\n",
			words: []string{"tenant_id " + contosoID + " is listed twice, on lines {first} and {here}", "remove one"}},
		{name: "duplicate tenant name", yaml: okApp + "tenants:\n  - name: Contoso #@first\n    tenant_id: " + contosoID + "\n  - name: contoso #@here\n    tenant_id: " + fabrikamID + "\n",
			words: []string{`tenant name "contoso" is used twice, on lines {first} and {here}`, "dashboard"}},
		{name: "no tenants key", yaml: okApp,
			words: []string{"there are no tenants", "add a tenants: list"}},
		{name: "empty tenants list", yaml: okApp + "tenants: [] #@here\n",
			words: []string{"the tenants list is empty", "add a tenants: list"}},
		{name: "tenant without any app", yaml: "tenants:\n  - name: Contoso #@here\n    tenant_id: " + contosoID + "\n",
			words: []string{"tenant Contoso has no app, and there is no default app", "add an app: block"}},

		// apps
		{name: "app without credential", yaml: "app: #@here\n  client_id: " + clientID + "\n" + okTenants,
			words: []string{"the app has no credential", "certificate:", "client_secret_env:"}},
		{name: "app with both", yaml: "app: #@here\n  client_id: " + clientID + "\n  certificate: good.pem\n  client_secret_env: FLEETSCORE_CLIENT_SECRET\n" + okTenants,
			words: []string{"both a certificate and a client secret", "keep one"}},
		{name: "secret env and file", yaml: "app:\n  client_id: " + clientID + "\n  client_secret_env: FLEETSCORE_CLIENT_SECRET\n  client_secret_file: secret.txt #@here\n" + okTenants,
			words: []string{"both client_secret_env and client_secret_file"}},
		{name: "missing client_id", yaml: "app: #@here\n  certificate: good.pem\n" + okTenants,
			words: []string{"the app has no client_id", "Application (client) ID"}},
		{name: "client_id not guid", yaml: "app:\n  client_id: my-app #@here\n  certificate: good.pem\n" + okTenants,
			words: []string{"client_id is not a GUID", "Application (client) ID", "Overview page"}},
		{name: "client_id placeholder", yaml: "app:\n  client_id: 00000000-0000-0000-0000-000000000000 #@here\n  certificate: good.pem\n" + okTenants,
			words: []string{"placeholder", "Application (client) ID"}},
		{name: "tenant app without client_id", yaml: okApp + "tenants:\n  - name: Contoso\n    tenant_id: " + contosoID + "\n    app: #@here\n      certificate: good.pem\n",
			words: []string{"the app has no client_id"}},
		{name: "password env without certificate", yaml: "app:\n  client_id: " + clientID + "\n  client_secret_env: FLEETSCORE_CLIENT_SECRET\n  certificate_password_env: FLEETSCORE_CERT_PASSWORD #@here\n" + okTenants,
			words: []string{"certificate_password_env is set but the app has no certificate"}},

		// certificates
		{name: "certificate missing", yaml: "app:\n  client_id: " + clientID + "\n  certificate: secrets/nope.pem #@here\n" + okTenants,
			words: []string{"certificate file secrets/nope.pem (" + filepath.Join(fx.dir, "secrets/nope.pem") + ") does not exist", "relative to the config file's folder, " + fx.dir}},
		{name: "certificate is a folder", yaml: "app:\n  client_id: " + clientID + "\n  certificate: folder.pem #@here\n" + okTenants,
			words: []string{"is a folder"}},
		{name: "certificate unreadable", yaml: "app:\n  client_id: " + clientID + "\n  certificate: locked.pem #@here\n" + okTenants,
			words: []string{"cannot read certificate file locked.pem", "permission denied", "chmod 600"}},
		{name: "certificate garbage", yaml: "app:\n  client_id: " + clientID + "\n  certificate: garbage.pem #@here\n" + okTenants,
			words: []string{"garbage.pem is neither a PEM file nor a PFX", "BEGIN PRIVATE KEY"}},
		{name: "certificate DER only", yaml: "app:\n  client_id: " + clientID + "\n  certificate: cert.cer #@here\n" + okTenants,
			words: []string{"cert.cer holds only a certificate", "without its private key", "upload"}},
		{name: "certificate without key", yaml: "app:\n  client_id: " + clientID + "\n  certificate: cert.pem #@here\n" + okTenants,
			words: []string{"cert.pem holds a certificate but no private key", "cat key.pem >> cert.pem"}},
		{name: "key without certificate", yaml: "app:\n  client_id: " + clientID + "\n  certificate: key.pem #@here\n" + okTenants,
			words: []string{"key.pem holds a private key but no certificate", "cat cert.pem >> key.pem"}},
		{name: "EC key", yaml: "app:\n  client_id: " + clientID + "\n  certificate: ec.pem #@here\n" + okTenants,
			words: []string{"is an EC key, not RSA", "need an RSA key", "rsa:2048"}},
		{name: "EC key in PKCS#8", yaml: "app:\n  client_id: " + clientID + "\n  certificate: ec8.pem #@here\n" + okTenants,
			words: []string{"the private key in ec8.pem is an ECDSA key, not RSA", "need an RSA key"}},
		{name: "key of another certificate", yaml: "app:\n  client_id: " + clientID + "\n  certificate: mismatch.pem #@here\n" + okTenants,
			words: []string{"does not belong to its certificate", "created together"}},
		{name: "encrypted PEM", yaml: "app:\n  client_id: " + clientID + "\n  certificate: encrypted.pem #@here\n" + okTenants,
			words: []string{"the private key in encrypted.pem is encrypted", "openssl pkey", "certificate_password_env"}},
		{name: "PFX wrong password", pfx: true, env: env("FLEETSCORE_CERT_PASSWORD", "wrong-guess"),
			yaml:  "app:\n  client_id: " + clientID + "\n  certificate: good.pfx #@here\n  certificate_password_env: FLEETSCORE_CERT_PASSWORD\n" + okTenants,
			words: []string{"the password in $FLEETSCORE_CERT_PASSWORD did not open the PFX file good.pfx", "set FLEETSCORE_CERT_PASSWORD to the password"}},
		{name: "PFX without password", pfx: true,
			yaml:  "app:\n  client_id: " + clientID + "\n  certificate: good.pfx #@here\n" + okTenants,
			words: []string{"good.pfx is a PFX protected by a password", "certificate_password_env"}},
		{name: "PFX of OpenSSL 3, wrong password", pfx: true, env: env("FLEETSCORE_CERT_PASSWORD", "wrong-guess"),
			yaml:  "app:\n  client_id: " + clientID + "\n  certificate: modern.pfx #@here\n  certificate_password_env: FLEETSCORE_CERT_PASSWORD\n" + okTenants,
			words: []string{"the password in $FLEETSCORE_CERT_PASSWORD did not open the PFX file modern.pfx", "set FLEETSCORE_CERT_PASSWORD to the password"}},
		{name: "PFX of OpenSSL 3 without password", pfx: true,
			yaml:  "app:\n  client_id: " + clientID + "\n  certificate: modern.pfx #@here\n" + okTenants,
			words: []string{"modern.pfx is a PFX protected by a password", "certificate_password_env"}},
		{name: "password env unset", env: env(),
			yaml:  "app:\n  client_id: " + clientID + "\n  certificate: cert.cer\n  certificate_password_env: FLEETSCORE_CERT_PASSWORD #@here\n" + okTenants,
			words: []string{"environment variable FLEETSCORE_CERT_PASSWORD, named by certificate_password_env, is empty or not set", "EnvironmentFile="}},

		// secrets
		{name: "secret env unset", env: env("FLEETSCORE_CLIENT_SECRET", ""),
			yaml:  "app:\n  client_id: " + clientID + "\n  client_secret_env: FLEETSCORE_CLIENT_SECRET #@here\n" + okTenants,
			words: []string{"environment variable FLEETSCORE_CLIENT_SECRET, named by client_secret_env, is empty or not set"}},
		{name: "secret env holds the secret", yaml: "app:\n  client_id: " + clientID + "\n  client_secret_env: " + theSecret + " #@here\n" + okTenants,
			words: []string{"client_secret_env must be the name of an environment variable", "not shown"}},
		{name: "inline secret", yaml: "app:\n  client_id: " + clientID + "\n  client_secret_env: FLEETSCORE_CLIENT_SECRET\n  client_secret: " + theSecret + " #@here\n" + okTenants,
			words: []string{"client_secret: secrets are never written in the config", "put it in an environment variable and name it with client_secret_env, or in a file with client_secret_file"}},
		{name: "inline password", yaml: "app:\n  client_id: " + clientID + "\n  certificate: good.pem\n  certificate_password: " + pfxPassword + " #@here\n" + okTenants,
			words: []string{"passwords are never written in the config", "certificate_password_env"}},
		{name: "secret file missing", yaml: "app:\n  client_id: " + clientID + "\n  client_secret_file: nope.txt #@here\n" + okTenants,
			words: []string{"client secret file nope.txt", "does not exist"}},
		{name: "secret file empty", yaml: "app:\n  client_id: " + clientID + "\n  client_secret_file: empty.txt #@here\n" + okTenants,
			words: []string{"client secret file empty.txt is empty"}},

		// clouds and endpoints
		{name: "cloud china", yaml: okApp + okTenants + "cloud: china #@here\n",
			words: []string{"Secure Score is not offered in Microsoft Azure operated by 21Vianet", "global, usgov (GCC High) or usgovdod (DoD)"}},
		{name: "cloud unknown", yaml: okApp + okTenants + "cloud: mars #@here\n",
			words: []string{`unknown cloud "mars"`, "global, usgov (GCC High) or usgovdod (DoD)"}},
		{name: "cloud gcc", yaml: okApp + okTenants + "cloud: GCC #@here\n",
			words: []string{`unknown cloud "GCC"`, "cloud: global"}},
		{name: "authority http", yaml: okApp + okTenants + "authority_host: http://127.0.0.1:8443/ #@here\n",
			words: []string{"authority_host must use https"}},
		{name: "graph_url not a URL", yaml: okApp + okTenants + "graph_url: graph.example.test #@here\n",
			words: []string{"graph_url is not a URL", "https://graph.microsoft.com"}},
		{name: "graph_scope", yaml: okApp + okTenants + "graph_scope: https://graph.microsoft.com #@here\n",
			words: []string{"is not a resource's /.default scope"}},

		// ranges and formats
		{name: "target zero", yaml: okApp + okTenants + "target_percent: 0 #@here\n",
			words: []string{"target_percent 0 is out of range", "above 0 and at most 100"}},
		{name: "target 150", yaml: okApp + okTenants + "target_percent: 150% #@here\n",
			words: []string{"target_percent 150 is out of range"}},
		{name: "tenant target", yaml: okApp + okTenants + "    target_percent: -5 #@here\n",
			words: []string{"target_percent -5 is out of range"}},
		{name: "concurrency zero", yaml: okApp + okTenants + "concurrency: 0 #@here\n",
			words: []string{"concurrency 0 is out of range", "1 to 256"}},
		{name: "concurrency huge", yaml: okApp + okTenants + "concurrency: 1000 #@here\n",
			words: []string{"concurrency 1000 is out of range"}},
		{name: "timeout without unit", yaml: okApp + okTenants + "timeout: 300 #@here\n",
			words: []string{`timeout "300" needs a unit`, "5m"}},
		{name: "timeout negative", yaml: okApp + okTenants + "timeout: -1s #@here\n",
			words: []string{"timeout -1s is out of range"}},
		{name: "schedule weekly", yaml: okApp + okTenants + "schedule: weekly #@here\n",
			words: []string{`schedule "weekly" is not understood`, "daily HH:MM", "every <duration>"}},
		{name: "schedule bad time", yaml: okApp + okTenants + "schedule: daily 25:00 #@here\n",
			words: []string{"no valid time of day"}},
		{name: "schedule bad interval", yaml: okApp + okTenants + "schedule: every day #@here\n",
			words: []string{"no valid interval", "every 6h"}},
		{name: "listen without port", yaml: okApp + okTenants + "listen: localhost #@here\n",
			words: []string{`listen "localhost" is not host:port`, "127.0.0.1:8080"}},
		{name: "listen bad port", yaml: okApp + okTenants + "listen: :99999 #@here\n",
			words: []string{"has no valid port"}},
		{name: "log level", yaml: okApp + okTenants + "log_level: verbose #@here\n",
			words: []string{`log_level "verbose" is not a level`, "debug, info, warn or error"}},
		{name: "database scheme", yaml: okApp + okTenants + "database: data/fleetscore.db #@here\n",
			words: []string{"database must start with sqlite: or postgres://", "sqlite:data/fleetscore.db"}},
		{name: "database password", yaml: okApp + okTenants + "database: postgres://fleet:" + theSecret + "@db:5432/fleet #@here\n",
			words: []string{"holds a password", "PGPASSWORD"}},

		// YAML itself
		{name: "yaml tab", yaml: okApp + okTenants + "\tconcurrency: 4 #@here\n",
			words: []string{"YAML syntax error", "tab"}},
		{name: "yaml syntax", yaml: okApp + okTenants + "schedule: daily: 02:00 #@here\n",
			words: []string{"YAML syntax error: mapping values are not allowed", "quote values"}},
		{name: "empty file", yaml: "# nothing yet\n", words: []string{"the file is empty"}},
	}
	// locked.pem exists but cannot be read; the reader refuses it as the
	// kernel would for anyone but root.
	if err := os.WriteFile(filepath.Join(fx.dir, "locked.pem"), nil, 0o000); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	read := func(name string) ([]byte, error) {
		if filepath.Base(name) == "locked.pem" {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		return os.ReadFile(name)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pfx && !fx.hasPFX {
				t.Skip("openssl is not on PATH: cannot make a PFX file")
			}
			getenv := tc.env
			if getenv == nil {
				getenv = goodEnv
			}
			cfg, err := parseAllAt(fx.path(), []byte(tc.yaml), getenv, time.Now(), read)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T, want *Error: %v", err, err)
			}
			if len(ce.Problems) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(ce.Problems), err)
			}
			m := markers(tc.yaml)
			prefix := fx.path() + ": "
			if m["here"] > 0 {
				prefix = fmt.Sprintf("%s:%d: ", fx.path(), m["here"])
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, prefix) {
				t.Errorf("error %q\ndoes not start with %q", msg, prefix)
			}
			for _, w := range tc.words {
				for name, line := range m {
					w = strings.ReplaceAll(w, "{"+name+"}", strconv.Itoa(line))
				}
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
			for _, secret := range []string{theSecret, pfxPassword, "wrong-guess"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error shows a secret: %q", msg)
				}
			}
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "; ") {
				t.Errorf("error %q is not one line of the form what; fix", msg)
			}
		})
	}
}

func TestManyProblemsAllReported(t *testing.T) {
	y := okApp + "concurrency: many\ntimeout: soon\ncloud: china\ntenants:\n"
	for i := range 25 {
		y += fmt.Sprintf("  - name: T%d\n    tenant_id: t%d.example.com\n", i, i)
	}
	_, err := parseAll(fx.path(), []byte(y), goodEnv)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	if len(ce.Problems) != 28 {
		t.Errorf("%d problems, want 28", len(ce.Problems))
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxShown+1 || !strings.Contains(lines[maxShown], "8 more problems not shown") {
		t.Errorf("error has %d lines, want %d and a count of the rest; last: %q", len(lines), maxShown+1, lines[len(lines)-1])
	}
	for i := 1; i < len(ce.Problems); i++ {
		if ce.Problems[i].Line < ce.Problems[i-1].Line {
			t.Errorf("problems out of line order: %d after %d", ce.Problems[i].Line, ce.Problems[i-1].Line)
		}
	}
}

const fullConfig = `# a full config
database: sqlite:data/scores.db
target_percent: 70
cloud: usgov
concurrency: 16
timeout: 90s
listen: 0.0.0.0:9090
schedule: every  6h
log_level: DEBUG
app:
  client_id: '{3F1C2A10-5B6D-4E8F-9A01-23456789ABCD}'
  certificate: good.pem
tenants:
  - name: Contoso
    tenant_id: 3f2b8c1e-7d4a-4b6e-9c2d-5a1e8f3b7c40
  - name: Fabrikam
    tenant_id: ` + fabrikamID + `
    target_percent: 80
    app:
      client_id: ` + otherClient + `
      client_secret_env: FLEETSCORE_CLIENT_SECRET
  - name: Northwind
    tenant_id: 5d1e7a2c-9b4f-4e3a-8c6d-1f7e2a9b3c51
    app:
      client_id: 6e2f8b3d-0c5a-4f4b-9d7e-2a8f3b0c4d62
      client_secret_file: secret.txt
  - name: Tailspin
    tenant_id: 7f3a9c4e-1d6b-4a5c-8e8f-3b9a4c1d5e73
    app:
      client_id: 8a4b0d5f-2e7c-4b6d-9f9a-4c0b5d2e6f84
      certificate: pkcs1.pem
`

func TestFullConfig(t *testing.T) {
	cfg, err := parseAll(fx.path(), []byte(fullConfig), goodEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	want := Cloud{Name: "usgov", AuthorityHost: "https://login.microsoftonline.us/",
		GraphURL: "https://graph.microsoft.us", GraphScope: "https://graph.microsoft.us/.default"}
	if cfg.Cloud != want {
		t.Errorf("cloud = %+v, want %+v", cfg.Cloud, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Path", cfg.Path, fx.path()},
		{"Database", cfg.Database, "sqlite:" + filepath.Join(fx.dir, "data/scores.db")},
		{"TargetPercent", cfg.TargetPercent, 70.0},
		{"Concurrency", cfg.Concurrency, 16},
		{"Timeout", cfg.Timeout, 90 * time.Second},
		{"Listen", cfg.Listen, "0.0.0.0:9090"},
		{"Schedule", cfg.Schedule, "every 6h"},
		{"LogLevel", cfg.LogLevel, slog.LevelDebug},
		{"App.ClientID", cfg.App.ClientID, clientID},
		{"App.Source", cfg.App.Source, "certificate good.pem"},
		{"App.Line", cfg.App.Line, 10},
		{"tenants", len(cfg.Tenants), 4},
		{"Contoso.ID", cfg.Tenants[0].ID, contosoID},
		{"Contoso.TargetPercent", cfg.Tenants[0].TargetPercent, 70.0},
		{"Contoso.App", cfg.Tenants[0].App, cfg.App},
		{"Contoso.Line", cfg.Tenants[0].Line, 14},
		{"Fabrikam.TargetPercent", cfg.Tenants[1].TargetPercent, 80.0},
		{"Fabrikam.App.ClientID", cfg.Tenants[1].App.ClientID, otherClient},
		{"Fabrikam.App.Secret", cfg.Tenants[1].App.Secret.Reveal(), theSecret},
		{"Fabrikam.App.Source", cfg.Tenants[1].App.Source, "secret from $FLEETSCORE_CLIENT_SECRET"},
		{"Fabrikam.App.Line", cfg.Tenants[1].App.Line, 19},
		{"Northwind.App.Secret", cfg.Tenants[2].App.Secret.Reveal(), theSecret},
		{"Northwind.App.Source", cfg.Tenants[2].App.Source, "secret from file secret.txt"},
		{"Tailspin.App.Source", cfg.Tenants[3].App.Source, "certificate pkcs1.pem"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, a := range []*App{cfg.App, cfg.Tenants[3].App} {
		if len(a.Certificates) != 1 || a.Key == nil || a.Secret != "" {
			t.Errorf("%s: %d certificates, key %T, secret set %v", a.Source, len(a.Certificates), a.Key, a.Secret != "")
		}
	}
	if d := cfg.Tenants[1].Domain(); d.ID != fabrikamID || d.Name != "Fabrikam" || d.TargetPercent != 80 {
		t.Errorf("Domain() = %+v", d)
	}
}

func TestDefaultsAndRelativePaths(t *testing.T) {
	// The config is named relative to the working folder; its relative paths
	// are resolved against the config's folder, not the working one.
	parent := filepath.Dir(fx.dir)
	t.Chdir(parent)
	rel := filepath.Join(filepath.Base(fx.dir), "fleetscore.yaml")
	y := okApp + okTenants
	if err := os.WriteFile(filepath.Join(fx.dir, "fleetscore.yaml"), []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(fx.dir, "fleetscore.yaml")) })
	cfg, err := Load(rel, goodEnv)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.EvalSymlinks(fx.dir)
	gotDB := strings.TrimPrefix(cfg.Database, "sqlite:")
	gotDir, _ := filepath.EvalSymlinks(filepath.Dir(filepath.Dir(gotDB)))
	if !strings.HasPrefix(cfg.Database, "sqlite:/") || gotDir != dir || filepath.Base(gotDB) != "fleetscore.db" {
		t.Errorf("Database = %q, want sqlite:%s/data/fleetscore.db", cfg.Database, dir)
	}
	if cfg.Path != rel {
		t.Errorf("Path = %q, want %q", cfg.Path, rel)
	}
	if cfg.TargetPercent != 75 || cfg.Concurrency != 8 || cfg.Timeout != 5*time.Minute || cfg.Listen != "127.0.0.1:8080" ||
		cfg.Schedule != "daily 02:00" || cfg.LogLevel != slog.LevelInfo || cfg.Cloud != clouds["global"] {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.Tenants[0].App != cfg.App || cfg.Tenants[0].TargetPercent != 75 {
		t.Errorf("tenant did not inherit: %+v", cfg.Tenants[0])
	}

	// A missing config file is a problem too.
	_, err = Load("nope.yaml", goodEnv)
	if err == nil || !strings.HasPrefix(err.Error(), "nope.yaml: the config file does not exist") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"sqlite:/var/lib/fleetscore/x.db", "sqlite:/var/lib/fleetscore/x.db"},
		{"sqlite:///var/lib/x.db", "sqlite:/var/lib/x.db"},
		{"sqlite:x.db?_pragma=busy_timeout(5000)", "sqlite:" + filepath.Join(fx.dir, "x.db") + "?_pragma=busy_timeout(5000)"},
		{"'sqlite::memory:'", "sqlite::memory:"},
		{"postgres://fleet@db:5432/fleet?sslmode=require", "postgres://fleet@db:5432/fleet?sslmode=require"},
	} {
		cfg, err := parseAll(fx.path(), []byte(okApp+okTenants+"database: "+tc.in+"\n"), goodEnv)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if cfg.Database != tc.want {
			t.Errorf("database %s = %q, want %q", tc.in, cfg.Database, tc.want)
		}
	}
}

// TestPFX reads PFX files as OpenSSL 3 writes them by default (AES-256,
// PBKDF2 with SHA-256: also recent Windows' Export-PfxCertificate), with
// -legacy, and with the old algorithms named one by one.
func TestPFX(t *testing.T) {
	if !fx.hasPFX {
		t.Fatal("openssl is not on PATH: scripts/test.sh installs it")
	}
	for _, name := range []string{"good.pfx", "modern.pfx", "legacy.pfx"} {
		y := "app:\n  client_id: " + clientID + "\n  certificate: " + name + "\n  certificate_password_env: FLEETSCORE_CERT_PASSWORD\n" + okTenants
		cfg, err := parseAll(fx.path(), []byte(y), goodEnv)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(cfg.App.Certificates) != 1 || cfg.App.Key == nil {
			t.Errorf("%s not loaded: %+v", name, cfg.App)
		}
		if cfg.App.Source != "certificate "+name {
			t.Errorf("%s: Source = %q", name, cfg.App.Source)
		}
	}
}

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		now        time.Time
		words      []string
	}{
		{"expired", "app:\n  client_id: " + clientID + "\n  certificate: expired.pem\n" + okTenants, time.Now(),
			[]string{":3: certificate expired.pem expired on", "create a new one"}},
		{"expires soon", "app:\n  client_id: " + clientID + "\n  certificate: soon.pem\n" + okTenants, time.Now(),
			[]string{":3: certificate soon.pem expires on", "in 9 days"}},
		{"not yet valid", okApp + okTenants, time.Now().AddDate(0, 0, -1),
			[]string{"is not valid until"}},
		{"fraction target", okApp + okTenants + "target_percent: 0.75\n", time.Now(),
			[]string{":9: target_percent 0.75 is below 1%", "75% is written 75"}},
		{"secret id for value", "app:\n  client_id: " + clientID + "\n  client_secret_file: guidsecret.txt\n" + okTenants, time.Now(),
			[]string{"is a GUID", "Value column"}},
		{"readable secret file", "app:\n  client_id: " + clientID + "\n  client_secret_file: open-secret.txt\n" + okTenants, time.Now(),
			[]string{"can be read by other users (mode 0644)", "chmod 600 open-secret.txt"}},
		{"frequent schedule", okApp + okTenants + "schedule: every 10m\n", time.Now(),
			[]string{"more than once an hour"}},
		{"unused default app", okApp + "tenants:\n  - name: A\n    tenant_id: " + contosoID + "\n    app:\n      client_id: " + otherClient + "\n      client_secret_env: FLEETSCORE_CLIENT_SECRET\n", time.Now(),
			[]string{":2: the default app is not used"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseAllAt(fx.path(), []byte(tc.yaml), goodEnv, tc.now, os.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Warnings) != 1 {
				t.Fatalf("warnings = %q, want 1", cfg.Warnings)
			}
			for _, w := range tc.words {
				if !strings.Contains(cfg.Warnings[0], w) {
					t.Errorf("warning %q does not contain %q", cfg.Warnings[0], w)
				}
			}
		})
	}
}

func TestCloudsAndAdminConsentURL(t *testing.T) {
	for _, tc := range []struct {
		extra, scope, graph, consent string
		custom                       bool
	}{
		{"", "https://graph.microsoft.com/.default", "https://graph.microsoft.com",
			"https://login.microsoftonline.com/" + contosoID + "/adminconsent?client_id=" + clientID, false},
		{"cloud: global\n", "https://graph.microsoft.com/.default", "https://graph.microsoft.com",
			"https://login.microsoftonline.com/" + contosoID + "/adminconsent?client_id=" + clientID, false},
		{"cloud: usgov\n", "https://graph.microsoft.us/.default", "https://graph.microsoft.us",
			"https://login.microsoftonline.us/" + contosoID + "/adminconsent?client_id=" + clientID, false},
		{"cloud: USGovDoD\n", "https://dod-graph.microsoft.us/.default", "https://dod-graph.microsoft.us",
			"https://login.microsoftonline.us/" + contosoID + "/adminconsent?client_id=" + clientID, false},
		// A look-alike keeps Microsoft's scope.
		{"authority_host: https://127.0.0.1:8443\ngraph_url: https://127.0.0.1:8443/\n", "https://graph.microsoft.com/.default", "https://127.0.0.1:8443",
			"https://127.0.0.1:8443/" + contosoID + "/adminconsent?client_id=" + clientID, true},
		{"cloud: usgov\ngraph_url: https://graph.example.test/base/\n", "https://graph.microsoft.us/.default", "https://graph.example.test/base",
			"https://login.microsoftonline.us/" + contosoID + "/adminconsent?client_id=" + clientID, false},
		{"graph_scope: api://fleetscore-emulator/.default\n", "api://fleetscore-emulator/.default", "https://graph.microsoft.com",
			"https://login.microsoftonline.com/" + contosoID + "/adminconsent?client_id=" + clientID, false},
	} {
		cfg, err := parseAll(fx.path(), []byte(okApp+okTenants+tc.extra), goodEnv)
		if err != nil {
			t.Errorf("%q: %v", tc.extra, err)
			continue
		}
		if cfg.Cloud.GraphScope != tc.scope || cfg.Cloud.GraphURL != tc.graph || cfg.Cloud.Custom != tc.custom {
			t.Errorf("%q: cloud = %+v", tc.extra, cfg.Cloud)
		}
		if got := cfg.AdminConsentURL(cfg.Tenants[0]); got != tc.consent {
			t.Errorf("%q: AdminConsentURL = %q, want %q", tc.extra, got, tc.consent)
		}
	}
	// A tenant's own app is the one it consents to.
	cfg, err := parseAll(fx.path(), []byte(fullConfig), goodEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://login.microsoftonline.us/" + fabrikamID + "/adminconsent?client_id=" + otherClient
	if got := cfg.AdminConsentURL(cfg.Tenants[1]); got != want {
		t.Errorf("AdminConsentURL(Fabrikam) = %q, want %q", got, want)
	}
}

func TestExample(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(fx.dir, "good.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "fleetscore.pem"), good, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "fleetscore.yaml")

	// As shipped, the only problems are the placeholders: the all-zero
	// client_id and the two tenants' repeated-digit IDs.
	_, err = parseAll(path, Example(), goodEnv)
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 3 || !strings.Contains(err.Error(), "client_id is the all-zero placeholder") ||
		!strings.Contains(err.Error(), "tenant_id 11111111-1111-1111-1111-111111111111 is a placeholder") ||
		!strings.Contains(err.Error(), "tenant_id 22222222-2222-2222-2222-222222222222 is a placeholder") {
		t.Fatalf("example as shipped: %v", err)
	}
	filled := bytes.Replace(Example(), []byte("00000000-0000-0000-0000-000000000000"), []byte(clientID), 1)
	filled = bytes.Replace(filled, []byte("11111111-1111-1111-1111-111111111111"), []byte("3f2b8c1e-7d4a-4b6e-9c2d-5a1e8f3b7c40"), 1)
	filled = bytes.Replace(filled, []byte("22222222-2222-2222-2222-222222222222"), []byte("8a4c2e6f-1b3d-4f5a-8e7c-2d9b6a4f1e83"), 1)
	cfg, err := parseAll(path, filled, goodEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database != "sqlite:"+filepath.Join(dir, "data/fleetscore.db") || cfg.TargetPercent != DefaultTargetPercent ||
		cfg.Concurrency != DefaultConcurrency || cfg.Timeout != DefaultTimeout || cfg.Schedule != DefaultSchedule ||
		cfg.Listen != DefaultListen || cfg.Cloud.Name != DefaultCloud || len(cfg.Tenants) != 2 || len(cfg.Warnings) != 0 {
		t.Errorf("example does not show the defaults: %+v", cfg)
	}
	// Every key the parser knows is in the example.
	for _, k := range append(append(append([]string{}, topKeys...), appKeys...), tenantKeys...) {
		if !bytes.Contains(Example(), []byte(k+":")) {
			t.Errorf("example does not mention %s", k)
		}
	}
}

// TestSecretsNeverShown prints a config with a client secret and a PFX in
// every way a program might, and the problems of files holding them.
func TestSecretsNeverShown(t *testing.T) {
	y := fullConfig
	if fx.hasPFX {
		y = strings.Replace(y, "certificate: pkcs1.pem", "certificate: good.pfx\n      certificate_password_env: FLEETSCORE_CERT_PASSWORD", 1)
	}
	cfg, err := parseAll(fx.path(), []byte(y), goodEnv)
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, v := range []any{cfg, *cfg, cfg.Tenants, cfg.Tenants[1], cfg.Tenants[1].App, *cfg.Tenants[1].App, cfg.Tenants[1].App.Secret} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json.Marshal(%T): %v", v, err)
		}
		outs = append(outs, string(j))
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("config", "value", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "value", v)
		outs = append(outs, text.String(), js.String())
	}
	if b, err := cfg.Tenants[1].App.Secret.MarshalText(); err != nil || string(b) != "REDACTED" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
	// The private key must not be printed either.
	keyD := fmt.Sprint(cfg.App.Key.(*rsa.PrivateKey).D)
	for _, out := range outs {
		for _, s := range []string{theSecret, pfxPassword, keyD} {
			if strings.Contains(out, s) {
				t.Errorf("output shows a secret or key:\n%s", out)
			}
		}
	}
	if !strings.Contains(fmt.Sprintf("%v", cfg.Tenants[1].App.Secret), "REDACTED") {
		t.Error("Secret does not print REDACTED")
	}

	// Problems with files and fields that hold secrets.
	for _, bad := range []string{
		"app:\n  client_id: " + clientID + "\n  client_secret: " + theSecret + "\n" + okTenants,
		"app:\n  client_id: " + theSecret + "\n  client_secret_env: FLEETSCORE_CLIENT_SECRET\n" + okTenants,
		"app:\n  client_id: " + clientID + "\n  client_secret_env: " + theSecret + "\n" + okTenants,
		"app:\n  client_id: " + clientID + "\n  client_secret_env: lowercasesecretvalue\n" + okTenants,
		"app:\n  client_id: " + clientID + "\n  password: " + pfxPassword + "\n  certificate: good.pem\n" + okTenants,
		"app:\n  client_id: " + clientID + "\n  certificate: good.pem\n  my_secret_thing: " + theSecret + "\n" + okTenants,
		"app:\n  client_id: " + clientID + "\n  certificate: good.pfx\n  certificate_password_env: FLEETSCORE_CERT_PASSWORD\n" + okTenants + "database: postgres://u:" + pfxPassword + "@h/db\n",
		"app:\n  client_id: " + clientID + "\n  certificate: good.pfx\n  certificate_password_env: FLEETSCORE_CERT_PASSWORD\n" + okTenants + "database: 'postgres://u:" + pfxPassword + "@h:bad port/db'\n",
	} {
		_, err := parseAll(fx.path(), []byte(bad), env("FLEETSCORE_CLIENT_SECRET", theSecret, "FLEETSCORE_CERT_PASSWORD", "nope-"+pfxPassword))
		if err == nil {
			t.Errorf("no error for\n%s", bad)
			continue
		}
		for _, s := range []string{theSecret, pfxPassword, "lowercasesecretvalue"} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error shows a secret: %v", err)
			}
		}
	}
}

func TestArchiveBlock(t *testing.T) {
	base := "app:\n  client_id: 6e1f3c55-8a0b-4d7e-9f2a-51c0d2b4a7e9\n  client_secret_env: S\ntenants:\n  - name: A\n    tenant_id: 11111111-2222-3333-4444-555555555555\n"
	env := map[string]string{"S": "x-secret-value", "CONN": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k"}
	getenv := func(k string) string { return env[k] }
	dir := t.TempDir()
	c, err := parseAll(dir+"/fleetscore.yaml", []byte(base+"archive:\n  folder: raw\n"), getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Archive == nil || c.Archive.Kind() != "folder" || c.Archive.Folder != dir+"/raw" {
		t.Errorf("folder archive: %+v", c.Archive)
	}
	c, err = parseAll(dir+"/fleetscore.yaml", []byte(base+"archive:\n  container: securescore\n  connection_string_env: CONN\n"), getenv)
	if err != nil || c.Archive.Kind() != "azblob" || c.Archive.ConnectionStringEnv != "CONN" {
		t.Errorf("blob archive: %+v %v", c.Archive, err)
	}
	for _, tc := range []struct {
		block, says string
		line        int
	}{
		{"archive:\n  folder: raw\n  container: c\n", "both folder and container", 7},
		{"archive:\n  managed_identity: true\n", "neither folder nor container", 7},
		{"archive:\n  container: c\n", "exactly one way in", 7},
		{"archive:\n  container: c\n  managed_identity: true\n", "account_url is missing", 7},
		{"archive:\n  container: c\n  connection_string_env: MISSING\n", "MISSING", 9},
		{"archive:\n  folder: raw\n  bucket: x\n", "bucket", 9},
	} {
		_, err := parseAll(dir+"/fleetscore.yaml", []byte(base+tc.block), getenv)
		at := fmt.Sprintf("fleetscore.yaml:%d:", tc.line)
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), at) {
			t.Errorf("%q: %v; want an error at %s saying %q", tc.block, err, at, tc.says)
		}
	}
}

// TestWriteBack: off by default, on for every tenant with write_back: true
// at the top, and a tenant's own write_back wins either way.
func TestWriteBack(t *testing.T) {
	tenants := "tenants:\n  - name: A\n    tenant_id: " + contosoID + "\n  - name: B\n    tenant_id: " + fabrikamID + "\n    write_back: false\n"
	for _, tc := range []struct {
		top        string
		file, a, b bool
	}{
		{"", false, false, false},
		{"write_back: true\n", true, true, false},
		{"write_back: yes\n", true, true, false},
		{"write_back: false\n", false, false, false},
	} {
		c, err := parseAll(fx.path(), []byte(okApp+tc.top+tenants), goodEnv)
		if err != nil {
			t.Fatalf("%q: %v", tc.top, err)
		}
		if c.WriteBack != tc.file || c.Tenants[0].WriteBack != tc.a || c.Tenants[1].WriteBack != tc.b {
			t.Errorf("%q: file %v, A %v, B %v; want %v %v %v", tc.top, c.WriteBack, c.Tenants[0].WriteBack, c.Tenants[1].WriteBack, tc.file, tc.a, tc.b)
		}
	}
	c, err := parseAll(fx.path(), []byte(okApp+strings.Replace(tenants, "write_back: false", "write_back: true", 1)), goodEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.WriteBack || c.Tenants[0].WriteBack || !c.Tenants[1].WriteBack {
		t.Errorf("a tenant's write_back: true with none at the top: file %v, A %v, B %v", c.WriteBack, c.Tenants[0].WriteBack, c.Tenants[1].WriteBack)
	}
}

// parseAll is Parse with every secret required, as check and serve load
// the config: a secret that cannot be loaded is an error here.
func parseAll(path string, data []byte, getenv func(string) string) (*Config, error) {
	return parseAllAt(path, data, getenv, time.Now(), os.ReadFile)
}

func parseAllAt(path string, data []byte, getenv func(string) string, now time.Time, readFile func(string) ([]byte, error)) (*Config, error) {
	c, err := parse(path, data, getenv, now, readFile)
	if err == nil {
		if err = c.Require(UseAll); err != nil {
			c = nil
		}
	}
	return c, err
}
