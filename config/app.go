package config

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"go.yaml.in/yaml/v3"
	"software.sslmate.com/src/go-pkcs12"
)

const (
	clientIDFix = "copy the Application (client) ID from the Overview page of the app registration in the Microsoft Entra admin center; it is a GUID like 3f1c2a10-5b6d-4e8f-9a01-23456789abcd"
	newRSACert  = "openssl req -x509 -newkey rsa:2048 -nodes -days 730 -subj /CN=fleetscore -keyout key.pem -out cert.pem, then cat cert.pem key.pem > fleetscore.pem and upload cert.pem to the app registration"
	maxFileSize = 1 << 20
	expirySoon  = 30 // days
)

// app reads an app block. It returns nil when e is absent or not a mapping.
func (p *parser) app(e entry) *App {
	if e.missing() {
		return nil
	}
	if e.val.Kind != yaml.MappingNode {
		p.fail(e.key.Line, "app must be a block of keys (client_id:, certificate: ...)",
			"indent client_id: and certificate: (or client_secret_env:) under app:")
		return nil
	}
	m := p.mapping(e.val, "app", appKeys)
	a := &App{Line: e.key.Line}

	if v, ok := p.scalar(m["client_id"], "a GUID", "client_id: 3f1c2a10-5b6d-4e8f-9a01-23456789abcd"); ok {
		// The value is not shown: a client secret pasted here by mistake
		// must not end up in a log.
		switch id, valid := guid(v); {
		case !valid:
			p.fail(m["client_id"].key.Line, "client_id is not a GUID", clientIDFix)
		case id == zeroGUID:
			p.fail(m["client_id"].key.Line, "client_id is the all-zero placeholder from the example", clientIDFix)
		default:
			a.ClientID = id
		}
	} else if m["client_id"].missing() {
		p.fail(a.Line, "the app has no client_id", "add client_id: and "+clientIDFix)
	}

	cert, secretEnv, secretFile, pwEnv := m["certificate"], m["client_secret_env"], m["client_secret_file"], m["certificate_password_env"]
	hasCert, hasEnv, hasFile := !cert.missing(), !secretEnv.missing(), !secretFile.missing()
	switch {
	case hasCert && (hasEnv || hasFile):
		p.fail(a.Line, "the app has both a certificate and a client secret",
			"keep one: certificate (recommended), or client_secret_env / client_secret_file")
	case hasEnv && hasFile:
		p.fail(secretFile.key.Line, "the app has both client_secret_env and client_secret_file", "keep one of them")
	case !hasCert && !hasEnv && !hasFile:
		p.fail(a.Line, "the app has no credential",
			"add certificate: with a PEM or PFX file (recommended), or client_secret_env: or client_secret_file:")
	case hasCert:
		p.secrets(p.appSecretsUse(), func() { p.certificate(a, cert, pwEnv) })
	case hasEnv:
		p.secrets(p.appSecretsUse(), func() {
			if name, v, ok := p.env(secretEnv, "the client secret"); ok {
				a.Secret, a.Source = Secret(strings.TrimSpace(v)), "secret from $"+name
				p.checkSecret(a, secretEnv.key.Line)
			}
		})
		if name := strings.TrimSpace(secretEnv.val.Value); a.Source == "" && conventionalEnv.MatchString(name) {
			a.Source = "secret from $" + name
		}
	case hasFile:
		p.secrets(p.appSecretsUse(), func() { p.secretFile(a, secretFile) })
		if a.Source == "" {
			a.Source = "secret from file " + strings.TrimSpace(secretFile.val.Value)
		}
	}
	if !pwEnv.missing() && !hasCert {
		p.fail(pwEnv.key.Line, "certificate_password_env is set but the app has no certificate",
			"remove it, or add certificate: with the PFX file it opens")
	}
	return a
}

// appSecretsUse is what the app's secrets are for: signing in to the
// tenants, or sending a graph_mail channel's mail.
func (p *parser) appSecretsUse() Use {
	if p.appUse != 0 {
		return p.appUse
	}
	return UseGraph
}

