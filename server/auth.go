package server

// Sign-in, roles and per-client isolation. Every request gets a principal
// (from a session cookie or an API token; with no sign-in configured,
// everyone on loopback is the admin), every route in routes.go names the
// least role it needs, and a client's requests read a query.Restrict'ed
// source, so no page, API answer or CSV can show another client's tenant.

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/query"
)

// Route requirements beyond the roles.
const (
	// public routes answer everyone: health checks, sign-in, static files.
	public auth.Role = ""
	// metricsToken is /metrics: its own bearer token, or off.
	metricsToken auth.Role = "metrics-token"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "fleetscore_session"

type principalKey struct{}
type sessionKey struct{}

// principalOf is who the request is from; ok is false before sign-in.
func principalOf(ctx context.Context) (auth.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(auth.Principal)
	return p, ok
}

func sessionOf(ctx context.Context) (auth.Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(auth.Session)
	return s, ok
}

// srcFor is the source a request reads: a client's is restricted to its
// tenants.
func (s *Server) srcFor(ctx context.Context) query.Source {
	if p, ok := principalOf(ctx); ok && p.Restricted() {
		return query.Restrict(s.src, p.Tenants)
	}
	return s.src
}

// localAdmin is everyone on this machine in open mode.
var localAdmin = auth.Principal{Name: "local", Role: auth.RoleAdmin}

type openKey struct{}

// isOpen reports whether the request is served in open mode: no sign-in,
// everyone on loopback is the admin.
func isOpen(ctx context.Context) bool {
	open, _ := ctx.Value(openKey{}).(bool)
	return open
}

// open reports whether the server is still in open mode. It starts so
// (Options.Open, or no Auth at all) and ends for good as soon as a user or
// an API token exists, whoever made it and whenever: from then on every
// request must sign in. A store that cannot say ends it too: closed is the
// safe side.
func (s *Server) open(ctx context.Context) bool {
	if s.auth == nil {
		return true
	}
	if !s.openMode || s.closed.Load() {
		return false
	}
	users, err := s.auth.Store.Users(ctx)
	if err != nil {
		s.log.Error("open mode: users", "err", err)
		return false
	}
	tokens, err := s.auth.Store.Tokens(ctx)
	if err != nil {
		s.log.Error("open mode: tokens", "err", err)
		return false
	}
	if len(users) > 0 || len(tokens) > 0 {
		if !s.closed.Swap(true) {
			s.log.Warn("open mode ended: a user or an API token exists, so every request must now sign in or send a token")
		}
		return false
	}
	return true
}

// identify finds the request's principal: a bearer token on the API, or
// the session cookie. A presented credential is always checked, in open
// mode too: a bad bearer token is refused at once (401), and a client's
// token sees only its tenants. Only a request that presents nothing is the
// local admin in open mode, and only when it names this machine as its
// Host (a page of another site cannot reach it by DNS rebinding).
func (s *Server) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		open := s.open(ctx)
		if open && !s.localHost(r.Host) {
			s.misdirected(w, r)
			return
		}
		ctx = context.WithValue(ctx, openKey{}, open)
		tok, ok := bearer(r)
		if ok && r.URL.Path == "/metrics" {
			ok = false // /metrics checks its own token
		}
		if _, password, basic := r.BasicAuth(); basic && strings.HasPrefix(r.URL.Path, "/api/v1/") {
			// Power BI's and Excel's Basic credential: the token is the
			// password, the user name anything. Only for reading: a
			// write needs the token as Bearer, so a saved spreadsheet
			// credential can never change anything.
			if !basicAccepted(r) {
				s.denied(w, r.WithContext(ctx), http.StatusUnauthorized, "HTTP Basic (the API token as its password) is accepted only for reading (GET and HEAD): send the token as Authorization: Bearer to change anything")
				return
			}
			tok, ok = password, true
		}
		if ok {
			if s.auth == nil {
				s.denied(w, r.WithContext(ctx), http.StatusUnauthorized, "this server has no API tokens: send no Authorization header")
				return
			}
			p, err := s.auth.CheckToken(ctx, tok, clientIP(r))
			if err != nil {
				s.denied(w, r.WithContext(ctx), http.StatusUnauthorized, "the API token is unknown, expired or revoked")
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, principalKey{}, p)))
			return
		}
		if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && s.auth != nil {
			sess, err := s.auth.CheckSession(ctx, c.Value)
			switch {
			case err == nil:
				ctx = context.WithValue(ctx, principalKey{}, sess.Principal)
				ctx = context.WithValue(ctx, sessionKey{}, sess)
			case errors.Is(err, auth.ErrExpired):
				s.clearCookie(w, r)
			default:
				s.log.Error("session", "err", err)
			}
		}
		if _, ok := principalOf(ctx); !ok && open {
			ctx = context.WithValue(ctx, principalKey{}, localAdmin)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// localHost reports whether a request's Host names this machine: the
// listen address, localhost, 127.0.0.1 or [::1], with the listen port
// (any port when the server was not told its address, as in tests).
func (s *Server) localHost(host string) bool {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		h, port = host, ""
	}
	h = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	lh, lport, err := net.SplitHostPort(s.listen)
	if err == nil {
		lh = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(lh, "["), "]"))
		if port != lport && !(port == "" && lport == "80") {
			return false
		}
	}
	switch h {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return err == nil && h == lh && lh != "" && lh != "0.0.0.0" && lh != "::"
}

