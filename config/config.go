// Package config reads fleetscore's YAML configuration file into a validated
// Config: the Microsoft cloud and its endpoints, the app registrations with
// their certificates or secrets already loaded, and the client tenants.
//
// Every problem in the file is reported at once, each as
// "file:line: what is wrong; the fix". Secrets come from environment
// variables or files named in the config, never from the config itself, and
// no printed form of a Config (fmt, slog, JSON) shows a secret or a key.
package config

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Defaults for the optional keys.
const (
	DefaultDatabase      = "sqlite:data/fleetscore.db" // relative to the config file's folder, unless $FLEETSCORE_DATA or $STATE_DIRECTORY is set (env.go)
	DefaultTargetPercent = 75.0
	DefaultCloud         = "global"
	DefaultConcurrency   = 8
	DefaultTimeout       = 5 * time.Minute
	DefaultListen        = "127.0.0.1:8080"
	DefaultSchedule      = "daily 02:00"
)

// Config is a validated configuration file.
type Config struct {
	Path string // the file read, as given
	// Database is as written, except that a relative sqlite path is resolved
	// against the config file's folder: "sqlite:/etc/fleetscore/data/fleetscore.db".
	Database      string
	TargetPercent float64 // the KPI target; 0 < x <= 100
	Cloud         Cloud
	Concurrency   int           // tenants collected at once
	Timeout       time.Duration // deadline for one tenant's collection
	Listen        string        // host:port of the web server
	Schedule      string        // "daily HH:MM" or "every <Go duration>", whitespace normalised
	LogLevel      slog.Level
	// WriteBack is write_back: exceptions are written to each tenant's
	// Secure Score through Graph (which needs SecurityEvents.ReadWrite.All),
	// not only kept in fleetscore. Off unless the file says true; a tenant
	// may say otherwise (Tenant.WriteBack).
	WriteBack bool
	App       *App // the default app; nil when every tenant has its own
	// Archive, when set, keeps each tenant's raw Graph JSON per day.
	Archive *Archive
	// Auth, when set, configures sign-in (auth.go).
	Auth *Auth
	// Exceptions, when set, is the approval rule and the templates of
	// exceptions (exceptions.go).
	Exceptions *Exceptions
	// Reports, when set, is the branding, schedule and channel of the
	// client reports (reports.go).
	Reports  *Reports
	Tenants  []Tenant
	Channels []Channel   // where alerts go (alerts.go)
	Alerts   []AlertRule // the alert rules, in the file's order
	// DigestOver is alerts.digest_over: a run that would send a channel
	// more messages than this sends one digest listing them; 0 never does.
	DigestOver int
	// PublicURL is public_url: where people open fleetscore, without a
	// trailing slash; alert messages link to its pages. "" when unknown.
	PublicURL string
	// Warnings are problems that do not stop fleetscore, such as a
	// certificate that has expired or soon will, in the form of errors.
	Warnings []string

	deferred []deferred // problems with secrets, reported by Require
}

// App is one app registration with its credential loaded: a certificate
// (Certificates and Key) or a client secret (Secret), never both.
type App struct {
	ClientID     string // the Application (client) ID, a lower-case GUID
	Certificates []*x509.Certificate
	Key          crypto.PrivateKey // an *rsa.PrivateKey: Entra ID requires RSA
	Secret       Secret
	// Source names the credential for messages and logs without showing it:
	// "certificate secrets/fleetscore.pem", "secret from $FLEETSCORE_CLIENT_SECRET"
	// or "secret from file secrets/client-secret.txt".
	Source string
	Line   int // line of the app: key
}

// String describes the app without its credential.
func (a App) String() string { return fmt.Sprintf("app %s (%s)", a.ClientID, a.Source) }

// GoString describes the app for %#v without its credential or key.
func (a App) GoString() string {
	return fmt.Sprintf("config.App{ClientID:%q, Source:%q, Line:%d}", a.ClientID, a.Source, a.Line)
}

