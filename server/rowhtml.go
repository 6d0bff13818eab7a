package server

import (
	"fmt"
	"html/template"
	"strings"
)

// The pages' longest row ranges (a tenant's controls and days, an action's
// tenants) are written here in Go rather than by html/template, whose
// reflection and escaper calls made most of those pages' CPU time. Every
// value goes through exactly the escaping html/template gives it in that
// place (the functions below are ported from Go's html/template,
// Copyright The Go Authors, under Go's BSD-style licence), so the
// bytes are those the template wrote: TestRowsHTMLIdentical compares them
// with the committed templates' old text over hostile values.

// rowWriter writes a row range's HTML.
type rowWriter struct{ strings.Builder }

// text is a value in HTML text or in a quoted attribute that is no URL:
// html/template's htmlEscaper / attrEscaper of a string.
//
// Byte by byte: every rune the table replaces is one ASCII byte, and no
// byte of a multi-byte sequence (valid or not) is ASCII, so this is the
// escaper's rune-by-rune loop without the decoding.
func (w *rowWriter) text(s string) {
	written := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; int(c) < len(htmlReplacement) {
			if repl := htmlReplacement[c]; repl != "" {
				w.WriteString(s[written:i])
				w.WriteString(repl)
				written = i + 1
			}
		}
	}
	w.WriteString(s[written:])
}

// url is a whole quoted URL attribute's value (href="{{.}}"):
// html/template's urlFilter, urlNormalizer, then attrEscaper.
func (w *rowWriter) url(s string) {
	if !isSafeURL(s) {
		w.WriteString("#ZgotmplZ")
		return
	}
	w.text(normalizeURL(s))
}

// raw is markup the page builds itself (template.HTML), or literal
// template text.
func (w *rowWriter) raw(s string) { w.WriteString(s) }

func (w *rowWriter) html() template.HTML { return template.HTML(w.String()) }

// htmlReplacement is html/template's htmlReplacementTable.
var htmlReplacement = []string{
	0:    "\uFFFD",
	'"':  "&#34;",
	'&':  "&amp;",
	'\'': "&#39;",
	'+':  "&#43;",
	'<':  "&lt;",
	'>':  "&gt;",
}

// isSafeURL is html/template's: a URL with a scheme must be http, https
// or mailto.
func isSafeURL(s string) bool {
	if protocol, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(protocol, "/") {
		if !strings.EqualFold(protocol, "http") && !strings.EqualFold(protocol, "https") && !strings.EqualFold(protocol, "mailto") {
			return false
		}
	}
	return true
}

// normalizeURL is html/template's urlNormalizer of a string.
func normalizeURL(s string) string {
	var b strings.Builder
	written := 0
	for i, n := 0, len(s); i < n; i++ {
		c := s[i]
		switch c {
		case '!', '#', '$', '&', '*', '+', ',', '/', ':', ';', '=', '?', '@', '[', ']':
			continue
		case '-', '.', '_', '~':
			continue
		case '%':
			if i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
				continue
			}
		default:
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				continue
			}
		}
		if written == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[written:i])
		fmt.Fprintf(&b, "%%%02x", c)
		written = i + 1
	}
	if written == 0 {
		return s
	}
	b.WriteString(s[written:])
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// controlRowsHTML is the tenant page's control list rows: what
// `{{range .Controls}}` wrote.
func controlRowsHTML(rows []controlRow, canExcept bool) template.HTML {
	var w rowWriter
	w.Grow(len(rows) * 2600)
	for i := range rows {
		c := &rows[i]
		w.raw("\n      <tr class=\"ctl st-")
		w.text(c.Status)
		w.raw("\">\n        <th scope=\"row\" class=\"c-title\">\n          ")
		if c.ActionURL != "" {
			w.raw(`<a href="`)
			w.url(c.ActionURL)
			w.raw(`" rel="noreferrer" target="_blank" class="ext">`)
			w.text(c.Title)
			w.raw(`<span class="vh"> (opens the Microsoft portal)</span><span aria-hidden="true" class="ext-icon">↗</span></a>`)
		} else {
			w.text(c.Title)
		}
		w.raw("\n          <span class=\"small muted mono\">")
		w.text(c.Control.Control)
		w.raw(`</span> <a href="`)
		w.url(c.ActionHref)
		w.raw("\" class=\"small\">at every tenant</a>\n        </th>\n        <td>")
		w.text(c.Category)
		w.raw("</td>\n        <td class=\"num\">")
		w.text(points(c.Score))
		w.raw(`<span class="muted"> / `)
		w.text(points(c.MaxScore))
		w.raw("</span></td>\n        <td class=\"num\">")
		if c.PointsAvailable != 0 {
			w.raw("+")
			w.text(points(c.PointsAvailable))
		} else {
			w.raw(`<span class="muted">—</span>`)
		}
		w.raw("</td>\n        <td><span class=\"badge ")
		w.text(c.Status)
		w.raw(`">`)
		w.text(c.Label)
		w.raw(`</span>`)
		if e := c.Exc; e != nil {
			w.excBadge(e, ` title="Its exception in the register"`)
		} else if canExcept {
			w.raw(` <a href="`)
			w.url(c.SetExceptionHref)
			w.raw(`" class="small set-exc">Set exception…</a>`)
		}
		w.raw("</td>\n        <td>")
		w.text(c.UserImpact)
		w.raw("</td>\n        <td>")
		w.text(c.ImplementationCost)
		w.raw("</td>\n        <td class=\"c-tier\">")
		w.text(c.Tier)
		w.raw("</td>\n        <td class=\"c-hist\"><a href=\"")
		w.url(c.ChangesHref)
		w.raw(`" title="This action's history">`)
		w.raw(string(c.History))
		if n := len(c.Changes); n > 0 {
			w.raw(`<span class="small muted">`)
			w.text(fmt.Sprint(n))
			w.raw(" ")
			if n == 1 {
				w.raw("change")
			} else {
				w.raw("changes")
			}
			w.raw(`</span>`)
		}
		w.raw("<span class=\"vh\"> (this action's history)</span></a></td>\n      </tr>\n    ")
	}
	return w.html()
}