// misdirected answers a request whose Host is not this machine's, in open
// mode: 421, so that a browser pointed here by a rebound DNS name gets
// nothing.
func (s *Server) misdirected(w http.ResponseWriter, r *http.Request) {
	const msg = "this fleetscore serves only requests addressed to this machine (localhost or its listen address) until someone signs in"
	if isAPI(r) {
		s.writeError(w, r, &apiError{Status: http.StatusMisdirectedRequest, Code: "misdirected", Message: msg})
		return
	}
	http.Error(w, msg, http.StatusMisdirectedRequest)
}

// basicAccepted reports whether a request may carry its API token as the
// password of HTTP Basic: the API's read-only requests (its JSON and CSV
// answers), never a write, never a page.
func basicAccepted(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/api/v1/")
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// clientIP is the request's address, the key of the per-address lockout
// and what the audit log records: the one withClientIP found.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	if a := peerAddr(r.RemoteAddr); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}

type clientIPKey struct{}

// withClientIP finds each request's address once: the peer's, or, when the
// peer is one of the trusted proxies, the right-most X-Forwarded-For address
// that is not (anyone can write the header, so only the entries our own
// proxies appended count).
func (s *Server) withClientIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := r.RemoteAddr // not an address (a unix socket): kept as it is
		if a := forwardedFor(peerAddr(r.RemoteAddr), r.Header.Values("X-Forwarded-For"), s.trustedProxies); a.IsValid() {
			ip = a.String()
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip)))
	})
}

// peerAddr is the address of a RemoteAddr (host:port); the zero Addr,
// printed "invalid IP", if it has none (never from net/http's server).
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(remote)
	return a.Unmap()
}

