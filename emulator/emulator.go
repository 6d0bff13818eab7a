// Package emulator is an in-process HTTPS emulator of the Microsoft Entra ID
// token endpoint and of the two Microsoft Graph Secure Score endpoints
// (security/secureScores and security/secureScoreControlProfiles), for the
// tests, the benchmark and `fleetscore demo`.
//
// It is written from Microsoft's documented and observed behaviour
// (research/graph-api.md), independently of the graph package, so that tests
// compare two honest implementations. It owns:
//
//   - Entra: OpenID discovery, client-credentials tokens with a client secret
//     or a certificate assertion (PS256/RS256, x5t#S256/x5t), and the real
//     AADSTS error bodies (90002, 700016, 7000215, 7000218, 700027, 700024,
//     70011, ...).
//   - Graph: Bearer validation (401), the role check (403), $top/$skip/$count/
//     $filter, server-side paging with an opaque $skiptoken, Graph's per app per
//     tenant limits (4 concurrent, 150 a minute → 429 with Retry-After), and
//     per-tenant fault injection (429, 503/504, malformed bodies, dropped
//     connections, latency, revoked consent, missing service principal).
//   - Writes: PATCH of a control profile's state (patch.go), which needs
//     SecurityEvents.ReadWrite.All (Tenant.WriteApps, SetWriteConsent) and
//     is scored from the next day's snapshot; Patches records each request.
//   - Mail: POST /users/{id}/sendMail (mail.go), which needs Mail.Send
//     (Tenant.MailApps; 403 ErrorAccessDenied otherwise) and answers 202;
//     SentMail records each request. Exchange Online tokens
//     (https://outlook.office365.com/.default, role SMTP.SendAsApp) are
//     issued for SMTP XOAUTH2, and Graph refuses them.
//   - Data: synthetic tenants whose daily scores are a pure function of
//     (seed, tenant, day), with the quirks real responses have (numbers as
//     strings, seat-range key case, -1 sentinels, missing days, undocumented
//     fields, controls without profiles, deprecated profiles). Expected returns
//     the same data as domain values, the ground truth for tests.
//
// Two clocks: Options.Now decides which UTC day is "today" in the Graph data
// (tests move it to add days); tokens, assertions and throttling use the real
// clock, as azidentity does.
package emulator

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Options configure an Emulator. The zero value is usable.
type Options struct {
	// Seed makes all data deterministic: same seed, same tenants, same bytes.
	Seed int64
	// Tenants is how many synthetic tenants New creates (IDs and names derived
	// from Seed). They have quirks unless NoQuirks is set.
	Tenants int
	// Days of history served, ending today (UTC); default 90.
	Days int
	// Now is the data clock: its UTC date is "today". Default time.Now.
	Now func() time.Time
	// ProfilePageSize is the server-side page size of
	// secureScoreControlProfiles; default 250.
	ProfilePageSize int
	// Latency is added to every Graph request (not to token requests).
	Latency time.Duration
	// Logger receives one debug line per request; default: discard.
	Logger *slog.Logger
	// NoQuirks gives the synthetic tenants the clean documented shape.
	NoQuirks bool
	// Unthrottled turns off Graph's per app per tenant limits (4 concurrent,
	// 150 a minute). Injected faults still apply.
	Unthrottled bool
	// Hosts are extra DNS names or IP addresses for the server certificate,
	// besides 127.0.0.1, ::1 and localhost.
	Hosts []string
}

// App is an app registration in the MSSP's home tenant: a client ID and its
// credentials. The same app is consented into client tenants.
type App struct {
	ClientID string
	Secrets  []string
	Certs    []*x509.Certificate
}

// Tenant describes a client tenant to add.
type Tenant struct {
	ID            string   // GUID; empty: derived from the seed
	Name          string   // empty: derived from the tenant
	ConsentedApps []string // client IDs consented with SecurityEvents.Read.All
	// WriteApps are client IDs consented with SecurityEvents.ReadWrite.All
	// as well (their tokens carry both roles; listing an app here consents
	// it). Only their PATCH of a control profile is accepted; see also
	// SetWriteConsent.
	WriteApps []string
	// MailApps are client IDs consented with Mail.Send (sendMail); their
	// tokens carry that role (and SecurityEvents.Read.All only when they
	// are also in ConsentedApps or WriteApps).
	MailApps []string
	// Mailboxes, when set, are the only senders sendMail accepts (others
	// get 404 ErrorInvalidUser); empty accepts any.
	Mailboxes     []string
	Controls      int  // number of controls; 0: 150..300 from the seed
	ScorePageSize int  // >0: secureScores is paged with this page size
	Quirks        bool // show the quirks of real responses (a deterministic share of each)
	// Cloud is the tenant's Microsoft cloud: "" or "global", "usgov" (GCC
	// High) or "usgovdod". On Microsoft's own host names (a client that
	// dials the emulator for them) the tenant signs in only at its cloud's
	// login host, tokens are issued only for its cloud's Graph, and Graph
	// answers only at the host the token is for, as Entra and Graph do.
	Cloud string
}

