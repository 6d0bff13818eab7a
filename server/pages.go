package server

// The dashboard's pages: server-rendered from embedded templates, readable
// with JavaScript off (sorting and filters are query parameters), enhanced
// by static/app.js (progress polling, instant filters). Every figure comes
// from package query; this file only picks, orders and formats.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/auth"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/ledger"
	"github.com/fleetscore/fleetscore/query"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds the parsed templates, one set per page, and the overview's
// cache.
type pages struct {
	tmpl map[string]*template.Template
	// holed are the same templates with the collection's progress drawn
	// as a marker, for the pages' cache (pagecache.go).
	holed  map[string]*template.Template
	marks  holeMarks
	assets map[string]string // file name -> URL with its content hash

	overview overviewCache
	// remediation cleans Graph's remediation HTML (remediationPolicy).
	remediation *bluemonday.Policy

	mu          sync.Mutex
	requestedAt time.Time // when "Collect now" last started a run

	// sizes are the bytes each page (by name) last rendered to: the next
	// render's buffer starts that large, and is not grown by doubling
	// through a page of half a megabyte.
	sizes map[string]*atomic.Int64
}

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"overview", "tenant", "actions", "action", "collections", "alerts", "exceptions", "error", "signin",
	"campaigns", "campaign_new", "campaign"}

func newPages() (*pages, error) {
	p := &pages{tmpl: map[string]*template.Template{}, holed: map[string]*template.Template{}, marks: newHoleMarks(),
		assets: map[string]string{}, remediation: remediationPolicy(), sizes: map[string]*atomic.Int64{}}
	static, _ := fs.Sub(staticFS, "static")
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return nil, fmt.Errorf("static %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		p.assets[name] = "/static/" + name + "?v=" + hex.EncodeToString(sum[:6])
	}
	funcs := templateFuncs(p.assets)
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		h, err := t.Clone()
		if err == nil {
			_, err = h.New("collect").Parse(p.marks.mark(holeCollect))
		}
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		p.tmpl[name], p.holed[name] = t, h
		p.sizes[name] = new(atomic.Int64)
	}
	return p, nil
}

// staticHandler serves the embedded assets; a URL carrying the content hash
// (?v=) may be cached for good.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// render executes a page into a buffer first, so that a template error is a
// clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v any) {
	size := s.pages.sizes[name]
	var buf *bytes.Buffer
	if size != nil {
		// A little more than last time: most pages of a name are about
		// as large as one another.
		buf = bytes.NewBuffer(make([]byte, 0, min(size.Load()+size.Load()/8, 8<<20)))
	} else {
		buf = new(bytes.Buffer)
	}
	t := s.pages.tmpl[name]
	if rendersHoles(r.Context()) {
		t = s.pages.holed[name]
	}
	if err := t.ExecuteTemplate(buf, "layout", v); err != nil {
		s.log.Error("render page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error; the server log has the details", http.StatusInternalServerError)
		return
	}
	if size != nil {
		size.Store(int64(buf.Len()))
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if rec, ok := w.(*recorder); ok {
		rec.adopt(buf) // the pages' cache's recorder: no copy
		return
	}
	_, _ = w.Write(buf.Bytes())
}

// pageError shows an error page: not found for an unknown tenant, a 500
// (detail in the log) for anything else.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	v := errorView{page: s.page(r, "", "Not found")}
	status := http.StatusNotFound
	switch {
	case errors.Is(err, fleetscore.ErrNotFound):
		v.Message = "There is no such tenant. It may have been removed from the configuration."
	case err == nil:
		v.Message = "There is no page at this address."
	default:
		s.log.Error("page", "path", r.URL.Path, "err", err)
		status = http.StatusInternalServerError
		v.Title = "Something went wrong"
		v.Message = "The page could not be built; the server log has the details."
	}
	v.Status = status
	s.render(w, r, status, "error", v)
}

// page is what every page's layout needs.
type page struct {
	Title   string
	Nav     string // the nav entry of the page: overview, actions, collections
	Collect *collectView
	Assets  map[string]string
	Version string
	User    string // the signed-in user; "" without sign-in
	CSRF    string // the session's form token
	Fleet   bool   // the principal sees fleet-wide figures and metrics
	// Register: the server keeps exceptions (the nav shows Exceptions).
	Register bool
	// Campaigns: the server keeps campaigns (the nav shows Campaigns).
	Campaigns bool
	// SignedOut: sign-in is on and nobody is signed in (the sign-in and
	// error pages), so the nav is hidden.
	SignedOut bool
}

// collectView is the scheduler's progress as the pages show it.
type collectView struct {
	State    string // idle, queued (asked for, not started yet) or running
	CanStart bool   // the principal may start a collection (admin)
	CSRF     string
	Done     int
	Total    int
	Failed   int
	LastNote string
	LastEnd  time.Time
	NextRun  time.Time
}

func (s *Server) page(r *http.Request, nav, title string) page {
	p := page{Title: title, Nav: nav, Assets: s.pages.assets, Version: s.version}
	who, ok := principalOf(r.Context())
	open := isOpen(r.Context())
	if !open && ok {
		p.User = who.Name
	}
	if sess, ok := sessionOf(r.Context()); ok {
		p.CSRF = sess.CSRF
	}
	p.Fleet = ok && !who.Restricted()
	p.Register = s.exceptions != nil
	p.Campaigns = s.campaigns != nil
	p.SignedOut = !open && !ok
	// The collection's progress covers every tenant: not for a client.
	if s.runner != nil && p.Fleet {
		st := s.runner.Status()
		p.Collect = collectViewOf(st, s.pages.requested(), s.now())
		p.Collect.CanStart = who.Role.AtLeast(auth.RoleAdmin)
		p.Collect.CSRF = p.CSRF
	}
	if rendersHoles(r.Context()) {
		// Rendered for the cache: the request's own are spliced in.
		if p.User != "" {
			p.User = s.pages.marks.mark(holeUser)
		}
		if p.CSRF != "" {
			p.CSRF = s.pages.marks.mark(holeCSRF)
		}
	}
	return p
}