// forwardedFor walks X-Forwarded-For from the right while the hop it came
// from is a trusted proxy. An entry that is not an address ends the walk at
// the last proxy that wrote one.
func forwardedFor(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	ip := peer
	for i := len(xff) - 1; i >= 0; i-- {
		hops := strings.Split(xff[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			if !isTrusted(ip) {
				return ip
			}
			h := strings.TrimSpace(hops[j])
			a, err := netip.ParseAddr(h)
			if err != nil {
				ap, err2 := netip.ParseAddrPort(h)
				if err2 != nil {
					return ip
				}
				a = ap.Addr()
			}
			ip = a.Unmap()
		}
	}
	return ip
}

// guard enforces a route's requirement.
func (s *Server) guard(need auth.Role, h http.Handler) http.Handler {
	if need == public {
		return h
	}
	if need == metricsToken {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, presented := bearer(r)
			if isOpen(r.Context()) && !presented {
				h.ServeHTTP(w, r)
				return
			}
			if s.metricsToken == "" && isOpen(r.Context()) {
				// A presented token is checked in open mode too, and
				// there is none it could match.
				w.Header().Set("WWW-Authenticate", `Bearer realm="fleetscore metrics"`)
				http.Error(w, "no metrics token is configured: send no Authorization header", http.StatusUnauthorized)
				return
			}
			if s.metricsToken == "" {
				http.Error(w, "metrics are off: set auth.metrics_token_env in the config to serve them", http.StatusNotFound)
				return
			}
			if subtle.ConstantTimeCompare([]byte(tok), []byte(s.metricsToken)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="fleetscore metrics"`)
				http.Error(w, "metrics need their bearer token", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && crossSite(r) {
			s.denied(w, r, http.StatusForbidden, "this form can only be sent from fleetscore's own pages")
			return
		}
		p, ok := principalOf(r.Context())
		if !ok {
			if isAPI(r) || r.Method != http.MethodGet {
				s.denied(w, r, http.StatusUnauthorized, "sign in, or send an API token as Authorization: Bearer (to read the API, also as the password of HTTP Basic)")
				return
			}
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !p.Role.AtLeast(need) {
			s.denied(w, r, http.StatusForbidden, "your role ("+string(p.Role)+") may not see this")
			return
		}
		if r.Method == http.MethodPost {
			// A session's forms carry its synchronizer token; a request
			// with a bearer token has no ambient credential to forge.
			if sess, ok := sessionOf(r.Context()); ok &&
				subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.CSRF)) != 1 {
				s.denied(w, r, http.StatusForbidden, "the form has expired; reload the page and try again")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func basicPresented(r *http.Request) bool {
	_, _, ok := r.BasicAuth()
	return ok
}

func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

// crossSite reports a request a browser says came from another site.
func crossSite(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err != nil || u.Host != r.Host
	}
	return false
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// denied answers 401 or 403: JSON on the API, a page elsewhere.
func (s *Server) denied(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fleetscore"`)
		if basicAccepted(r) && (basicPresented(r) || !hasCookie(r, SessionCookie)) {
			// Offered to those that may use it (Excel asks for the
			// credential on it), but not to a page's own scripts, whose
			// browser would pop up a password dialog.
			w.Header().Add("WWW-Authenticate", `Basic realm="fleetscore"`)
		}
	}
	if isAPI(r) || r.URL.Path == "/metrics" {
		code := "forbidden"
		if status == http.StatusUnauthorized {
			code = "unauthorized"
		}
		s.writeError(w, r, &apiError{Status: status, Code: code, Message: msg})
		return
	}
	title := "Not allowed"
	if status == http.StatusUnauthorized {
		title = "Sign in first"
	}
	v := errorView{page: s.page(r, "", title), Message: msg, Status: status}
	s.render(w, r, status, "error", v)
}

// secureCookie: cookies are Secure over TLS, ours or that of a proxy in
// front (X-Forwarded-Proto can only make a cookie stricter, so trusting it
// costs nothing).
func (s *Server) secureCookie(r *http.Request) bool {
	return s.secure || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: s.secureCookie(r), SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secureCookie(r), SameSite: http.SameSiteLaxMode})
}

// signinView is the sign-in page.
type signinView struct {
	page
	Next    string
	Name    string
	Message string
	OIDC    bool // offer "Sign in with Microsoft"
}

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil || isOpen(r.Context()) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	v := signinView{page: s.page(r, "", "Sign in"), Next: safeNext(r.URL.Query().Get("next")), OIDC: s.oidc != nil}
	s.render(w, r, http.StatusOK, "signin", v)
}

