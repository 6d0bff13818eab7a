package report

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/fleetscore/fleetscore"
)

// The PDF's measures, in millimetres.
const (
	margin    = 15.0
	footerGap = 16.0 // the bottom margin, where the footer goes
	lineH     = 5.2
	chartH    = 58.0
)

// font is the embedded Unicode font family (the Go fonts, BSD licence):
// names like "Café Lumière" and "O'Brien & Søn" print as written.
const font = "go"

// PDF writes the report as a PDF document.
func PDF(c *Content, b Branding) ([]byte, error) {
	size := "A4"
	if b.Paper == PaperLetter {
		size = "Letter"
	}
	f := fpdf.New("P", "mm", size, "")
	f.SetCompression(true)
	f.SetCreationDate(c.Generated)
	f.SetModificationDate(c.Generated)
	f.AddUTF8FontFromBytes(font, "", goregular.TTF)
	f.AddUTF8FontFromBytes(font, "B", gobold.TTF)
	f.SetMargins(margin, margin, margin)
	f.SetAutoPageBreak(true, footerGap)
	l := b.locale()
	title := l.L("title") + " — " + c.Tenant.Name + " — " + c.Period.Key
	f.SetTitle(title, true)
	f.SetAuthor(b.Name, true)
	f.SetCreator("fleetscore", true)
	f.AliasNbPages("{nb}")
	w := &pdfWriter{f: f, l: l, b: b, c: c}
	w.ar, w.ag, w.ab = b.accent()
	w.logo = len(b.Logo) > 0
	if w.logo {
		f.RegisterImageOptionsReader("logo", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(b.Logo))
	}
	f.SetFooterFunc(w.footer)
	f.AddPage()
	w.header()
	for _, s := range Sections {
		w.section(s)
	}
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("report of %s for %s: %w", c.Tenant.Name, c.Period.Key, err)
	}
	var out bytes.Buffer
	if err := f.Output(&out); err != nil {
		return nil, fmt.Errorf("report of %s for %s: %w", c.Tenant.Name, c.Period.Key, err)
	}
	return out.Bytes(), nil
}

type pdfWriter struct {
	f          *fpdf.Fpdf
	l          *Locale
	b          Branding
	c          *Content
	ar, ag, ab int
	logo       bool
}

func (w *pdfWriter) width() float64 {
	pw, _ := w.f.GetPageSize()
	return pw - 2*margin
}

func (w *pdfWriter) font(style string, size float64) { w.f.SetFont(font, style, size) }

func (w *pdfWriter) grey()  { w.f.SetTextColor(90, 90, 90) }
func (w *pdfWriter) black() { w.f.SetTextColor(20, 20, 20) }

// cell writes one line of text in a cell of width cw (0: to the margin).
func (w *pdfWriter) cell(cw float64, s, align string) {
	w.f.CellFormat(cw, lineH, s, "", 0, align, false, 0, "")
}

