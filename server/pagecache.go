package server

// The pages' cache: each page is rendered once per store version (the
// fleet model's, as fleetAnswer keeps the API's answers) and per
// everything else it depends on, and its bytes are served to every
// request that would render them alike. What differs between two such
// requests (the signed-in user's name, the session's CSRF token, the
// collection's progress, a report's CSP nonce) is rendered with a marker
// in its place, and the request's own is spliced in where the marker was.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
)

// Bounds of one version's cache: past them, the oldest pages are dropped.
const (
	pageCacheMaxEntries = 256
	pageCacheMaxBytes   = 32 << 20
	// pageCacheMaxPage is the largest page kept, compressed;
	// pageCacheMaxPlain the most HTML compressed for it (the overview of
	// 10,000 tenants is ~30 MB).
	pageCacheMaxPage  = 16 << 20
	pageCacheMaxPlain = 64 << 20
)

// pageKeyMax bounds a kept page's key (its URL and scope): longer ones
// are rendered for their request only.
const pageKeyMax = 4 << 10

// pageTTL is how long a kept page is served. The store's version moves
// with every write of collections and exceptions, and this server's own
// writes (a form, an acknowledgement, a run's alerts) drop every kept
// page; the TTL bounds how long a page can miss what another process
// wrote that the version does not see (alerts, campaigns).
const pageTTL = time.Minute

// hole is a per-request part of a kept page.
type hole byte

const (
	holeUser    hole = 'U' // the signed-in user's name, escaped
	holeCSRF    hole = 'C' // the session's CSRF token, escaped
	holeCollect hole = 'K' // the collection's progress (the "collect" template)
	holeNonce   hole = 'N' // a report's CSP nonce
)

// holeMarks are this process's markers: a random prefix, then the hole.
// They are letters and digits only, so every context of html/template
// writes them as they are.
type holeMarks struct{ prefix string }

func newHoleMarks() holeMarks {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return holeMarks{prefix: "fsHole" + hex.EncodeToString(b[:])}
}

func (m holeMarks) mark(h hole) string { return m.prefix + string(rune(h)) }

// holesKey marks the context of a request rendered for the cache.
type holesKey struct{}

func rendersHoles(ctx context.Context) bool {
	v, _ := ctx.Value(holesKey{}).(bool)
	return v
}

// pageSeg is a kept page's piece: literal bytes, or a hole (hole not 0).
// A kept page keeps its literals compressed only (z): a tenant's page is
// 370 KB of HTML and 30 KB compressed, and nearly every client takes
// gzip; the few that do not get them inflated (pieceText).
type pageSeg struct {
	lit  []byte // the literal; nil once compressed into z
	hole hole
	// The literal compressed (raw deflate, flushed to a byte boundary).
	z deflated
}

// pageEntry is a page as rendered for the cache.
type pageEntry struct {
	ready chan struct{} // closed when the fields below are set
	kept  bool          // false: render for yourself (an error page, too large)

	status int
	header http.Header // with the nonce's marker in place
	segs   []pageSeg
	size   int // bytes kept
	// counted: size is in the cache's bytes (set under the cache's lock).
	counted bool
	gen     int64
	at      time.Time
}

// pageCache is one store version's kept pages.
type pageCache struct {
	mu      sync.Mutex
	entries map[string]*pageEntry
	order   []string // keys, oldest first
	bytes   int
}

// pagesOf returns the cache of the store's current version (a new one
// each time when the source keeps no model).
func (s *Server) pagesOf(ctx context.Context) (*pageCache, error) {
	return query.Memo(ctx, s.src, "server/pages", func(context.Context, query.Source) (*pageCache, error) {
		return &pageCache{entries: map[string]*pageEntry{}}, nil
	})
}

// invalidatePages drops the kept pages of every version: the next view
// of each renders it again. Writes the store's version sees need none.
func (s *Server) invalidatePages() { s.pageGen.Add(1) }

// pageOpts are what a page depends on beyond its URL, role and scope.
type pageOpts struct {
	// byName: the page depends on the principal's name (who may approve
	// whose exception), so it is kept per name.
	byName bool
}