func collectViewOf(st collect.Status, requested, now time.Time) *collectView {
	v := &collectView{State: "idle", Done: st.Done, Total: st.Total, Failed: st.Failed,
		LastNote: st.LastNote, LastEnd: st.LastEnd, NextRun: st.NextRun}
	switch {
	case st.Running:
		v.State = "running"
	case !requested.IsZero() && requested.After(st.Started) && requested.After(st.LastEnd) && now.Sub(requested) < time.Minute:
		// Asked for, and the runner has not picked it up yet.
		v.State = "queued"
	}
	return v
}

func (p *pages) requested() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requestedAt
}

// collectNow starts a collection and sends the browser to the log, where
// the progress shows. A cross-site form may not start one.
func (s *Server) collectNow(w http.ResponseWriter, r *http.Request) {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		http.Error(w, "a collection can only be started from fleetscore's own pages", http.StatusForbidden)
		return
	}
	if s.runner == nil || !s.runner.CollectNow() {
		http.Error(w, "a collection is already running", http.StatusConflict)
		return
	}
	if p, ok := principalOf(r.Context()); ok && s.auth != nil {
		s.auth.Audit(r.Context(), p.Name, "collect", "collect now", clientIP(r))
	}
	s.pages.mu.Lock()
	s.pages.requestedAt = s.now()
	s.pages.mu.Unlock()
	http.Redirect(w, r, "/collections", http.StatusSeeOther)
}

// ---- Overview ----

// overviewCache keeps the overview's model between collections: building
// it reads every tenant's last 90 days, which for a large fleet takes far
// longer than rendering. The key is a fingerprint of every tenant's latest
// snapshot and last collection (a collection always ends by changing its
// tenant's), the day, and the runner's last run; an entry also expires
// after overviewTTL, in case the database changed some other way.
type overviewCache struct {
	mu    sync.Mutex
	seed  maphash.Seed
	key   uint64
	at    time.Time
	model *overviewModel
	// refreshing is set while an expired model is rebuilt behind requests.
	refreshing bool
}

const overviewTTL = 5 * time.Minute

// overviewModel is the overview with everything that does not depend on
// the request (sort, filter) rendered once.
type overviewModel struct {
	o      *query.Overview
	rows   []overviewRow // in the query's order (by name)
	counts query.OverviewCounts
	trend  template.HTML
	top    *query.Action
	// The change of the fleet average and of the share meeting target
	// over 7 days.
	avg7, share7 *float64
	fleetAlerts  []OpenAlert // open alerts about the fleet, not one tenant
	moved        *movedView  // what moved this week; nil when nothing did
}

// overviewRow is one tenant's row, with its charts rendered; HTML is the
// whole row, rendered once per model.
type overviewRow struct {
	query.OverviewRow
	Alerts  []OpenAlert
	Spark   template.HTML
	Meter   template.HTML
	C7, C30 change
	HTML    template.HTML
}

// WarmOverview builds the overview's model now, so that the first view
// after a collection does not wait for it: call it when a run ends.
func (s *Server) WarmOverview(ctx context.Context) error {
	// A run may have raised alerts, which the store's version does not see.
	s.invalidatePages()
	// Take the pages' place in the model early: a version's parts are
	// bounded, and the next versions keep the places the last one used.
	if _, err := s.pagesOf(ctx); err != nil {
		return err
	}
	_, err := s.overviewModel(ctx)
	return err
}

func (s *Server) overviewModel(ctx context.Context) (*overviewModel, error) {
	now := s.now()
	if p, ok := principalOf(ctx); ok && p.Restricted() {
		// A client's overview holds its own tenants only: built for it,
		// never cached for the fleet.
		return s.buildOverview(ctx, now)
	}
	c := &s.pages.overview
	statuses, err := s.src.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seed == (maphash.Seed{}) {
		c.seed = maphash.MakeSeed()
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	var nb [8]byte
	num := func(v uint64) {
		binary.LittleEndian.PutUint64(nb[:], v)
		h.Write(nb[:])
	}
	str := func(v string) {
		h.WriteString(v)
		h.WriteByte(0)
	}
	num(uint64(fleetscore.DayOf(s.dataNow()).Unix()))
	if s.runner != nil {
		num(uint64(s.runner.Status().LastEnd.UnixNano()))
	}
	for _, st := range statuses {
		str(st.ID)
		str(st.Name)
		num(math.Float64bits(st.TargetPercent))
		if l := st.Latest; l != nil {
			num(uint64(l.Day.Unix()))
			num(math.Float64bits(l.CurrentScore))
			num(math.Float64bits(l.MaxScore))
		}
		if lc := st.LastCollection; lc != nil {
			num(uint64(lc.ID))
			str(lc.Status)
			num(uint64(lc.StartedAt.UnixNano()))
			num(uint64(lc.FinishedAt.UnixNano()))
		}
	}
	key := h.Sum64()
	if c.model != nil && c.key == key && !now.Before(c.at) {
		if now.Sub(c.at) >= overviewTTL && !c.refreshing {
			// Nothing the key sees has changed: serve this model and
			// refresh it behind the request, so no view waits for a build.
			c.refreshing = true
			go s.refreshOverview(context.WithoutCancel(ctx), key)
		}
		return c.model, nil
	}
	m, err := s.buildOverview(ctx, now)
	if err != nil {
		return nil, err
	}
	c.key, c.at, c.model = key, now, m
	return m, nil
}

// refreshOverview rebuilds an expired model in the background.
func (s *Server) refreshOverview(ctx context.Context, key uint64) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := s.now()
	m, err := s.buildOverview(ctx, now)
	c := &s.pages.overview
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshing = false
	if err != nil {
		s.log.Warn("refresh the overview", "err", err)
		return
	}
	if c.key == key {
		c.at, c.model = now, m
	}
}