// excBadge is an exception's badge link; attrs are any after data-status.
func (w *rowWriter) excBadge(e *excBadge, attrs string) {
	w.raw(`<a href="`)
	w.url(e.Href)
	w.raw(`" class="exc-badge badge `)
	w.text(e.Class)
	w.raw(`" data-status="`)
	w.text(e.Status)
	w.raw(`"`)
	w.raw(attrs)
	w.raw(`>`)
	w.text(e.Text)
	w.raw(`</a>`)
}

// dayRowsHTML is the tenant page's daily table rows: what
// `{{range .Table}}` wrote.
func dayRowsHTML(rows []tenantDayRow) template.HTML {
	var w rowWriter
	w.Grow(len(rows) * 330)
	for i := range rows {
		d := &rows[i]
		w.raw(`<tr><th scope="row">`)
		w.text(d.Date)
		w.raw(`</th><td class="num">`)
		w.text(percent(d.Percent))
		w.raw(`</td><td class="num">`)
		w.text(points(d.Current))
		w.raw(` / `)
		w.text(points(d.Max))
		w.raw("</td>\n        ")
		for k, ok := range d.Valid {
			w.raw(`<td class="num">`)
			if ok {
				w.text(percent(d.Averages[k]))
			} else {
				w.raw("—")
			}
			w.raw(`</td>`)
		}
		w.raw(`</tr>`)
	}
	return w.html()
}

// actionRowsHTML is the action page's tenant rows: what `{{range .Rows}}`
// wrote.
func actionRowsHTML(rows []actionTenantRow, register bool) template.HTML {
	var w rowWriter
	w.Grow(len(rows) * 1700)
	for i := range rows {
		t := &rows[i]
		w.raw("\n      <tr data-tenant=\"")
		w.text(t.TenantID)
		w.raw(`" class="st-`)
		w.text(t.Status)
		w.raw("\">\n        <th scope=\"row\"><a href=\"")
		w.url(t.Href)
		w.raw(`">`)
		w.text(t.Name)
		w.raw("</a></th>\n        <td><span class=\"badge ")
		w.text(t.Status)
		w.raw(`">`)
		w.text(t.Label)
		w.raw(`</span>`)
		if t.State == "Reviewed" {
			w.raw(` <span class="small muted">Reviewed</span>`)
		}
		w.raw("</td>\n        <td class=\"num t-score\">")
		w.text(points(t.Score))
		w.raw(`<span class="muted"> / <span class="t-max">`)
		w.text(points(t.MaxScore))
		w.raw("</span></span></td>\n        <td class=\"num t-gain-points\" data-value=\"")
		w.text(fmt.Sprint(t.GainPoints))
		w.raw(`">`)
		if t.Open {
			w.raw("+")
			w.text(points(t.GainPoints))
			w.raw(`<span class="vh"> points</span>`)
		} else {
			w.raw(`<span class="muted">0</span>`)
		}
		w.raw("</td>\n        <td class=\"num t-gain-percent\" data-value=\"")
		w.text(fmt.Sprint(t.GainPercent))
		w.raw(`">`)
		if t.Open {
			w.text(gainText(t.GainPercent))
			w.raw(` pp`)
		} else {
			w.raw(`<span class="muted">—</span>`)
		}
		w.raw("</td>\n        <td class=\"num\">")
		w.text(percent(t.Percent))
		w.raw(` <span class="muted small">target `)
		w.text(targetText(t.TargetPercent))
		w.raw("</span></td>\n        <td class=\"t-lifts\" data-lifts=\"")
		w.text(fmt.Sprint(t.LiftsOverTarget))
		w.raw(`">`)
		if t.LiftsOverTarget {
			w.raw(`<span class="badge good"><span aria-hidden="true">✓</span> lifts it over</span>`)
		} else {
			w.raw(`<span class="muted">no</span>`)
		}
		w.raw(`</td>`)
		if register {
			w.raw(`<td>`)
			if t.Exc != nil {
				w.excBadge(t.Exc, "")
			} else {
				w.raw(`<span class="muted">—</span>`)
			}
			w.raw(`</td>`)
		}
		w.raw("\n        <td><a href=\"")
		w.url(t.PortalURL)
		w.raw(`" rel="noreferrer" target="_blank" class="ext t-portal">Defender<span class="vh"> portal of `)
		w.text(t.Name)
		w.raw(` (opens the Microsoft portal)</span><span aria-hidden="true" class="ext-icon">↗</span></a></td>` + "\n        <td><a href=\"")
		w.url(t.HistoryHref)
		w.raw(`" class="t-history">History<span class="vh"> of this action at `)
		w.text(t.Name)
		w.raw("</span></a></td>\n      </tr>\n    ")
	}
	return w.html()
}

