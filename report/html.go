package report

import (
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
)

//go:embed templates/report.html
var templateFS embed.FS

// page is the HTML template, parsed once: a broken one fails at start.
var page = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"L":     func(l *Locale, key string) string { return l.L(key) },
	"dayOf": func(t time.Time) fleetscore.Day { return fleetscore.DayOf(t) },
}).ParseFS(templateFS, "templates/report.html"))

// htmlView is what the template reads: the content, formatted.
type htmlView struct {
	C        *Content
	B        Branding
	L        *Locale
	Accent   string
	Logo     template.URL // a data: URL of the PNG
	Title    string
	Period   string
	Sections []string
	Chart    template.HTML
	Fmt      formatter
	Nonce    string // the style element's CSP nonce; "" for none
}

// formatter gives the template the locale's formats.
type formatter struct{ l *Locale }

func (f formatter) Pct(v float64) string                { return f.l.Percent(v) }
func (f formatter) Target(v float64) string             { return f.l.Target(v) }
func (f formatter) Points(v float64) string             { return f.l.Points(v) }
func (f formatter) Signed(v float64, d int) string      { return f.l.Signed(v, d) }
func (f formatter) Day(d fleetscore.Day) string         { return f.l.Date(d) }
func (f formatter) Date(s string) string                { return f.l.Date(fleetscore.MustDay(s)) }
func (f formatter) Move(m Move) string                  { return moveText(f.l, m) }
func (f formatter) Dash(s string) string                { return dash(s) }
func (f formatter) Label(key string) string             { return f.l.L(key) }
func (f formatter) Status(s string) string              { return f.l.Status(s) }
func (f formatter) Sprintf(key string, a ...any) string { return fmt.Sprintf(f.l.L(key), a...) }

// HTML writes the report as a print-friendly HTML page (no script; the
// chart is inline SVG).
func HTML(out io.Writer, c *Content, b Branding) error { return HTMLNonce(out, c, b, "") }

// HTMLNonce is HTML with its style element marked with a Content Security
// Policy nonce, for a server whose policy allows no inline style otherwise.
func HTMLNonce(out io.Writer, c *Content, b Branding, nonce string) error {
	l := b.locale()
	r, g, bl := b.accent()
	v := htmlView{C: c, B: b, L: l, Nonce: nonce, Accent: fmt.Sprintf("#%02x%02x%02x", r, g, bl), Sections: Sections, Fmt: formatter{l},
		Title:  l.L("title") + " — " + c.Tenant.Name + " — " + c.Period.Key,
		Period: l.Date(c.Period.From) + " – " + l.Date(c.Period.To)}
	if len(b.Logo) > 0 {
		v.Logo = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Logo))
	}
	v.Chart = svgChart(c, l, v.Accent)
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return fmt.Errorf("report of %s for %s: %w", c.Tenant.Name, c.Period.Key, err)
	}
	_, err := out.Write(buf.Bytes())
	return err
}

// svgChart is the trend chart as SVG: the same lines as the PDF's.
func svgChart(c *Content, l *Locale, accent string) template.HTML {
	if len(c.Trend) == 0 {
		return ""
	}
	const w, h, x0, y0 = 720.0, 220.0, 40.0, 10.0
	cw, ch := w-x0-10, h-y0-30
	lo, hi := chartRange(c)
	days := c.Period.To.Sub(c.Period.From)
	xOf := func(d fleetscore.Day) float64 {
		if days == 0 {
			return x0 + cw/2
		}
		return x0 + float64(d.Sub(c.Period.From))/float64(days)*cw
	}
	yOf := func(v float64) float64 { return y0 + ch - (v-lo)/(hi-lo)*ch }
	var b strings.Builder
	desc := fmt.Sprintf("%s %s: %s → %s", l.L("score"), c.Period.Key, l.Percent(c.First.Percent), l.Percent(c.Last.Percent))
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" class="chart">`, w, h, template.HTMLEscapeString(desc))
	step := 10.0
	if hi-lo > 60 {
		step = 20
	}
	for v := lo; v <= hi+1e-9; v += step {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" font-size="10" text-anchor="end" fill="#555">%s%%</text>`,
			x0, x0+cw, yOf(v), yOf(v), x0-4, yOf(v)+3, l.Number(v, 0, false))
	}
	for i, d := range []fleetscore.Day{c.Period.From, c.Period.From.AddDays(days / 2), c.Period.To} {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="%s" fill="#555">%s</text>`, xOf(d), y0+ch+14,
			[]string{"start", "middle", "end"}[i], l.ShortDate(d))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#c83c3c" stroke-dasharray="6 4"/>`, x0, x0+cw, yOf(c.Target), yOf(c.Target))
	poly := func(at func(i int) (float64, bool), colour string, width float64) {
		var pts []string
		for i, d := range c.Trend {
			if v, ok := at(i); ok {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(fleetscore.MustDay(d.Date)), yOf(v)))
			}
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="%.1f" points="%s"/>`, colour, width, strings.Join(pts, " "))
		}
	}
	poly(func(i int) (float64, bool) {
		a, ok := c.Trend[i].Averages[fleetscore.BasisAllTenants]
		return a, ok
	}, "#999", 1)
	poly(func(i int) (float64, bool) { return c.Trend[i].Percent, true }, accent, 2.5)
	b.WriteString(`</svg>`)
	fmt.Fprintf(&b, `<p class="legend"><span class="key">━</span> %s · <span class="key target">╌</span> %s %s · <span class="key avg">━</span> %s (Microsoft)</p>`,
		template.HTMLEscapeString(l.L("score")), template.HTMLEscapeString(l.L("target")),
		template.HTMLEscapeString(l.Target(c.Target)), template.HTMLEscapeString(l.L(fleetscore.BasisAllTenants)))
	return template.HTML(b.String())
}
