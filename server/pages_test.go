package server_test

// Browser tests of the dashboard: the real server over a collected fleet
// (emulator + SQLite + collection), driven in headless Chromium through
// chromedp. Each page is checked against figures computed here from the
// emulator, and a screenshot of each is written to $FLEETSCORE_SCREENSHOTS
// (default: screenshots/ at the repository root).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/collect"
	"github.com/fleetscore/fleetscore/fleettest"
	"github.com/fleetscore/fleetscore/query"
	"github.com/fleetscore/fleetscore/server"
)

// chromiumPath is where Debian's chromium package puts the browser;
// scripts/test.sh installs it.
const chromiumPath = "/usr/bin/chromium"

// pageFixture is a collected fleet served by a real Server with a real
// scheduler (so "Collect now" works), and a browser tab.
type pageFixture struct {
	f         *fleettest.Fleet
	srv       *httptest.Server
	runner    *collect.Runner
	ctx       context.Context
	shots     string
	targets   map[string]float64
	collected time.Time // when the fleet's first collection ended

	mu      sync.Mutex
	console []string // errors the pages wrote to the console
}

// consoleErrors returns the console errors seen so far.
func (p *pageFixture) consoleErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.console)
}

func newPageFixture(t *testing.T) *pageFixture {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s: run scripts/test.sh, which installs it (apt-get install chromium)", chromiumPath)
	}
	f := fleettest.New(t, fleettest.Options{Tenants: 8})
	collected := time.Now()
	runner := &collect.Runner{
		Collector: f.Collector,
		Jobs:      func() []collect.Job { return f.Jobs },
		Schedule:  collect.Schedule{Daily: true, At: 2 * time.Hour},
	}
	loop, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); runner.Loop(loop, false) }()
	t.Cleanup(func() { stop(); <-done })

	s, err := server.New(server.Options{Source: f.Store, Runner: runner, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(cancelCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	// Every console error, uncaught exception and browser-log error (a
	// resource the CSP refused, a 404) is a failure.
	p0 := &pageFixture{}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				p0.mu.Lock()
				p0.console = append(p0.console, fmt.Sprintf("%s %s: %s", m.Type, m.URL, m.Text))
				p0.mu.Unlock()
			}
		}
	}()

	shots := os.Getenv("FLEETSCORE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join("..", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	p := p0
	p.f, p.srv, p.runner, p.ctx, p.shots, p.targets, p.collected = f, srv, runner, ctx, shots, map[string]float64{}, collected
	for _, j := range f.Jobs {
		p.targets[j.Tenant.ID] = j.Tenant.TargetPercent
	}
	return p
}

// open navigates to path and waits for the selector.
func (p *pageFixture) open(t *testing.T, path, wait string) {
	t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(p.srv.URL+path), chromedp.WaitVisible(chromedp.CSS(wait))); err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
}

