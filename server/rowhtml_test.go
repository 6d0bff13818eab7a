package server

import (
	"bytes"
	"context"
	"html/template"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore/storetest"
)

// hostileTexts are titles, names and other upstream text the rows must
// escape exactly as html/template does.
var hostileTexts = []string{
	`<script>alert("x")</script>`, `O'Brien & Sons "Ltd" <b>`, "nul\x00byte", "bad utf8 \xff\xfe\xc3", "a+b=c",
	"\uFFFD\ufdd0\ufffe", "plain", "",
}

// hostileURLs are URLs (the profile's action URL, the portal's) the rows
// must filter and normalise exactly as html/template does.
var hostileURLs = []string{
	"javascript:alert(1)", "JavaScript:alert(1)", " javascript:x", "data:text/html,<script>", "vbscript:x",
	"https://security.microsoft.com/a b?x=1&y=<2>#'\"", "HTTP://x/%41%zz%4", "mailto:a@b", "/rel/path:x?q=ü",
	"//evil.example/\x00\xff", "?a=b+c", "/end%41", "",
}

// oldPages are the tenant and action pages as committed before their rows
// were written in Go (testdata/oldtemplates), parsed as newPages does.
func oldPages(t *testing.T, p *pages) map[string]*template.Template {
	t.Helper()
	m := map[string]*template.Template{}
	for _, name := range []string{"tenant", "action"} {
		old, err := os.ReadFile("testdata/oldtemplates/" + name + ".html")
		if err != nil {
			t.Fatal(err)
		}
		tp, err := template.New(name).Funcs(templateFuncs(p.assets)).ParseFS(templateFS, "templates/layout.html")
		if err == nil {
			_, err = tp.Parse(string(old))
		}
		if err != nil {
			t.Fatal(err)
		}
		m[name] = tp
	}
	return m
}

// samePage renders v with the page's template and the old one and fails
// unless the bytes are the same; it returns the page.
func samePage(t *testing.T, s *Server, old map[string]*template.Template, name, what string, v any) string {
	t.Helper()
	var got, want bytes.Buffer
	if err := s.pages.tmpl[name].ExecuteTemplate(&got, "layout", v); err != nil {
		t.Fatal(err)
	}
	if err := old[name].ExecuteTemplate(&want, "layout", v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		g, w := got.String(), want.String()
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		t.Fatalf("%s: the page differs from the old template's at byte %d of %d/%d:\nnew: %q\nold: %q", what, i, len(g), len(w),
			g[max(0, i-80):min(len(g), i+120)], w[max(0, i-80):min(len(w), i+120)])
	}
	return got.String()
}

