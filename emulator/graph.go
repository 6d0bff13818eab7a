package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Microsoft Graph: security/secureScores and security/secureScoreControlProfiles
// (graph-api.md sections 1–4).

type resource int

const (
	resScores resource = iota
	resScore
	resProfiles
	resProfile
	resPatch    // PATCH of one control profile
	resSendMail // POST /users/{id}/sendMail
)

const (
	graphContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	wwwAuthenticate  = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="` + graphAppID + `"`
	flushSize        = 64 << 10
	limitConcurrent  = 4   // per app per tenant
	limitPerMinute   = 150 // per app per tenant
)

// gctx is one Graph request in flight.
type gctx struct {
	w         http.ResponseWriter
	r         *http.Request
	version   string
	requestID string
	clientID  string // client-request-id
	te        *tenantEntry
	def       *tenantDef
	claims    *accessClaims
	malformed bool
	body      []byte // a PATCH's request body
	status    int    // the status answered, 0 before (or when the connection was dropped)
}

func (e *Emulator) graph(version string, res resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g := &gctx{w: w, r: r, version: version, requestID: newGUID(), clientID: r.Header.Get("client-request-id")}
		if g.clientID == "" {
			g.clientID = g.requestID
		}
		hd := w.Header()
		hd.Set("request-id", g.requestID)
		hd.Set("client-request-id", g.clientID)
		hd.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5","ScaleUnit":"003","RoleInstance":"AM2PEPF0001C2F5"}}`)
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		hd.Set("Cache-Control", "no-cache")

		claims, problem := e.verifyAccessToken(r)
		if claims != nil {
			g.te, g.def = e.lookup(claims.Tid)
			if g.te == nil && problem == "" {
				problem = "Access token validation failure. Invalid audience."
			}
		}
		if problem != "" {
			hd.Set("WWW-Authenticate", wwwAuthenticate)
			e.graphError(g, http.StatusUnauthorized, "InvalidAuthenticationToken", problem)
			e.log.Debug("graph 401", "path", r.URL.Path, "reason", problem)
			return
		}
		if h := hostOf(r); isMicrosoftGraph(h) && (!strings.EqualFold(claims.Aud, "https://"+h) || h != hostOfURL(g.def.cloud.graph)) {
			hd.Set("WWW-Authenticate", wwwAuthenticate)
			e.graphError(g, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
			e.count(g.te, func(s *Stats) { s.Unauthorized++ })
			return
		}
		e.count(g.te, func(s *Stats) { s.GraphHost = hostOf(r) })
		g.claims = claims
		e.begin(g.te)
		defer e.end(g.te)
		rec := -1
		switch res {
		case resPatch:
			rec = e.recordPatch(g)
		case resSendMail:
			rec = e.recordMail(g)
		}
		e.serveGraph(g, res)
		switch {
		case rec >= 0 && res == resPatch:
			e.patchAnswered(g.te, rec, g.status)
		case rec >= 0:
			e.mailAnswered(g.te, rec, g.status)
		}
		e.log.Debug("graph", "path", r.URL.Path, "query", r.URL.RawQuery, "tenant", claims.Tid, "app", claims.AppID)
	}
}