// click follows a link or submits a form and waits for the new page.
func (p *pageFixture) click(t *testing.T, sel, wait string) {
	t.Helper()
	if _, err := chromedp.RunResponse(p.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
	if err := chromedp.Do(p.ctx, chromedp.WaitVisible(chromedp.CSS(wait))); err != nil {
		t.Fatalf("after clicking %s: %v", sel, err)
	}
}

func eval[T any](t *testing.T, p *pageFixture, js string) T {
	t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// shot writes a screenshot of the viewport as name.png.
func (p *pageFixture) shot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(p.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	// And the whole page, to see below the fold.
	if png, err = chromedp.Run(p.ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(p.shots, name+"-full.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// expectedPercent is the latest day's percent the emulator implies,
// formatted as the pages format it.
func (p *pageFixture) expectedPercent(id string) (string, float64, bool) {
	scores, _ := p.f.Emu.Expected(id)
	if id == p.f.Failing.ID || len(scores) == 0 {
		return "—", 0, false
	}
	last := scores[len(scores)-1]
	v := last.CurrentScore / last.MaxScore * 100
	return fmt.Sprintf("%.1f%%", v), v, true
}

type overviewRow struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Percent string `json:"percent"`
}

const readRows = `Array.from(document.querySelectorAll('#tenants tbody tr.tenant')).map(tr => ({
	id: tr.dataset.tenant,
	name: tr.querySelector('.t-name a').textContent.trim(),
	percent: tr.querySelector('.pct').textContent.trim()}))`

func TestPagesInBrowser(t *testing.T) {
	p := newPageFixture(t)
	ctx := context.Background()

	t.Run("OverviewShowsEveryTenantAsTheEmulatorImplies", func(t *testing.T) {
		p.open(t, "/", "#tenants")
		rows := eval[[]overviewRow](t, p, readRows)
		if len(rows) != len(p.f.Jobs) {
			t.Fatalf("%d rows, want %d tenants", len(rows), len(p.f.Jobs))
		}
		meeting, scored := 0, 0
		for _, r := range rows {
			want, v, ok := p.expectedPercent(r.ID)
			if r.Percent != want {
				t.Errorf("%s: page shows %q, emulator implies %q", r.Name, r.Percent, want)
			}
			if ok {
				scored++
			}
			if ok && v >= p.targets[r.ID] {
				meeting++
			}
		}
		// Of the scored tenants (the failing one has no score; none is stale).
		if got := eval[string](t, p, `document.getElementById('kpi-meeting').textContent.trim()`); got != fmt.Sprintf("%d of %d", meeting, scored) {
			t.Errorf("meeting KPI %q, want %d of %d", got, meeting, scored)
		}
		// The default order: lowest percent first, unknown last.
		var pcts []float64
		for _, r := range rows {
			if _, v, ok := p.expectedPercent(r.ID); ok {
				pcts = append(pcts, v)
			}
		}
		if !slices.IsSorted(pcts) {
			t.Errorf("default order is not by percent ascending: %v", rows)
		}
		if rows[len(rows)-1].ID != p.f.Failing.ID {
			t.Errorf("the tenant without a score should sort last, got %v", rows[len(rows)-1])
		}
		p.shot(t, "overview")
	})

	t.Run("SortByClickingHeaders", func(t *testing.T) {
		p.open(t, "/", "#tenants")
		p.click(t, `th a[data-sort="percent"]`, "#tenants") // ascending -> descending
		if got := eval[string](t, p, `document.querySelector('th[aria-sort]').getAttribute('aria-sort')`); got != "descending" {
			t.Errorf("aria-sort %q after a second sort by percent, want descending", got)
		}
		rows := eval[[]overviewRow](t, p, readRows)
		var pcts []float64
		for _, r := range rows {
			if _, v, ok := p.expectedPercent(r.ID); ok {
				pcts = append(pcts, -v)
			}
		}
		if !slices.IsSorted(pcts) || len(pcts) != 8 {
			t.Errorf("not sorted by percent, descending: %v", rows)
		}
		p.click(t, `th a[data-sort="name"]`, "#tenants")
		rows = eval[[]overviewRow](t, p, readRows)
		names := make([]string, len(rows))
		for i, r := range rows {
			names[i] = strings.ToLower(r.Name)
		}
		if !slices.IsSorted(names) {
			t.Errorf("not sorted by name: %v", names)
		}
		// Without JavaScript, the same order comes from the query string.
		body := get(t, p.srv.URL+"/?sort=name&dir=desc")
		body = body[max(0, strings.Index(body, `id="tenants"`)):] // the table, not "What moved this week"
		first, last := strings.Index(body, ">"+rows[len(rows)-1].Name+"<"), strings.Index(body, ">"+rows[0].Name+"<")
		if first < 0 || last < 0 || first > last {
			t.Errorf("?sort=name&dir=desc does not list %q before %q", rows[len(rows)-1].Name, rows[0].Name)
		}
	})

	t.Run("BelowTargetFilter", func(t *testing.T) {
		p.open(t, "/", "#tenants")
		p.click(t, `.chips a[data-filter="below"]`, "#tenants")
		rows := eval[[]overviewRow](t, p, readRows)
		want := 0
		for _, j := range p.f.Jobs {
			if _, v, ok := p.expectedPercent(j.Tenant.ID); ok && v < j.Tenant.TargetPercent {
				want++
			}
		}
		if len(rows) != want {
			t.Errorf("below target: %d rows, want %d", len(rows), want)
		}
		for _, r := range rows {
			_, v, ok := p.expectedPercent(r.ID)
			if !ok || v >= p.targets[r.ID] {
				t.Errorf("%s (%s, target %v) is listed as below target", r.Name, r.Percent, p.targets[r.ID])
			}
		}
		if got := eval[string](t, p, `document.querySelector('.chips a[aria-current]').dataset.filter`); got != "below" {
			t.Errorf("current filter chip %q, want below", got)
		}
		p.shot(t, "overview-below-target")
	})

	t.Run("FailedTenantShowsReasonAndFix", func(t *testing.T) {
		p.open(t, "/?filter=failing", "#tenants")
		rows := eval[[]overviewRow](t, p, readRows)
		if len(rows) != 1 || rows[0].ID != p.f.Failing.ID {
			t.Fatalf("failing filter lists %v, want only %s", rows, p.f.Failing.Name)
		}
		text := eval[string](t, p, fmt.Sprintf(`document.querySelector('tr.problem[data-problem-for="%s"]').textContent`, p.f.Failing.ID))
		for _, want := range []string{"403", "SecurityEvents.Read.All", "Fix:", "adminconsent"} {
			if !strings.Contains(text, want) {
				t.Errorf("the failing tenant's row lacks %q: %s", want, text)
			}
		}
		href := eval[string](t, p, `document.querySelector('tr.problem a').getAttribute('href')`)
		if !strings.Contains(href, "/adminconsent?client_id="+fleettest.ClientID) {
			t.Errorf("the fix's consent link is %q", href)
		}
		p.open(t, "/tenants/"+p.f.Failing.ID, "#failure")
		text = eval[string](t, p, `document.getElementById('failure').textContent`)
		if !strings.Contains(text, "403") || !strings.Contains(text, "SecurityEvents.Read.All") {
			t.Errorf("the failing tenant's page does not say why: %s", text)
		}
		p.shot(t, "tenant-failing")
	})

	t.Run("TenantPageDrawsItsChart", func(t *testing.T) {
		id := p.f.Jobs[0].Tenant.ID
		p.open(t, "/tenants/"+id, "#score-chart")
		want, _, _ := p.expectedPercent(id)
		if got := eval[string](t, p, `document.getElementById('tenant-percent').textContent.trim()`); got != want {
			t.Errorf("tenant percent %q, emulator implies %q", got, want)
		}
		scores, _ := p.f.Emu.Expected(id)
		from := fleetscore.DayOf(time.Now()).AddDays(-89)
		n := 0
		for _, s := range scores {
			if !s.Day.Before(from) {
				n++
			}
		}
		points := eval[int](t, p, `(document.querySelector('#score-chart path.s1').getAttribute('d').match(/[ML]/g) || []).length`)
		if points != n || n < 60 {
			t.Errorf("the score line has %d points, want one per day the emulator has in 90 days (%d)", points, n)
		}
		hover := eval[int](t, p, `document.querySelectorAll('#score-chart .chart-hover rect title').length`)
		if hover != 90 {
			t.Errorf("%d hover columns with a tooltip, want one per day of the 90", hover)
		}
		for _, sel := range []string{"#score-chart title", "#score-chart desc", "#score-chart .chart-target line"} {
			if eval[int](t, p, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)) == 0 {
				t.Errorf("the chart has no %s", sel)
			}
		}
		// Microsoft's averages: the emulator sends all three for this tenant.
		lines := eval[int](t, p, `document.querySelectorAll('#score-chart path.chart-line').length`)
		if lines < 3 {
			t.Errorf("%d lines; want the score and Microsoft's comparative averages", lines)
		}
		// Controls: sorted by points still available, as the query orders them.
		controls, err := query.TenantControls(ctx, p.f.Store, id)
		if err != nil {
			t.Fatal(err)
		}
		rows := eval[int](t, p, `document.querySelectorAll('#control-list tbody tr.ctl').length`)
		if rows != len(controls) {
			t.Errorf("%d control rows, want %d", rows, len(controls))
		}
		first := eval[string](t, p, `document.querySelector('#control-list tbody tr.ctl .c-title .mono').textContent.trim()`)
		if first != controls[0].Control {
			t.Errorf("first control %q, want %q (most points available)", first, controls[0].Control)
		}
		cats := eval[int](t, p, `document.querySelectorAll('table.cats tbody tr').length`)
		if cats < 3 {
			t.Errorf("%d categories shown", cats)
		}
		p.shot(t, "tenant")
		if err := chromedp.Do(p.ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('controls').scrollIntoView()`)); err != nil {
			t.Fatal(err)
		}
		p.shot(t, "tenant-controls")
	})

	t.Run("ActionsRankTheMostOpenFirst", func(t *testing.T) {
		actions, err := query.Actions(ctx, p.f.Store, query.ActionFilter{})
		if err != nil {
			t.Fatal(err)
		}
		most := 0
		for _, a := range actions {
			most = max(most, a.OpenTenants)
		}
		p.open(t, "/actions", "#actions")
		got := eval[string](t, p, `document.querySelector('#actions tbody tr .open-count').textContent.trim()`)
		if got != fmt.Sprint(most) || most == 0 {
			t.Errorf("first action is open at %s tenants, the most is %d", got, most)
		}
		if c := eval[string](t, p, `document.querySelector('#actions tbody tr').dataset.control`); c != actions[0].Control {
			t.Errorf("first action %q, want %q", c, actions[0].Control)
		}
		p.shot(t, "actions")

		// A filter narrows the list to its category.
		p.open(t, "/actions?category=Identity", "#actions")
		cats := eval[[]string](t, p, `Array.from(document.querySelectorAll('#actions tbody tr[data-control] td:nth-child(6)')).map(td => td.textContent.trim())`)
		for _, c := range cats {
			if c != fleetscore.CategoryIdentity {
				t.Errorf("category filter kept a %q action", c)
			}
		}
	})

	t.Run("CollectionsLogAndCollectNow", func(t *testing.T) {
		p.open(t, "/collections", ".run")
		text := eval[string](t, p, `document.querySelector('.run').textContent`)
		if !strings.Contains(text, "9 tenants") || !strings.Contains(text, "1 failed") || !strings.Contains(text, "403") {
			t.Errorf("the run does not show its tenants and its failure: %s", text)
		}
		p.shot(t, "collections")

		// Collect now: the button posts, the log page shows the progress,
		// app.js reloads it when the run is over. (Runs are told apart by
		// a pause between them; make sure there is one.)
		time.Sleep(time.Until(p.collected.Add(1500 * time.Millisecond)))
		p.open(t, "/", "#collect button")
		p.click(t, "#collect button", ".run")
		deadline := time.Now().Add(30 * time.Second)
		for {
			// app.js reloads the page when the run ends: while one document
			// gives way to the next there is no panel (or no page to ask),
			// which is "not yet" too.
			got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelectorAll('.run').length + ' runs, state ' +
				((document.getElementById('collect') || {dataset: {}}).dataset.state || 'loading')`))
			if err == nil && got == "2 runs, state idle" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after Collect now: %s (%v)", got, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if st := p.runner.Status(); st.Total != 9 || st.Done != 9 || st.Failed != 1 {
			t.Errorf("runner status after Collect now: %+v", st)
		}
	})

	t.Run("NoConsoleErrors", func(t *testing.T) {
		time.Sleep(100 * time.Millisecond) // let the last page's messages arrive
		for _, m := range p.consoleErrors() {
			t.Error(m)
		}
	})

	t.Run("DarkAndPhone", func(t *testing.T) {
		dark := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}
		if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, dark); err != nil {
			t.Fatal(err)
		}
		p.open(t, "/", "#tenants")
		bg := eval[string](t, p, `getComputedStyle(document.body).backgroundColor`)
		if bg == "rgb(244, 246, 248)" {
			t.Errorf("dark mode did not change the background (%s)", bg)
		}
		p.shot(t, "overview-dark")
		p.open(t, "/tenants/"+p.f.Jobs[1].Tenant.ID, "#score-chart")
		p.shot(t, "tenant-dark")
		if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		p.open(t, "/", "#tenants")
		if w := eval[int](t, p, `document.documentElement.scrollWidth`); w > 400 {
			t.Errorf("the overview is %dpx wide on a 390px phone", w)
		}
		p.shot(t, "overview-phone")
		if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPagesWithoutJavaScript reads the pages as plain HTML: they must hold
// every figure without a script, and obey the CSP (no inline script or
// style).
func TestPagesWithoutJavaScript(t *testing.T) {
	f := fleettest.New(t, fleettest.Options{Tenants: 3})
	s, err := server.New(server.Options{Source: f.Store})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	id := f.Jobs[0].Tenant.ID
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|\sstyle=|\son[a-z]+=`)
	for _, path := range []string{"/", "/?filter=below&sort=change7d&dir=desc", "/?q=zeta", "/tenants/" + id, "/tenants/" + id + "?range=all&category=Identity",
		"/tenants/" + f.Failing.ID, "/actions", "/actions?tier=Core&user_impact=Low", "/collections", "/collections?tenant=" + id} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
			continue
		}
		if m := inline.Find(b); m != nil {
			t.Errorf("%s: inline script or style %q, which the CSP blocks", path, m)
		}
		if !strings.Contains(string(b), `<html lang="en">`) || !strings.Contains(string(b), "</html>") {
			t.Errorf("%s: not a whole page", path)
		}
	}
	for _, path := range []string{"/tenants/00000000-0000-0000-0000-000000000000", "/tenants/nope"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	// Without a scheduler there is no Collect now button, and POST /collect
	// says why.
	body := get(t, srv.URL+"/")
	if strings.Contains(body, `action="/collect"`) {
		t.Error("a server without a scheduler offers Collect now")
	}
	resp, err := http.Post(srv.URL+"/collect", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("POST /collect without a scheduler: %d", resp.StatusCode)
	}
	// Every percent on the overview is the emulator's.
	for _, j := range f.Jobs {
		if j.Tenant.ID == f.Failing.ID {
			continue
		}
		scores, _ := f.Emu.Expected(j.Tenant.ID)
		last := scores[len(scores)-1]
		want := fmt.Sprintf(`<span class="pct">%.1f%%</span>`, last.CurrentScore/last.MaxScore*100)
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %s for %s", want, j.Tenant.Name)
		}
	}
	// The overview is cached between collections; a change in the store
	// (here a renamed tenant, then a collection) shows on the next view.
	renamed := fleetscore.Tenant{ID: f.Jobs[0].Tenant.ID, Name: "Renamed Client Ltd", TargetPercent: f.Jobs[0].Tenant.TargetPercent}
	if err := f.Store.SyncTenants(context.Background(), []fleetscore.Tenant{renamed}); err != nil {
		t.Fatal(err)
	}
	if body := get(t, srv.URL+"/"); !strings.Contains(body, ">Renamed Client Ltd<") {
		t.Error("the overview did not follow a renamed tenant")
	}
	// A collection writes the configured name back (the jobs still carry
	// the old one): the next view shows it, and the log shows the new run
	// (runs are told apart by a pause between them).
	before := get(t, srv.URL+"/collections")
	time.Sleep(1100 * time.Millisecond)
	f.Collector.Run(context.Background(), f.Jobs)
	if after := get(t, srv.URL+"/collections"); strings.Count(after, `class="card run`) != strings.Count(before, `class="card run`)+1 {
		t.Error("the collection log does not show the new run")
	}
	if body := get(t, srv.URL+"/"); strings.Contains(body, "Renamed Client Ltd") || !strings.Contains(body, ">"+f.Jobs[0].Tenant.Name+"<") {
		t.Error("the overview did not follow the collection")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
