package server

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/storetest"
)

// pagedFleet is a real server over a SQLite store of 660 tenants (more
// than three overview pages): Northwind (even) and Contoso (odd) clients,
// two in three aimed at 99% (so below target), one in 50 failing its last
// collection and one in 97 never scored.
type pagedFleet struct {
	a   *apiFixture
	now time.Time
}

const pagedTenants = 660

func newPagedFleet(t *testing.T) *pagedFleet {
	t.Helper()
	ctx := context.Background()
	st := openSQLite(t)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	first := fleetscore.DayOf(now).AddDays(-9)
	ts := make([]fleetscore.Tenant, pagedTenants)
	for i := range ts {
		name, target := "Contoso", 1.0
		if i%2 == 0 {
			name = "Northwind"
		}
		if i%3 != 0 {
			target = 99
		}
		ts[i] = fleetscore.Tenant{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), Name: fmt.Sprintf("%s %04d", name, i), TargetPercent: target}
	}
	if err := st.SyncTenants(ctx, ts); err != nil {
		t.Fatal(err)
	}
	for i, tn := range ts {
		if i%97 == 5 {
			continue
		}
		if err := st.SaveBatch(ctx, fleetscore.Batch{Tenant: tn, Scores: storetest.History(tn.ID, first, 10, 3, uint64(i+1))}); err != nil {
			t.Fatal(err)
		}
		if i%50 != 7 {
			continue
		}
		at := now.Add(-time.Hour)
		id, err := st.StartCollection(ctx, fleetscore.Collection{TenantID: tn.ID, StartedAt: at, Status: fleetscore.StatusRunning})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.FinishCollection(ctx, fleetscore.Collection{ID: id, TenantID: tn.ID, StartedAt: at, FinishedAt: at.Add(time.Second),
			Status: fleetscore.StatusError, Error: "AADSTS700016: application not found"}); err != nil {
			t.Fatal(err)
		}
	}
	return &pagedFleet{a: serveAPI(t, Options{Source: st, Now: func() time.Time { return now }}), now: now}
}

// page gets the overview at path (a query after "/"), uncached or through
// the pages' cache, and wants a 200.
func (f *pagedFleet) page(t *testing.T, path string) string {
	t.Helper()
	resp, body := f.a.get(t, path, "Accept-Encoding", "identity")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// want is the tenants the overview lists for the query, in order, paging
// aside: the fleet's rows filtered, searched and sorted as one list.
func (f *pagedFleet) want(t *testing.T, q url.Values) []string {
	t.Helper()
	m, err := f.a.s.overviewModel(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var rows []query.OverviewRow
	for _, r := range m.rows {
		needle := strings.ToLower(q.Get("q"))
		if r.Matches(q.Get("filter")) && (strings.Contains(strings.ToLower(r.Name), needle) || strings.Contains(r.TenantID, needle)) {
			rows = append(rows, r.OverviewRow)
		}
	}
	sort := query.OverviewSort{Key: q.Get("sort"), Desc: q.Get("dir") == "desc"}
	if sort.Key == "" {
		sort.Key = "percent"
	}
	query.SortOverview(rows, sort)
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.TenantID
	}
	return ids
}

var (
	tenantRowRE = regexp.MustCompile(`<tr class="tenant[^"]*" data-tenant="([^"]+)"`)
	showingRE   = regexp.MustCompile(`id="tenants-showing">Showing (\d+)–(\d+) of (\d+) tenants? · page (\d+) of (\d+)<`)
)

// rowIDs are the tenants of a page's table, in order.
func rowIDs(body string) []string {
	var ids []string
	for _, m := range tenantRowRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// hrefOf is the href of the element with the id, unescaped; "" if none.
func hrefOf(body, id string) string {
	m := regexp.MustCompile(`<a href="([^"]*)"[^>]* id="` + id + `"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// TestOverviewPagesListEveryTenantOnce: for filters, searches and sorts,
// following Next from the first page lists every matching tenant exactly
// once, in the order of the whole list, overviewPageSize a page, with
// "Showing a–b of n" right on each.
func TestOverviewPagesListEveryTenantOnce(t *testing.T) {
	f := newPagedFleet(t)
	for _, path := range []string{"/", "/?sort=name", "/?sort=name&dir=desc", "/?sort=collected&dir=desc",
		"/?filter=below&q=north&sort=change7d&dir=desc", "/?q=CONTOSO&sort=points", "/?filter=falling&sort=target"} {
		t.Run(path, func(t *testing.T) {
			u, _ := url.Parse(path)
			want := f.want(t, u.Query())
			if len(want) <= overviewPageSize {
				t.Fatalf("%d tenants match: the fixture should fill more than one page", len(want))
			}
			pages := (len(want) + overviewPageSize - 1) / overviewPageSize
			var got []string
			for n, next := 1, path; next != ""; n++ {
				if n > pages {
					t.Fatalf("page %d of %d has a Next link %q", n-1, pages, next)
				}
				body := f.page(t, next)
				ids := rowIDs(body)
				lo, hi := (n-1)*overviewPageSize, min(n*overviewPageSize, len(want))
				if !slices.Equal(ids, want[lo:hi]) {
					t.Errorf("page %d (%s) lists %d tenants, want rows %d to %d of the whole list", n, next, len(ids), lo+1, hi)
				}
				m := showingRE.FindStringSubmatch(body)
				if m == nil || m[1] != strconv.Itoa(lo+1) || m[2] != strconv.Itoa(hi) || m[3] != strconv.Itoa(len(want)) ||
					m[4] != strconv.Itoa(n) || m[5] != strconv.Itoa(pages) {
					t.Errorf("page %d: showing %q, want %d–%d of %d, page %d of %d", n, m, lo+1, hi, len(want), n, pages)
				}
				got = append(got, ids...)
				next = hrefOf(body, "next-page")
			}
			if !slices.Equal(got, want) {
				t.Errorf("the pages list %d tenants, want each of %d once in order", len(got), len(want))
			}
		})
	}
	// The name order needs no model to check.
	var names []string
	for p := 1; p <= 4; p++ {
		body := f.page(t, fmt.Sprintf("/?sort=name&page=%d", p))
		body = body[max(0, strings.Index(body, `id="tenants"`)):]
		for _, m := range regexp.MustCompile(`<a href="/tenants/[^"]+">([^<]+)</a>`).FindAllStringSubmatch(body, -1) {
			names = append(names, m[1])
		}
	}
	if len(names) != pagedTenants || !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != pagedTenants {
		t.Errorf("by name, the 4 pages list %d names (sorted: %v), want each of %d once in order", len(names), slices.IsSorted(names), pagedTenants)
	}
}

