// Package graph reads Secure Score from Microsoft Graph: tokens from Entra
// through azidentity, GET /security/secureScores and
// /security/secureScoreControlProfiles with paging, lenient decoding of real
// responses, retries that honour Retry-After, Graph's per-tenant limits, and
// errors turned into advice for people.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetscore/fleetscore"
)

// Graph's documented limits for secureScore and secureScoreControlProfile,
// per app per tenant.
const (
	MaxConcurrentPerTenant = 4
	RequestsPerMinute      = 150
)

// Options configure a Client.
type Options struct {
	BaseURL     string       // "https://graph.microsoft.com"; a path prefix is allowed
	Scope       string       // "https://graph.microsoft.com/.default"
	HTTPClient  *http.Client // defaults to NewHTTPClient()
	Logger      *slog.Logger
	MaxAttempts int           // per request, default 6
	MaxBackoff  time.Duration // cap of one wait, default 60 s
	// Sleep waits; tests replace it. It must return early when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
	// Seed for the backoff jitter.
	Seed uint64
	// MaxPageBytes caps one page of Graph's answer; 0 is DefaultMaxPageBytes.
	MaxPageBytes int64
}

// DefaultMaxPageBytes caps one page: a real 90-day page is about 7 MB, so
// 64 MB is far above any that Graph sends and far below what would run the
// collector out of memory.
const DefaultMaxPageBytes = 64 << 20

// Client reads Secure Score for any number of tenants. It is safe for
// concurrent use; it keeps each tenant within Graph's limits.
type Client struct {
	base        *url.URL
	scope       string
	hc          *http.Client
	log         *slog.Logger
	maxAttempts int
	maxBackoff  time.Duration
	sleep       func(context.Context, time.Duration) error
	maxPage     int64

	mu      sync.Mutex
	rng     *rand.Rand
	tenants map[string]*tenantLimit
}

type tenantLimit struct {
	sem    chan struct{}
	window *windowLimiter
}

// windowLimiter allows at most n requests in any sliding window of length
// per: exactly Graph's "150 requests per minute", with no delay below it
// (a token bucket would either delay a burst Graph accepts or allow one it
// refuses).
type windowLimiter struct {
	mu   sync.Mutex
	per  time.Duration
	sent []time.Time // ring of the last n send times
	next int
}

func newWindowLimiter(n int, per time.Duration) *windowLimiter {
	return &windowLimiter{per: per, sent: make([]time.Time, n)}
}

// reserve records a send now, or returns how long to wait first.
func (w *windowLimiter) reserve(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	oldest := w.sent[w.next] // the send n requests ago
	if !oldest.IsZero() {
		if wait := oldest.Add(w.per).Sub(now); wait > 0 {
			return wait
		}
	}
	w.sent[w.next] = now
	w.next = (w.next + 1) % len(w.sent)
	return 0
}

// New returns a Client.
func New(o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("graph URL %q must be an https URL", o.BaseURL)
	}
	c := &Client{
		base:        u,
		scope:       o.Scope,
		hc:          o.HTTPClient,
		log:         o.Logger,
		maxAttempts: o.MaxAttempts,
		maxBackoff:  o.MaxBackoff,
		sleep:       o.Sleep,
		maxPage:     o.MaxPageBytes,
		rng:         rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		tenants:     make(map[string]*tenantLimit),
	}
	if c.scope == "" {
		c.scope = "https://graph.microsoft.com/.default"
	}
	c.hc = noRedirects(c.hc)
	if c.maxPage <= 0 {
		c.maxPage = DefaultMaxPageBytes
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = 6
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = 60 * time.Second
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) limit(tenant string) *tenantLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.tenants[tenant]
	if l == nil {
		l = &tenantLimit{
			sem:    make(chan struct{}, MaxConcurrentPerTenant),
			window: newWindowLimiter(RequestsPerMinute, time.Minute),
		}
		c.tenants[tenant] = l
	}
	return l
}

func (c *Client) jitter(d time.Duration) time.Duration {
	c.mu.Lock()
	f := 0.5 + c.rng.Float64()
	c.mu.Unlock()
	return time.Duration(float64(d) * f)
}

// counterKey carries a request counter through a context.
type counterKey struct{}