var (
	envName         = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	conventionalEnv = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

// env looks up the environment variable that e names. holds completes
// "put ... in that variable". Names that are not conventional upper-case
// ones are not shown, since they may be a secret pasted in the wrong place.
func (p *parser) env(e entry, holds string) (name, value string, ok bool) {
	key := e.key.Value
	v, ok := p.scalar(e, "the name of an environment variable", key+": FLEETSCORE_CLIENT_SECRET")
	if !ok {
		return "", "", false
	}
	if !envName.MatchString(v) {
		p.fail(e.key.Line, key+" must be the name of an environment variable, like FLEETSCORE_CLIENT_SECRET (the value is not shown: it may be the secret itself)",
			"put "+holds+" in an environment variable and write only the variable's name here")
		return "", "", false
	}
	value = p.getenv(v)
	if value == "" {
		what := fmt.Sprintf("environment variable %s, named by %s, is empty or not set", v, key)
		if !conventionalEnv.MatchString(v) {
			what = fmt.Sprintf("the environment variable named by %s is empty or not set (its name is not shown: it is not upper case and may be a secret pasted here)", key)
		}
		p.failSecret(e.key.Line, what, "set it in fleetscore's environment (for systemd: Environment= or EnvironmentFile= in the unit), or fix the name")
		return "", "", false
	}
	return v, value, true
}

// checkSecret warns about a secret that is really the secret's ID.
func (p *parser) checkSecret(a *App, line int) {
	if _, isGUID := guid(a.Secret.Reveal()); isGUID {
		p.warn(line, fmt.Sprintf("the client secret (%s) is a GUID: that is usually the secret's ID, not its value", a.Source),
			"copy the Value column of Certificates & secrets, shown only when the secret is created (Entra answers AADSTS7000215 otherwise)")
	}
}

func (p *parser) secretFile(a *App, e entry) {
	written, ok := p.scalar(e, "a file path", "client_secret_file: secrets/client-secret.txt")
	if !ok {
		return
	}
	data, ok := p.read(e.key.Line, "client secret", written)
	if !ok {
		return
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		p.fail(e.key.Line, fmt.Sprintf("client secret file %s is empty", written), "put the secret's value in it, alone on one line")
		return
	}
	if strings.Contains(s, "\n") {
		p.fail(e.key.Line, fmt.Sprintf("client secret file %s has more than one line", written), "put only the secret's value in it, alone on one line")
		return
	}
	a.Secret, a.Source = Secret(s), "secret from file "+written
	p.checkSecret(a, e.key.Line)
}

// abs resolves a path written in the config against the config's folder.
func (p *parser) abs(written string) string {
	if filepath.IsAbs(written) {
		return filepath.Clean(written)
	}
	return filepath.Join(p.dir, written)
}

// read reads a file the config names, reporting why it cannot. It warns
// when others may read it, as it holds a key or secret.
func (p *parser) read(line int, what, written string) ([]byte, bool) {
	abs := p.abs(written)
	shown := written
	if abs != written {
		shown = fmt.Sprintf("%s (%s)", written, abs)
	}
	fi, err := os.Stat(abs)
	if err == nil && fi.IsDir() {
		p.fail(line, fmt.Sprintf("%s file %s is a folder", what, shown), "name the file itself")
		return nil, false
	}
	if err == nil && fi.Size() > maxFileSize {
		p.fail(line, fmt.Sprintf("%s file %s is %d bytes, too big to be one", what, shown, fi.Size()), "check the path")
		return nil, false
	}
	var data []byte
	if err == nil {
		data, err = p.readFile(abs)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.failSecret(line, fmt.Sprintf("%s file %s does not exist", what, shown),
			"check the path; a relative path is relative to the config file's folder, "+p.dir)
		return nil, false
	case errors.Is(err, fs.ErrPermission):
		p.failSecret(line, fmt.Sprintf("cannot read %s file %s: permission denied", what, shown),
			"let the user fleetscore runs as read it, e.g. chown that user and chmod 600")
		return nil, false
	case err != nil:
		p.fail(line, fmt.Sprintf("cannot read %s file %s: %v", what, written, err), "check the path and the file")
		return nil, false
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 && what != "certificate" {
		p.warn(line, fmt.Sprintf("%s file %s can be read by other users (mode %04o)", what, written, perm), "chmod 600 "+written)
	}
	return data, true
}

// loaded is the result of reading one certificate file.
type loaded struct {
	certs []*x509.Certificate
	key   crypto.PrivateKey
}

// certificate loads the app's certificate and private key. A file used by
// several apps is read, and its problems reported, once.
func (p *parser) certificate(a *App, cert, pwEnv entry) {
	written, ok := p.scalar(cert, "a file path", "certificate: secrets/fleetscore.pem")
	if !ok {
		return
	}
	line := cert.key.Line
	a.Source = "certificate " + written
	pwName := "" // checked, and any problem reported, by env below
	if !pwEnv.missing() && pwEnv.val.Kind == yaml.ScalarNode {
		pwName = strings.TrimSpace(pwEnv.val.Value)
	}
	id := p.abs(written) + "\x00" + pwName
	if l, seen := p.certs[id]; seen {
		a.Certificates, a.Key = l.certs, l.key
		return
	}
	l := &loaded{}
	p.certs[id] = l
	data, ok := p.read(line, "certificate", written)
	if !ok {
		if !pwEnv.missing() {
			p.env(pwEnv, "the PFX password") // report it too, if it is also wrong
		}
		return
	}
	var certs []*x509.Certificate
	var key crypto.PrivateKey
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		if !pwEnv.missing() {
			p.warn(pwEnv.key.Line, fmt.Sprintf("certificate_password_env is not used: %s is a PEM file, read unencrypted", written),
				"remove certificate_password_env")
		}
		if !p.checkPEM(line, written, data) {
			return
		}
		var err error
		if certs, key, err = azidentity.ParseCertificates(data, nil); err != nil {
			p.fail(line, fmt.Sprintf("cannot load certificate %s: %v", written, err),
				"check that it holds one certificate and its private key, unencrypted")
			return
		}
		if perm := p.perm(written); runtime.GOOS != "windows" && perm&0o077 != 0 {
			p.warn(line, fmt.Sprintf("certificate %s holds a private key that other users can read (mode %04o)", written, perm),
				"chmod 600 "+written)
		}
	} else {
		password := ""
		if !pwEnv.missing() {
			if _, password, ok = p.env(pwEnv, "the PFX password"); !ok {
				return
			}
		}
		if certs, key, ok = p.pfx(line, written, pwName, data, password); !ok {
			return
		}
	}
	if !p.checkKey(line, written, certs, key) {
		return
	}
	l.certs, l.key = certs, key
	a.Certificates, a.Key = certs, key
}

func (p *parser) perm(written string) fs.FileMode {
	fi, err := os.Stat(p.abs(written))
	if err != nil {
		return 0
	}
	return fi.Mode().Perm()
}

// checkPEM explains what a PEM file lacks before azidentity is asked to load it.
func (p *parser) checkPEM(line int, written string, data []byte) bool {
	var certs, keys int
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			certs++
		case "PRIVATE KEY", "RSA PRIVATE KEY":
			if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
				p.fail(line, fmt.Sprintf("the private key in %s is encrypted", written),
					"decrypt it (openssl pkey -in "+written+" -out plain.pem) and protect the file with chmod 600, or use a PFX with certificate_password_env")
				return false
			}
			keys++
		case "ENCRYPTED PRIVATE KEY":
			p.fail(line, fmt.Sprintf("the private key in %s is encrypted", written),
				"decrypt it (openssl pkey -in "+written+" -out plain.pem) and protect the file with chmod 600, or use a PFX with certificate_password_env")
			return false
		case "EC PRIVATE KEY":
			p.fail(line, fmt.Sprintf("the private key in %s is an EC key, not RSA", written),
				"Entra ID app certificates need an RSA key; create one: "+newRSACert)
			return false
		case "OPENSSH PRIVATE KEY":
			p.fail(line, fmt.Sprintf("%s is an SSH key, not a certificate", written), "create a certificate: "+newRSACert)
			return false
		}
	}
	switch {
	case certs == 0 && keys == 0:
		p.fail(line, fmt.Sprintf("%s holds no certificate and no private key", written),
			"give a PEM file with -----BEGIN CERTIFICATE----- and -----BEGIN PRIVATE KEY----- blocks, or a PFX")
	case certs == 0:
		p.fail(line, fmt.Sprintf("%s holds a private key but no certificate", written),
			"append the certificate to it: cat cert.pem >> "+written)
	case keys == 0:
		p.fail(line, fmt.Sprintf("%s holds a certificate but no private key", written),
			"append the private key created with it: cat key.pem >> "+written+" (the certificate alone is what you upload to the app registration)")
	case keys > 1:
		p.fail(line, fmt.Sprintf("%s holds %d private keys", written, keys), "keep only the key that belongs to the certificate")
	default:
		return true
	}
	return false
}