// serveGraph applies faults, limits and the role check, then serves.
func (e *Emulator) serveGraph(g *gctx, res resource) {
	te := g.te
	te.mu.Lock()
	f := &te.faults
	var action string
	switch {
	case f.Down || (te.failing && te.failLeft <= 0):
		action = "drop"
	case f.Throttle > 0:
		f.Throttle--
		action = "throttle"
	case f.Unavailable > 0:
		f.Unavailable--
		action = "unavailable"
	}
	if action == "" && f.Malformed > 0 {
		f.Malformed--
		g.malformed = true
	}
	retryAfter, unavailable, slow := f.RetryAfter, f.UnavailableStatus, f.Slow
	te.mu.Unlock()

	switch action {
	case "drop":
		e.count(te, func(s *Stats) { s.Dropped++ })
		e.log.Debug("graph drop", "tenant", g.def.model.id)
		dropConnection(g.w)
		return
	case "throttle":
		e.throttled(g, retryAfter)
		return
	case "unavailable":
		if unavailable == 0 {
			unavailable = http.StatusServiceUnavailable
		}
		if retryAfter != "" {
			g.w.Header().Set("Retry-After", retryAfter)
		}
		e.count(te, func(s *Stats) { s.Unavailable++ })
		code, msg := "ServiceUnavailable", "Service is temporarily unavailable. Please retry later."
		if unavailable == http.StatusGatewayTimeout {
			code, msg = "GatewayTimeout", "The gateway did not receive a response from the service in time."
		}
		e.graphError(g, unavailable, code, msg)
		return
	}

	if e.throttle {
		release, wait := e.admit(te, g.claims.AppID)
		if release == nil {
			e.throttled(g, wait)
			return
		}
		defer release()
	}
	if d := e.latency + slow; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-g.r.Context().Done():
			t.Stop()
			return
		}
	}
	if res == resSendMail {
		e.serveSendMail(g) // its own role, Mail.Send
		return
	}
	if !g.claims.hasRole(roleSecurityEventsRead) {
		e.count(te, func(s *Stats) { s.Forbidden++ })
		e.graphError(g, http.StatusForbidden, "Forbidden", "Auth token does not contain valid permissions or user does not have valid roles.")
		return
	}
	if res == resPatch && !g.claims.hasExactRole(roleSecurityEventsWrite) {
		// Reading is not enough: a change needs SecurityEvents.ReadWrite.All.
		e.count(te, func(s *Stats) { s.Forbidden++ })
		e.graphError(g, http.StatusForbidden, "Forbidden", "Auth token does not contain valid permissions or user does not have valid roles.")
		return
	}
	var ok bool
	switch res {
	case resScores:
		ok = e.serveScores(g)
	case resScore:
		ok = e.serveScore(g)
	case resProfiles:
		ok = e.serveProfiles(g)
	case resProfile:
		ok = e.serveProfile(g)
	case resPatch:
		ok = e.servePatch(g)
	}
	if ok {
		te.mu.Lock()
		if te.failing && te.failLeft > 0 {
			te.failLeft--
		}
		te.mu.Unlock()
	}
}

// dropConnection closes the connection under the request: hijack and close
// on HTTP/1.1, abort the stream on HTTP/2.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (e *Emulator) begin(te *tenantEntry) {
	te.mu.Lock()
	te.counters.inflight++
	te.counters.stats.Requests++
	te.counters.stats.MaxConcurrent = max(te.counters.stats.MaxConcurrent, te.counters.inflight)
	te.mu.Unlock()
	e.mu.Lock()
	e.total.inflight++
	e.total.stats.Requests++
	e.total.stats.MaxConcurrent = max(e.total.stats.MaxConcurrent, e.total.inflight)
	e.mu.Unlock()
}

func (e *Emulator) end(te *tenantEntry) {
	te.mu.Lock()
	te.counters.inflight--
	te.mu.Unlock()
	e.mu.Lock()
	e.total.inflight--
	e.mu.Unlock()
}

// limiter enforces Graph's secure score limits for one app in one tenant.
type limiter struct {
	inflight int
	times    [limitPerMinute]time.Time // admitted request times, a ring
	next     int
	n        int
}

// admit reserves a slot; when over a limit it returns nil and the Retry-After
// value to send.
func (e *Emulator) admit(te *tenantEntry, appID string) (release func(), retryAfter string) {
	now := e.wall()
	te.mu.Lock()
	defer te.mu.Unlock()
	l := te.limiters[appID]
	if l == nil {
		l = &limiter{}
		te.limiters[appID] = l
	}
	if l.inflight >= limitConcurrent {
		return nil, "1"
	}
	if l.n == limitPerMinute {
		oldest := l.times[l.next]
		if wait := oldest.Add(time.Minute).Sub(now); wait > 0 {
			return nil, strconv.Itoa(int(math.Ceil(wait.Seconds())))
		}
	}
	l.times[l.next] = now
	l.next = (l.next + 1) % limitPerMinute
	l.n = min(l.n+1, limitPerMinute)
	l.inflight++
	return func() {
		te.mu.Lock()
		l.inflight--
		te.mu.Unlock()
	}, ""
}