// TenantInfo describes a tenant the emulator knows.
type TenantInfo struct {
	ID       string
	Name     string
	Controls int  // stable controls (stream controls come and go)
	Quirks   bool // whether quirks were asked for
}

// Faults are injected per tenant. Counts are "the next N Graph requests";
// SetFaults replaces the whole set, resetting counts.
type Faults struct {
	// Throttle answers the next N Graph requests with 429 TooManyRequests and
	// RetryAfter as the Retry-After header ("2", "2.128", an HTTP date; "" for none).
	Throttle   int
	RetryAfter string
	// Unavailable answers the next N Graph requests with UnavailableStatus
	// (503 by default, or 504), with Retry-After when RetryAfter is set.
	Unavailable       int
	UnavailableStatus int
	// Slow is extra latency on this tenant's Graph requests.
	Slow time.Duration
	// RevokeConsent: tokens are still issued but without roles, as Entra does
	// when the app role assignment was removed; Graph then answers 403. A token
	// issued before keeps its roles until it expires.
	RevokeConsent bool
	// NotConsented: no service principal; token requests fail with AADSTS700016.
	NotConsented bool
	// Malformed: the next N Graph responses are 200 with a truncated JSON body.
	Malformed int
	// FailAfter: after N more successful Graph responses, every Graph request
	// of this tenant has its connection dropped (a crashing Graph).
	FailAfter int
	// Down drops every Graph request's connection now.
	Down bool
}

// Stats count what a tenant's traffic looked like.
type Stats struct {
	Requests      int   // Graph requests with a valid token of this tenant, whatever the answer
	TokenRequests int   // token requests, successful or not
	Tokens        int   // tokens issued
	MaxConcurrent int   // most Graph requests in flight at once
	Throttled     int   // 429 answers, injected or enforced
	Unavailable   int   // injected 503/504 answers
	Malformed     int   // injected malformed bodies
	Dropped       int   // dropped connections
	Unauthorized  int   // 401 answers (to the emulator's own tokens, e.g. expired; Stats("") counts all)
	Forbidden     int   // 403 answers
	Patches       int   // PATCH requests of control profiles with a valid token of this tenant, whatever the answer (see Patches)
	Bytes         int64 // Graph response bytes
	// The host and scope (without the OpenID scopes MSAL adds) of the
	// tenant's latest token request, and the host
	// of its latest Graph request: a tenant's cloud decides them.
	TokenHost, TokenScope, GraphHost string
}

// Emulator is the emulated Entra ID and Graph. Create it with New, register
// apps and tenants, Start it, and point clients at URL.
type Emulator struct {
	log         *slog.Logger
	now         func() time.Time // data clock
	wall        func() time.Time // token and throttling clock
	days        int
	profilePage int
	latency     time.Duration
	throttle    bool
	quirks      bool
	fleet       *fleet
	tlsm        *tlsMaterial
	tlsErr      error
	client      *http.Client
	tokenKey    []byte
	skipKey     uint64
	handler     http.Handler

	mu         sync.RWMutex
	apps       map[string]App
	tenants    map[string]*tenantEntry // by lower-case ID
	order      []string
	consentAll map[string]bool
	added      int // tenants added, for derived IDs
	names      map[string]bool
	total      tenantCounters // Stats("")

	srvMu  sync.Mutex
	srv    *http.Server
	url    string
	closed bool
}

// tenantEntry is a registered tenant: its immutable definition (replaced
// whole when the tenant is added again) and its mutable faults and counters.
type tenantEntry struct {
	def *tenantDef // guarded by Emulator.mu

	mu       sync.Mutex
	faults   Faults
	failLeft int  // successes left before FailAfter drops
	failing  bool // FailAfter armed
	limiters map[string]*limiter
	counters tenantCounters
	patches  []PatchRecord
	mails    []SentMailRecord
}