func (s *Server) buildOverview(ctx context.Context, now time.Time) (*overviewModel, error) {
	// The two reads are independent; SQLite serves them side by side.
	var (
		actions   []query.Action
		actionErr error
		done      = make(chan struct{})
	)
	go func() {
		defer close(done)
		actions, actionErr = query.Actions(ctx, s.srcFor(ctx), query.ActionFilter{})
	}()
	o, err := query.TenantOverview(ctx, s.srcFor(ctx), s.dataNow())
	var rep ledger.Report
	if err == nil {
		rep, err = query.FleetChanges(ctx, s.srcFor(ctx), movedDays, s.dataNow())
	}
	<-done
	if err != nil {
		return nil, err
	}
	if actionErr != nil {
		return nil, actionErr
	}
	alerts := s.openAlerts(ctx)
	m := &overviewModel{o: o, counts: o.Counts(), fleetAlerts: alerts[""], moved: moved(rep)}
	if len(actions) > 0 && actions[0].OpenTenants > 0 {
		top := actions[0] // a copy: a pointer into the ranking would keep all of it
		m.top = &top
	}
	m.rows = make([]overviewRow, 0, len(o.Rows))
	for _, r := range o.Rows {
		row := overviewRow{OverviewRow: r, C7: changeOf(r.Change7d), C30: changeOf(r.Change30d), Alerts: alerts[r.TenantID]}
		target := r.TargetPercent
		row.Spark = sparkline(r.Spark, target, r.MeetsTarget, sparkLabel(r.Spark, query.SparkDays))
		if r.Percent != nil {
			cls := "below"
			if r.MeetsTarget {
				cls = "meets"
			}
			row.Meter = meter(*r.Percent, 100, target, cls)
		}
		var buf bytes.Buffer
		if err := s.pages.tmpl["overview"].ExecuteTemplate(&buf, "tenant-row", row); err != nil {
			return nil, fmt.Errorf("render the row of %s: %w", r.TenantID, err)
		}
		row.HTML = template.HTML(buf.String())
		// The charts are in the row's HTML: kept once (at 10,000 tenants
		// the copies were 13 MB).
		row.Spark, row.Meter = "", ""
		m.rows = append(m.rows, row)
	}
	m.avg7, m.share7 = o.FleetChange(7)
	m.trend = fleetChart(o.Trend, o.Today)
	if p, ok := principalOf(ctx); ok && p.Restricted() {
		// The same chart over a client's own tenants: name it so.
		m.trend = template.HTML(strings.NewReplacer("Fleet trend", "Trend of your tenants", "the fleet&#39;s", "your tenants&#39;",
			"No fleet history", "No history").Replace(string(m.trend)))
	}
	return m, nil
}

// fleetChart draws the fleet trend: the average percent and the share of
// tenants meeting their target, per day, over the overview's 90 days.
func fleetChart(trend []query.FleetDay, today fleetscore.Day) template.HTML {
	first := today.AddDays(-query.SparkDays + 1)
	days := make([]fleetscore.Day, query.SparkDays)
	avg := make([]float64, query.SparkDays)
	share := make([]float64, query.SparkDays)
	for i := range days {
		days[i] = first.AddDays(i)
		avg[i], share[i] = math.NaN(), math.NaN()
	}
	for _, d := range trend {
		day, err := fleetscore.ParseDay(d.Date)
		if err != nil {
			continue
		}
		if i := day.Sub(first); i >= 0 && i < len(days) {
			avg[i], share[i] = d.AveragePercent, d.ShareMeetingTarget
		}
	}
	desc := "No fleet history yet."
	if n := len(trend); n > 0 {
		desc = fmt.Sprintf("From %s to %s the fleet's average Secure Score went from %.1f%% to %.1f%%, and the share of tenants meeting their target from %.0f%% to %.0f%%.",
			trend[0].Date, trend[n-1].Date, trend[0].AveragePercent, trend[n-1].AveragePercent, trend[0].ShareMeetingTarget, trend[n-1].ShareMeetingTarget)
	}
	return lineChart{ID: "fleet-chart", Title: "Fleet trend, last 90 days", Desc: desc, Days: days,
		Width: 780, Height: 230, Compact: true,
		Series: []series{
			{Name: "Average Secure Score", Class: "s1", Values: avg, Unit: "%"},
			{Name: "Tenants meeting target", Class: "s2", Values: share, Unit: "%"},
		}}.SVG()
}

// overviewPageSize is the most tenant rows one overview page lists. A
// row is 2.1 to 2.7 KB of HTML, so a page of 200 is about 0.6 MB, which a
// browser lays out at once and the pages' cache keeps (the whole list of
// 10,000 tenants, 21 to 29 MB, was past pageCacheMaxPage and rendered on
// every view); a fleet of up to 200 tenants, as most MSSPs' are, keeps
// its one page without a pager.
const overviewPageSize = 200

// overviewView is the overview page.
type overviewView struct {
	page
	O        *query.Overview
	Rows     []overviewRow // this page's tenants
	Counts   query.OverviewCounts
	Filter   string
	Q        string
	Sort     query.OverviewSort
	Headers  map[string]sortHeader
	Filters  []filterLink
	Trend    template.HTML
	Top      *query.Action
	Moved    *movedView
	Alerts   []OpenAlert // open fleet-wide alerts
	AvgDelta change      // the fleet average's change over 7 days
	Share7   change      // the share meeting target's change over 7 days
	Empty    string      // what to say when the filter keeps no tenant

	// Of Total tenants passing the filter and the search, in the sort's
	// order, Rows are rows First to Last (1-based).
	Total, First, Last int
	Pager              *overviewPager // nil when every row fits one page
}

// overviewPager is the overview's links to its other pages.
type overviewPager struct {
	Page, Pages int
	// First, Prev, Next and Last are "" when they would be this page.
	First, Prev, Next, Last string
	Near                    []pageLink // numbered pages around this one
}

// pageLink is a numbered page; Gap marks pages left out before it.
type pageLink struct {
	N       int
	Href    string
	Current bool
	Gap     bool
}

// pagerNear is how many numbered pages the pager shows each side of the
// current one (with the first and the last).
const pagerNear = 2

// nearPages are the numbered links of page of pages: the first, the last
// and pagerNear each side of page, href(n) the link to page n.
func nearPages(page, pages int, href func(n int) string) []pageLink {
	var out []pageLink
	add := func(n int) {
		prev := 0
		if len(out) > 0 {
			prev = out[len(out)-1].N
		}
		if n > prev && n <= pages {
			out = append(out, pageLink{N: n, Href: href(n), Current: n == page, Gap: n > prev+1})
		}
	}
	add(1)
	for n := page - pagerNear; n <= page+pagerNear; n++ {
		add(n)
	}
	add(pages)
	return out
}