// WithRequestCounter makes every Graph request (and retry) made with the
// returned context add one to n.
func WithRequestCounter(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, counterKey{}, n)
}

func count(ctx context.Context) {
	if n, ok := ctx.Value(counterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}

// bodyHook lets the benchmark see each raw page.
type bodyHookKey struct{}

// WithBodyHook calls f with every successful response body (a page), as
// read, and the tenant it is of. body is only valid during the call (its
// buffer is reused): f must copy what it keeps.
func WithBodyHook(ctx context.Context, f func(tenant, path string, body []byte)) context.Context {
	return context.WithValue(ctx, bodyHookKey{}, f)
}

// pageSizeKey carries a hook told of each page's size.
type pageSizeKey struct{}

// WithPageSize calls f with the size in bytes of every page read whole and
// decoded (the benchmark counts them; unlike WithBodyHook, it leaves pages
// decoded as they arrive, see decodeStream).
func WithPageSize(ctx context.Context, f func(tenant, path string, n int64)) context.Context {
	return context.WithValue(ctx, pageSizeKey{}, f)
}

// SecureScores returns the tenant's daily snapshots, oldest first. top limits
// it to the newest top days (Graph sorts newest first); 0 asks for all Graph
// keeps (about 90 days). Every page is followed.
func (c *Client) SecureScores(ctx context.Context, t Target, top int) ([]fleetscore.Score, error) {
	q := url.Values{}
	if top > 0 {
		q.Set("$top", strconv.Itoa(top))
	}
	var out []fleetscore.Score
	seen := make(map[fleetscore.Day]int)
	rawHook, _ := ctx.Value(rawScoresKey{}).(func(fleetscore.Day, []byte))
	add := func(w *secureScoreWire, raw []byte) error {
		if w.AzureTenantID != "" && !strings.EqualFold(w.AzureTenantID, t.TenantID) {
			return &Error{Kind: KindMalformed, Tenant: t.TenantID, Msg: fmt.Sprintf("Graph returned a secure score of another tenant (%s)", w.AzureTenantID), Advice: "check that graph_url points at Microsoft Graph"}
		}
		s, err := w.toScore(strings.ToLower(t.TenantID))
		if err != nil {
			return &Error{Kind: KindMalformed, Tenant: t.TenantID, Msg: err.Error()}
		}
		if rawHook != nil {
			rawHook(s.Day, raw)
		}
		// One snapshot a day; if Graph ever sends two, the later one wins.
		if i, ok := seen[s.Day]; ok {
			out[i] = s
			return nil
		}
		seen[s.Day] = len(out)
		out = append(out, s)
		return nil
	}
	var err error
	if rawHook != nil {
		err = getAll(ctx, c, t, "security/secureScores", q, func(r *rawScore) error { return add(&r.secureScoreWire, r.raw) })
	} else {
		err = getAll(ctx, c, t, "security/secureScores", q, func(w *secureScoreWire) error { return add(w, nil) })
	}
	if err != nil {
		return nil, err
	}
	sortScores(out)
	return out, nil
}

// rawScoresKey carries a hook for each snapshot's raw JSON.
type rawScoresKey struct{}

// WithRawScores makes SecureScores call f with each day's snapshot exactly
// as Graph sent it (the archive keeps them, as the old runbooks did).
func WithRawScores(ctx context.Context, f func(day fleetscore.Day, raw []byte)) context.Context {
	return context.WithValue(ctx, rawScoresKey{}, f)
}

// rawScore is a snapshot decoded with a copy of its raw bytes.
type rawScore struct {
	secureScoreWire
	raw []byte
}

func (r *rawScore) UnmarshalJSON(b []byte) error {
	r.raw = append([]byte(nil), b...)
	return unmarshal(b, &r.secureScoreWire)
}

// ControlProfiles returns the tenant's control profiles (its recommended
// actions), following every page.
func (c *Client) ControlProfiles(ctx context.Context, t Target) ([]fleetscore.ControlProfile, error) {
	var out []fleetscore.ControlProfile
	err := getAll(ctx, c, t, "security/secureScoreControlProfiles", nil, func(w *controlProfileWire) error {
		if w.ID == "" {
			return nil
		}
		out = append(out, w.toProfile())
		return nil
	})
	return out, err
}

func sortScores(s []fleetscore.Score) {
	// insertion sort is fine for ~90 items that arrive sorted newest first;
	// reverse first so the common case is already ordered.
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Day.Before(s[j-1].Day); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// getAll GETs path and every @odata.nextLink after it, calling each for
// every item.
func getAll[T any](ctx context.Context, c *Client, t Target, path string, q url.Values, each func(*T) error) error {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/v1.0/" + path
	if len(q) > 0 {
		// Graph's $-parameters are written unescaped, as Graph's own docs and SDKs do.
		u.RawQuery = strings.ReplaceAll(q.Encode(), "%24", "$")
	}
	next := u.String()
	for pages := 0; next != ""; pages++ {
		if pages > 1000 {
			return &Error{Kind: KindMalformed, Tenant: t.TenantID, Msg: "Graph kept sending @odata.nextLink after 1,000 pages"}
		}
		link, err := c.followable(next)
		if err != nil {
			return &Error{Kind: KindMalformed, Tenant: t.TenantID, Msg: err.Error()}
		}
		var p page[T]
		if err := c.get(ctx, t, link, &p); err != nil {
			return err
		}
		for i := range p.Value {
			if err := each(&p.Value[i]); err != nil {
				return err
			}
		}
		next = p.NextLink
	}
	return nil
}

// microsoftGraphHosts are the hosts Graph itself names in @odata.nextLink.
var microsoftGraphHosts = map[string]bool{
	"graph.microsoft.com": true, "graph.microsoft.us": true, "dod-graph.microsoft.us": true,
}

// followable checks an @odata.nextLink before the tenant's token is sent to
// it. A link on the configured Graph host is followed verbatim. A link on
// Microsoft's own Graph host while graph_url points elsewhere (a proxy, a
// look-alike) is rebased onto graph_url, path and query unchanged: the
// token only ever goes to the host the config names. Anything else is
// refused.
func (c *Client) followable(next string) (string, error) {
	nu, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("the @odata.nextLink Graph sent is not a URL: %v", err)
	}
	if !nu.IsAbs() {
		nu = c.base.ResolveReference(nu)
	}
	switch {
	case strings.EqualFold(nu.Host, c.base.Host) && nu.Scheme == "https":
		return nu.String(), nil
	case microsoftGraphHosts[strings.ToLower(nu.Hostname())] && nu.Scheme == "https":
		rebased := *c.base
		rebased.Path = strings.TrimRight(c.base.Path, "/") + nu.Path
		rebased.RawPath = ""
		rebased.RawQuery = nu.RawQuery
		return rebased.String(), nil
	}
	return "", fmt.Errorf("the @odata.nextLink Graph sent points outside %s (%s): not followed, so the token is not sent there", c.base.Host, nu.Host)
}

// request is one Graph call: a GET of a page or a profile, or a PATCH of a
// control's state. Its body is sent again with each attempt.
type request struct {
	method string
	url    string
	body   []byte // JSON; nil for a GET
	prefer string // the Prefer header, if any
	// write marks a change: only answers that say nothing was done (429,
	// 503, 504) are retried, and a 403 is advised on the write role.
	write bool
}

// get performs one GET with retries and decodes the body into v.
func (c *Client) get(ctx context.Context, t Target, rawURL string, v any) error {
	_, err := c.send(ctx, t, request{method: http.MethodGet, url: rawURL}, v)
	return err
}

// send performs one request with retries, the tenant's limits and one token
// renewal, and decodes a 2xx body into v (a *[]byte takes the raw body). It
// returns the final status.
func (c *Client) send(ctx context.Context, t Target, r request, v any) (int, error) {
	lim := c.limit(strings.ToLower(t.TenantID))
	var last *Error
	renewed := false
	for attempt := 1; ; attempt++ {
		var status int
		wait, err := c.try(ctx, t, lim, r, v, &status)
		if err == nil {
			return status, nil
		}
		e, ok := AsError(err)
		if !ok {
			return 0, err
		}
		last = e
		// Graph refused a token before its expiry (revoked, or a clock
		// apart): once, get a new one from Entra rather than the cache.
		if e.Status == http.StatusUnauthorized && !renewed {
			if r, ok := t.Credential.(interface{ Renew(tenant string) error }); ok && r.Renew(t.TenantID) == nil {
				renewed = true
				c.log.Debug("graph refused the token; retrying once with a new one", "tenant", t.TenantID)
				attempt--
				continue
			}
		}
		if e.Status == http.StatusUnauthorized && renewed {
			e.Advice = "Graph refused a new token too: check this machine's clock (a token is refused when the clock is minutes off), " +
				"and that graph_url and cloud match the authority (a token from one cloud is not valid in another)"
		}
		if wait < 0 || attempt >= c.maxAttempts {
			return last.Status, last
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			last.Msg += fmt.Sprintf(" (Graph asked to wait %s, past the tenant's deadline)", wait.Round(time.Millisecond))
			return last.Status, last
		}
		c.log.Debug("graph retry", "tenant", t.TenantID, "method", r.method, "attempt", attempt, "wait", wait, "status", last.Status)
		if err := c.sleep(ctx, wait); err != nil {
			return 0, timeoutError(t.TenantID, err)
		}
	}
}

func (c *Client) backoff(attempt int) time.Duration {
	d := time.Duration(float64(time.Second) * math.Pow(2, float64(attempt-1)))
	if d > c.maxBackoff {
		d = c.maxBackoff
	}
	return c.jitter(d)
}

// timeoutError says why a tenant's requests stopped: its deadline passed,
// or the run was stopped (cancelled), which is no fault of Graph's.
func timeoutError(tenant string, err error) *Error {
	if errors.Is(err, context.Canceled) {
		return &Error{Kind: KindCancelled, Tenant: tenant, Msg: "the collection was stopped (cancelled) before the tenant was done", Advice: "nothing to fix: the next run carries on", Err: err}
	}
	return &Error{Kind: KindTimeout, Tenant: tenant, Msg: "the tenant's collection did not finish before its deadline", Advice: "Graph was slow or kept throttling; raise timeout in the config, or let the next run catch up", Err: err}
}

// try makes one attempt and sets *status to Graph's answer, if any. wait > 0
// asks for a retry after that long, 0 for a retry after the usual backoff,
// < 0 says the error is final.
func (c *Client) try(ctx context.Context, t Target, lim *tenantLimit, r request, v any, status *int) (wait time.Duration, err error) {
	tok, err := c.token(ctx, t)
	if err != nil {
		return -1, err
	}
	for {
		wait := lim.window.reserve(time.Now())
		if wait == 0 {
			break
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return -1, timeoutError(t.TenantID, err)
		}
	}
	select {
	case lim.sem <- struct{}{}:
	case <-ctx.Done():
		return -1, timeoutError(t.TenantID, ctx.Err())
	}
	defer func() { <-lim.sem }()

	var reqBody io.Reader
	if r.body != nil {
		reqBody = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, reqBody)
	if err != nil {
		return -1, &Error{Kind: KindMalformed, Tenant: t.TenantID, Msg: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "fleetscore")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.prefer != "" {
		req.Header.Set("Prefer", r.prefer)
	}
	count(ctx)
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, timeoutError(t.TenantID, ctx.Err())
		}
		if re, ok := asRedirect(err); ok {
			return -1, &Error{Kind: KindGraph, Tenant: t.TenantID, Status: re.Status, Msg: re.Error(),
				Advice: "graph_url must name Microsoft Graph itself, or a proxy that answers without redirecting"}
		}
		return 0, &Error{Kind: KindNetwork, Tenant: t.TenantID, Msg: "Graph did not answer: " + scrub(err.Error()), Advice: "check the network and graph_url; the next run catches up"}
	}
	defer resp.Body.Close()
	*status = resp.StatusCode
	if resp.StatusCode/100 != 2 {
		// An error's body is read for its code and message only.
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil && ctx.Err() != nil {
			return -1, timeoutError(t.TenantID, ctx.Err())
		}
		e := responseError(t.TenantID, resp, body, tok)
		if r.write {
			writeAdvice(e, tok)
			// A change is sent again only when Graph said it did nothing.
			switch resp.StatusCode {
			case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				return retryAfter(resp.Header.Get("Retry-After"), time.Now()), e
			}
			return -1, e
		}
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusRequestTimeout:
			return retryAfter(resp.Header.Get("Retry-After"), time.Now()), e
		case http.StatusUnauthorized:
			// A token revoked or expired early: one retry gets a fresh one
			// only if the credential refreshes it, so do not loop.
			return -1, e
		}
		return -1, e
	}
	// The page is decoded as it arrives, never read whole first, and never
	// past maxPage: a hostile or broken upstream cannot fill the memory.
	body := &capReader{r: resp.Body, left: c.maxPage}
	if raw, ok := v.(*[]byte); ok {
		// A change's answer: Graph did it. A body that cannot be read is
		// not a reason to send the change again; the caller reads back.
		*raw, _ = io.ReadAll(body)
		if body.over || body.err != nil {
			*raw = nil
		}
		return 0, nil
	}
	var derr error
	if hook, ok := ctx.Value(bodyHookKey{}).(func(string, string, []byte)); ok {
		derr = decodeBody(body, resp.ContentLength, v, func(b []byte) { hook(t.TenantID, req.URL.Path, b) })
	} else if streamed, err := decodeStream(body, v, defaultWindow); streamed {
		derr = err
	} else {
		derr = decodeBody(body, resp.ContentLength, v, nil)
	}
	if hook, ok := ctx.Value(pageSizeKey{}).(func(string, string, int64)); ok && derr == nil && !body.over && body.err == nil {
		hook(t.TenantID, req.URL.Path, body.read)
	}
	switch {
	case body.over:
		return -1, &Error{Kind: KindMalformed, Tenant: t.TenantID, Status: resp.StatusCode,
			Msg:    fmt.Sprintf("Graph sent more than %d MB for one page of %s: refused", c.maxPage>>20, req.URL.Path),
			Advice: "a real page is a few MB; check that graph_url points at Microsoft Graph"}
	case body.err != nil:
		if ctx.Err() != nil {
			return -1, timeoutError(t.TenantID, ctx.Err())
		}
		return 0, &Error{Kind: KindNetwork, Tenant: t.TenantID, Status: resp.StatusCode, Msg: "reading Graph's answer failed: " + scrub(body.err.Error())}
	case derr != nil:
		// A truncated or garbled body is usually transient: retry it.
		var se *json.SyntaxError
		var ge *SyntaxError
		msg := "Graph sent a response that is not valid JSON"
		if errors.As(derr, &ge) && ge.Offset < body.read {
			msg += fmt.Sprintf(" (at byte %d)", ge.Offset)
		} else if errors.As(derr, &se) {
			msg += fmt.Sprintf(" (at byte %d)", se.Offset)
		} else if ge != nil || errors.Is(derr, io.ErrUnexpectedEOF) || errors.Is(derr, io.EOF) {
			msg += fmt.Sprintf(" (it ends after %d bytes)", body.read)
		} else {
			msg += ": " + derr.Error()
		}
		return 0, &Error{Kind: KindMalformed, Tenant: t.TenantID, Status: resp.StatusCode, Msg: msg, Advice: "usually transient; the next run catches up"}
	}
	return 0, nil
}

// capReader reads at most left bytes; over says the body went on past them.
// It keeps the first read error that is not io.EOF, to tell a dropped
// connection from a body that is not JSON.
type capReader struct {
	r    io.Reader
	left int64
	read int64
	over bool
	err  error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.over {
		return 0, errPageTooLarge
	}
	if c.left <= 0 {
		// At the cap: one more byte means the page is too large.
		var b [1]byte
		n, err := io.ReadFull(c.r, b[:])
		if n > 0 {
			c.over = true
			return 0, errPageTooLarge
		}
		return 0, c.keep(err)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	c.read += int64(n)
	return n, c.keep(err)
}

func (c *capReader) keep(err error) error {
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return err
}

var errPageTooLarge = errors.New("graph: page too large")

// retryAfter reads a Retry-After header: seconds (Graph sends fractions such
// as 2.128) or an HTTP date. 0 means none was given.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(h, 64); err == nil {
		if secs <= 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	for _, parse := range []func(string) (time.Time, error){
		http.ParseTime,
		func(s string) (time.Time, error) { return time.Parse(time.RFC1123Z, s) },
	} {
		if t, err := parse(h); err == nil {
			if d := t.Sub(now); d > 0 {
				return d
			}
			return 0
		}
	}
	return 0
}