// TestRowsHTMLIdentical: the tenant page (every range, with and without
// the exception register's links) and the action page of every control
// of a generated fleet are byte for byte what the old templates, whose
// html/template ranges wrote those rows, give for the same view; and so
// they stay once the rows' text and URLs are replaced by hostile ones
// (script, quotes, NUL, non-UTF-8, javascript: URLs), which come out
// escaped.
func TestRowsHTMLIdentical(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	if err := storetest.Fill(ctx, st, 3, 120, now, nil); err != nil {
		t.Fatal(err)
	}
	ts, err := st.Tenants(ctx)
	if err != nil || len(ts) != 3 {
		t.Fatalf("%d tenants, %v", len(ts), err)
	}
	s, err := New(Options{Source: st, Version: "test", DataNow: func() time.Time { return now }, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	old := oldPages(t, s.pages)
	controls := map[string]bool{}
	pages := 0
	for ti, tn := range ts {
		for _, rng := range []string{"30d", "90d", "all"} {
			req := httptest.NewRequest("GET", "/tenants/"+tn.ID+"?range="+rng, nil)
			req.SetPathValue("id", tn.ID)
			v, err := s.tenantPageView(req)
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Controls) < 20 || len(v.Table) < 20 {
				t.Fatalf("tenant %d: %d controls, %d days; want a realistic page", ti, len(v.Controls), len(v.Table))
			}
			page := samePage(t, s, old, "tenant", tn.ID+" "+rng, v)
			if !strings.Contains(page, `<tr class="ctl st-`) || !strings.Contains(page, `<tbody><tr><th scope="row">`) ||
				!strings.Contains(page, `<ul class="change-items">`) {
				t.Fatal("the tenant page has no control, day or change rows")
			}
			pages++
			for _, c := range v.Controls {
				controls[c.Control.Control] = true
			}
			// Hostile values in every row, the register's links on.
			v.CanExcept = true
			for i := range v.Controls {
				c := &v.Controls[i]
				h := hostileTexts[i%len(hostileTexts)]
				c.Title, c.Category, c.Label, c.Tier = h, hostileTexts[(i+1)%len(hostileTexts)], h, h
				c.UserImpact, c.ImplementationCost, c.Status = h, hostileTexts[(i+2)%len(hostileTexts)], h
				c.Control.Control = hostileTexts[(i+3)%len(hostileTexts)]
				c.ActionURL = hostileURLs[i%len(hostileURLs)]
				c.ActionHref, c.ChangesHref = hostileURLs[(i+1)%len(hostileURLs)], hostileURLs[(i+2)%len(hostileURLs)]
				c.SetExceptionHref = hostileURLs[(i+3)%len(hostileURLs)]
				c.PointsAvailable = []float64{0, 1.5, -2.25, 1e-7}[i%4]
				if i%3 == 0 {
					c.Exc = &excBadge{Status: h, Class: h, Text: h, Href: hostileURLs[(i+4)%len(hostileURLs)]}
				}
				if i%5 == 0 {
					c.Changes = c.Changes[:min(1, len(c.Changes))]
				}
			}
			for i := range v.Table {
				v.Table[i].Date = hostileTexts[i%len(hostileTexts)]
				v.Table[i].Valid = [3]bool{i%2 == 0, i%3 == 0, true}
			}
			for i := range v.Changes {
				d := &v.Changes[i]
				h := hostileTexts[i%len(hostileTexts)]
				d.Date, d.Label, d.Points, d.Maximum, d.Since = h, h, h, hostileTexts[(i+1)%len(hostileTexts)], hostileTexts[(i+2)%len(hostileTexts)]
				d.HasDetail, d.More = i%2 == 0, i%3
				d.Move = []change{changeOf(nil), {Text: h, Dir: h, Icon: h, Label: h}, {Text: "0.0", Dir: "flat", Label: h}}[i%3]
				if len(d.Items) == 0 {
					d.Items = []itemView{{}}
				}
				for j := range d.Items {
					it := &d.Items[j]
					k := i + j
					it.Kind, it.Lead, it.Title = hostileTexts[k%len(hostileTexts)], hostileTexts[(k+1)%len(hostileTexts)], hostileTexts[(k+2)%len(hostileTexts)]
					it.Text, it.By, it.Comment = hostileTexts[(k+3)%len(hostileTexts)], hostileTexts[(k+4)%len(hostileTexts)], hostileTexts[(k+5)%len(hostileTexts)]
					it.Href = hostileURLs[k%len(hostileURLs)]
				}
				if i%4 == 3 {
					d.Items = nil
				}
			}
			v.writeRows()
			page = samePage(t, s, old, "tenant", tn.ID+" "+rng+" hostile", v)
			if strings.Contains(page, "<script>alert") || strings.Contains(page, `href="javascript:`) || strings.Contains(page, "\x00") {
				t.Fatal("a hostile value reached the tenant page unescaped")
			}
		}
	}
	if len(controls) < 20 {
		t.Fatalf("%d controls", len(controls))
	}
	for control := range controls {
		req := httptest.NewRequest("GET", "/actions/"+control, nil)
		req.SetPathValue("control", control)
		v, err := s.actionPageView(req)
		if err != nil {
			t.Fatal(control, err)
		}
		samePage(t, s, old, "action", control, v)
		pages++
		v.Register = true
		for i := range v.Rows {
			r := &v.Rows[i]
			h := hostileTexts[i%len(hostileTexts)]
			r.TenantID, r.Status, r.Label, r.Name = h, h, hostileTexts[(i+1)%len(hostileTexts)], hostileTexts[(i+2)%len(hostileTexts)]
			r.Href, r.PortalURL, r.HistoryHref = hostileURLs[i%len(hostileURLs)], hostileURLs[(i+1)%len(hostileURLs)], hostileURLs[(i+2)%len(hostileURLs)]
			r.State = []string{"Reviewed", "Default", "Ignored"}[i%3]
			r.Open, r.LiftsOverTarget = i%2 == 0, i%4 == 1
			r.GainPoints, r.GainPercent = []float64{0, 2.5, 1e-7, 123456789}[i%4], []float64{0.125, 1e21, -0, 3}[i%4]
			if i%2 == 1 {
				r.Exc = &excBadge{Status: h, Class: h, Text: h, Href: hostileURLs[(i+3)%len(hostileURLs)]}
			}
		}
		v.RowsHTML = actionRowsHTML(v.Rows, v.Register)
		page := samePage(t, s, old, "action", control+" hostile", v)
		if strings.Contains(page, "<script>alert") || strings.Contains(page, `href="javascript:`) {
			t.Fatal("a hostile value reached the action page unescaped")
		}
	}
	t.Logf("%d pages identical", pages)
}