type sortHeader struct {
	Href     string
	AriaSort string // ascending, descending or "" (none)
	Arrow    string
}

type filterLink struct {
	Key, Label, Href string
	Count            int
	Current          bool
}

// sortDefaults is each key's first direction: the worst first.
var sortDefaults = map[string]bool{"name": false, "percent": false, "target": true, "change7d": false,
	"change30d": false, "points": false, "collected": false}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request) {
	m, err := s.overviewModel(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	q := r.URL.Query()
	v := overviewView{page: s.page(r, "overview", "Overview"), O: m.o, Counts: m.counts, Trend: m.trend, Top: m.top, Moved: m.moved, Alerts: m.fleetAlerts}
	v.Filter = q.Get("filter")
	if !slices.Contains([]string{query.FilterBelow, query.FilterFalling, query.FilterFailing}, v.Filter) {
		v.Filter = ""
	}
	v.Q = strings.TrimSpace(q.Get("q"))
	v.Sort = query.OverviewSort{Key: q.Get("sort"), Desc: q.Get("dir") == "desc"}
	if !slices.Contains(query.OverviewSortKeys, v.Sort.Key) {
		v.Sort = query.OverviewSort{Key: "percent"}
	}
	v.AvgDelta, v.Share7 = changeOf(m.avg7), changeOf(m.share7)

	// Filter, then sort, a copy: the model is shared.
	rows := make([]query.OverviewRow, 0, len(m.rows))
	byID := make(map[string]int, len(m.rows))
	needle := strings.ToLower(v.Q)
	for i, row := range m.rows {
		if !row.Matches(v.Filter) {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(row.Name), needle) && !strings.Contains(row.TenantID, needle) {
			continue
		}
		rows = append(rows, row.OverviewRow)
		byID[row.TenantID] = i
	}
	query.SortOverview(rows, v.Sort)

	// The page: ?page=N, 1-based, the last one past the end; anything but
	// a positive integer is page 1, as an unknown filter or sort is their
	// default.
	pages := max(1, (len(rows)+overviewPageSize-1)/overviewPageSize)
	pageNo := 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n >= 1 {
		pageNo = min(n, pages)
	}
	lo, hi := (pageNo-1)*overviewPageSize, min(pageNo*overviewPageSize, len(rows))
	v.Total, v.First, v.Last = len(rows), lo+1, hi
	v.Rows = make([]overviewRow, hi-lo)
	for i, row := range rows[lo:hi] {
		v.Rows[i] = m.rows[byID[row.TenantID]]
	}

	// link is the overview with these parameters and the request's search;
	// a new filter or sort starts again at page 1.
	link := func(filter, sortKey string, desc bool, page int) string {
		p := url.Values{}
		if filter != "" {
			p.Set("filter", filter)
		}
		if v.Q != "" {
			p.Set("q", v.Q)
		}
		if sortKey != "" && (sortKey != "percent" || desc) {
			p.Set("sort", sortKey)
			if desc {
				p.Set("dir", "desc")
			}
		}
		if page > 1 {
			p.Set("page", strconv.Itoa(page))
		}
		if len(p) == 0 {
			return "/"
		}
		return "/?" + p.Encode()
	}
	if pages > 1 {
		pg := &overviewPager{Page: pageNo, Pages: pages}
		at := func(n int) string { return link(v.Filter, v.Sort.Key, v.Sort.Desc, n) }
		if pageNo > 1 {
			pg.First, pg.Prev = at(1), at(pageNo-1)
		}
		if pageNo < pages {
			pg.Next, pg.Last = at(pageNo+1), at(pages)
		}
		pg.Near = nearPages(pageNo, pages, at)
		v.Pager = pg
	}
	v.Headers = map[string]sortHeader{}
	for _, key := range query.OverviewSortKeys {
		h := sortHeader{}
		desc := sortDefaults[key]
		if key == v.Sort.Key {
			desc = !v.Sort.Desc
			h.AriaSort, h.Arrow = "ascending", "▲"
			if v.Sort.Desc {
				h.AriaSort, h.Arrow = "descending", "▼"
			}
		}
		h.Href = link(v.Filter, key, desc, 1)
		v.Headers[key] = h
	}
	for _, f := range []struct {
		key, label string
		n          int
	}{
		{"", "All", m.counts.All},
		{query.FilterBelow, "Below target", m.counts.Below},
		{query.FilterFalling, "Falling", m.counts.Falling},
		{query.FilterFailing, "Failing collection", m.counts.Failing},
	} {
		v.Filters = append(v.Filters, filterLink{Key: f.key, Label: f.label, Count: f.n, Current: f.key == v.Filter,
			Href: link(f.key, v.Sort.Key, v.Sort.Desc, 1)})
	}
	switch {
	case len(m.rows) == 0:
		v.Empty = "No tenants yet: add them to the configuration and collect."
	case len(v.Rows) > 0:
	case v.Q != "":
		v.Empty = fmt.Sprintf("No tenant matches %q.", v.Q)
	case v.Filter == query.FilterBelow:
		v.Empty = "Every scored tenant meets its target."
	case v.Filter == query.FilterFalling:
		v.Empty = "No tenant lost ground over the last 7 days."
	case v.Filter == query.FilterFailing:
		v.Empty = "Every tenant's last collection succeeded."
	}
	s.render(w, r, http.StatusOK, "overview", v)
}

// ---- Tenant ----

// tenantRanges are the tenant page's ranges, as ?range= names them.
var tenantRanges = []struct {
	Key, Label string
	Days       int // 0: all
}{{"30d", "30 days", 30}, {"90d", "90 days", 90}, {"1y", "1 year", 365}, {"all", "All", 0}}

type tenantView struct {
	page
	D          *query.TenantDetail
	Range      string
	Ranges     []filterLink
	Chart      template.HTML
	Legend     []legendItem
	Table      []tenantDayRow
	Categories []categoryRow
	Category   string // the control list's filter
	Controls   []controlRow
	// TableRows and ControlRows are Table's and Controls' rows, written
	// in Go (rowhtml.go), in pieces (htmlPieces).
	TableRows, ControlRows htmlPieces
	ChangeDays             htmlPieces // Changes, written in Go
	Open                   int
	Meets                  string
	C7, C30                change
	Fix                    template.HTML
	Collected              string
	Alerts                 []OpenAlert
	// What changed, newest first; one control's only when Control is set.
	Changes      []dayChangeView
	Control      string
	ControlTitle string
	AllChanges   string // the link back to every control's changes
	NoNewSince   string // "28 Nov 2026" when Microsoft has sent nothing new for 2 days or more
	CanExcept    bool   // the principal may set exceptions (the register is on)
	Report       reportPicker
}

type legendItem struct{ Name, Class string }

type tenantDayRow struct {
	Date                  string
	Percent, Current, Max float64
	Valid                 [3]bool // which comparative averages Graph sent that day
	Averages              [3]float64
}

type categoryRow struct {
	query.CategoryPoints
	Meter   template.HTML
	Spark   template.HTML
	Delta   change
	Href    string
	Current bool
}

type controlRow struct {
	query.ControlHistory
	History     template.HTML
	ChangesHref string // the control's own history: "What changed" for it alone
	// SetExceptionHref opens the actions page's exception form with this
	// action and tenant ticked.
	SetExceptionHref string
	Status           string // open, done, ignored, third-party, deprecated
	Label            string
	Exc              *excBadge // the register's exception of the control here; nil when none
	ActionHref       string    // the action across the fleet
}

func (s *Server) tenantPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.tenantPageView(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "tenant", v)
}