// changeHTML is the "change" template (layout.html) of c.
func (w *rowWriter) change(c change) {
	w.raw(`<span class="chg `)
	w.text(c.Dir)
	w.raw(`"`)
	if c.Dir != "none" {
		w.raw(` title="`)
		w.text(c.Label)
		w.raw(`"`)
	}
	w.raw(`>`)
	if c.Icon != "" {
		w.raw(`<span class="chg-icon" aria-hidden="true">`)
		w.text(c.Icon)
		w.raw(`</span>`)
	}
	w.text(c.Text)
	if c.Dir != "none" {
		w.raw(`<span class="vh"> points</span>`)
	} else {
		w.raw(`<span class="vh"> (no data)</span>`)
	}
	w.raw(`</span>`)
}

// changesHTML is the tenant page's "What changed" days: what
// `{{range .Changes}}` wrote.
func changesHTML(days []dayChangeView) template.HTML {
	var w rowWriter
	for i := range days {
		d := &days[i]
		w.raw("\n    <li class=\"change-day\" data-day=\"")
		w.text(d.Date)
		w.raw("\">\n      <p class=\"change-head\"><time datetime=\"")
		w.text(d.Date)
		w.raw(`"><strong>`)
		w.text(d.Label)
		w.raw(`</strong></time> `)
		w.change(d.Move)
		w.raw(" <span class=\"vh\">percentage points</span>\n        <span class=\"small muted\">")
		w.text(d.Points)
		if d.HasDetail {
			w.raw(` · `)
			w.text(d.Maximum)
		}
		if d.Since != "" {
			w.raw(` · `)
			w.text(d.Since)
		}
		w.raw("</span></p>\n      ")
		if len(d.Items) > 0 {
			w.raw("<ul class=\"change-items\">\n        ")
			for j := range d.Items {
				it := &d.Items[j]
				w.raw(`<li class="item k-`)
				w.text(it.Kind)
				w.raw(`">`)
				if it.Lead != "" {
					w.text(it.Lead)
					w.raw(" ")
				}
				if it.Title != "" {
					if it.Href != "" {
						w.raw(`<a href="`)
						w.url(it.Href)
						w.raw(`"><em>`)
						w.text(it.Title)
						w.raw(`</em></a>`)
					} else {
						w.raw(`<em>`)
						w.text(it.Title)
						w.raw(`</em>`)
					}
				}
				w.raw(" ")
				w.text(it.Text)
				if it.By != "" {
					w.raw(` <span class="small muted">by `)
					w.text(it.By)
					w.raw(`</span>`)
				}
				if it.Comment != "" {
					w.raw(` <q class="small">`)
					w.text(it.Comment)
					w.raw(`</q>`)
				}
				w.raw(`</li>`)
			}
			w.raw("\n        ")
			if d.More != 0 {
				w.raw(`<li class="small muted">and `)
				w.text(fmt.Sprint(d.More))
				w.raw(` more</li>`)
			}
			w.raw("\n      </ul>")
		}
		w.raw("\n    </li>\n    ")
	}
	return w.html()
}