// LogValue logs the app without its credential.
func (a App) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", a.ClientID), slog.String("source", a.Source))
}

// MarshalJSON encodes the app without its credential or key.
func (a App) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ClientID string `json:"client_id"`
		Source   string `json:"source"`
		Line     int    `json:"line"`
	}{a.ClientID, a.Source, a.Line})
}

var (
	_ fmt.Stringer   = App{}
	_ slog.LogValuer = App{}
	_ json.Marshaler = App{}
)

// Tenant is one client tenant.
type Tenant struct {
	Name          string
	ID            string  // the Directory (tenant) ID, a lower-case GUID
	TargetPercent float64 // the tenant's own target, or the file's
	App           *App    // the tenant's own app, or the default one; never nil after Load
	// Cloud is the tenant's own (cloud: under the tenant), or the file's:
	// its token scope and Graph host follow it.
	Cloud Cloud
	// WriteBack is the tenant's write_back, or the file's.
	WriteBack bool
	// ReportTo are the addresses its client report is mailed to
	// (report_to:), validated; none: it is not mailed.
	ReportTo []string
	Line     int // line of the tenant's list item
}

// Domain is the tenant as the rest of fleetscore knows it.
func (t Tenant) Domain() fleetscore.Tenant {
	return fleetscore.Tenant{ID: t.ID, Name: t.Name, TargetPercent: t.TargetPercent}
}

// AdminConsentURL is the link an administrator of tenant t opens to grant
// t's app its permissions in t: "{authority}{tenant}/adminconsent?client_id={app}".
func (c *Config) AdminConsentURL(t Tenant) string {
	app := t.App
	if app == nil {
		app = c.App
	}
	if app == nil {
		return ""
	}
	host := t.Cloud.AuthorityHost
	if host == "" {
		host = c.Cloud.AuthorityHost
	}
	return host + url.PathEscape(t.ID) + "/adminconsent?client_id=" + url.QueryEscape(app.ClientID)
}

// Load reads the config file at path and returns it validated, with every
// certificate and secret loaded. getenv looks up the environment variables
// the file names (nil means os.Getenv). The error is an *Error listing every
// problem.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		pr := Problem{Path: path}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			pr.What, pr.Fix = "the config file does not exist", "check the path, or write one from config/example.yaml (fleetscore's repository), or run `fleetscore demo` for one that works at once"
		case errors.Is(err, fs.ErrPermission):
			pr.What, pr.Fix = "cannot read the config file: permission denied", "let the user fleetscore runs as read it"
		default:
			pr.What, pr.Fix = fmt.Sprintf("cannot read the config file: %v", err), "check the path"
		}
		return nil, &Error{Problems: []Problem{pr}}
	}
	return Parse(path, data, getenv)
}

// Parse validates data as the content of the config file at path. Relative
// paths in it (the sqlite database, certificates, secret files) are relative
// to path's folder, and the files they name are read.
func Parse(path string, data []byte, getenv func(string) string) (*Config, error) {
	return parse(path, data, getenv, time.Now(), os.ReadFile)
}

// parse is Parse with the clock and the file reader as dependencies.
func parse(path string, data []byte, getenv func(string) string, now time.Time,
	readFile func(string) ([]byte, error)) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	shown := path
	if shown == "" {
		shown = "config"
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		dir = filepath.Dir(path)
	}
	p := &parser{path: shown, dir: dir, getenv: getenv, now: now, readFile: readFile, certs: map[string]*loaded{}}
	c := p.config(data)
	if len(p.problems) > 0 {
		sortProblems(p.problems)
		return nil, &Error{Problems: p.problems}
	}
	c.Path = path
	c.deferred = p.deferred
	sortProblems(p.warnings)
	for _, w := range p.warnings {
		c.Warnings = append(c.Warnings, w.String())
	}
	return c, nil
}