// fit shortens s with an ellipsis until it fits width cw.
func (w *pdfWriter) fit(s string, cw float64) string {
	if w.f.GetStringWidth(s) <= cw-1 {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && w.f.GetStringWidth(string(r)+"…") > cw-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

func (w *pdfWriter) header() {
	f := w.f
	x, y := f.GetXY()
	if w.logo {
		f.ImageOptions("logo", x, y, 0, 14, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	}
	w.font("B", 10)
	w.grey()
	f.SetXY(x, y)
	f.CellFormat(w.width(), lineH, w.b.Name, "", 1, "R", false, 0, "")
	w.font("", 8)
	f.CellFormat(w.width(), lineH, fmt.Sprintf(w.l.L("generated"), w.l.Date(fleetscore.DayOf(w.c.Generated))), "", 1, "R", false, 0, "")
	f.SetY(y + 17)
	f.SetFillColor(w.ar, w.ag, w.ab)
	f.Rect(margin, f.GetY(), w.width(), 1.2, "F")
	f.Ln(4)
	w.black()
	w.font("B", 18)
	f.MultiCell(w.width(), 8, w.c.Tenant.Name, "", "L", false)
	w.font("", 11)
	w.grey()
	w.cell(0, w.l.L("title")+" · "+w.l.Date(w.c.Period.From)+" – "+w.l.Date(w.c.Period.To), "L")
	f.Ln(lineH + 3)
	w.black()
}

func (w *pdfWriter) footer() {
	f := w.f
	_, ph := f.GetPageSize()
	f.SetXY(margin, ph-footerGap+5)
	w.font("", 8)
	w.grey()
	half := w.width() / 2
	f.CellFormat(half+30, lineH, w.fit(w.b.Footer, half+30), "", 0, "L", false, 0, "")
	f.CellFormat(half-30, lineH, fmt.Sprintf(w.l.L("page"), f.PageNo(), "{nb}"), "", 0, "R", false, 0, "")
	w.black()
}

// heading starts a section, on a new page when less than need mm are left.
func (w *pdfWriter) heading(key string, need float64) {
	f := w.f
	_, ph := f.GetPageSize()
	if f.GetY()+need > ph-footerGap {
		f.AddPage()
	}
	f.Ln(2)
	w.font("B", 12)
	f.SetTextColor(w.ar, w.ag, w.ab)
	f.CellFormat(0, 7, w.l.L(key), "", 1, "L", false, 0, "")
	w.black()
	w.font("", 9)
}

// row writes a table row: texts in columns of the widths (fractions of the
// page's width), the first left-aligned, the others right-aligned unless
// their align says otherwise.
func (w *pdfWriter) row(cols []float64, aligns string, bold bool, texts ...string) {
	f := w.f
	style := ""
	if bold {
		style = "B"
	}
	w.font(style, 9)
	_, ph := f.GetPageSize()
	if f.GetY()+lineH > ph-footerGap {
		f.AddPage()
	}
	for i, t := range texts {
		cw := cols[i] * w.width()
		a := "R"
		if i < len(aligns) {
			a = aligns[i : i+1]
		}
		f.CellFormat(cw, lineH, w.fit(t, cw), "", 0, a, false, 0, "")
	}
	f.Ln(lineH)
	if bold {
		f.SetDrawColor(180, 180, 180)
		f.Line(margin, f.GetY(), margin+w.width(), f.GetY())
	}
	w.font("", 9)
}

// listHeading starts a section of n entries; with none it says so (the
// key's "_none" label) and reports false.
func (w *pdfWriter) listHeading(key string, need float64, n int) bool {
	w.heading(key, need)
	if n == 0 {
		w.cell(0, w.l.L(key+"_none"), "L")
		w.f.Ln(lineH)
		return false
	}
	return true
}

func (w *pdfWriter) section(s string) {
	c, l, f := w.c, w.l, w.f
	switch s {
	case SectionSummary:
		if c.Last == nil {
			w.cell(0, l.L("no_data"), "L")
			f.Ln(lineH)
			return
		}
		w.font("B", 30)
		f.SetTextColor(w.ar, w.ag, w.ab)
		f.CellFormat(45, 14, l.Percent(c.Last.Percent), "", 0, "L", false, 0, "")
		w.black()
		x, y := f.GetXY()
		w.font("", 10)
		f.SetXY(x, y+1)
		status := l.L("not_met")
		if c.Met {
			status = l.L("met")
		}
		w.cell(0, fmt.Sprintf(l.L("score_on"), l.Date(fleetscore.MustDay(c.Last.Date)))+" · "+l.L("target")+" "+
			l.Target(c.Target)+" · "+status, "L")
		f.SetXY(x, y+7)
		w.cell(0, l.L("change")+": "+l.Signed(c.Change, 1)+" "+l.L("pp"), "L")
		f.SetXY(x, y+12)
		w.grey()
		w.cell(0, fmt.Sprintf(l.L("first_last"), l.Percent(c.First.Percent), l.Date(fleetscore.MustDay(c.First.Date)),
			l.Percent(c.Last.Percent), l.Date(fleetscore.MustDay(c.Last.Date))), "L")
		w.black()
		f.SetXY(margin, y+20)
	case SectionComparatives:
		if len(c.Comparatives) == 0 || c.Last == nil {
			return
		}
		w.heading("comparatives", 30)
		cols := []float64{0.4, 0.2, 0.2, 0.2}
		w.row(cols, "LRRR", true, l.L("basis"), l.L("you"), "Microsoft", l.L("difference"))
		for _, cp := range c.Comparatives {
			w.row(cols, "LRRR", false, l.L(cp.Basis), l.Percent(c.Last.Percent), l.Percent(cp.Average), l.Signed(cp.Diff, 1))
		}
	case SectionTrend:
		if len(c.Trend) == 0 {
			return
		}
		w.heading("trend", chartH+14)
		w.chart()
	case SectionCategories:
		if len(c.Categories) == 0 {
			return
		}
		w.heading("categories", 12+lineH*float64(len(c.Categories)))
		cols := []float64{0.28, 0.14, 0.14, 0.14, 0.14, 0.16}
		w.row(cols, "LRRRRR", true, l.L("category"), l.L("points"), l.L("max"), l.L("percent"), l.L("change_short"), l.L("open"))
		for _, cat := range c.Categories {
			ch := "—"
			if cat.HasChange {
				ch = l.Signed(cat.Change, 2)
			}
			y := f.GetY()
			w.row(cols, "LRRRRR", false, cat.Category, l.Points(cat.Points), l.Points(cat.MaxScore), l.Percent(cat.Percent()), ch,
				fmt.Sprint(cat.Open))
			// A bar under the category's name: its share achieved.
			bw := cols[0]*w.width() - 4
			f.SetFillColor(225, 225, 225)
			f.Rect(margin, y+lineH-0.8, bw, 0.7, "F")
			f.SetFillColor(w.ar, w.ag, w.ab)
			f.Rect(margin, y+lineH-0.8, bw*math.Min(1, cat.Percent()/100), 0.7, "F")
		}
	case SectionMoves:
		if !w.listHeading("moves", 20, len(c.Moves)) {
			return
		}
		cols := []float64{0.16, 0.52, 0.16, 0.16}
		w.row(cols, "LLRR", true, l.L("date"), l.L("what"), l.L("points"), l.L("effect"))
		for _, m := range c.Moves {
			w.row(cols, "LLRR", false, l.Date(m.Day), moveText(l, m), l.Signed(m.Item.PointsChange, 2), l.Signed(m.Effect, 2)+" "+l.L("pp"))
		}
	case SectionActions:
		if !w.listHeading("actions", 30, len(c.Actions)) {
			return
		}
		for i, a := range c.Actions {
			_, ph := f.GetPageSize()
			if f.GetY()+3*lineH > ph-footerGap {
				f.AddPage()
			}
			w.font("B", 10)
			f.MultiCell(w.width(), lineH, fmt.Sprintf("%d. %s", i+1, a.Title), "", "L", false)
			w.font("", 9)
			w.grey()
			w.cell(0, l.L("gain")+": "+l.Points(a.PointsAvailable)+" / "+l.Points(a.MaxScore)+" · "+l.L("category")+": "+
				a.Category+" · "+l.L("user_impact")+": "+dash(a.UserImpact)+" · "+l.L("cost")+": "+dash(a.ImplementationCost), "L")
			f.Ln(lineH + 1)
			w.black()
		}
	case SectionExceptions:
		if !w.listHeading("exceptions", 20, len(c.Exceptions)) {
			return
		}
		cols := []float64{0.36, 0.16, 0.32, 0.16}
		w.row(cols, "LLLR", true, l.L("action"), l.L("state"), l.L("reason"), l.L("review_by"))
		for _, e := range c.Exceptions {
			w.row(cols, "LLLR", false, e.Title, l.L(e.State), e.Reason, l.Date(e.ReviewBy))
		}
	case SectionCampaigns:
		if !w.listHeading("campaigns", 20, len(c.Campaigns)) {
			return
		}
		cols := []float64{0.34, 0.16, 0.18, 0.14, 0.18}
		w.row(cols, "LLRLR", true, l.L("action"), l.L("owner"), l.L("due"), l.L("status"), l.L("since"))
		for _, e := range c.Campaigns {
			w.row(cols, "LLRLR", false, e.Title, e.Owner, l.Date(e.Due), l.Status(e.Status), l.Date(e.Since))
		}
	}
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// moveText says what an item of the ledger was.
func moveText(l *Locale, m Move) string {
	s := m.Item.Title
	if s == "" {
		s = l.L("kind_unexplained")
		return s
	}
	s += " (" + l.L("kind_"+m.Item.Kind)
	if m.Item.Kind == "state" {
		s += ": " + l.L(m.Item.StateFrom) + " → " + l.L(m.Item.StateTo)
	}
	return s + ")"
}

// chart draws the percent of each stored day of the period, the target and
// Microsoft's all-tenants average, as vectors.
func (w *pdfWriter) chart() {
	f, c, l := w.f, w.c, w.l
	x0, y0 := margin+10, f.GetY()+2
	cw, ch := w.width()-12, chartH-12
	lo, hi := chartRange(c)
	yOf := func(v float64) float64 { return y0 + ch - (v-lo)/(hi-lo)*ch }
	days := c.Period.To.Sub(c.Period.From)
	xOf := func(d fleetscore.Day) float64 {
		if days == 0 {
			return x0 + cw/2
		}
		return x0 + float64(d.Sub(c.Period.From))/float64(days)*cw
	}
	// Grid and axis labels.
	w.font("", 7)
	w.grey()
	f.SetLineWidth(0.1)
	f.SetDrawColor(210, 210, 210)
	step := 10.0
	if hi-lo > 60 {
		step = 20
	}
	for v := lo; v <= hi+1e-9; v += step {
		f.Line(x0, yOf(v), x0+cw, yOf(v))
		f.SetXY(margin-2, yOf(v)-2)
		f.CellFormat(11, 4, l.Number(v, 0, false)+"%", "", 0, "R", false, 0, "")
	}
	for _, d := range []fleetscore.Day{c.Period.From, c.Period.From.AddDays(days / 2), c.Period.To} {
		f.SetXY(xOf(d)-10, y0+ch+1)
		f.CellFormat(20, 4, l.ShortDate(d), "", 0, "C", false, 0, "")
	}
	// The target, dashed.
	f.SetDrawColor(200, 60, 60)
	f.SetLineWidth(0.3)
	f.SetDashPattern([]float64{1.5, 1}, 0)
	f.Line(x0, yOf(c.Target), x0+cw, yOf(c.Target))
	f.SetDashPattern(nil, 0)
	// Microsoft's all-tenants average, thin grey.
	w.series(func(i int) (float64, bool) {
		a, ok := c.Trend[i].Averages[fleetscore.BasisAllTenants]
		return a, ok
	}, xOf, yOf, 150, 150, 150, 0.3)
	// The score, in the accent.
	w.series(func(i int) (float64, bool) { return c.Trend[i].Percent, true }, xOf, yOf, w.ar, w.ag, w.ab, 0.7)
	// The legend.
	f.SetXY(x0, y0+ch+6)
	legend := func(r, g, b int, dashed bool, text string) {
		x, y := f.GetXY()
		f.SetDrawColor(r, g, b)
		f.SetLineWidth(0.6)
		if dashed {
			f.SetDashPattern([]float64{1.5, 1}, 0)
		}
		f.Line(x, y+2, x+6, y+2)
		f.SetDashPattern(nil, 0)
		f.SetXY(x+7, y)
		f.CellFormat(f.GetStringWidth(text)+6, 4, text, "", 0, "L", false, 0, "")
	}
	legend(w.ar, w.ag, w.ab, false, l.L("score"))
	legend(200, 60, 60, true, l.L("target")+" "+l.Target(c.Target))
	legend(150, 150, 150, false, l.L(fleetscore.BasisAllTenants)+" (Microsoft)")
	f.SetLineWidth(0.2)
	f.SetDrawColor(0, 0, 0)
	f.SetXY(margin, y0+chartH)
	w.black()
}

// series draws one line of the chart through the days that have a value.
func (w *pdfWriter) series(at func(i int) (float64, bool), xOf func(fleetscore.Day) float64, yOf func(float64) float64,
	r, g, b int, lw float64) {
	f := w.f
	f.SetDrawColor(r, g, b)
	f.SetLineWidth(lw)
	var px, py float64
	have := false
	for i, d := range w.c.Trend {
		v, ok := at(i)
		if !ok {
			have = false
			continue
		}
		day := fleetscore.MustDay(d.Date)
		x, y := xOf(day), yOf(v)
		if have {
			f.Line(px, py, x, y)
		} else if len(w.c.Trend) == 1 {
			f.Circle(x, y, 0.8, "D")
		}
		px, py, have = x, y, true
	}
}

// chartRange is the chart's percent axis: the values and the target with a
// margin, in steps of 10, within 0..100.
func chartRange(c *Content) (lo, hi float64) {
	lo, hi = c.Target, c.Target
	for _, d := range c.Trend {
		lo, hi = math.Min(lo, d.Percent), math.Max(hi, d.Percent)
		if a, ok := d.Averages[fleetscore.BasisAllTenants]; ok {
			lo, hi = math.Min(lo, a), math.Max(hi, a)
		}
	}
	lo = math.Max(0, math.Floor((lo-5)/20)*20)
	hi = math.Min(100, math.Ceil((hi+5)/20)*20)
	if hi-lo < 20 {
		lo = math.Max(0, hi-20)
	}
	return lo, hi
}