func (e *Emulator) throttled(g *gctx, retryAfter string) {
	if retryAfter != "" {
		g.w.Header().Set("Retry-After", retryAfter)
	}
	e.count(g.te, func(s *Stats) { s.Throttled++ })
	e.log.Debug("graph 429", "tenant", g.def.model.id, "retry_after", retryAfter)
	e.graphErrorInner(g, http.StatusTooManyRequests, "TooManyRequests",
		fmt.Sprintf("Too many requests from Identifier:%s+%s under category:secureScore. Please try again later.", g.def.model.id, g.claims.AppID),
		`"code":"429","message":"Please retry after","status":"429",`)
}

func (e *Emulator) graphNotFound(w http.ResponseWriter, r *http.Request) {
	g := &gctx{w: w, r: r, requestID: newGUID(), clientID: r.Header.Get("client-request-id")}
	if g.clientID == "" {
		g.clientID = g.requestID
	}
	w.Header().Set("request-id", g.requestID)
	w.Header().Set("client-request-id", g.clientID)
	seg := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	e.graphError(g, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
}

func (e *Emulator) graphError(g *gctx, status int, code, message string) {
	e.graphErrorInner(g, status, code, message, "")
}

// graphErrorInner writes Graph's OData error; inner is extra innerError members
// (ending with a comma).
func (e *Emulator) graphErrorInner(g *gctx, status int, code, message, inner string) {
	if status == http.StatusUnauthorized {
		if g.te != nil {
			e.count(g.te, func(s *Stats) { s.Unauthorized++ })
		} else {
			e.mu.Lock()
			e.total.stats.Unauthorized++
			e.mu.Unlock()
		}
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"error":{"code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	b = append(b, `,"innerError":{`...)
	b = append(b, inner...)
	b = append(b, `"date":"`...)
	b = e.wall().UTC().AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, `","request-id":"`...)
	b = append(b, g.requestID...)
	b = append(b, `","client-request-id":`...)
	b = appendJSONString(b, g.clientID)
	b = append(b, `}}}`...)
	g.w.Header().Set("Content-Type", graphContentType)
	g.status = status
	g.w.WriteHeader(status)
	_, _ = g.w.Write(b)
}

func (e *Emulator) badRequest(g *gctx, msg string) bool {
	e.graphError(g, http.StatusBadRequest, "BadRequest", msg)
	return false
}

// bodyWriter streams a JSON body in chunks; for an injected malformed body it
// keeps everything and sends a truncated copy at the end.
type bodyWriter struct {
	w         http.ResponseWriter
	buf       []byte
	n         int64
	err       error
	malformed bool
	cut       uint64
}

func newBodyWriter(g *gctx) *bodyWriter {
	g.w.Header().Set("Content-Type", graphContentType)
	g.w.Header().Set("OData-Version", "4.0")
	g.status = http.StatusOK
	g.w.WriteHeader(http.StatusOK)
	return &bodyWriter{w: g.w, buf: make([]byte, 0, flushSize+32<<10), malformed: g.malformed, cut: mix(uint64(len(g.requestID)) ^ strHash(g.requestID))}
}

func (bw *bodyWriter) maybeFlush() {
	if !bw.malformed && len(bw.buf) >= flushSize {
		bw.flush()
	}
}

func (bw *bodyWriter) flush() {
	if bw.err == nil && len(bw.buf) > 0 {
		var n int
		n, bw.err = bw.w.Write(bw.buf)
		bw.n += int64(n)
	}
	bw.buf = bw.buf[:0]
}

// finish sends what is left; a malformed body is cut somewhere in its middle.
func (bw *bodyWriter) finish() {
	if bw.malformed {
		keep := len(bw.buf)/4 + pick(bw.cut, len(bw.buf)/2+1)
		bw.buf = bw.buf[:keep]
	}
	bw.flush()
}

func (e *Emulator) finishBody(g *gctx, bw *bodyWriter) bool {
	bw.finish()
	e.count(g.te, func(s *Stats) {
		s.Bytes += bw.n
		if g.malformed {
			s.Malformed++
		}
	})
	return bw.err == nil && !g.malformed
}

// listQuery is a parsed OData query of a list request.
type listQuery struct {
	top, skip int // top < 0: no $top
	count     bool
	filter    []clause
	token     *skipToken
	keep      string // query to carry into @odata.nextLink
}

type clause struct {
	field, op string
	value     string
	instant   time.Time
}

// parseListQuery reads $top, $skip, $count, $filter and $skiptoken; anything
// else starting with $ is refused, as Graph does for options it does not support.
func (e *Emulator) parseListQuery(g *gctx, filterable map[string]bool) (*listQuery, string) {
	q := &listQuery{top: -1}
	vals, err := url.ParseQuery(g.r.URL.RawQuery)
	if err != nil {
		return nil, "Invalid query string."
	}
	var keep []string
	for k, vs := range vals {
		v := vs[len(vs)-1]
		switch strings.ToLower(k) {
		case "$top":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v)
			}
			q.top = n
		case "$skip":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Sprintf("Invalid value '%s' for $skip query option found. The $skip query option requires a non-negative integer value.", v)
			}
			q.skip = n
		case "$count":
			switch strings.ToLower(v) {
			case "true":
				q.count = true
			case "false":
			default:
				return nil, fmt.Sprintf("'%s' is not a valid count option.", v)
			}
			keep = append(keep, "$count="+v)
		case "$filter":
			cl, msg := parseFilter(v, filterable)
			if msg != "" {
				return nil, msg
			}
			q.filter = cl
			keep = append(keep, "$filter="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		case "$skiptoken":
			t, ok := e.decodeSkipToken(v)
			if !ok {
				return nil, "Invalid skip token."
			}
			q.token = t
		default:
			if strings.HasPrefix(k, "$") {
				return nil, fmt.Sprintf("Query option '%s' is not supported.", k)
			}
		}
	}
	sortStrings(keep)
	q.keep = strings.Join(keep, "&")
	return q, ""
}

