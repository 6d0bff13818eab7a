// Package server serves fleetscore over HTTP: the dashboard pages, the JSON
// and CSV API under /api/v1, Prometheus metrics, and health checks. Every
// figure comes from package query, so a page, the API and a metric can
// never disagree. routes.go lists every route.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/exceptions"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/report"
)

// Collections is what the server needs of the scheduler: its progress and a
// way to start a run now.
type Collections interface {
	Status() collect.Status
	CollectNow() bool
}

// Options configure a Server.
type Options struct {
	Source query.Source
	Runner Collections // nil: no "collect now", no progress
	Logger *slog.Logger
	Now    func() time.Time
	// DataNow is the data's clock: what day "today" is on the pages, in
	// the API and in the metrics. Nil is Now; the demo's emulated days run
	// ahead of the wall clock, and its pages follow them.
	DataNow func() time.Time
	// ExceptionTemplates are the config's saved templates, offered by the
	// actions page's exception form.
	ExceptionTemplates []exceptions.Template
	Version            string
	// Ready reports whether the database answers, for /readyz.
	Ready func(ctx context.Context) error
	// OpenAlerts returns the open alerts by tenant ID ("" for fleet-wide
	// ones), for the pages; nil when alerts are not configured.
	OpenAlerts func(ctx context.Context) (map[string][]OpenAlert, error)
	// Alerts, when set, backs the alerts page (/alerts): the open and
	// recent alerts, and acknowledging one.
	Alerts AlertBook
	// Exceptions, when set, backs the register of exceptions
	// (/api/v1/exceptions): applying, listing, approving, removing.
	Exceptions ExceptionBook
	// Campaigns, when set, backs campaigns (/campaigns, /api/v1/campaigns).
	Campaigns CampaignBook
	// Auth signs people in and checks API tokens; nil: no sign-in, everyone
	// is the admin (serve then listens on loopback only).
	Auth *auth.Service
	// OIDC, with Auth, offers sign-in with an OpenID Connect provider.
	OIDC *auth.OIDC
	// MetricsToken, with Auth, is the bearer token /metrics needs; empty
	// turns /metrics off.
	MetricsToken string
	// TLS says the listener serves HTTPS: cookies are Secure and answers
	// carry HSTS.
	TLS bool
	// Open: serve started with nobody to sign in (no user, no API token, no
	// OIDC). Every request that presents no credential is then the admin,
	// if it names this machine as its Host, until a user or an API token
	// exists; presented credentials are checked all the same. A server
	// without Auth is always open.
	Open bool
	// Listen is the address the server listens on, for the Host check of
	// open mode; empty accepts localhost, 127.0.0.1 and [::1] on any port.
	Listen string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (auth.trusted_proxies); from any other peer it is ignored.
	TrustedProxies []netip.Prefix
	// Metrics, when set, are served on /metrics beside the fleet's gauges:
	// what this process counted since it started (metrics.Process).
	Metrics prometheus.Collector
	// Branding is the look of the client reports (config reports:).
	Branding report.Branding
}

// OpenAlert is an alert that fired and has not resolved, as the pages show it.
type OpenAlert struct {
	Rule    string
	Title   string
	Summary string
	Since   time.Time
}

// Server is the HTTP side of fleetscore.
type Server struct {
	src          query.Source
	runner       Collections
	log          *slog.Logger
	now          func() time.Time
	dataNow      func() time.Time // what day "today" is (Options.DataNow)
	excTemplates []exceptions.Template
	version      string
	ready        func(ctx context.Context) error
	alerts       func(ctx context.Context) (map[string][]OpenAlert, error)
	book         AlertBook
	exceptions   ExceptionBook
	campaigns    CampaignBook
	pages        *pages
	handler      http.Handler

	auth         *auth.Service
	metricsToken string
	secure       bool
	oidc         *auth.OIDC

	trustedProxies []netip.Prefix
	branding       report.Branding

	openMode bool
	closed   atomic.Bool // open mode has ended
	listen   string

	metrics prometheus.Collector

	// pageGen moves with every write through this server: kept pages of
	// an older generation are rendered again (pagecache.go).
	pageGen atomic.Int64
	// pageCacheOff renders every page for its request (the tests' fresh
	// pages to compare the kept ones with).
	pageCacheOff atomic.Bool
}

