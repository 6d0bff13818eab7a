// Package server serves fleetscore over HTTP: the dashboard pages, the JSON
// and CSV API under /api/v1, Prometheus metrics, and health checks. Every
// figure comes from package query, so a page, the API and a metric can
// never disagree. routes.go lists every route.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/query"
)

// Collections is what the server needs of the scheduler: its progress and a
// way to start a run now.
type Collections interface {
	Status() collect.Status
	CollectNow() bool
}

// Options configure a Server.
type Options struct {
	Source  query.Source
	Runner  Collections // nil: no "collect now", no progress
	Logger  *slog.Logger
	Now     func() time.Time
	Version string
	// Ready reports whether the database answers, for /readyz.
	Ready func(ctx context.Context) error
}

// Server is the HTTP side of fleetscore.
type Server struct {
	src     query.Source
	runner  Collections
	log     *slog.Logger
	now     func() time.Time
	version string
	ready   func(ctx context.Context) error
	pages   *pages
	handler http.Handler
}

// New builds a Server; templates are parsed here, so a broken one fails at
// start, not on first view.
func New(o Options) (*Server, error) {
	if o.Source == nil {
		return nil, errors.New("server: no source")
	}
	s := &Server{src: o.Source, runner: o.Runner, log: o.Logger, now: o.Now, version: o.Version, ready: o.Ready}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	p, err := newPages()
	if err != nil {
		return nil, err
	}
	s.pages = p
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.recoverer(securityHeaders(mux))
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

// securityHeaders sets the headers every answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}