// parseFilter understands "field op value [and field op value]...".
func parseFilter(s string, filterable map[string]bool) ([]clause, string) {
	bad := func() ([]clause, string) { return nil, fmt.Sprintf("Invalid filter clause: '%s'.", s) }
	var out []clause
	for _, part := range splitAnd(s) {
		f := strings.Fields(part)
		if len(f) != 3 {
			return bad()
		}
		c := clause{field: f[0], op: strings.ToLower(f[1]), value: strings.Trim(f[2], "'")}
		if !filterable[c.field] {
			return nil, fmt.Sprintf("Invalid filter clause: property '%s' is not supported in $filter.", f[0])
		}
		switch c.op {
		case "eq", "ne", "ge", "le", "gt", "lt":
		default:
			return bad()
		}
		if c.field == "createdDateTime" {
			t, err := time.Parse(time.RFC3339Nano, c.value)
			if err != nil {
				if t, err = time.Parse("2006-01-02", c.value); err != nil {
					return nil, fmt.Sprintf("Invalid filter clause: '%s' is not a valid DateTimeOffset.", f[2])
				}
			}
			c.instant = t.UTC()
		} else if c.op != "eq" && c.op != "ne" {
			return bad()
		}
		out = append(out, c)
	}
	return out, ""
}

func splitAnd(s string) []string {
	var out []string
	for {
		i := strings.Index(strings.ToLower(s), " and ")
		if i < 0 {
			return append(out, strings.TrimSpace(s))
		}
		out = append(out, strings.TrimSpace(s[:i]))
		s = s[i+5:]
	}
}

func (c clause) match(v string, instant time.Time) bool {
	if c.field == "createdDateTime" {
		switch c.op {
		case "eq":
			return instant.Equal(c.instant)
		case "ne":
			return !instant.Equal(c.instant)
		case "ge":
			return !instant.Before(c.instant)
		case "le":
			return !instant.After(c.instant)
		case "gt":
			return instant.After(c.instant)
		default:
			return instant.Before(c.instant)
		}
	}
	eq := strings.EqualFold(v, c.value)
	if c.op == "ne" {
		return !eq
	}
	return eq
}

// skipToken is the opaque paging state: which day was "today" when paging
// started (so pages stay consistent across midnight) and the slice of the
// result still to send.
type skipToken struct {
	day        int64
	start, end int
}