// tenantPageView is the tenant page's view of the request.
func (s *Server) tenantPageView(r *http.Request) (tenantView, error) {
	id, err := tenantID(r)
	if err != nil {
		return tenantView{}, fmt.Errorf("%w", fleetscore.ErrNotFound)
	}
	q := r.URL.Query()
	rng := q.Get("range")
	days := -1
	for _, tr := range tenantRanges {
		if tr.Key == rng {
			days = tr.Days
		}
	}
	if days < 0 {
		rng, days = "90d", 90
	}
	var from fleetscore.Day
	if days > 0 {
		from = fleetscore.DayOf(s.dataNow()).AddDays(-days + 1)
	}
	d, err := query.TenantDetailView(r.Context(), s.srcFor(r.Context()), id, from, fleetscore.Day{})
	if err != nil {
		return tenantView{}, err
	}
	v := tenantView{page: s.page(r, "", d.Name), D: d, Range: rng, C7: changeOf(d.Change7d), C30: changeOf(d.Change30d),
		Alerts: s.openAlerts(r.Context())[d.TenantID], CanExcept: s.exceptions != nil && who(r).Role.AtLeast(auth.RoleAnalyst),
		Report: newReportPicker(s.dataNow())}
	if d.Percent != nil {
		v.Meets = "below"
		if d.MeetsTarget {
			v.Meets = "meets"
		}
	}
	if lc := d.LastCollection; lc != nil && lc.Advice != "" {
		v.Fix = linkify(lc.Advice)
	}
	base := "/tenants/" + d.TenantID
	for _, tr := range tenantRanges {
		p := url.Values{}
		if tr.Key != "90d" {
			p.Set("range", tr.Key)
		}
		if c := q.Get("category"); c != "" {
			p.Set("category", c)
		}
		if c := q.Get("control"); c != "" {
			p.Set("control", c)
		}
		href := base
		if len(p) > 0 {
			href += "?" + p.Encode()
		}
		v.Ranges = append(v.Ranges, filterLink{Key: tr.Key, Label: tr.Label, Href: href, Current: tr.Key == rng})
	}

	// The chart: the percent, the target, Microsoft's averages, on every
	// calendar day of the range (gaps where Graph sent no snapshot).
	axis := calendar(d.From, d.To)
	idx := func(date string) int {
		day, err := fleetscore.ParseDay(date)
		if err != nil {
			return -1
		}
		return day.Sub(d.From)
	}
	bases := []struct{ basis, name, class string }{
		{fleetscore.BasisAllTenants, "All tenants (Microsoft)", "s2"},
		{fleetscore.BasisTotalSeats, "Similar seat size (Microsoft)", "s3"},
		{fleetscore.BasisIndustryTypes, "Same industry (Microsoft)", "s4"},
	}
	score := nanSeries(len(axis))
	avgs := [3][]float64{nanSeries(len(axis)), nanSeries(len(axis)), nanSeries(len(axis))}
	has := [3]bool{}
	for _, day := range d.Days {
		i := idx(day.Date)
		if i < 0 || i >= len(axis) {
			continue
		}
		score[i] = day.Percent
		row := tenantDayRow{Date: day.Date, Percent: day.Percent, Current: day.CurrentScore, Max: day.MaxScore}
		for k, b := range bases {
			if a, ok := day.Averages[b.basis]; ok {
				avgs[k][i] = a
				has[k] = true
				row.Valid[k], row.Averages[k] = true, a
			}
		}
		v.Table = append(v.Table, row)
	}
	slices.Reverse(v.Table)
	ser := []series{{Name: "Secure Score", Class: "s1", Values: score, Unit: "%"}}
	v.Legend = append(v.Legend, legendItem{"Secure Score", "s1"})
	for k, b := range bases {
		if has[k] {
			ser = append(ser, series{Name: b.name, Class: b.class, Values: avgs[k], Unit: "%"})
			v.Legend = append(v.Legend, legendItem{b.name, b.class})
		}
	}
	v.Legend = append(v.Legend, legendItem{fmt.Sprintf("Target %s%%", strconv.FormatFloat(d.TargetPercent, 'f', -1, 64)), "target"})
	desc := "No score yet."
	if n := len(d.Days); n > 0 {
		desc = fmt.Sprintf("Secure Score of %s from %s to %s: from %.1f%% to %.1f%%, against a target of %s%%.",
			d.Name, d.Days[0].Date, d.Days[n-1].Date, d.Days[0].Percent, d.Days[n-1].Percent, strconv.FormatFloat(d.TargetPercent, 'f', -1, 64))
	}
	v.Chart = lineChart{ID: "score-chart", Title: "Secure Score over time", Desc: desc, Days: axis, Series: ser,
		Target: d.TargetPercent, Width: 1180, Height: 300, Points: len(axis) <= 45}.SVG()

	// Categories, and the control list's filter.
	v.Category = q.Get("category")
	known := false
	for _, c := range d.Categories {
		known = known || c.Category == v.Category
	}
	if !known {
		v.Category = ""
	}
	for _, c := range d.Categories {
		if c.MaxScore == 0 && c.Points == 0 && c.Open == 0 {
			continue // not part of this tenant's score
		}
		cr := categoryRow{CategoryPoints: c, Meter: meter(c.Points, c.MaxScore, 0, "cat"), Current: c.Category == v.Category}
		if delta, ok := c.Change(); ok {
			cr.Delta = changeOf(&delta)
		}
		cr.Spark = categorySpark(c, len(d.Days))
		p := url.Values{}
		if rng != "90d" {
			p.Set("range", rng)
		}
		if !cr.Current {
			p.Set("category", c.Category)
		}
		cr.Href = base
		if len(p) > 0 {
			cr.Href += "?" + p.Encode()
		}
		cr.Href += "#controls"
		v.Categories = append(v.Categories, cr)
	}
	excs, err := s.tenantExceptions(r.Context(), d.TenantID)
	if err != nil {
		return tenantView{}, err
	}
	for _, c := range d.Controls {
		if c.Open {
			v.Open++
		}
		if v.Category != "" && c.Category != v.Category {
			continue
		}
		cr := controlRow{ControlHistory: c}
		cr.Status, cr.Label = controlStatus(c.Deprecated, c.State, c.Open)
		cr.History = stepSpark(c.Daily, c.MaxScore, controlLabel(c))
		cr.ChangesHref = controlHistoryHref(d.TenantID, c.Control.Control)
		cr.ActionHref = actionHref(c.Control.Control)
		cr.SetExceptionHref = "/actions?" + url.Values{"control": {c.Control.Control}, "tenant": {d.TenantID}}.Encode() + "#set-exceptions-card"
		cr.Exc = excs[c.Control.Control]
		v.Controls = append(v.Controls, cr)
		if c.Control.Control == q.Get("control") {
			v.ControlTitle = c.Title
		}
	}
	today := fleetscore.DayOf(s.dataNow())
	if d.AsOf != nil {
		if last, err := fleetscore.ParseDay(*d.AsOf); err == nil && today.Sub(last) >= staleAfterDays {
			v.NoNewSince = dayText(last.String())
		}
	}
	if len(d.Days) > 0 {
		v.Control = strings.TrimSpace(q.Get("control"))
		if len(v.Control) > 256 {
			v.Control = v.Control[:256]
		}
		if v.Control != "" {
			if v.ControlTitle == "" {
				v.ControlTitle = v.Control
			}
			p := url.Values{}
			if rng != "90d" {
				p.Set("range", rng)
			}
			v.AllChanges = base
			if len(p) > 0 {
				v.AllChanges += "?" + p.Encode()
			}
			v.AllChanges += "#changes"
		}
		v.Changes = changeViews(d.TenantID, d.Changes, v.Control)
	}
	v.writeRows()
	return v, nil
}