// pfx opens a PKCS#12 file. It never shows the password, only the name of
// the variable that holds it.
func (p *parser) pfx(line int, written, pwName string, data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, bool) {
	// go-pkcs12 reads PBES2 (AES-256 with PBKDF2/SHA-256), the default of
	// OpenSSL 3 and recent Windows, as well as the legacy algorithms.
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err == nil {
		if _, ok := key.(*rsa.PrivateKey); ok && leaf != nil {
			return append([]*x509.Certificate{leaf}, chain...), key, true
		}
	}
	wrongPassword := errors.Is(err, pkcs12.ErrIncorrectPassword)
	// Other problems (no key, no certificate, not a PFX) are named from
	// azidentity's reading, as before.
	certs, akey, aerr := azidentity.ParseCertificates(data, []byte(password))
	if aerr == nil && !wrongPassword {
		return certs, akey, true
	}
	msg := ""
	if aerr != nil {
		msg = aerr.Error()
	}
	switch {
	case wrongPassword, strings.Contains(msg, "password incorrect"):
		if pwName == "" {
			p.fail(line, fmt.Sprintf("certificate %s is a PFX protected by a password", written),
				"put the password in an environment variable and name it with certificate_password_env")
		} else {
			p.fail(line, fmt.Sprintf("the password in $%s did not open the PFX file %s", pwName, written),
				fmt.Sprintf("set %s to the password the PFX was exported with", pwName))
		}
	case strings.Contains(msg, "unknown digest algorithm"), strings.Contains(msg, "is not supported"):
		p.fail(line, fmt.Sprintf("PFX file %s is protected with algorithms fleetscore cannot read (AES and SHA-256, the default of OpenSSL 3 and recent Windows)", written),
			"convert it to PEM (openssl pkcs12 -in "+written+" -nodes -out fleetscore.pem, then chmod 600) or export it again with openssl pkcs12 -export -legacy")
	case strings.Contains(msg, "found no private key"), strings.Contains(msg, "private key missing"):
		p.fail(line, fmt.Sprintf("PFX file %s has no RSA private key", written),
			"export the certificate with its private key (an RSA key: Entra ID accepts no other)")
	case strings.Contains(msg, "found no certificate"), strings.Contains(msg, "certificate missing"):
		p.fail(line, fmt.Sprintf("PFX file %s has no certificate", written), "export the certificate together with its private key")
	default:
		if _, derr := x509.ParseCertificate(data); derr == nil {
			p.fail(line, fmt.Sprintf("%s holds only a certificate (DER, like a .cer file), without its private key", written),
				"name the PEM or PFX file that has the private key; the .cer is what you upload to the app registration")
		} else {
			p.fail(line, fmt.Sprintf("%s is neither a PEM file nor a PFX (PKCS#12) file", written),
				"give the certificate with its private key as PEM (-----BEGIN CERTIFICATE----- and -----BEGIN PRIVATE KEY----- blocks) or as a PFX")
		}
	}
	return nil, nil, false
}