// signin checks a local user's password. Every failure reads the same,
// whether the name exists or not.
func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil || isOpen(r.Context()) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if crossSite(r) {
		s.denied(w, r, http.StatusForbidden, "sign in from fleetscore's own page")
		return
	}
	name, next := r.PostFormValue("name"), safeNext(r.PostFormValue("next"))
	id, _, err := s.auth.SignIn(r.Context(), name, r.PostFormValue("password"), clientIP(r))
	if err != nil {
		v := signinView{page: s.page(r, "", "Sign in"), Next: next, Name: auth.Bound(name), OIDC: s.oidc != nil}
		status := http.StatusUnauthorized
		switch {
		case errors.Is(err, auth.ErrBadCredentials):
			v.Message = "Wrong name or password."
		case errors.Is(err, auth.ErrBadName):
			status = http.StatusBadRequest
			v.Message = "The name holds characters no name can have (a NUL byte, or bytes that are not UTF-8)."
		case errors.Is(err, auth.ErrLocked):
			status = http.StatusTooManyRequests
			v.Message = "Too many failed sign-ins. Wait 15 minutes and try again."
		default:
			s.log.Error("sign-in", "err", err)
			status = http.StatusInternalServerError
			v.Message = "Sign-in failed; the server log has the details."
		}
		s.render(w, r, status, "signin", v)
		return
	}
	s.setCookie(w, r, id)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request) {
	if s.auth != nil {
		if c, err := r.Cookie(SessionCookie); err == nil {
			_ = s.auth.SignOut(r.Context(), c.Value, clientIP(r))
		}
		s.clearCookie(w, r)
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// maxNext bounds the redirect after sign-in: it travels in the OIDC
// cookie, which a browser drops beyond 4 KB.
const maxNext = 1024

// safeNext keeps a redirect after sign-in on this site: only a path with a
// single leading slash, as a browser reads it. A browser's URL parser
// (WHATWG) drops tabs and newlines anywhere and reads a backslash as a
// slash, so "/\t/evil" and "/\\evil" are "//evil", another host; the check
// runs on the text after that rewriting, which is also what is returned.
func safeNext(next string) string {
	if len(next) > maxNext {
		return "/"
	}
	next = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, next)
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	// url.Parse refuses the other control characters.
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return "/"
	}
	return next
}

// oidcCookie carries a sign-in's state, nonce and PKCE verifier, sealed,
// from /signin/oidc to /signin/callback.
const oidcCookie = "fleetscore_oidc"

func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil || s.oidc == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	authURL, cookie := s.oidc.Start(safeNext(r.URL.Query().Get("next")))
	// Lax: the provider sends the browser back with a top-level GET.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: cookie, Path: "/signin/callback", MaxAge: 600, HttpOnly: true,
		Secure: s.secureCookie(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, authURL, http.StatusFound)
}

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil || s.oidc == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/signin/callback", MaxAge: -1, HttpOnly: true,
		Secure: s.secureCookie(r), SameSite: http.SameSiteLaxMode})
	fail := func(who, why string) {
		s.auth.Audit(r.Context(), who, "signin.failed", "oidc: "+why, clientIP(r))
		v := signinView{page: s.page(r, "", "Sign in"), Next: "/", OIDC: true,
			Message: "Sign-in with Microsoft did not succeed. Try again, or ask your administrator for access."}
		s.render(w, r, http.StatusUnauthorized, "signin", v)
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		fail("", "the provider answered "+e)
		return
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		fail("", "no sign-in cookie")
		return
	}
	p, next, err := s.oidc.Finish(r.Context(), c.Value, q.Get("state"), q.Get("code"))
	if err != nil {
		fail(p.Name, err.Error())
		return
	}
	id, _, err := s.auth.NewSession(r.Context(), p)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.auth.Audit(r.Context(), p.Name, "signin", "oidc as "+string(p.Role), clientIP(r))
	s.setCookie(w, r, id)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

// auditEvent is one row of GET /api/v1/audit.
type auditEvent struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Detail string    `json:"detail"`
	IP     string    `json:"ip"`
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	if err := checkParams(r, "limit"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.auth == nil {
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "sign-in is not configured, so there is no audit log"})
		return
	}
	limit := 500
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.writeError(w, r, badRequest("limit %q must be a whole number from 1 to 10000", v))
			return
		}
		limit = n
	}
	events, err := s.auth.Store.AuditLog(r.Context(), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rows := make([]auditEvent, 0, len(events))
	for _, e := range events {
		rows = append(rows, auditEvent{At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Detail: e.Detail, IP: e.IP})
	}
	s.writeList(w, r, rows, func() table {
		t := table{name: "audit", header: []string{"at", "actor", "action", "detail", "ip"}}
		for _, e := range rows {
			t.rows = append(t.rows, []string{stamp(e.At), e.Actor, e.Action, e.Detail, e.IP})
		}
		return t
	})
}