type tenantDef struct {
	model         *tenantModel
	consented     map[string]bool
	writers       map[string]bool // consented with the write role too
	mailers       map[string]bool // consented with Mail.Send
	mailboxes     map[string]bool // the senders sendMail accepts; empty: any
	scorePageSize int
	quirks        bool
	controls      int
	cloud         msCloud
}

type tenantCounters struct {
	stats    Stats
	inflight int
}

// New creates an emulator with opts.Tenants synthetic tenants. It does not
// listen yet; see Start.
func New(opts Options) *Emulator {
	e := &Emulator{
		log:         opts.Logger,
		now:         opts.Now,
		wall:        time.Now,
		days:        opts.Days,
		profilePage: opts.ProfilePageSize,
		latency:     opts.Latency,
		throttle:    !opts.Unthrottled,
		quirks:      !opts.NoQuirks,
		fleet:       newFleet(opts.Seed),
		apps:        map[string]App{},
		tenants:     map[string]*tenantEntry{},
		consentAll:  map[string]bool{},
		names:       map[string]bool{},
		tokenKey:    make([]byte, 32),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.days <= 0 {
		e.days = 90
	}
	if e.profilePage <= 0 {
		e.profilePage = 250
	}
	_, _ = rand.Read(e.tokenKey) // never fails (crypto/rand crashes the program instead)
	e.skipKey = h(e.fleet.seedKey, 0x5c1b)
	e.tlsm, e.tlsErr = newTLSMaterial(opts.Hosts)
	e.client = e.newClient()
	e.handler = e.routes()
	for i := 0; i < opts.Tenants; i++ {
		e.AddTenant(Tenant{Quirks: e.quirks})
	}
	return e
}

// Start serves HTTPS on 127.0.0.1 with a free port.
func (e *Emulator) Start() error { return e.StartOn("127.0.0.1:0") }

// StartOn serves HTTPS on addr ("127.0.0.1:8443", ":0", ...).
func (e *Emulator) StartOn(addr string) error {
	if e.tlsErr != nil {
		return fmt.Errorf("emulator TLS: %w", e.tlsErr)
	}
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	if e.srv != nil || e.closed {
		return errors.New("emulator already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator listen on %s: %w", addr, err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	} else if ip.To4() == nil {
		host = "[" + host + "]"
	}
	if h, _, err := net.SplitHostPort(addr); err == nil && h == "localhost" {
		host = "localhost"
	}
	srv := &http.Server{
		Handler:           e.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	e.srv = srv
	e.url = "https://" + host + ":" + port
	e.srv.TLSConfig = tlsServerConfig(e.tlsm)
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("emulator stopped serving", "err", err)
		}
	}()
	e.log.Info("emulator listening", "url", e.url)
	return nil
}

// URL is the base URL, "https://127.0.0.1:PORT", without a trailing slash;
// "" before Start. It is the authority host for azidentity and the Graph base.
func (e *Emulator) URL() string {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	return e.url
}

// CACertPEM is the emulator's CA certificate in PEM, for SSL_CERT_FILE or a pool.
func (e *Emulator) CACertPEM() []byte {
	if e.tlsm == nil {
		return nil
	}
	return append([]byte(nil), e.tlsm.caPEM...)
}

// CertPool is a pool holding only the emulator's CA.
func (e *Emulator) CertPool() *x509.CertPool {
	if e.tlsm == nil {
		return x509.NewCertPool()
	}
	return e.tlsm.pool.Clone()
}

// Client is an HTTP client that trusts the emulator's CA (and nothing else).
func (e *Emulator) Client() *http.Client { return e.client }

// Close stops the server. In-flight requests get half a second to finish.
func (e *Emulator) Close() error {
	e.srvMu.Lock()
	srv := e.srv
	e.closed = true
	e.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	// Our own client's idle HTTP/2 connections would otherwise hold Shutdown
	// until its deadline.
	e.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if err != nil {
		return fmt.Errorf("close emulator: %w", err)
	}
	return nil
}

// AddApp registers an app (replacing one with the same client ID).
func (e *Emulator) AddApp(a App) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a.Secrets = append([]string(nil), a.Secrets...)
	a.Certs = append([]*x509.Certificate(nil), a.Certs...)
	e.apps[strings.ToLower(a.ClientID)] = a
}