// cachedPage serves next's page from the cache. The key is the request's
// path, query and Accept, what the principal may see (role, a client's tenants,
// the name when the page reads it), what the layout shows of the request
// (signed in, a session, the progress), the data's day and the clock's.
func (s *Server) cachedPage(next http.HandlerFunc, o pageOpts) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.pageCacheOff.Load() {
			next(w, r)
			return
		}
		pg := s.page(r, "", "")
		key := s.pageKey(r, pg, o)
		if len(key) > pageKeyMax {
			next(w, r) // a query no page of ours needs: not kept
			return
		}
		pc, err := s.pagesOf(r.Context())
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		gen, now := s.pageGen.Load(), s.now()
		{
			pc.mu.Lock()
			e := pc.entries[key]
			if e != nil {
				select {
				case <-e.ready:
					if !e.kept || e.gen != gen || now.Sub(e.at) >= pageTTL || now.Before(e.at) {
						pc.dropLocked(key)
						e = nil
					}
				default:
				}
			}
			if e == nil {
				e = &pageEntry{ready: make(chan struct{})}
				pc.entries[key] = e
				pc.order = append(pc.order, key)
				pc.mu.Unlock()
				s.renderEntry(e, next, r, gen, now)
				pc.keep(key, e)
				s.writeEntry(w, r, e, pg)
				return
			}
			pc.mu.Unlock()
			select {
			case <-e.ready:
			case <-r.Context().Done():
				return
			}
			if e.kept {
				s.writeEntry(w, r, e, pg)
				return
			}
			// Not kept (an error page, say): render this request's own.
			e = &pageEntry{ready: make(chan struct{})}
			s.renderEntry(e, next, r, gen, now)
			s.writeEntry(w, r, e, pg)
			return
		}
	}
}