// TestOverviewPagerLinks: on a later page, the sort headers, the filter
// chips and the search form keep the other parameters and go back to page
// 1; the pager's links keep them all and change the page; a list within
// one page has no pager.
func TestOverviewPagerLinks(t *testing.T) {
	f := newPagedFleet(t)
	body := f.page(t, "/?filter=below&q=north&sort=change7d&dir=desc&page=2")
	// 220 rows: two pages.
	for id, want := range map[string]string{
		"first-page": "/?dir=desc&filter=below&q=north&sort=change7d",
		"prev-page":  "/?dir=desc&filter=below&q=north&sort=change7d",
		"next-page":  "",
		"last-page":  "",
	} {
		if got := hrefOf(body, id); got != want {
			t.Errorf("page 2 of 2: #%s href %q, want %q", id, got, want)
		}
	}
	pager, _, _ := strings.Cut(body[max(0, strings.Index(body, `id="tenants-pager"`)):], "</nav>")
	if !strings.HasPrefix(pager, `id="tenants-pager"`) {
		t.Fatal("page 2 has no pager")
	}
	if !strings.Contains(pager, `<a href="/?dir=desc&amp;filter=below&amp;q=north&amp;sort=change7d" aria-label="Page 1">1</a>`) ||
		!strings.Contains(pager, `<a href="/?dir=desc&amp;filter=below&amp;page=2&amp;q=north&amp;sort=change7d" aria-current="page" class="on">2</a>`) {
		t.Errorf("the numbered pages are not links to pages 1 and 2 (2 current):\n%s", pager)
	}
	for _, want := range []string{
		// Sort headers: this filter and search, page 1.
		`<a href="/?filter=below&amp;q=north&amp;sort=name" data-sort="name">`,
		`<a href="/?filter=below&amp;q=north" data-sort="percent">`,
		`<a href="/?filter=below&amp;q=north&amp;sort=change7d" data-sort="change7d">`,
		// Filter chips: this search and sort, page 1.
		`href="/?dir=desc&amp;q=north&amp;sort=change7d" data-filter=""`,
		`href="/?dir=desc&amp;filter=failing&amp;q=north&amp;sort=change7d" data-filter="failing"`,
		// The search form sends the filter and the sort, no page.
		`<input type="hidden" name="filter" value="below">`,
		`<input type="hidden" name="sort" value="change7d">`,
		`<table class="tenants" id="tenants" data-paged>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page 2 lacks %s", want)
		}
	}
	if form, _, _ := strings.Cut(body[max(0, strings.Index(body, `<form class="search"`)):], "</form>"); strings.Contains(form, `name="page"`) {
		t.Errorf("the search form keeps the page: %s", form)
	}
	// Page 1 of 4, all tenants: no way back, numbers 1 to 4.
	body = f.page(t, "/")
	if hrefOf(body, "first-page") != "" || hrefOf(body, "prev-page") != "" || hrefOf(body, "next-page") != "/?page=2" || hrefOf(body, "last-page") != "/?page=4" {
		t.Errorf("page 1 of 4: first %q prev %q next %q last %q", hrefOf(body, "first-page"), hrefOf(body, "prev-page"), hrefOf(body, "next-page"), hrefOf(body, "last-page"))
	}
	// Fewer tenants than a page: the table as it always was.
	for _, path := range []string{"/?filter=failing", "/?q=northwind+0004", "/?q=nobody"} {
		body := f.page(t, path)
		if strings.Contains(body, `id="tenants-pager"`) || strings.Contains(body, `id="tenants-showing"`) || strings.Contains(body, "data-paged") {
			t.Errorf("%s: a pager over %d tenants", path, len(rowIDs(body)))
		}
	}
	if n := len(rowIDs(f.page(t, "/?filter=failing"))); n != 14 {
		t.Errorf("filter=failing lists %d tenants, want 14", n)
	}
}

// TestOverviewPageOutOfRange: a page past the last shows the last page; a
// page that is not a positive integer shows page 1, as an unknown filter
// or sort shows their default.
func TestOverviewPageOutOfRange(t *testing.T) {
	f := newPagedFleet(t)
	want := f.want(t, url.Values{})
	last := want[3*overviewPageSize:]
	for _, page := range []string{"4", "5", "999999", "2147483648"} {
		if got := rowIDs(f.page(t, "/?page="+page)); !slices.Equal(got, last) {
			t.Errorf("page=%s lists %d tenants, want the last page's %d", page, len(got), len(last))
		}
	}
	for _, page := range []string{"", "0", "-1", "1.5", "2x", "two", "%20", "99999999999999999999999999999999999999", strings.Repeat("9", 3000)} {
		body := f.page(t, "/?page="+page)
		if got := rowIDs(body); !slices.Equal(got, want[:overviewPageSize]) {
			t.Errorf("page=%.20s lists %d tenants, want page 1's %d", page, len(got), overviewPageSize)
		}
		if m := showingRE.FindStringSubmatch(body); m == nil || m[4] != "1" {
			t.Errorf("page=%.20s: showing %q, want page 1", page, m)
		}
	}
}

// TestOverviewPagesCached: through the pages' cache, each page value is
// its own page, the same as rendered without the cache.
func TestOverviewPagesCached(t *testing.T) {
	f := newPagedFleet(t)
	want := f.want(t, url.Values{"sort": {"name"}})
	paths := []string{"/?sort=name", "/?sort=name&page=2", "/?sort=name&page=3", "/?sort=name&page=2", "/?sort=name"}
	pages := []int{1, 2, 3, 2, 1}
	var uncached []string
	f.a.s.pageCacheOff.Store(true)
	for _, path := range paths {
		uncached = append(uncached, f.page(t, path))
	}
	f.a.s.pageCacheOff.Store(false)
	for round := range 2 { // the first renders into the cache, the second serves it
		for i, path := range paths {
			body := f.page(t, path)
			n := pages[i]
			if got := rowIDs(body); !slices.Equal(got, want[(n-1)*overviewPageSize:n*overviewPageSize]) {
				t.Errorf("round %d: %s lists %d tenants, not page %d's", round, path, len(got), n)
			}
			if body != uncached[i] {
				t.Errorf("round %d: %s from the cache differs from its render: %s", round, path, firstDiff(uncached[i], body))
			}
		}
	}
}

// TestNearPages: the pager numbers the first, the last and two pages each
// side of the current one, with a gap where it leaves pages out.
func TestNearPages(t *testing.T) {
	for _, c := range []struct {
		page, pages int
		want        string
	}{
		{1, 2, "[1] 2"},
		{2, 2, "1 [2]"},
		{1, 4, "[1] 2 3 4"},
		{3, 5, "1 2 [3] 4 5"},
		{1, 50, "[1] 2 3 … 50"},
		{4, 50, "1 2 3 [4] 5 6 … 50"},
		{5, 50, "1 … 3 4 [5] 6 7 … 50"},
		{25, 50, "1 … 23 24 [25] 26 27 … 50"},
		{48, 50, "1 … 46 47 [48] 49 50"},
		{50, 50, "1 … 48 49 [50]"},
	} {
		var parts []string
		for _, l := range nearPages(c.page, c.pages, func(n int) string { return "/?page=" + strconv.Itoa(n) }) {
			if l.Href != "/?page="+strconv.Itoa(l.N) {
				t.Errorf("page %d's href %q", l.N, l.Href)
			}
			if l.Gap {
				parts = append(parts, "…")
			}
			if l.Current {
				parts = append(parts, "["+strconv.Itoa(l.N)+"]")
			} else {
				parts = append(parts, strconv.Itoa(l.N))
			}
		}
		if got := strings.Join(parts, " "); got != c.want {
			t.Errorf("page %d of %d: %s, want %s", c.page, c.pages, got, c.want)
		}
	}
}