// writeRows writes the day table's and the control list's rows and the
// days of what changed.
func (v *tenantView) writeRows() {
	v.TableRows, v.ControlRows = piecesOf(dayRowsHTML(v.Table)), piecesOf(controlRowsHTML(v.Controls, v.CanExcept))
	v.ChangeDays = piecesOf(changesHTML(v.Changes))
}

// htmlPieces is a long template.HTML cut into pieces that the template
// prints one after the other ({{range}}): text/template prints a value
// through fmt, whose buffer is reused only up to 64 KB, so a piece of the
// page's 200 KB would cost a new buffer, grown by doubling, every time.
type htmlPieces []template.HTML

// htmlPieceBytes is the size of htmlPieces' pieces (the last may be less).
const htmlPieceBytes = 32 << 10

func piecesOf(h template.HTML) htmlPieces {
	out := make(htmlPieces, 0, len(h)/htmlPieceBytes+1)
	for len(h) > htmlPieceBytes {
		out = append(out, h[:htmlPieceBytes])
		h = h[htmlPieceBytes:]
	}
	return append(out, h)
}

// calendar is every day from..to.
func calendar(from, to fleetscore.Day) []fleetscore.Day {
	if from.IsZero() || to.Before(from) {
		return nil
	}
	out := make([]fleetscore.Day, 0, to.Sub(from)+1)
	for d := from; !d.After(to); d = d.AddDays(1) {
		out = append(out, d)
	}
	return out
}