func (e *Emulator) encodeSkipToken(t skipToken) string {
	var b [28]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(t.day))
	binary.LittleEndian.PutUint32(b[8:], uint32(t.start))
	binary.LittleEndian.PutUint32(b[12:], uint32(t.end))
	binary.LittleEndian.PutUint64(b[16:], h(e.skipKey, uint64(t.day), uint64(t.start), uint64(t.end)))
	binary.LittleEndian.PutUint32(b[24:], 0x6b6f74) // version
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (e *Emulator) decodeSkipToken(s string) (*skipToken, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 28 {
		return nil, false
	}
	t := &skipToken{day: int64(binary.LittleEndian.Uint64(b[0:])), start: int(binary.LittleEndian.Uint32(b[8:])), end: int(binary.LittleEndian.Uint32(b[12:]))}
	if binary.LittleEndian.Uint64(b[16:]) != h(e.skipKey, uint64(t.day), uint64(t.start), uint64(t.end)) {
		return nil, false
	}
	return t, true
}

// window applies $skip/$top (or a skip token) and the page size to n items:
// the slice to send now and, when more remain, the token of the next page.
func (q *listQuery) window(n, pageSize int, day int64) (start, end int, next *skipToken) {
	if q.token != nil {
		start, end = q.token.start, q.token.end
	} else {
		start, end = min(q.skip, n), n
		if q.top >= 0 {
			end = min(end, start+q.top)
		}
	}
	end = min(end, n)
	start = min(start, end)
	if pageSize > 0 && end-start > pageSize {
		next = &skipToken{day: day, start: start + pageSize, end: end}
		end = start + pageSize
	}
	return start, end, next
}

func (e *Emulator) listHead(b []byte, g *gctx, entitySet string, q *listQuery, total int, next *skipToken, day int64) []byte {
	base := baseURL(g.r)
	b = append(b, `{"@odata.context":"`...)
	b = append(b, base...)
	b = append(b, '/')
	b = append(b, g.version...)
	b = append(b, `/$metadata#security/`...)
	b = append(b, entitySet...)
	b = append(b, '"')
	if q.count {
		b = append(b, `,"@odata.count":`...)
		b = strconv.AppendInt(b, int64(total), 10)
	}
	if next != nil {
		b = append(b, `,"@odata.nextLink":"`...)
		b = append(b, base...)
		b = append(b, g.r.URL.Path...)
		b = append(b, '?')
		if q.keep != "" {
			b = append(b, q.keep...)
			b = append(b, '&')
		}
		b = append(b, `$skiptoken=`...)
		b = append(b, e.encodeSkipToken(*next)...)
		b = append(b, '"')
	}
	return append(b, `,"value":[`...)
}

// today is the data clock's day, or the day a paging sequence started on.
func (e *Emulator) today(q *listQuery) int64 {
	if q != nil && q.token != nil {
		return q.token.day
	}
	return e.Today().Unix()
}

func (e *Emulator) serveScores(g *gctx) bool {
	q, msg := e.parseListQuery(g, map[string]bool{"createdDateTime": true, "azureTenantId": true})
	if msg != "" {
		return e.badRequest(g, msg)
	}
	t := g.def.model
	today := e.today(q)
	days := make([]int64, 0, e.days)
	for d := today; d > today-int64(e.days); d-- {
		if t.hole(d) || !matchDay(q.filter, t.id, d) {
			continue
		}
		days = append(days, d)
	}
	start, end, next := q.window(len(days), g.def.scorePageSize, today)
	page := days[start:end]
	bw := newBodyWriter(g)
	bw.buf = e.listHead(bw.buf, g, "secureScores", q, len(days), next, today)
	if len(page) > 0 {
		streams := t.streamsFor(page[len(page)-1], page[0], 0)
		sr := newScoreRenderer(t)
		var s snapshot
		for i, d := range page {
			if i > 0 {
				bw.buf = append(bw.buf, ',')
			}
			t.snapshotAt(&s, d, streams)
			bw.buf = sr.appendScore(bw.buf, &s)
			bw.maybeFlush()
			if bw.err != nil {
				return false
			}
		}
	}
	bw.buf = append(bw.buf, "]}"...)
	return e.finishBody(g, bw)
}