func (s *Server) pageKey(r *http.Request, pg page, o pageOpts) string {
	p := who(r)
	var b strings.Builder
	b.WriteString(r.URL.Path)
	b.WriteByte('?')
	b.WriteString(r.URL.RawQuery)
	b.WriteByte(0)
	// An API answer kept here is JSON or CSV by its Accept.
	b.WriteString(r.Header.Get("Accept"))
	b.WriteByte(0)
	b.WriteString(string(p.Role))
	b.WriteByte(0)
	if p.Restricted() {
		ts := slices.Clone(p.Tenants)
		for i := range ts {
			ts[i] = strings.ToLower(ts[i])
		}
		slices.Sort(ts)
		sum := sha256.Sum256([]byte(strings.Join(ts, ",")))
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	b.WriteByte(0)
	if o.byName {
		sum := sha256.Sum256([]byte(p.Name))
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	b.WriteByte(0)
	flag := func(v bool) {
		b.WriteByte("01"[map[bool]int{false: 0, true: 1}[v]])
	}
	flag(pg.User != "")
	flag(pg.CSRF != "")
	flag(pg.SignedOut)
	flag(pg.Fleet)
	flag(pg.Collect != nil)
	flag(pg.Collect != nil && pg.Collect.CanStart)
	b.WriteByte(0)
	b.WriteString(fleetscore.DayOf(s.dataNow()).String())
	b.WriteByte(0)
	b.WriteString(fleetscore.DayOf(s.now()).String())
	return b.String()
}

// renderEntry renders next's page with markers into e and marks it ready.
func (s *Server) renderEntry(e *pageEntry, next http.HandlerFunc, r *http.Request, gen int64, now time.Time) {
	defer close(e.ready)
	rec := &recorder{header: http.Header{}}
	next(rec, r.WithContext(context.WithValue(r.Context(), holesKey{}, true)))
	e.status, e.header, e.gen, e.at = rec.status, rec.header, gen, now
	if e.status == 0 {
		e.status = http.StatusOK
	}
	e.segs = s.pages.marks.split(rec.body.Bytes())
	plain := 0
	for i := range e.segs {
		plain += len(e.segs[i].lit)
	}
	e.kept = e.status == http.StatusOK && plain <= pageCacheMaxPlain
	if !e.kept {
		return
	}
	for i := range e.segs {
		if sg := &e.segs[i]; sg.hole == 0 {
			sg.z = deflatePiece(sg.lit)
			e.size += len(sg.z.data)
		}
	}
	e.kept = e.size <= pageCacheMaxPage
	// Kept: the literals compressed only. Not: sent once, plain (and
	// compressed by gzipped as the request takes it).
	for i := range e.segs {
		if sg := &e.segs[i]; e.kept {
			sg.lit = nil
		} else {
			sg.z = deflated{}
		}
	}
}

// keep accounts for e (ready) in the cache, or drops it, and drops the
// oldest pages past the bounds.
func (pc *pageCache) keep(key string, e *pageEntry) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.entries[key] != e {
		return
	}
	if !e.kept {
		pc.dropLocked(key)
		return
	}
	pc.bytes += e.size
	e.counted = true
	for (len(pc.entries) > pageCacheMaxEntries || pc.bytes > pageCacheMaxBytes) && len(pc.order) > 0 {
		if !pc.dropOldestLocked() {
			break
		}
	}
}

// dropOldestLocked drops the oldest ready page; false when none is.
func (pc *pageCache) dropOldestLocked() bool {
	for _, k := range pc.order {
		e := pc.entries[k]
		select {
		case <-e.ready:
			pc.dropLocked(k)
			return true
		default:
		}
	}
	return false
}

func (pc *pageCache) dropLocked(key string) {
	e := pc.entries[key]
	if e == nil {
		return
	}
	if e.counted {
		pc.bytes -= e.size
	}
	delete(pc.entries, key)
	if i := slices.Index(pc.order, key); i >= 0 {
		pc.order = slices.Delete(pc.order, i, i+1)
	}
}

// split cuts a page rendered with markers into literals and holes.
func (m holeMarks) split(b []byte) []pageSeg {
	var segs []pageSeg
	prefix := []byte(m.prefix)
	for {
		i := bytes.Index(b, prefix)
		if i < 0 || i+len(prefix) >= len(b) {
			break
		}
		h := hole(b[i+len(prefix)])
		switch h {
		case holeUser, holeCSRF, holeCollect, holeNonce:
		default:
			// Not one of ours: keep it as text.
			segs = append(segs, pageSeg{lit: b[:i+len(prefix)]})
			b = b[i+len(prefix):]
			continue
		}
		if i > 0 {
			segs = append(segs, pageSeg{lit: b[:i]})
		}
		segs = append(segs, pageSeg{hole: h})
		b = b[i+len(prefix)+1:]
	}
	if len(b) > 0 {
		segs = append(segs, pageSeg{lit: b})
	}
	return segs
}

// textEscaper writes a string as html/template does in text and quoted
// attribute values (where the user's name and the CSRF token go).
var textEscaper = template.Must(template.New("text").Parse("{{.}}"))

func escapeText(v string) []byte {
	var b bytes.Buffer
	_ = textEscaper.Execute(&b, v)
	return b.Bytes()
}

// writeEntry sends e with the request's own parts in its holes.
func (s *Server) writeEntry(w http.ResponseWriter, r *http.Request, e *pageEntry, pg page) {
	var nonce string
	fill := func(h hole) []byte {
		switch h {
		case holeUser:
			return escapeText(pg.User)
		case holeCSRF:
			return escapeText(pg.CSRF)
		case holeCollect:
			if pg.Collect == nil {
				return nil
			}
			var b bytes.Buffer
			if err := s.pages.tmpl["overview"].ExecuteTemplate(&b, "collect", pg.Collect); err != nil {
				s.log.Error("render the collection's progress", "path", r.URL.Path, "err", err)
			}
			return b.Bytes()
		case holeNonce:
			if nonce == "" {
				nonce = newNonce()
			}
			return []byte(nonce)
		}
		return nil
	}
	h := w.Header()
	nonceMark := s.pages.marks.mark(holeNonce)
	for k, v := range e.header {
		if slices.ContainsFunc(v, func(x string) bool { return strings.Contains(x, nonceMark) }) {
			v = slices.Clone(v)
			for i := range v {
				v[i] = strings.ReplaceAll(v[i], nonceMark, string(fill(holeNonce)))
			}
		}
		h[k] = v
	}
	gz := e.kept && acceptsGzip(r.Header.Get("Accept-Encoding"))
	if gz {
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
	}
	w.WriteHeader(e.status)
	if r.Method == http.MethodHead {
		return
	}
	if !gz {
		for _, sg := range e.segs {
			switch {
			case sg.hole != 0:
				w.Write(fill(sg.hole))
			case sg.lit != nil:
				w.Write(sg.lit)
			default:
				w.Write(pieceText(sg.z))
			}
		}
		return
	}
	// One gzip member: the literals' kept deflate, the holes as stored
	// blocks.
	g := newGzipMember(w)
	for _, sg := range e.segs {
		if sg.hole != 0 {
			g.stored(fill(sg.hole))
		} else {
			g.kept(sg.z)
		}
	}
	g.close()
}

// newNonce is a CSP nonce. Hex, not base64: html/template writes a '+' of
// an attribute as &#43;, which a browser reads back, but a reader of the
// page's bytes (and its tests) would not find the policy's nonce in it.
func newNonce() string {
	var n [16]byte
	_, _ = rand.Read(n[:])
	return hex.EncodeToString(n[:])
}