// AddTenant registers a tenant and returns what it became. Adding a tenant ID
// again replaces its definition and keeps its faults and counters.
func (e *Emulator) AddTenant(t Tenant) TenantInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	index := e.added
	e.added++
	if t.ID == "" {
		t.ID = guidFrom(h(e.fleet.seedKey, saltTenantID, uint64(index)))
		for e.tenants[t.ID] != nil { // an explicit ID took it
			index += 1 << 20
			t.ID = guidFrom(h(e.fleet.seedKey, saltTenantID, uint64(index)))
		}
	}
	id := strings.ToLower(t.ID)
	entry := e.tenants[id]
	if t.Name == "" {
		if entry != nil {
			t.Name = entry.def.model.name
		} else {
			x := h(e.fleet.seedKey, saltTenantName, strHash(id))
			t.Name = tenantName(x)
			for i := uint64(1); e.names[t.Name]; i++ {
				t.Name = tenantName(h1(x, i))
				if i > 8 {
					t.Name = fmt.Sprintf("%s %d", tenantName(x), i)
				}
			}
		}
	}
	e.names[t.Name] = true
	def := &tenantDef{
		model:         newTenantModel(e.fleet, id, t.Name, t.Controls, t.Quirks),
		consented:     map[string]bool{},
		writers:       map[string]bool{},
		mailers:       map[string]bool{},
		mailboxes:     map[string]bool{},
		scorePageSize: t.ScorePageSize,
		quirks:        t.Quirks,
		cloud:         cloudOf(t.Cloud),
	}
	def.controls = len(def.model.controls)
	for _, a := range t.ConsentedApps {
		def.consented[strings.ToLower(a)] = true
	}
	for _, a := range t.WriteApps {
		def.consented[strings.ToLower(a)] = true
		def.writers[strings.ToLower(a)] = true
	}
	for _, a := range t.MailApps {
		def.mailers[strings.ToLower(a)] = true
	}
	for _, m := range t.Mailboxes {
		def.mailboxes[strings.ToLower(m)] = true
	}
	if entry == nil {
		entry = &tenantEntry{limiters: map[string]*limiter{}}
		e.tenants[id] = entry
		e.order = append(e.order, id)
	}
	entry.def = def
	return TenantInfo{ID: id, Name: t.Name, Controls: def.controls, Quirks: t.Quirks}
}

// Tenants lists every tenant, in the order they were added.
func (e *Emulator) Tenants() []TenantInfo {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]TenantInfo, 0, len(e.order))
	for _, id := range e.order {
		d := e.tenants[id].def
		out = append(out, TenantInfo{ID: id, Name: d.model.name, Controls: d.controls, Quirks: d.quirks})
	}
	return out
}

// ConsentAll consents an app in every tenant, including tenants added later.
func (e *Emulator) ConsentAll(clientID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.consentAll[strings.ToLower(clientID)] = true
}

// SetFaults replaces a tenant's injected faults. Unknown tenants are ignored.
func (e *Emulator) SetFaults(tenantID string, f Faults) {
	te := e.entry(tenantID)
	if te == nil {
		return
	}
	te.mu.Lock()
	defer te.mu.Unlock()
	te.faults = f
	te.failing = f.FailAfter > 0
	te.failLeft = f.FailAfter
}

// Stats returns a tenant's counters; Stats("") sums all tenants (MaxConcurrent
// is then the most Graph requests in flight at once across the emulator).
func (e *Emulator) Stats(tenantID string) Stats {
	if tenantID == "" {
		e.mu.RLock()
		defer e.mu.RUnlock()
		return e.total.stats
	}
	te := e.entry(tenantID)
	if te == nil {
		return Stats{}
	}
	te.mu.Lock()
	defer te.mu.Unlock()
	return te.counters.stats
}

// Today is the data clock's current UTC day.
func (e *Emulator) Today() fleetscore.Day { return fleetscore.DayOf(e.now()) }

// Expected is exactly what the Graph endpoints serve for a tenant now: its
// daily scores oldest first (Controls filled; missing days absent) and its
// control profiles in the served (rank) order. Nil for an unknown tenant.
func (e *Emulator) Expected(tenantID string) (scores []fleetscore.Score, profiles []fleetscore.ControlProfile) {
	te := e.entry(tenantID)
	if te == nil {
		return nil, nil
	}
	e.mu.RLock()
	t := te.def.model
	e.mu.RUnlock()
	today := e.Today().Unix()
	from := today - int64(e.days) + 1
	streams := t.streamsFor(from, today, 0)
	var s snapshot
	for d := from; d <= today; d++ {
		if t.hole(d) {
			continue
		}
		t.snapshotAt(&s, d, streams)
		scores = append(scores, scoreOf(t, &s))
	}
	for i, p := range t.profilesAt(today, e.days) {
		profiles = append(profiles, profileOf(t, &p, i+1))
	}
	return scores, profiles
}