// checkKey requires an RSA key that belongs to one of the certificates
// (MSAL's rule) and warns when that certificate is out of its validity.
func (p *parser) checkKey(line int, written string, certs []*x509.Certificate, key crypto.PrivateKey) bool {
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		p.fail(line, fmt.Sprintf("the private key in %s is %s, not RSA", written, keyKind(key)),
			"Entra ID app certificates need an RSA key; create one: "+newRSACert)
		return false
	}
	var leaf *x509.Certificate
	for _, c := range certs {
		if rk.PublicKey.Equal(c.PublicKey) {
			leaf = c
			break
		}
	}
	if leaf == nil {
		p.fail(line, fmt.Sprintf("the private key in %s does not belong to its certificate", written),
			"put the certificate and the key that were created together in the file")
		return false
	}
	day := "2006-01-02"
	switch {
	case p.now.After(leaf.NotAfter):
		p.warn(line, fmt.Sprintf("certificate %s expired on %s: Entra ID will refuse it", written, leaf.NotAfter.Format(day)),
			"create a new one ("+newRSACert+")")
	case leaf.NotAfter.Sub(p.now).Hours() < expirySoon*24:
		p.warn(line, fmt.Sprintf("certificate %s expires on %s, in %d days", written, leaf.NotAfter.Format(day), int(leaf.NotAfter.Sub(p.now).Hours()/24)),
			"create a new one, upload it to the app registration, then switch this file")
	case p.now.Before(leaf.NotBefore):
		p.warn(line, fmt.Sprintf("certificate %s is not valid until %s", written, leaf.NotBefore.Format(day)),
			"check the clock of this machine and of the machine that made the certificate")
	}
	return true
}

func keyKind(k crypto.PrivateKey) string {
	switch k.(type) {
	case *ecdsa.PrivateKey:
		return "an ECDSA key"
	case ed25519.PrivateKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("a %T", k)
}