func nanSeries(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

func categorySpark(c query.CategoryPoints, days int) template.HTML {
	label := fmt.Sprintf("%s points over %d days", c.Category, days)
	if delta, ok := c.Change(); ok {
		label += fmt.Sprintf(": %s", signedPoints(delta))
	}
	return trendSpark(c.Daily, max(c.MaxScore/20, 2), label)
}

func controlLabel(c query.ControlHistory) string {
	if len(c.Changes) == 0 {
		return fmt.Sprintf("No change in the period shown; %s of %s points", points(c.Score), points(c.MaxScore))
	}
	var parts []string
	for _, ch := range c.Changes {
		from, to := "absent", "absent"
		if ch.HadFrom {
			from = points(ch.From)
		}
		if ch.HasTo {
			to = points(ch.To)
		}
		parts = append(parts, fmt.Sprintf("%s: %s to %s", ch.Date, from, to))
	}
	return "Changes: " + strings.Join(parts, "; ")
}

// ---- Actions ----

type actionsView struct {
	page
	V         *query.ActionsView
	Open      []actionRow // the page shown of the open actions
	SetAside  []actionRow
	Filtered  bool
	Selects   []selectView
	TotalOpen int
	// Sort is the order (?sort=, one of query.ActionSortKeys) and Headers
	// the sortable columns' links, by key.
	Sort    string
	Headers map[string]sortHeader
	// Paging of the open actions, actionsPageSize a page: Page of Pages,
	// rows First to Last (from 1); Prev and Next are "" at the ends.
	Page, Pages, First, Last int
	Prev, Next               string
	// Exc is the "Set exceptions" form: nil when the server keeps no
	// register or the principal may not apply (a client).
	Exc *excForm
	// OnPage are the actions with a row on this page; the form carries
	// the ticked actions of other pages as hidden fields.
	OnPage map[string]bool
	// Scope are a client's own tenants, named in the page's head.
	Scope []tenantLink
}

// actionsPageSize is how many open actions a page of the actions page
// shows: 50 rows keep it far below 200 KB however large the fleet.
const actionsPageSize = 50

// sortTh is what the "sort-th" template draws: a heading with its link.
type sortTh struct {
	sortHeader
	Key, Label, Class string
}

func sortThOf(h map[string]sortHeader, key, label, class string) sortTh {
	return sortTh{sortHeader: h[key], Key: key, Label: label, Class: class}
}

type actionRow struct {
	query.Action
	Rank  int
	Meter template.HTML
	Href  string // the action page
	Aside string // "2 ignored, 1 third party"
}

type tenantLink struct{ Name, Href string }

type selectView struct {
	Name, Label, Value string
	Options            []string
}

func (s *Server) actionsPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.actionsModel(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	// ?control=C&tenant=ID (the tenant page's "Set exception" link) ticks
	// them in the exception form.
	if f := v.Exc; f != nil {
		q := r.URL.Query()
		for _, c := range q["control"] {
			if len(c) <= 256 {
				f.Controls[c] = true
			}
		}
		for i := range f.Tenants {
			f.Tenants[i].Checked = slices.Contains(q["tenant"], f.Tenants[i].Value)
		}
	}
	s.render(w, r, http.StatusOK, "actions", v)
}

// actionsModel is the actions page for the request's filters, sort and
// page, with the exception form (empty) where the principal may apply.
func (s *Server) actionsModel(r *http.Request) (*actionsView, error) {
	q := r.URL.Query()
	f := query.ActionFilter{Category: q.Get("category"), Tier: q.Get("tier"), UserImpact: q.Get("user_impact"),
		ImplementationCost: q.Get("implementation_cost")}
	v0, err := query.ActionsPage(r.Context(), s.srcFor(r.Context()), f)
	if err != nil {
		return nil, err
	}
	v := &actionsView{page: s.page(r, "actions", "Actions"), V: v0, Filtered: f != (query.ActionFilter{}), Sort: query.SortOpen}
	if k := q.Get("sort"); slices.Contains(query.ActionSortKeys, k) {
		v.Sort = k
	}
	query.SortActions(v0.Open, v.Sort)
	v.Selects = []selectView{
		{"category", "Category", f.Category, v0.Categories},
		{"tier", "Tier", f.Tier, v0.Tiers},
		{"user_impact", "User impact", f.UserImpact, v0.UserImpacts},
		{"implementation_cost", "Implementation cost", f.ImplementationCost, v0.ImplementationCosts},
	}

	// The page: ?page=N, or the one holding the first ticked action
	// (?control= from the tenant page, or the form sent back).
	ticked := q["control"]
	if r.Method == http.MethodPost {
		ticked = r.PostForm["control"]
	}
	v.Pages = max(1, (len(v0.Open)+actionsPageSize-1)/actionsPageSize)
	v.Page = 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n >= 1 {
		v.Page = min(n, v.Pages)
	} else {
		for _, c := range ticked {
			if i := slices.IndexFunc(v0.Open, func(a query.Action) bool { return a.Control == c }); i >= 0 {
				v.Page = i/actionsPageSize + 1
				break
			}
		}
	}
	lo, hi := (v.Page-1)*actionsPageSize, min(v.Page*actionsPageSize, len(v0.Open))
	v.First, v.Last = lo+1, hi
	href := func(sort string, page int) string {
		p := url.Values{}
		for _, sel := range v.Selects {
			if sel.Value != "" {
				p.Set(sel.Name, sel.Value)
			}
		}
		if sort != query.SortOpen {
			p.Set("sort", sort)
		}
		if page > 1 {
			p.Set("page", strconv.Itoa(page))
		}
		if len(p) == 0 {
			return "/actions"
		}
		return "/actions?" + p.Encode()
	}
	if v.Page > 1 {
		v.Prev = href(v.Sort, v.Page-1)
	}
	if v.Page < v.Pages {
		v.Next = href(v.Sort, v.Page+1)
	}
	v.Headers = map[string]sortHeader{}
	for _, k := range query.ActionSortKeys {
		h := sortHeader{Href: href(k, 1)}
		if k == v.Sort {
			h.AriaSort, h.Arrow = "descending", "↓"
			if k == query.SortImpact || k == query.SortCost {
				h.AriaSort, h.Arrow = "ascending", "↑"
			}
		}
		v.Headers[k] = h
	}

	row := func(i int, a query.Action) actionRow {
		ar := actionRow{Action: a, Rank: i + 1, Meter: meter(float64(a.OpenTenants), float64(v0.Scored), 0, "open"), Href: actionHref(a.Control)}
		var aside []string
		if a.IgnoredTenants > 0 {
			aside = append(aside, fmt.Sprintf("%d ignored", a.IgnoredTenants))
		}
		if a.ThirdPartyTenants > 0 {
			aside = append(aside, fmt.Sprintf("%d third party", a.ThirdPartyTenants))
		}
		if a.DeprecatedTenants > 0 {
			aside = append(aside, fmt.Sprintf("%d deprecated", a.DeprecatedTenants))
		}
		if a.ExceptedTenants > 0 {
			aside = append(aside, fmt.Sprintf("%d excepted", a.ExceptedTenants))
		}
		ar.Aside = strings.Join(aside, ", ")
		return ar
	}
	v.OnPage = map[string]bool{}
	for i := lo; i < hi; i++ {
		v.Open = append(v.Open, row(i, v0.Open[i]))
		v.OnPage[v0.Open[i].Control] = true
	}
	for i, a := range v0.SetAside {
		v.SetAside = append(v.SetAside, row(i, a))
		v.OnPage[a.Control] = true
	}
	if who(r).Restricted() {
		for id, name := range v0.Names {
			v.Scope = append(v.Scope, tenantLink{Name: name, Href: "/tenants/" + id})
		}
		slices.SortFunc(v.Scope, func(a, b tenantLink) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	}
	if v.Exc, err = s.excFormFor(r); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- Collections ----

type collectionsView struct {
	page
	Runs    []runView
	Tenant  string
	Tenants []tenantLink // for the filter: Href holds the ID
	Limit   int
	More    string
	Count   int
}

type runView struct {
	query.CollectionRun
	Rows []collectionRow
}

type collectionRow struct {
	query.CollectionRow
	Fix template.HTML
}

func (s *Server) collectionsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	statuses, err := s.srcFor(r.Context()).Tenants(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	// By default, about the last two runs of the whole fleet.
	limit := min(max(300, 2*len(statuses)), 10000)
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= 10000 {
		limit = n
	}
	tenant := strings.ToLower(q.Get("tenant"))
	if tenant != "" && !isGUID(tenant) {
		tenant = ""
	}
	runs, err := query.CollectionRuns(r.Context(), s.srcFor(r.Context()), tenant, limit)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v := collectionsView{page: s.page(r, "collections", "Collections"), Tenant: tenant, Limit: limit}
	for _, st := range statuses {
		v.Tenants = append(v.Tenants, tenantLink{Name: st.Name, Href: st.ID})
	}
	slices.SortFunc(v.Tenants, func(a, b tenantLink) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	for _, run := range runs {
		rv := runView{CollectionRun: run}
		for _, c := range run.Rows {
			cr := collectionRow{CollectionRow: c}
			if c.Advice != "" {
				cr.Fix = linkify(c.Advice)
			}
			rv.Rows = append(rv.Rows, cr)
		}
		v.Count += len(run.Rows)
		v.Runs = append(v.Runs, rv)
	}
	if v.Count >= limit {
		p := url.Values{}
		if tenant != "" {
			p.Set("tenant", tenant)
		}
		p.Set("limit", strconv.Itoa(min(limit*4, 10000)))
		v.More = "/collections?" + p.Encode()
	}
	s.render(w, r, http.StatusOK, "collections", v)
}

// ---- Error ----

type errorView struct {
	page
	Status  int
	Message string
}

// ---- Formatting ----

// change is a signed figure as the pages show it: never by colour alone.
type change struct {
	Text  string // "+1.2", "−0.4", "0.0", or "—"
	Dir   string // up, down, flat or none
	Icon  string // ▲ ▼ or –
	Label string // for screen readers: "up 1.2 points"
}

func changeOf(v *float64) change {
	if v == nil {
		return change{Text: "—", Dir: "none", Label: "no data"}
	}
	r := math.Round(*v*10) / 10
	switch {
	case r > 0:
		return change{Text: fmt.Sprintf("+%.1f", r), Dir: "up", Icon: "▲", Label: fmt.Sprintf("up %.1f points", r)}
	case r < 0:
		return change{Text: fmt.Sprintf("−%.1f", -r), Dir: "down", Icon: "▼", Label: fmt.Sprintf("down %.1f points", -r)}
	}
	return change{Text: "0.0", Dir: "flat", Label: "no change"}
}

// percent is how the pages write a percent: one decimal.
func percent(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }

// points writes Secure Score points: up to two decimals, no trailing zeros;
// the API's JSON and CSV write them the same way.
func points(v float64) string { return num(round(v, pointDecimals)) }

func signedPoints(v float64) string {
	r := math.Round(v*100) / 100
	switch {
	case r > 0:
		return "+" + points(r)
	case r < 0:
		return "−" + points(-r)
	}
	return "0"
}

// stampText writes a time in UTC, to the minute.
func stampText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func durationText(seconds float64) string {
	switch {
	case seconds <= 0:
		return "—"
	case seconds < 0.05:
		return "<0.1 s"
	case seconds < 10:
		return strconv.FormatFloat(seconds, 'f', 1, 64) + " s"
	case seconds < 120:
		return strconv.FormatFloat(math.Round(seconds), 'f', 0, 64) + " s"
	}
	d := time.Duration(seconds * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
}

func dayText(date string) string {
	d, err := fleetscore.ParseDay(date)
	if err != nil {
		return date
	}
	return d.Time().Format("2 Jan 2006")
}

var urlPattern = regexp.MustCompile(`https://[^\s<>"']+[^\s<>"'.,;:)]`)

// linkify escapes text and turns the https links in it (an admin-consent
// link in a fix) into links.
func linkify(s string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range urlPattern.FindAllStringIndex(s, -1) {
		b.WriteString(template.HTMLEscapeString(s[last:m[0]]))
		u := s[m[0]:m[1]]
		b.WriteString(`<a href="` + template.HTMLEscapeString(u) + `" rel="noreferrer" class="ext">` + template.HTMLEscapeString(u) + `</a>`)
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(s[last:]))
	return template.HTML(b.String())
}

func templateFuncs(assets map[string]string) template.FuncMap {
	return template.FuncMap{
		"asset":      func(name string) string { return assets[name] },
		"pct":        percent,
		"pts":        points,
		"signed":     signedPoints,
		"stamp":      stampText,
		"dur":        durationText,
		"day":        dayText,
		"change":     changeOf,
		"plural":     func(n int, one, many string) string { return map[bool]string{true: one, false: many}[n == 1] },
		"pctp":       pctOr,
		"ptsp":       ptsOr,
		"gain":       gainText,
		"target":     targetText,
		"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"clock":      func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"isZero":     func(t time.Time) bool { return t.IsZero() },
		"lower":      strings.ToLower,
		"linkify":    linkify,
		"pick":       pickOf,
		"isZeroDay":  func(d fleetscore.Day) bool { return d.IsZero() },
		"status":     statusText,
		"sortTh":     sortThOf,
		"actionHref": actionHref,
		// carryDays is how long a snapshot stands in for missed days.
		"carryDays": func() int { return query.CarryForwardDays },
	}
}

func gainText(v float64) string { return "+" + strconv.FormatFloat(v, 'f', 2, 64) }

func targetText(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "%" }

func pctOr(v *float64) string {
	if v == nil {
		return "—"
	}
	return percent(*v)
}

func ptsOr(v *float64) string {
	if v == nil {
		return "—"
	}
	return points(*v)
}