// New builds a Server; templates are parsed here, so a broken one fails at
// start, not on first view.
func New(o Options) (*Server, error) {
	if o.Source == nil {
		return nil, errors.New("server: no source")
	}
	s := &Server{src: query.NewModel(o.Source), runner: o.Runner, log: o.Logger, now: o.Now, version: o.Version, ready: o.Ready, alerts: o.OpenAlerts, book: o.Alerts, exceptions: o.Exceptions,
		auth: o.Auth, metricsToken: o.MetricsToken, secure: o.TLS, oidc: o.OIDC,
		trustedProxies: o.TrustedProxies, openMode: o.Open, listen: o.Listen, branding: o.Branding}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.excTemplates = o.ExceptionTemplates
	s.metrics = o.Metrics
	s.campaigns = o.Campaigns
	s.dataNow = o.DataNow
	if s.dataNow == nil {
		s.dataNow = s.now
	}
	p, err := newPages()
	if err != nil {
		return nil, err
	}
	s.pages = p
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.recoverer(securityHeaders(o.TLS, s.limitBodies(gzipped(s.withClientIP(s.identify(mux))))))
	return s, nil
}

// Handler is the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// recoverer turns a panic into a 500 without taking the process down.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "path", r.URL.Path, "panic", v)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// maxFormBytes bounds a request body: fleetscore's largest form (sign-in:
// a name, a password, a next path and a CSRF token) is well under 2 KB.
const maxFormBytes = 8 << 10

// maxCampaignBytes bounds the body that starts a campaign: its form and
// JSON carry a tenant ID (36 bytes, and its name) per tenant, up to
// campaign.MaxTenants.
const maxCampaignBytes = 64 << 10

// limitBodies reads every form before any handler does, from at most
// maxFormBytes, and refuses multipart bodies, which no form of ours sends:
// net/http would spill their files to the temp directory, and a request
// copied by WithContext keeps them there for good.
func (s *Server) limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		fail := func(status int, msg string) {
			if isAPI(r) {
				s.writeError(w, r, &apiError{Status: status, Code: "bad_request", Message: msg})
				return
			}
			http.Error(w, msg, status)
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); strings.HasPrefix(mt, "multipart/") {
			fail(http.StatusUnsupportedMediaType, "fleetscore's forms are sent as application/x-www-form-urlencoded; multipart bodies are refused")
			return
		}
		limit := int64(maxFormBytes)
		if r.URL.Path == "/campaigns" || r.URL.Path == "/api/v1/campaigns" {
			limit = maxCampaignBytes
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := r.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("the form is larger than %d KB", limit>>10))
				return
			}
			fail(http.StatusBadRequest, "the form cannot be read")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(tls bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
		if tls {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// gzipped compresses pages, JSON and CSV for clients that accept gzip: the
// overview of a thousand tenants is megabytes of HTML. /metrics compresses
// itself.
func gzipped(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" || !acceptsGzip(r.Header.Get("Accept-Encoding")) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Accept-Encoding")
		gw := &gzipWriter{ResponseWriter: w}
		defer gw.close()
		next.ServeHTTP(gw, r)
	})
}

func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") {
			return true
		}
	}
	return false
}

// gzipWriter starts compressing at the first write, unless the handler
// set its own Content-Encoding or answered without a body.
type gzipWriter struct {
	http.ResponseWriter
	gz      *gzip.Writer
	decided bool
}

func (g *gzipWriter) WriteHeader(status int) {
	if !g.decided {
		g.decided = true
		h := g.Header()
		if h.Get("Content-Encoding") == "" && status != http.StatusNoContent && status != http.StatusNotModified && status >= 200 {
			h.Set("Content-Encoding", "gzip")
			h.Del("Content-Length")
			g.gz = newGzip(g.ResponseWriter)
		}
	}
	g.ResponseWriter.WriteHeader(status)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if !g.decided {
		g.WriteHeader(http.StatusOK)
	}
	if g.gz != nil {
		return g.gz.Write(b)
	}
	return g.ResponseWriter.Write(b)
}

func (g *gzipWriter) close() {
	if g.gz != nil {
		_ = g.gz.Close()
		putGzip(g.gz)
		g.gz = nil
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// openAlerts reads the open alerts; a failure to read them is logged and
// shows no alerts rather than no page.
func (s *Server) openAlerts(ctx context.Context) map[string][]OpenAlert {
	if s.alerts == nil {
		return nil
	}
	m, err := s.alerts(ctx)
	if err != nil {
		s.log.Warn("open alerts", "err", err)
		return nil
	}
	if p, ok := principalOf(ctx); ok && p.Restricted() {
		// A client sees its own tenants' alerts, not the fleet's.
		mine := map[string][]OpenAlert{}
		for id, as := range m {
			if id != "" && p.SeesTenant(id) {
				mine[id] = as
			}
		}
		return mine
	}
	return m
}