func scoreOf(t *tenantModel, s *snapshot) fleetscore.Score {
	sc := fleetscore.Score{
		TenantID:          t.id,
		Day:               fleetscore.DayFromUnix(s.day),
		CurrentScore:      float64(s.current) / 100,
		MaxScore:          float64(s.max) / 100,
		ActiveUserCount:   s.active,
		LicensedUserCount: t.licensed,
		EnabledServices:   append([]string(nil), t.services...),
		Averages:          map[string]float64{},
		Controls:          make([]fleetscore.ControlScore, 0, len(s.rows)),
	}
	for _, a := range t.averagesAt(s.day, nil) {
		if !a.sentinel {
			sc.Averages[a.basis] = float64(a.score) / 100
		}
	}
	for _, r := range s.rows {
		sc.Controls = append(sc.Controls, fleetscore.ControlScore{Name: r.tc.c.id, Category: r.tc.c.category, Score: float64(r.cents) / 100})
	}
	return sc
}

func profileOf(t *tenantModel, p *profileEntry, rank int) fleetscore.ControlProfile {
	c := p.tc.c
	cp := fleetscore.ControlProfile{
		ID:                 c.id,
		Title:              c.title,
		Category:           c.category,
		MaxScore:           float64(c.maxScore),
		Rank:               rank,
		Tier:               c.tier,
		UserImpact:         c.userImpact,
		ImplementationCost: c.cost,
		ActionType:         c.actionType,
		ActionURL:          c.actionURL,
		Service:            c.service,
		Threats:            append([]string{}, c.threats...),
		Deprecated:         p.deprecated,
		Remediation:        c.remediation,
	}
	if len(p.states) == 0 {
		cp.StateUpdates = []fleetscore.ControlStateUpdate{{State: fleetscore.StateDefault}}
	}
	for _, st := range p.states {
		cp.StateUpdates = append(cp.StateUpdates, stateUpdate(t, st))
	}
	return cp
}

// stateUpdate renders a state event as Graph's controlStateUpdates entry.
func stateUpdate(t *tenantModel, st stateEvent) fleetscore.ControlStateUpdate {
	if w := st.written; w != nil {
		return fleetscore.ControlStateUpdate{State: st.state, AssignedTo: w.assignedTo, Comment: w.comment, UpdatedBy: w.by, UpdatedAt: w.at}
	}
	u := fleetscore.ControlStateUpdate{
		State:     st.state,
		UpdatedBy: "admin@" + t.domain,
		UpdatedAt: dayTime(st.day).Add(time.Duration(st.secs) * time.Second),
	}
	switch st.state {
	case fleetscore.StateThirdParty:
		u.AssignedTo = "secops@" + t.domain
		u.Comment = "Covered by a third-party solution managed by the MSP."
	case fleetscore.StateIgnored:
		u.Comment = "Risk accepted: a line-of-business application depends on the current setting."
	default:
		u.AssignedTo = "secops@" + t.domain
		u.Comment = "Reviewed with the customer; planned for next quarter."
	}
	return u
}

func (e *Emulator) entry(tenantID string) *tenantEntry {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.tenants[strings.ToLower(tenantID)]
}

// lookup returns a tenant's entry and definition together.
func (e *Emulator) lookup(tenantID string) (*tenantEntry, *tenantDef) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	te := e.tenants[strings.ToLower(tenantID)]
	if te == nil {
		return nil, nil
	}
	return te, te.def
}

// consented reports whether an app has a service principal in a tenant.
func (e *Emulator) consented(def *tenantDef, clientID string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	id := strings.ToLower(clientID)
	return def.consented[id] || def.writers[id] || def.mailers[id] || e.consentAll[id]
}

func (e *Emulator) app(clientID string) (App, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	a, ok := e.apps[strings.ToLower(clientID)]
	return a, ok
}

// count updates a tenant's counters and the emulator-wide totals.
func (e *Emulator) count(te *tenantEntry, f func(s *Stats)) {
	te.mu.Lock()
	f(&te.counters.stats)
	te.mu.Unlock()
	e.mu.Lock()
	f(&e.total.stats)
	e.mu.Unlock()
}

// guidFrom formats 128 bits derived from x as a version-4 GUID.
func guidFrom(x uint64) string {
	y := mix(x ^ 0xa5a5a5a5)
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(x >> (8 * i))
		b[8+i] = byte(y >> (8 * i))
	}
	return formatGUID(b)
}

func formatGUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	buf := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return string(buf)
}

// newGUID is a random GUID, for request and trace IDs.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatGUID(b)
}