func matchDay(filter []clause, tenantID string, d int64) bool {
	instant := dayTime(d)
	for _, c := range filter {
		if !c.match(tenantID, instant) {
			return false
		}
	}
	return true
}

func (e *Emulator) serveScore(g *gctx) bool {
	t := g.def.model
	id := g.r.PathValue("id")
	tid, date, ok := strings.Cut(id, "_")
	today := e.Today().Unix()
	var d int64
	if ok && strings.EqualFold(tid, t.id) {
		if tm, err := time.Parse("2006-01-02", date); err == nil {
			d = tm.Unix() / 86400
		} else {
			ok = false
		}
	}
	if !ok || d > today || d <= today-int64(e.days) || t.hole(d) || !strings.EqualFold(tid, t.id) {
		e.graphError(g, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
		return false
	}
	bw := newBodyWriter(g)
	bw.buf = append(bw.buf, `{"@odata.context":"`...)
	bw.buf = append(bw.buf, baseURL(g.r)+"/"+g.version+`/$metadata#security/secureScores/$entity",`...)
	var s snapshot
	t.snapshotAt(&s, d, t.streamsFor(d, d, 0))
	entity := newScoreRenderer(t).appendScore(nil, &s)
	bw.buf = append(bw.buf, entity[1:]...) // merge into the object opened above
	return e.finishBody(g, bw)
}

func (e *Emulator) serveProfiles(g *gctx) bool {
	q, msg := e.parseListQuery(g, map[string]bool{"id": true, "controlCategory": true, "service": true, "tier": true, "deprecated": true})
	if msg != "" {
		return e.badRequest(g, msg)
	}
	t := g.def.model
	today := e.today(q)
	all := t.profilesAt(today, e.days)
	type ranked struct {
		p    *profileEntry
		rank int
	}
	list := make([]ranked, 0, len(all))
	for i := range all {
		p := &all[i]
		okp := true
		for _, c := range q.filter {
			var v string
			switch c.field {
			case "id":
				v = p.tc.c.id
			case "controlCategory":
				v = p.tc.c.category
			case "service":
				v = p.tc.c.service
			case "tier":
				v = p.tc.c.tier
			case "deprecated":
				v = strconv.FormatBool(p.deprecated)
			}
			okp = okp && c.match(v, time.Time{})
		}
		if okp {
			list = append(list, ranked{p, i + 1})
		}
	}
	start, end, next := q.window(len(list), e.profilePage, today)
	bw := newBodyWriter(g)
	bw.buf = e.listHead(bw.buf, g, "secureScoreControlProfiles", q, len(list), next, today)
	for i, rp := range list[start:end] {
		if i > 0 {
			bw.buf = append(bw.buf, ',')
		}
		bw.buf = appendProfile(bw.buf, t, rp.p, rp.rank)
		bw.maybeFlush()
	}
	bw.buf = append(bw.buf, "]}"...)
	return e.finishBody(g, bw)
}

func (e *Emulator) serveProfile(g *gctx) bool {
	t := g.def.model
	id := g.r.PathValue("id")
	all := t.profilesAt(e.Today().Unix(), e.days)
	if i := profileIndex(all, id); i >= 0 {
		return e.writeProfile(g, t, all, i)
	}
	return e.profileNotFound(g, id)
}

// profileIndex is the index of control id among the profiles, or -1.
func profileIndex(all []profileEntry, id string) int {
	for i := range all {
		if strings.EqualFold(all[i].tc.c.id, id) {
			return i
		}
	}
	return -1
}

func (e *Emulator) profileNotFound(g *gctx, id string) bool {
	e.graphError(g, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
	return false
}

// writeProfile answers one profile entity, ranked by its place in all.
func (e *Emulator) writeProfile(g *gctx, t *tenantModel, all []profileEntry, i int) bool {
	bw := newBodyWriter(g)
	bw.buf = append(bw.buf, `{"@odata.context":"`...)
	bw.buf = append(bw.buf, baseURL(g.r)+"/"+g.version+`/$metadata#security/secureScoreControlProfiles/$entity",`...)
	entity := appendProfile(nil, t, &all[i], i+1)
	bw.buf = append(bw.buf, entity[1:]...)
	return e.finishBody(g, bw)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
